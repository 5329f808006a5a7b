"""The doctor's checks on recorded machines (tests/doctor/recorded/README.md), and one real run on this one."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

from talkingface import __version__
from talkingface.adapters import ADAPTERS
from talkingface.core.upstream import load_pins
from talkingface.doctor.checks import (
    BFM_FIX,
    FAIL,
    GB,
    OK,
    TOOLKIT_FIX,
    WARN,
    Row,
    check_bfm,
    check_disk,
    check_docker,
    check_gpu,
    check_gpus,
    check_image,
    check_nvidia_runtime,
    check_shm,
    check_weights,
    exit_code,
    run_checks,
)
from talkingface.doctor.facts import (
    DOCKER_INFO,
    SMI_QUERY,
    SMI_QUERY_OLD,
    BfmFacts,
    CommandOutput,
    DiskFacts,
    DockerFacts,
    Facts,
    Gpu,
    ImageFacts,
    ShmFacts,
    WeightsFacts,
    gather,
    gather_disk,
    gather_weights,
    parse_docker_info,
    parse_image,
)
from talkingface.doctor.lines import line_problems, resolve_line
from talkingface.doctor.report import render, to_json

REPO = Path(__file__).resolve().parents[2]
RECORDED = Path(__file__).with_name("recorded")
BOXES = ("rtx4090", "h100", "no-nvidia-runtime", "old-driver", "no-gpu", "driver-not-loaded")
PINS = load_pins()
REAL_BFM = BfmFacts(
    path="/bfm/01_MorphableModel.mat",
    exists=True,
    readable=True,
    size=230_000_000,
    head=b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jun  8 2009",
)
# Captured on this workplace on 2026-11-22: `docker image inspect --format '{{json .Config.Labels}}'` of the local
# ernerf image, and the same for an image that isn't there (client 28.2, server 20.10).
CAPTURED_LABELS = (
    '{"io.talkingface.line":"local","io.talkingface.model":"ernerf",'
    '"io.talkingface.upstream.commit":"0cf72d8fb598d321de86b445bcd363cc2f6346a5",'
    '"org.opencontainers.image.revision":"98ca649","org.opencontainers.image.source":'
    '"https://github.com/talkingface/talkingface","org.opencontainers.image.title":"talkingface/ernerf",'
    '"org.opencontainers.image.version":"0.1.0","talkingface.base.fingerprint":"07183485b76150e9"}\n'
)
CAPTURED_NO_SUCH_IMAGE = (
    "Error response from daemon: no such image: talkingface/nope:1: No such image: talkingface/nope:1\n"
)
CAPTURED_DAEMON_DOWN = (
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
)


@dataclasses.dataclass(frozen=True)
class Box:
    """A recorded machine: answers the doctor's commands from its files."""

    name: str
    images_built: bool = False

    @property
    def folder(self) -> Path:
        return RECORDED / self.name

    @property
    def meta(self) -> dict:
        return json.loads((self.folder / "box.json").read_text())

    def which(self, program: str) -> Optional[str]:
        return self.meta["on_path"].get(program)

    def replay(self, program: str, file: str, key: str) -> CommandOutput:
        if self.which(program) is None:
            return CommandOutput(found=False, returncode=127)
        return CommandOutput(found=True, returncode=self.meta["exit"][key], stdout=(self.folder / file).read_text())

    def run(self, argv: Sequence[str]) -> CommandOutput:
        argv = tuple(argv)
        if argv == SMI_QUERY:
            return self.replay("nvidia-smi", "nvidia-smi.txt", "nvidia-smi")
        if argv == SMI_QUERY_OLD:
            return self.replay("nvidia-smi", "nvidia-smi-old.txt", "nvidia-smi-old")
        if argv == DOCKER_INFO:
            return self.replay("docker", "docker-info.json", "docker-info")
        if argv[:3] == ("docker", "image", "inspect"):
            return self.inspect(argv[-1])
        raise AssertionError(f"the doctor ran a command no box recorded: {argv}")

    def inspect(self, ref: str) -> CommandOutput:
        """A missing image, or one built from this checkout when ``images_built``."""
        if not self.images_built:
            return CommandOutput(
                found=True, returncode=1, stderr=CAPTURED_NO_SUCH_IMAGE.replace("talkingface/nope:1", ref)
            )
        name, tag = ref.split("/", 1)[1].split(":")
        version, line = tag.rsplit("-", 1)
        labels = {
            "io.talkingface.model": name,
            "io.talkingface.line": line,
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.revision": "abc1234",
        }
        if name in PINS:
            labels["io.talkingface.upstream.commit"] = PINS[name].commit
        return CommandOutput(found=True, stdout=json.dumps(labels) + "\n")

    def facts(self, line: str, tmp_path: Path) -> Facts:
        return gather(
            line=line,
            version=__version__,
            workspace=str(tmp_path / "workspace"),
            bfm_dir=str(tmp_path / "bfm"),
            weights_dir=str(tmp_path / "weights"),
            run=self.run,
            which=self.which,
        )

    def ready_facts(self, line: str, tmp_path: Path) -> Facts:
        """This box with everything but the GPU side in order: disk, BFM, weights; images built if asked."""
        return dataclasses.replace(
            self.facts(line, tmp_path),
            disk=DiskFacts(path="/ws", measured="/ws", free_bytes=500 * GB, total_bytes=2000 * GB),
            shm=ShmFacts(size_bytes=32 * 1024**3),
            bfm=REAL_BFM,
            weights=WeightsFacts(path="/weights", exists=True, readable=True, files=("a.pth",)),
        )


def box(name: str, **kwargs: bool) -> Box:
    return Box(name, **kwargs)


def rows_by_check(rows: Sequence[Row]) -> Dict[str, Row]:
    return {row.check: row for row in rows}


def gpus_of(name: str, tmp_path: Path) -> List[Gpu]:
    return list(box(name).facts("auto", tmp_path).gpus.gpus)


class TestRecordedFacts:
    def test_rtx4090(self, tmp_path: Path) -> None:
        facts = box("rtx4090").facts("auto", tmp_path)
        assert facts.gpus.gpus == (Gpu(0, "NVIDIA GeForce RTX 4090", (8, 9), 24564, "550.54.14"),)
        assert facts.docker.server_version == "24.0.7" and "nvidia" in facts.docker.runtimes
        assert facts.docker.default_runtime == "runc"
        assert facts.line == "cu118"

    def test_h100(self, tmp_path: Path) -> None:
        facts = box("h100").facts("auto", tmp_path)
        assert len(facts.gpus.gpus) == 8
        assert {(g.name, g.compute_cap, g.memory_mib) for g in facts.gpus.gpus} == {
            ("NVIDIA H100 80GB HBM3", (9, 0), 81559)
        }
        assert facts.docker.default_runtime == "nvidia" and facts.line == "cu118"

    def test_old_driver_is_asked_again_without_compute_cap(self, tmp_path: Path) -> None:
        facts = box("old-driver").facts("auto", tmp_path)
        assert facts.gpus.state == "ok"
        assert [(g.name, g.compute_cap, g.memory_mib, g.driver) for g in facts.gpus.gpus] == [
            ("Tesla V100-SXM2-16GB", None, 16160, "450.80.02")
        ] * 2
        # With no capability known, auto falls back to cu113, as the run scripts do.
        assert facts.line == "cu113" and facts.docker.server_version == "19.03.13"

    def test_no_nvidia_runtime(self, tmp_path: Path) -> None:
        facts = box("no-nvidia-runtime").facts("auto", tmp_path)
        assert facts.gpus.gpus[0].compute_cap == (8, 6) and facts.line == "cu113"
        assert facts.docker.runtimes == ("io.containerd.runc.v2", "runc") and facts.docker.nvidia_hook is None

    def test_no_gpu(self, tmp_path: Path) -> None:
        facts = box("no-gpu").facts("auto", tmp_path)
        assert facts.gpus.state == "absent" and facts.gpus.gpus == () and facts.line == "cu113"

    def test_driver_not_loaded(self, tmp_path: Path) -> None:
        gpus = box("driver-not-loaded").facts("auto", tmp_path).gpus
        assert gpus.state == "failed"
        assert gpus.error.startswith("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver")

    @pytest.mark.parametrize("name", BOXES)
    def test_images_are_looked_up_for_the_resolved_line(self, name: str, tmp_path: Path) -> None:
        facts = box(name).facts("auto", tmp_path)
        assert [image.ref for image in facts.images] == [
            f"talkingface/{model}:{__version__}-{facts.line}" for model in (*ADAPTERS, "eval")
        ]
        assert {image.state for image in facts.images} == {"missing"}


class TestGpuLines:
    """Which CUDA line works on each recorded GPU."""

    def test_rtx4090(self, tmp_path: Path) -> None:
        (gpu,) = gpus_of("rtx4090", tmp_path)
        cu113 = check_gpu(gpu, line="cu113")
        assert cu113.status == FAIL and "sm_89 needs cu118" in cu113.detail and "--line cu118" in cu113.fix
        cu118 = check_gpu(gpu, line="cu118")
        assert cu118.status == OK and "can run: cu118" in cu118.detail
        assert "NVIDIA GeForce RTX 4090, sm_89, 24564 MiB, driver 550.54.14" in cu118.detail

    def test_h100(self, tmp_path: Path) -> None:
        for gpu in gpus_of("h100", tmp_path):
            cu113 = check_gpu(gpu, line="cu113")
            assert cu113.status == FAIL and "sm_90 needs cu118" in cu113.detail and "--line cu118" in cu113.fix
            assert check_gpu(gpu, line="cu118").status == OK

    def test_rtx3090_runs_both_lines(self, tmp_path: Path) -> None:
        (gpu,) = gpus_of("no-nvidia-runtime", tmp_path)
        for line in ("cu113", "cu118"):
            row = check_gpu(gpu, line=line)
            assert row.status == OK and "can run: cu113, cu118" in row.detail

    def test_old_driver_fails_both_lines_naming_the_minimum(self, tmp_path: Path) -> None:
        gpu = gpus_of("old-driver", tmp_path)[0]
        cu118 = check_gpu(gpu, line="cu118")
        assert cu118.status == FAIL
        assert "driver 450.80.02 is older than 520.61.05, the minimum for CUDA 11.8" in cu118.detail
        assert "upgrade the NVIDIA driver to 520.61.05 or newer" in cu118.fix
        cu113 = check_gpu(gpu, line="cu113")
        assert cu113.status == FAIL and "465.19.01" in cu113.detail and "465.19.01" in cu113.fix
        assert "compute capability unknown" in cu113.detail and "can run: no CUDA line" in cu113.detail

    def test_driver_between_the_minimums_runs_cu113_only(self) -> None:
        gpu = Gpu(0, "NVIDIA A100-SXM4-40GB", (8, 0), 40960, "470.256.02")
        assert check_gpu(gpu, line="cu113").status == OK
        row = check_gpu(gpu, line="cu118")
        assert row.status == FAIL and "520.61.05" in row.detail and "can run: cu113" in row.detail

    def test_unknown_capability_on_a_good_driver_warns(self) -> None:
        row = check_gpu(Gpu(0, "Tesla T4", None, 15360, "470.82.01"), line="cu113")
        assert row.status == WARN and row.fix

    @pytest.mark.parametrize(
        ("cap", "fragment"),
        # Blackwell (sm_100, sm_120) is built only by cu130 (CUDA 13), so the CUDA 11 lines point there.
        [((6, 1), "sm_61 is older than sm_70"), ((10, 0), "sm_100 needs cu130"), ((12, 0), "sm_120 needs cu130")],
    )
    def test_architectures_the_cuda11_lines_do_not_build(self, cap: tuple, fragment: str) -> None:
        for line in ("cu113", "cu118"):
            problems = line_problems(line=line, cap=cap, driver="570.86.10")
            assert problems and fragment in problems[0].what

    def test_local_line_never_fails_on_a_gpu(self, tmp_path: Path) -> None:
        for name in ("rtx4090", "old-driver"):
            for gpu in gpus_of(name, tmp_path):
                assert check_gpu(gpu, line="local").status == OK

    def test_auto_follows_the_run_scripts(self) -> None:
        assert resolve_line("auto", [(8, 6), (8, 9)]) == "cu118"
        assert resolve_line("auto", [(7, 0)]) == "cu113"
        assert resolve_line("auto", []) == "cu113"
        assert resolve_line("cu118", []) == "cu118"


class TestGpusRow:
    @pytest.mark.parametrize("line", ["cu113", "cu118"])
    def test_no_gpu_fails_for_cuda_lines(self, line: str, tmp_path: Path) -> None:
        row = check_gpus(box("no-gpu").facts("auto", tmp_path).gpus, line=line)
        assert row.status == FAIL and "no NVIDIA driver" in row.detail
        assert "--line local" in row.fix and "NVIDIA driver" in row.fix

    def test_no_gpu_is_fine_for_the_local_line(self, tmp_path: Path) -> None:
        assert check_gpus(box("no-gpu").facts("auto", tmp_path).gpus, line="local").status == OK

    def test_driver_not_loaded(self, tmp_path: Path) -> None:
        gpus = box("driver-not-loaded").facts("auto", tmp_path).gpus
        row = check_gpus(gpus, line="cu118")
        assert row.status == FAIL and "couldn't communicate" in row.detail and "reboot" in row.fix
        assert check_gpus(gpus, line="local").status == WARN

    def test_gpus_listed(self, tmp_path: Path) -> None:
        row = check_gpus(box("h100").facts("auto", tmp_path).gpus, line="cu118")
        assert row == Row("GPUs", OK, "8 GPUs, driver 535.161.08")


class TestDocker:
    @pytest.mark.parametrize("name", BOXES)
    def test_every_box_has_a_daemon(self, name: str, tmp_path: Path) -> None:
        docker = box(name).facts("auto", tmp_path).docker
        row = check_docker(docker)
        assert row.status == OK and row.detail == f"server {docker.server_version}"

    def test_daemon_down(self) -> None:
        # A docker 28 client prints its own JSON, with empty server fields, and exits 1.
        stdout = json.dumps({"ID": "", "ServerVersion": "", "Runtimes": None, "ClientInfo": {"Version": "28.2.2"}})
        out = CommandOutput(found=True, returncode=1, stdout=stdout, stderr=CAPTURED_DAEMON_DOWN)
        row = check_docker(parse_docker_info(out, nvidia_hook=None))
        assert row.status == FAIL and "Cannot connect to the Docker daemon" in row.detail
        assert "systemctl start docker" in row.fix

    def test_permission_denied(self) -> None:
        stderr = (
            "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: "
            'Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.24/info": dial unix /var/run/docker.sock: connect: '
            "permission denied\n"
        )
        row = check_docker(parse_docker_info(CommandOutput(True, 1, "", stderr), nvidia_hook=None))
        assert row.status == FAIL and "usermod -aG docker" in row.fix

    def test_no_docker(self) -> None:
        row = check_docker(parse_docker_info(CommandOutput(found=False, returncode=127), nvidia_hook=None))
        assert row.status == FAIL and "docs.docker.com" in row.fix


class TestNvidiaRuntime:
    def test_missing_toolkit_fails(self, tmp_path: Path) -> None:
        docker = box("no-nvidia-runtime").facts("auto", tmp_path).docker
        row = check_nvidia_runtime(docker, line="cu113")
        assert row.status == FAIL and row.fix == TOOLKIT_FIX
        assert "install the NVIDIA Container Toolkit" in row.fix and "nvidia-ctk runtime configure" in row.fix
        assert "io.containerd.runc.v2, runc" in row.detail

    def test_not_needed_for_the_local_line(self, tmp_path: Path) -> None:
        docker = box("no-nvidia-runtime").facts("auto", tmp_path).docker
        assert check_nvidia_runtime(docker, line="local").status == OK

    @pytest.mark.parametrize("name", ["rtx4090", "h100", "old-driver", "driver-not-loaded"])
    def test_registered(self, name: str, tmp_path: Path) -> None:
        docker = box(name).facts("auto", tmp_path).docker
        row = check_nvidia_runtime(docker, line="cu118")
        assert row.status == OK and '"nvidia" is registered' in row.detail

    def test_hook_without_the_runtime_warns(self, tmp_path: Path) -> None:
        docker = dataclasses.replace(
            box("no-nvidia-runtime").facts("auto", tmp_path).docker,
            nvidia_hook="/usr/bin/nvidia-container-runtime-hook",
        )
        row = check_nvidia_runtime(docker, line="cu113")
        assert row.status == WARN and "nvidia-ctk runtime configure" in row.fix

    def test_unreachable_docker_is_not_checked_twice(self) -> None:
        row = check_nvidia_runtime(DockerFacts(state="unreachable", error="x"), line="cu118")
        assert row.status == WARN and row.fix == "see the docker row"


class TestDiskAndShm:
    @pytest.mark.parametrize(("free_gb", "status"), [(5, FAIL), (9.9, FAIL), (10, WARN), (49, WARN), (50, OK)])
    def test_thresholds(self, free_gb: float, status: str) -> None:
        row = check_disk(DiskFacts(path="/ws", measured="/ws", free_bytes=int(free_gb * GB), total_bytes=None))
        assert row.status == status and (status == OK or "--workspace" in row.fix)

    def test_a_new_workspace_is_measured_at_its_nearest_folder(self, tmp_path: Path) -> None:
        disk = gather_disk(str(tmp_path / "not" / "yet"))
        assert disk.measured == str(tmp_path) and disk.free_bytes is not None

    def test_shm_is_the_containers_own(self, tmp_path: Path) -> None:
        docker = box("rtx4090").facts("auto", tmp_path).docker
        row = check_shm(ShmFacts(size_bytes=64 * 1024**2), docker=docker, shm_size="16g")
        assert row.status == OK and "--shm-size 16g" in row.detail and "0.1 GiB" in row.detail

    def test_shm_warnings(self, tmp_path: Path) -> None:
        docker = box("rtx4090").facts("auto", tmp_path).docker
        shm = ShmFacts(size_bytes=None)
        for changed in (
            dataclasses.replace(docker, authorization_plugins=("opa-docker-authz",)),
            dataclasses.replace(docker, default_runtime="runsc"),
            DockerFacts(state="absent"),
        ):
            row = check_shm(shm, docker=changed, shm_size="16g")
            assert row.status == WARN and row.fix


class TestBfm:
    def test_missing(self) -> None:
        row = check_bfm(BfmFacts(path="/b/01_MorphableModel.mat", exists=False), line="cu118")
        assert row.status == FAIL and row.fix == BFM_FIX and "bfm_models/README.md" in row.fix

    def test_real_looking(self) -> None:
        assert check_bfm(REAL_BFM, line="cu118").status == OK

    def test_placeholder_fails_for_the_models_but_not_for_the_doubles(self) -> None:
        placeholder = BfmFacts(path="/b/f.mat", exists=True, readable=True, size=11, head=b"placeholder")
        row = check_bfm(placeholder, line="cu113")
        assert row.status == FAIL and "MATLAB 5.0 MAT-file" in row.detail and "230 MB" in row.detail
        assert check_bfm(placeholder, line="local").status == WARN

    def test_truncated_download(self) -> None:
        row = check_bfm(dataclasses.replace(REAL_BFM, size=40_000_000), line="cu118")
        assert row.status == FAIL and "40.0 MB" in row.detail

    def test_html_error_page(self) -> None:
        row = check_bfm(dataclasses.replace(REAL_BFM, head=b"<!DOCTYPE html>"), line="cu118")
        assert row.status == FAIL and row.fix == BFM_FIX

    def test_unreadable(self) -> None:
        row = check_bfm(BfmFacts(path="/b/x.mat", exists=True, readable=False), line="cu118")
        assert row.status == FAIL and "chmod" in row.fix


class TestWeights:
    def test_missing_folder_fails_when_files_are_expected(self) -> None:
        row = check_weights(WeightsFacts(path="/w", exists=False), expected=["a.pth"])
        assert row.status == FAIL and "make weights WEIGHTS=/w" in row.fix and "make load BUNDLE=" in row.fix
        assert check_weights(WeightsFacts(path="/w", exists=False)).status == WARN

    def test_counts_files(self, tmp_path: Path) -> None:
        (tmp_path / "torch" / "hub").mkdir(parents=True)
        (tmp_path / "torch" / "hub" / "a.pth").write_bytes(b"x")
        (tmp_path / "b.npz").write_bytes(b"x")
        weights = gather_weights(str(tmp_path))
        assert weights.files == ("b.npz", "torch/hub/a.pth")
        assert check_weights(weights) == Row("weights", OK, f"2 files in {tmp_path}")
        assert check_weights(dataclasses.replace(weights, files=("x",))).detail == f"1 file in {tmp_path}"

    def test_expected_files_seam(self) -> None:
        weights = WeightsFacts(path="/w", exists=True, readable=True, files=("a.pth",))
        assert "all 1 expected" in check_weights(weights, expected=["a.pth"]).detail
        row = check_weights(weights, expected=["a.pth", "b.pth", "c/d.pth", "e", "f"])
        assert row.status == FAIL and "4 of 5 expected files missing" in row.detail and "and 1 more" in row.detail
        assert "make weights WEIGHTS=/w" in row.fix

    def test_unreadable(self) -> None:
        assert check_weights(WeightsFacts(path="/w", exists=True, readable=False)).status == FAIL


class TestImages:
    def labels(self, model: str, line: str) -> Dict[str, str]:
        labels = {
            "io.talkingface.model": model,
            "io.talkingface.line": line,
            "org.opencontainers.image.version": "0.1.0",
        }
        if model in PINS:
            labels["io.talkingface.upstream.commit"] = PINS[model].commit
        return labels

    def image(self, model: str, line: str = "cu118", **labels: str) -> ImageFacts:
        merged = {**self.labels(model, line), **{k.replace("_", "."): v for k, v in labels.items()}}
        return ImageFacts(name=model, ref=f"talkingface/{model}:0.1.0-{line}", state="present", labels=merged)

    def test_matching_labels(self) -> None:
        row = check_image(self.image("ernerf"), line="cu118", version="0.1.0", pins=PINS)
        assert row.status == OK and f"upstream {PINS['ernerf'].short}" in row.detail

    def test_another_upstream_commit(self) -> None:
        image = self.image("geneface", io_talkingface_upstream_commit="0" * 40)
        row = check_image(image, line="cu118", version="0.1.0", pins=PINS)
        assert row.status == FAIL and "another checkout" in row.detail and "0000000" in row.detail
        assert row.fix == "rebuild it from this checkout: make build-geneface LINE=cu118"

    def test_another_line(self) -> None:
        row = check_image(self.image("eval", line="cu113"), line="cu118", version="0.1.0", pins=PINS)
        assert row.status == FAIL and "io.talkingface.line=cu113" in row.detail

    def test_missing(self) -> None:
        missing = ImageFacts(name="ernerf", ref="talkingface/ernerf:0.1.0-cu118", state="missing")
        row = check_image(missing, line="cu118", version="0.1.0", pins=PINS)
        assert row.status == FAIL and "make build LINE=cu118" in row.fix and "make load BUNDLE=dist/cu118" in row.fix
        local = dataclasses.replace(missing, ref="talkingface/ernerf:0.1.0-local")
        assert check_image(local, line="local", version="0.1.0", pins=PINS).fix == "make build-local"

    def test_missing_eval_image_only_warns(self) -> None:
        missing = ImageFacts(name="eval", ref="talkingface/eval:0.1.0-cu118", state="missing")
        row = check_image(missing, line="cu118", version="0.1.0", pins=PINS)
        assert row.status == WARN and row.fix == "make build-eval LINE=cu118"

    def test_captured_inspect_outputs(self) -> None:
        ref = "talkingface/ernerf:0.1.0-local"
        image = parse_image("ernerf", ref, CommandOutput(found=True, stdout=CAPTURED_LABELS))
        assert image.state == "present"
        assert check_image(image, line="local", version="0.1.0", pins=PINS).status == OK
        gone = parse_image("x", "talkingface/nope:1", CommandOutput(True, 1, "", CAPTURED_NO_SUCH_IMAGE))
        assert gone.state == "missing"


class TestWholeBoxes:
    @pytest.mark.parametrize(
        ("name", "line", "code"),
        [
            ("rtx4090", "auto", 0),
            ("rtx4090", "cu118", 0),
            ("rtx4090", "cu113", 1),
            ("h100", "auto", 0),
            ("h100", "cu113", 1),
            ("no-nvidia-runtime", "auto", 1),
            ("no-nvidia-runtime", "local", 0),
            ("old-driver", "auto", 1),
            ("old-driver", "cu118", 1),
            ("no-gpu", "auto", 1),
            ("no-gpu", "local", 0),
            ("driver-not-loaded", "auto", 1),
            ("driver-not-loaded", "local", 0),
        ],
    )
    def test_exit_code(self, name: str, line: str, code: int, tmp_path: Path) -> None:
        facts = box(name, images_built=True).ready_facts(line, tmp_path)
        rows = run_checks(facts, pins=PINS, shm_size="16g")
        assert exit_code(rows) == code, render(rows, facts)
        assert all(row.fix for row in rows if row.status == FAIL)

    def test_missing_images_fail_a_ready_box(self, tmp_path: Path) -> None:
        facts = box("rtx4090").ready_facts("auto", tmp_path)
        rows = rows_by_check(run_checks(facts, pins=PINS, shm_size="16g"))
        assert rows["image ernerf"].status == FAIL and rows["image eval"].status == WARN

    def test_rows(self, tmp_path: Path) -> None:
        facts = box("h100", images_built=True).ready_facts("auto", tmp_path)
        checks = [row.check for row in run_checks(facts, pins=PINS, shm_size="16g")]
        assert checks == [
            "docker",
            "nvidia runtime",
            "GPUs",
            *(f"GPU{i}" for i in range(8)),
            "disk",
            "shared memory",
            "BFM",
            "weights",
            *(f"image {m}" for m in (*ADAPTERS, "eval")),
            *(f"image {m} (local)" for m in (*ADAPTERS, "eval")),
        ]

    def test_a_gpu_less_box_is_told_what_its_local_images_are_for(self, tmp_path: Path) -> None:
        facts = box("no-gpu", images_built=True).ready_facts("auto", tmp_path)
        rows = run_checks(facts, pins=PINS, shm_size="16g")
        local = rows_by_check(rows)["image ernerf (local)"]
        assert local.status == OK and local.detail.startswith(f"talkingface/ernerf:{__version__}-local: the local line")
        assert "test doubles instead of the models, on the CPU" in local.detail and "--line local" in local.detail
        assert render(rows, facts).endswith("the local line is built: --line local runs its test doubles here")
        at_local = rows_by_check(
            run_checks(box("no-gpu", images_built=True).ready_facts("local", tmp_path), pins=PINS, shm_size="16g")
        )
        assert "test doubles instead of the models" in at_local["image ernerf"].detail
        assert "image ernerf (local)" not in at_local

    def test_no_local_rows_when_the_local_images_are_not_built(self, tmp_path: Path) -> None:
        facts = box("no-gpu").ready_facts("auto", tmp_path)
        rows = run_checks(facts, pins=PINS, shm_size="16g")
        assert not [row for row in rows if row.check.endswith("(local)")]
        assert "the local line is built" not in render(rows, facts)


class TestReport:
    def test_table(self, tmp_path: Path) -> None:
        facts = box("rtx4090", images_built=True).ready_facts("cu113", tmp_path)
        rows = run_checks(facts, pins=PINS, shm_size="16g")
        text = render(rows, facts)
        lines = text.splitlines()
        assert lines[0] == f"talkingface {__version__} doctor: line cu113"
        header = lines[2]
        assert header.split() == ["check", "status", "detail"]
        status_at, detail_at = header.index("status"), header.index("detail")
        table = lines[3 : lines.index("", 3)]
        for row, line in zip(rows, [line for line in table if not line.lstrip().startswith("fix: ")]):
            assert line[status_at:detail_at].strip() == {"ok": "ok", "warn": "warn", "fail": "FAIL"}[row.status]
            assert line[detail_at:] == row.detail
        fix_line = table[table.index(next(line for line in table if line.startswith("GPU0"))) + 1]
        assert fix_line == " " * detail_at + "fix: " + rows_by_check(rows)["GPU0"].fix
        assert lines[-1].startswith("1 failed, 0 warnings: a run on line cu113 would fail")

    def test_ready(self, tmp_path: Path) -> None:
        facts = box("rtx4090", images_built=True).ready_facts("auto", tmp_path)
        text = render(run_checks(facts, pins=PINS, shm_size="16g"), facts)
        assert "line cu118 (auto" in text and text.endswith("0 failed, 0 warnings: ready to run line cu118")

    def test_json(self, tmp_path: Path) -> None:
        facts = box("old-driver").ready_facts("auto", tmp_path)
        data = to_json(run_checks(facts, pins=PINS, shm_size="16g"), facts)
        assert data["exit_code"] == 1 and data["line"] == "cu113" and data["line_requested"] == "auto"
        assert data["gpus"][0]["driver"] == "450.80.02" and data["gpus"][0]["compute_cap"] is None
        json.dumps(data)

    def test_a_failing_row_needs_a_fix(self) -> None:
        with pytest.raises(ValueError, match="no fix"):
            Row("x", FAIL, "broken")


class TestRealRun:
    """bin/doctor.sh on this machine: what it finds depends on the machine, so only its shape is checked."""

    def doctor(self, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TALKINGFACE_")}
        return subprocess.run(
            [
                str(REPO / "bin" / "doctor.sh"),
                "--workspace",
                str(tmp_path / "ws"),
                "--bfm_dir",
                str(tmp_path),
                "--weights_dir",
                str(tmp_path),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            env=env,
        )

    def test_json(self, tmp_path: Path) -> None:
        done = self.doctor(tmp_path, "--line", "local", "--json")
        data = json.loads(done.stdout)
        assert data["line"] == "local" and data["version"] == __version__
        statuses = {row["check"]: row["status"] for row in data["rows"]}
        assert {"docker", "nvidia runtime", "GPUs", "disk", "shared memory", "BFM", "weights"} <= set(statuses)
        assert {f"image {m}" for m in (*ADAPTERS, "eval")} <= set(statuses)
        assert set(statuses.values()) <= {OK, WARN, FAIL}
        assert all(row["fix"] for row in data["rows"] if row["status"] == FAIL)
        # No BFM in tmp_path: a run would fail, so the doctor must say so.
        assert statuses["BFM"] == FAIL and statuses["nvidia runtime"] == OK
        assert done.returncode == data["exit_code"] == 1

    def test_table_and_bad_line(self, tmp_path: Path) -> None:
        done = self.doctor(tmp_path, "--line", "local")
        assert done.returncode == 1 and done.stdout.splitlines()[2].split() == ["check", "status", "detail"]
        assert self.doctor(tmp_path, "--line", "cu999").returncode == 2
