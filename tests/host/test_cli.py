"""The host scripts, run as a user runs them: bin/run_<model>.sh, with a fake nvidia-smi (and docker)."""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from talkingface import __version__
from talkingface.adapters import ADAPTERS, get_adapter
from talkingface.core.cli_args import Roots, parse, resolve
from talkingface.weights.manifest import load_manifest
from tests.conftest import REPO

# Most tests here train, then infer: the person-specific models. A one-shot model has its own tests below.
MODELS = tuple(name for name, adapter in ADAPTERS.items() if adapter.trainable)
ONE_SHOT = tuple(name for name, adapter in ADAPTERS.items() if not adapter.trainable)
NVIDIA_SMI = """#!/bin/sh
case "$1" in
  -L) printf 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-2)\\n' ;;
  *) printf '0, 9.0\\n1, 9.0\\n' ;;
esac
"""
# `docker image ls --format {{.Tag}} REPOSITORY` is the host's read-only query for which lines' images exist
# (--line auto): it answers from FAKE_DOCKER_IMAGES and is never taken for a container run.
FAKE_DOCKER = """#!/bin/sh
if [ "$1 $2" = "image ls" ]; then
  for ref in ${FAKE_DOCKER_IMAGES:-}; do [ "${ref%%:*}" = "$5" ] && echo "${ref#*:}"; done
  exit 0
fi
printf '%s\\n' "$@" > "$FAKE_DOCKER_ARGV"
exit 7
"""


class Host:
    def __init__(self, root: Path, clip: Path) -> None:
        self.root = root
        self.cwd = root / "here dir"
        self.cwd.mkdir()
        self.bin = root / "fakebin"
        self.bin.mkdir()
        for name, body in (("nvidia-smi", NVIDIA_SMI), ("docker", FAKE_DOCKER)):
            (self.bin / name).write_text(body)
            (self.bin / name).chmod(0o755)
        self.video = self.cwd / "clip.mp4"
        self.video.write_bytes(clip.read_bytes())
        self.audio = self.cwd / "speech.wav"
        self.audio.write_bytes(b"RIFF")
        self.bfm = root / "bfm"
        self.bfm.mkdir()
        (self.bfm / "01_MorphableModel.mat").write_bytes(b"mat")
        self.weights = root / "weights"
        for relative in load_manifest().paths():
            (self.weights / relative).parent.mkdir(parents=True, exist_ok=True)
            (self.weights / relative).write_bytes(b"placeholder")

    def env(self, **extra: str) -> Dict[str, str]:
        env = dict(os.environ, PATH=f"{self.bin}{os.pathsep}{os.environ['PATH']}", TEST_MODE="1")
        env["TALKINGFACE_BFM_DIR"] = str(self.bfm)
        env["TALKINGFACE_WEIGHTS_DIR"] = str(self.weights)
        env["FAKE_DOCKER_ARGV"] = str(self.root / "docker-argv")
        env.update(extra)
        return env

    def run(self, model: str, *argv: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(REPO / "bin" / f"run_{model}.sh"), *argv],
            cwd=self.cwd,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def workspace(self, model: str) -> Path:
        return self.cwd / "workspace" / model

    def train_checkpoints(self, model: str, task: str = "clip", *extra: str) -> None:
        """Files matching the model's trained-checkpoint globs, as training would leave them."""
        adapter = get_adapter(model)
        verb, args = parse(
            adapter, ["infer", "--task", task, "--audio_path", str(self.audio), *extra], prog="x", host=True
        )
        roots = Roots(workspace=str(self.workspace(model)), upstream="/u", bfm=str(self.bfm), weights="/w")
        for pattern in adapter.checkpoint_patterns(resolve(adapter, verb, args, roots)):
            path = Path(pattern.replace("*", "1000"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"ckpt")


@pytest.fixture
def host(tmp_path: Path, media) -> Host:
    return Host(tmp_path, media["clip"])


def docker_argv(stdout: str) -> List[str]:
    """The printed docker command, parsed back into its argument list."""
    lines = stdout.split("\n\n", 1)[0].splitlines()
    command = "\n".join(line for line in lines if not line.startswith("#"))
    return shlex.split(command.replace("\\\n", " "))


def mounts(argv: List[str]) -> List[Dict[str, str]]:
    found = []
    for flag, value in zip(argv, argv[1:]):
        if flag == "--mount":
            fields = next(csv.reader([value]))
            found.append({k: v for k, _, v in (f.partition("=") for f in fields)})
    return found


class TestDoneWhen:
    def test_gaussiantalker_train_on_gpu0(self, host: Host) -> None:
        done = host.run("gaussiantalker", "train", "--video_path", "clip.mp4", "--gpu", "GPU0")
        assert done.returncode == 0, done.stderr
        argv = docker_argv(done.stdout)
        assert argv[:2] == ["docker", "run"]
        assert argv[argv.index("--gpus") + 1] == "device=0"
        assert argv[argv.index("--user") + 1] == f"{os.getuid()}:{os.getgid()}"
        video = [m for m in mounts(argv) if m["source"] == str(host.video)]
        assert video and "readonly" in video[0]
        assert "python data_utils/process.py /workspace/data/clip/clip.mp4 --task 8" in done.stdout
        assert "python train.py -s /workspace/data/clip --model_path /workspace/models/clip/" in done.stdout
        assert not host.workspace("gaussiantalker").exists(), "TEST_MODE wrote to disk"

    @pytest.mark.parametrize("model", MODELS)
    @pytest.mark.parametrize(
        "verb",
        [
            "train",
            "preprocess",
            "preprocess_only",
            "train_only",
            "infer",
            "test",
            "extract-features",
            "convert-bfm",
            "validate",
            "shell",
        ],
    )
    def test_every_verb_prints_docker_and_plan(self, host: Host, model: str, verb: str) -> None:
        args = {
            "train": ["--video_path", "clip.mp4"],
            "preprocess": ["--video_path", "clip.mp4"],
            "preprocess_only": ["--video_path", "clip.mp4"],
            "infer": ["--task", "clip", "--audio_path", "speech.wav"],
            "test": ["--task", "clip", "--audio_path", "speech.wav"],
            "extract-features": ["--task", "clip", "--audio_path", "speech.wav"],
        }.get(verb, ["--task", "clip"])
        if verb in ("infer", "test"):
            host.train_checkpoints(model)
        if verb == "train_only":  # its dataset folder must exist
            Path(get_adapter(model).task_paths(str(host.workspace(model)), "clip").data_dir).mkdir(parents=True)
        done = host.run(model, verb, *args)
        assert done.returncode == 0, done.stderr
        argv = docker_argv(done.stdout)
        assert argv[:2] == ["docker", "run"] and f"talkingface/{model}:" in " ".join(argv)
        if verb != "shell":
            assert "# in-container plan:" in done.stdout
            assert "    cd /" in done.stdout

    @pytest.mark.parametrize("model", MODELS)
    def test_info(self, host: Host, model: str) -> None:
        done = host.run(model, "info", "--task", "clip")
        assert done.returncode == 0
        assert get_adapter(model).pin.commit in done.stdout and "results" in done.stdout

    @pytest.mark.parametrize("model", MODELS)
    def test_info_names_every_image_line(self, host: Host, model: str) -> None:
        out = host.run(model, "info").stdout
        for line in ("cu113", "cu118", "local"):
            assert f"talkingface/{model}:{__version__}-{line} (" in out
        assert "test doubles on the CPU, --line local" in out

    @pytest.mark.parametrize("model", MODELS)
    def test_help_for_every_verb(self, host: Host, model: str) -> None:
        assert "verbs" in host.run(model, "--help").stdout
        for verb in ("train", "infer", "validate", "shell"):
            done = host.run(model, verb, "--help")
            assert done.returncode == 0 and "--video_path" in done.stdout


class TestGpuFlag:
    def test_two_gpus_are_quoted(self, host: Host) -> None:
        done = host.run("ernerf", "train", "--video_path", "clip.mp4", "--gpu", "GPU0,GPU1")
        argv = docker_argv(done.stdout)
        assert argv[argv.index("--gpus") + 1] == '"device=0,1"'

    @pytest.mark.parametrize(("text", "value"), [("gpu1", "device=1"), ("0", "device=0"), ("all", "all")])
    def test_forms(self, host: Host, text: str, value: str) -> None:
        argv = docker_argv(host.run("ernerf", "preprocess", "--video_path", "clip.mp4", "--gpu", text).stdout)
        assert argv[argv.index("--gpus") + 1] == value

    def test_cpu_verb_gets_no_gpu_flag(self, host: Host) -> None:
        done = host.run("ernerf", "validate", "--task", "clip", "--gpu", "CPU")
        assert done.returncode == 0 and "--gpus" not in docker_argv(done.stdout)

    def test_h100_picks_the_cu118_line(self, host: Host) -> None:
        done = host.run("ernerf", "preprocess", "--video_path", "clip.mp4", "--gpu", "GPU1")
        assert "talkingface/ernerf:0.1.0-cu118" in done.stdout

    @pytest.mark.parametrize(
        ("built", "picked"),
        [(("cu130",), "cu130"), (("cu118", "cu130"), "cu118"), (("cu113", "cu130"), "cu130"), ((), "cu118")],
    )
    def test_auto_takes_the_oldest_built_line_that_serves_the_gpu(self, host: Host, built: tuple, picked: str) -> None:
        images = " ".join(f"talkingface/ernerf:{__version__}-{line}" for line in built)
        done = host.run("ernerf", "preprocess", "--video_path", "clip.mp4", "--gpu", "GPU1", FAKE_DOCKER_IMAGES=images)
        assert done.returncode == 0, done.stderr
        assert f"talkingface/ernerf:{__version__}-{picked}" in docker_argv(done.stdout)

    def test_missing_gpu_lists_the_hosts_gpus(self, host: Host) -> None:
        done = host.run("ernerf", "train", "--video_path", "clip.mp4", "--gpu", "GPU3")
        assert done.returncode == 2
        assert "GPU3 is not on this host" in done.stderr and "GPU1: NVIDIA H100 80GB HBM3" in done.stderr


STATEFUL_DOCKER = """#!/bin/sh
printf '%s\\n' "$*" >> "$FAKE_DOCKER_LOG"
case "$1" in
  ps) [ -f "$FAKE_DOCKER_PS" ] && cat "$FAKE_DOCKER_PS"; exit 0 ;;
  rm) exit 0 ;;
esac
printf '%s\\n' "$@" > "$FAKE_DOCKER_ARGV"
exit 7
"""


class TestContainerNames:
    def stateful(self, host: Host) -> Path:
        (host.bin / "docker").write_text(STATEFUL_DOCKER)
        return host.root / "docker-log"

    def run(self, host: Host, *extra: str) -> subprocess.CompletedProcess:
        log = host.root / "docker-log"
        return host.run(
            "ernerf", "check", "--video_path", "clip.mp4", *extra, TEST_MODE="",
            FAKE_DOCKER_LOG=str(log), FAKE_DOCKER_PS=str(host.root / "ps"),
        )  # fmt: skip

    def name(self, host: Host) -> str:
        argv = (host.root / "docker-argv").read_text().splitlines()
        return argv[argv.index("--name") + 1]

    def test_the_same_task_in_two_workspaces_gets_two_names(self, host: Host) -> None:
        self.stateful(host)
        assert self.run(host).returncode == 7
        first = self.name(host)
        assert self.run(host, "--workspace", str(host.root / "other")).returncode == 7
        second = self.name(host)
        assert first.startswith("talkingface-ernerf-check-clip-") and second.startswith(
            "talkingface-ernerf-check-clip-"
        )
        assert first != second
        assert self.run(host).returncode == 7 and self.name(host) == first  # stable for one workspace

    def test_a_running_container_of_the_task_is_named_with_how_to_stop_it(self, host: Host) -> None:
        log = self.stateful(host)
        assert self.run(host).returncode == 7
        name = self.name(host)
        (host.root / "docker-argv").unlink()
        (host.root / "ps").write_text('running\tUp 12 minutes\t"talkingface-entrypoint check --task clip"\n')
        done = self.run(host)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr == (
            f"error: the same task is already running in container {name} (Up 12 minutes: talkingface-entrypoint "
            f"check --task clip) -- fix: wait for it to finish, or stop it with: docker stop {name}\n"
        )
        assert not (host.root / "docker-argv").exists() and "ps --all --no-trunc --filter name=^/?" in log.read_text()

    def test_an_exited_container_of_the_task_is_removed_first(self, host: Host) -> None:
        log = self.stateful(host)
        assert self.run(host).returncode == 7
        name = self.name(host)
        (host.root / "ps").write_text("exited\tExited (137) 3 minutes ago\tx\n")
        log.unlink()
        assert self.run(host).returncode == 7
        calls = log.read_text().splitlines()
        assert calls[1] == f"rm --force {name}" and calls[2].startswith("run ")


class TestWithoutAGpu:
    def test_no_driver_points_to_the_local_line(self, host: Host) -> None:
        (host.bin / "nvidia-smi").unlink()
        done = host.run("ernerf", "train", "--video_path", "clip.mp4", "--gpu", "GPU0", TEST_MODE="")
        assert done.returncode == 2 and done.stderr.startswith("error: no NVIDIA driver found")
        assert "--line local" in done.stderr and done.stderr.count("\n") == 1
        dry = host.run("ernerf", "train", "--video_path", "clip.mp4", "--gpu", "GPU0")
        assert dry.returncode == 0 and "--line local runs the test doubles on the CPU" in dry.stdout

    def test_cpu_for_a_cuda_verb_points_to_the_local_line(self, host: Host) -> None:
        done = host.run("gaussiantalker", "train", "--video_path", "clip.mp4", "--gpu", "CPU")
        assert done.returncode == 2 and "needs CUDA" in done.stderr and "--line local" in done.stderr

    @pytest.mark.parametrize("gpu", ["GPU0", "gpu1", "all"])
    def test_a_gpu_on_the_local_line_runs_as_its_default(self, host: Host, gpu: str) -> None:
        (host.bin / "nvidia-smi").unlink()
        argv = ("train", "--video_path", "clip.mp4", "--line", "local")
        default = host.run("ernerf", *argv)
        given = host.run("ernerf", *argv, "--gpu", gpu)
        assert given.returncode == 0 and given.stdout == default.stdout and given.stderr == default.stderr == ""
        assert "--gpus" not in docker_argv(given.stdout) and "nvidia-smi" not in given.stdout
        ran = host.run("ernerf", *argv, "--gpu", gpu, TEST_MODE="")
        assert ran.returncode == 7, ran.stderr  # the fake docker ran: no driver check stood in the way
        assert "--gpus" not in (host.root / "docker-argv").read_text()


class TestPaths:
    def test_spaces_commas_and_quotes_in_paths(self, host: Host) -> None:
        odd = host.cwd / 'take "one", final.mp4'
        odd.write_bytes(host.video.read_bytes())
        done = host.run(
            "ernerf", "preprocess", "--video_path", str(odd), "--task", "take1", "--workspace", str(host.cwd / "my ws")
        )
        assert done.returncode == 0, done.stderr
        found = mounts(docker_argv(done.stdout))
        assert {
            "type": "bind",
            "source": str(odd),
            "target": '/input/video/take "one", final.mp4',
            "readonly": "",
        } in found
        assert {"type": "bind", "source": str(host.cwd / "my ws"), "target": "/workspace"} in found

    @pytest.mark.parametrize("runtime", ["docker", "apptainer"])
    def test_the_container_is_told_the_host_path_of_every_mount(self, host: Host, runtime: str) -> None:
        data = host.root / "elsewhere" / "clip"
        data.mkdir(parents=True)
        done = host.run(
            "ernerf", "preprocess", "--video_path", "clip.mp4", "--data_dir", str(data), "--runtime", runtime
        )
        assert done.returncode == 0, done.stderr
        argv = docker_argv(done.stdout)
        envs = [argv[i + 1] for i, a in enumerate(argv) if a == "--env"]
        if runtime == "apptainer":  # its --env is one CSV record
            envs = [next(csv.reader([e]))[0] for e in envs]
        value = next(e for e in envs if e.startswith("TALKINGFACE_HOST_PATHS="))
        assert json.loads(value.partition("=")[2]) == {
            "/workspace": str(host.workspace("ernerf")),
            "/mnt/data": str(data),
            "/input/video/clip.mp4": str(host.video),
            "/bfm_models": str(host.bfm),
            "/weights": str(host.weights),
        }

    def test_data_dir_outside_the_workspace_gets_its_own_mount(self, host: Host) -> None:
        data = host.root / "elsewhere" / "clip"
        data.mkdir(parents=True)
        done = host.run("ernerf", "validate", "--data_dir", str(data))
        assert done.returncode == 0, done.stderr
        assert {"type": "bind", "source": str(data), "target": "/mnt/data"} in mounts(docker_argv(done.stdout))
        assert "--data_dir /mnt/data" in done.stdout


class TestPositionalForms:
    def test_preprocess_video_task(self, host: Host) -> None:
        done = host.run("ernerf", "preprocess", str(host.video), "my_task")
        assert done.returncode == 0, done.stderr
        assert "/workspace/data/my_task/my_task.mp4 --task 2" in done.stdout
        assert "check-input --src /input/video/" in done.stdout

    def test_train_data_model_gpu_stage(self, host: Host) -> None:
        (host.cwd / "data" / "my_task").mkdir(parents=True)
        done = host.run("ernerf", "train", "data/my_task", "models/ER-NeRF/my_task", "1", "head")
        assert done.returncode == 0, done.stderr
        argv = docker_argv(done.stdout)
        assert argv[argv.index("--gpus") + 1] == "device=1"
        assert "train-head" in done.stdout and "train-torso" not in done.stdout
        assert "# in-container plan: train_only my_task" in done.stdout

    def test_test_data_model_audio_torso(self, host: Host) -> None:
        model_dir = host.cwd / "models" / "ER-NeRF" / "my_task"
        (model_dir / "head" / "checkpoints").mkdir(parents=True)
        (model_dir / "head" / "checkpoints" / "ngp_ep0010.pth").write_bytes(b"ckpt")
        (host.cwd / "data" / "my_task").mkdir(parents=True)
        features = host.cwd / "audio.npy"
        features.write_bytes(b"npy")
        done = host.run("ernerf", "test", "data/my_task", "models/ER-NeRF/my_task", "audio.npy", "false")
        assert done.returncode == 0, done.stderr
        assert "--test --test_train --aud /input/audio/audio.npy" in done.stdout
        assert "--torso" not in done.stdout.split("\n\n", 1)[1].replace("--torso false", "")


BAD_INPUTS = {
    "unknown verb": ["fly", "--task", "x"],
    "unknown flag": ["train", "--video_path", "clip.mp4", "--colour", "red"],
    "malformed gpu": ["train", "--video_path", "clip.mp4", "--gpu", "GPUX"],
    "CPU for CUDA verb": ["train", "--video_path", "clip.mp4", "--gpu", "CPU"],
    "task with slash": ["preprocess", "--video_path", "clip.mp4", "--task", "a/b"],
    "task with dotdot": ["preprocess", "--video_path", "clip.mp4", "--task", ".."],
    "task with space": ["preprocess", "--video_path", "clip.mp4", "--task", "my task"],
    "task with $()": ["preprocess", "--video_path", "clip.mp4", "--task", "$(touch pwned)"],
    "task with ;": ["preprocess", "--video_path", "clip.mp4", "--task", "a;rm -rf x"],
    "task with backticks": ["preprocess", "--video_path", "clip.mp4", "--task", "`id`"],
    "iterations 0": ["train", "--video_path", "clip.mp4", "--iterations", "0"],
    "iterations negative": ["train", "--video_path", "clip.mp4", "--iterations", "-5"],
    "iterations not a number": ["train", "--video_path", "clip.mp4", "--iterations", "lots"],
    "extra positional": ["validate", "--task", "clip", "surplus"],
}
# Unmet preconditions: a real run stops at the first with one line; a dry run shows the plan, then each of them.
UNMET = {
    "missing video": ["train", "--video_path", "nope.mp4"],
    "directory as video": ["train", "--video_path", "."],
    "infer without checkpoint": ["infer", "--task", "clip", "--audio_path", "speech.wav"],
    "audio that is no audio": ["infer", "--task", "clip", "--audio_path", "."],
}


class TestBadInput:
    @pytest.mark.parametrize("model", MODELS)
    @pytest.mark.parametrize("case", sorted(BAD_INPUTS))
    def test_one_line_error_nonzero_exit_nothing_written(self, host: Host, model: str, case: str) -> None:
        before = sorted(p.name for p in host.cwd.iterdir())
        for mode in ({"TEST_MODE": "1"}, {"TEST_MODE": ""}):
            done = host.run(model, *BAD_INPUTS[case], **mode)
            assert done.returncode != 0
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: ") and " -- fix: " in lines[0], done.stderr
            assert done.stdout == ""
        assert sorted(p.name for p in host.cwd.iterdir()) == before
        assert not (host.root / "docker-argv").exists()

    @pytest.mark.parametrize("model", MODELS)
    @pytest.mark.parametrize("case", sorted(UNMET))
    def test_an_unmet_precondition_is_one_line_and_a_dry_run_shows_the_plan_too(
        self, host: Host, model: str, case: str
    ) -> None:
        before = sorted(p.name for p in host.cwd.iterdir())
        done = host.run(model, *UNMET[case], TEST_MODE="")
        assert done.returncode == 2 and done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and " -- fix: " in lines[0], done.stderr
        dry = host.run(model, *UNMET[case])
        assert dry.returncode == 2 and docker_argv(dry.stdout)[:2] == ["docker", "run"]
        assert "# in-container plan: " in dry.stdout
        assert lines[0] in dry.stderr.splitlines()
        assert all(line.startswith("error: ") and " -- fix: " in line for line in dry.stderr.splitlines())
        assert sorted(p.name for p in host.cwd.iterdir()) == before
        assert not (host.root / "docker-argv").exists()

    def test_a_dry_run_on_a_fresh_clone_lists_every_unmet_precondition(self, host: Host) -> None:
        shutil.rmtree(host.weights)
        (host.bfm / "01_MorphableModel.mat").unlink()
        done = host.run("gaussiantalker", "train", "--video_path", "x.mp4", "--gpu", "GPU5")
        assert done.returncode == 2
        argv = docker_argv(done.stdout)
        assert argv[:2] == ["docker", "run"] and argv[argv.index("--gpus") + 1] == "device=5"
        assert "# in-container plan: train x (16 steps)" in done.stdout and "python train.py" in done.stdout
        errors = done.stderr.splitlines()
        assert [e.split(" -- fix: ")[0] for e in errors] == [
            f"error: --video_path {host.cwd / 'x.mp4'} does not exist",
            f"error: missing from {host.weights}: 5 weight files gaussiantalker loads "
            "(ernerf/data_utils/face_parsing/79999_iter.pth, gaussiantalker/data_utils/face_parsing/79999_iter.pth, "
            "cache/tensorflow/models/deepspeech-0_1_0-b90017e8.pb and 2 more)",
            f"error: the Basel Face Model 01_MorphableModel.mat is not in {host.bfm}",
            "error: GPU5 is not on this host (nvidia-smi -L shows: GPU0: NVIDIA H100 80GB HBM3; "
            "GPU1: NVIDIA H100 80GB HBM3)",
        ], done.stderr
        assert not (host.root / "docker-argv").exists() and not host.workspace("gaussiantalker").exists()

    def test_a_dry_run_of_infer_names_the_missing_audio_checkpoint_and_weights(self, host: Host) -> None:
        (host.weights / load_manifest().paths(["ernerf"])[0]).unlink()
        done = host.run("ernerf", "infer", "--task", "clip", "--audio_path", "gone.wav")
        assert done.returncode == 2 and "# in-container plan: infer clip" in done.stdout
        problems = [e.split(" -- fix: ")[0] for e in done.stderr.splitlines()]
        assert problems[0] == f"error: --audio_path {host.cwd / 'gone.wav'} does not exist"
        assert problems[1].startswith(f"error: missing from {host.weights}: 1 weight file ernerf loads")
        assert problems[2].startswith("error: task clip has no trained checkpoint (")
        assert len(problems) == 3

    def test_unreadable_file(self, host: Host, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
        from talkingface.host import cli

        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, m: False if str(p).endswith("clip.mp4") else real_access(p, m))
        monkeypatch.chdir(host.cwd)
        monkeypatch.setenv("TEST_MODE", "1")
        assert cli.main(["ernerf", "preprocess", "--video_path", "clip.mp4"]) == 2
        assert "is not readable" in capsys.readouterr().err

    @pytest.mark.parametrize("kind", ["loop", "cycle", "broken"])
    def test_a_symbolic_link_that_leads_nowhere_is_named_as_such(self, host: Host, kind: str) -> None:
        link = host.cwd / "take.mp4"
        if kind == "loop":
            link.symlink_to("take.mp4")
        elif kind == "cycle":
            link.symlink_to("other.mp4")
            (host.cwd / "other.mp4").symlink_to("take.mp4")
        else:
            link.symlink_to("gone.mp4")
        done = host.run("ernerf", "train", "--video_path", "take.mp4")
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
        expected = "which does not exist" if kind == "broken" else "is a symbolic link loop"
        assert f"--video_path {link} {'is a symbolic link to gone.mp4, ' if kind == 'broken' else ''}" in done.stderr
        assert expected in done.stderr and "does not exist -- fix: check the path" not in done.stderr

    def test_lips_without_head_is_refused(self, host: Host) -> None:
        (host.workspace("ernerf") / "data" / "clip").mkdir(parents=True)
        done = host.run("ernerf", "train_only", "--task", "clip", "--stage", "lips")
        assert done.returncode == 2 and "needs the trained head" in done.stderr

    @pytest.mark.parametrize("model", ["gaussiantalker", "geneface"])
    def test_features_instead_of_audio_only_for_ernerf(self, host: Host, model: str) -> None:
        host.train_checkpoints(model)
        (host.cwd / "feats.npy").write_bytes(b"npy")
        done = host.run(model, "infer", "--task", "clip", "--audio_path", "feats.npy")
        assert done.returncode == 2 and "not precomputed features" in done.stderr

    def test_missing_bfm_names_the_instructions(self, host: Host) -> None:
        (host.bfm / "01_MorphableModel.mat").unlink()
        done = host.run("geneface", "preprocess", "--video_path", "clip.mp4")
        assert done.returncode == 2 and "bfm_models/README.md" in done.stderr

    @pytest.mark.parametrize("model", MODELS)
    def test_missing_weights_are_named_before_anything_runs(self, host: Host, model: str) -> None:
        needed = load_manifest().paths([model])
        (host.weights / needed[-1]).unlink()
        done = host.run(model, "train", "--video_path", "clip.mp4", TEST_MODE="")
        assert done.returncode == 2 and done.stderr.count("\n") == 1
        assert f"missing from {host.weights}: 1 weight file {model} loads" in done.stderr and needed[-1] in done.stderr
        assert f"make weights WEIGHTS=<dir> WEIGHTS_FOR={model}" in done.stderr
        assert not (host.root / "docker-argv").exists() and not host.workspace(model).exists()

    @pytest.mark.parametrize("model", MODELS)
    def test_another_video_for_a_task_names_both_host_paths(self, host: Host, model: str) -> None:
        data = Path(get_adapter(model).task_paths(str(host.workspace(model)), "clip").data_dir)
        data.mkdir(parents=True)
        first = host.root / "takes" / "first.mp4"
        record = {"given": str(first), "size": 3, "sha256": "0" * 64, "source": "/input/video/first.mp4"}
        (data / "input.json").write_text(json.dumps(record))
        for mode in ({"TEST_MODE": "1"}, {"TEST_MODE": ""}):
            done = host.run(model, "train", "--video_path", "clip.mp4", "--task", "clip", **mode)
            assert done.returncode == 2 and (done.stdout == "") == (mode["TEST_MODE"] == "")
            lines = done.stderr.splitlines()
            assert len(lines) == 1 and f"task clip was made from {first}, and {host.video} is" in lines[0]
            assert "--task NAME" in lines[0] and "--force" in lines[0]
        assert not (host.root / "docker-argv").exists()
        assert host.run(model, "train", "--video_path", "clip.mp4", "--task", "clip", "--force").returncode == 0

    @pytest.mark.parametrize("model", MODELS)
    def test_a_huge_iteration_count_is_warned_about_in_the_dry_run(self, host: Host, model: str) -> None:
        done = host.run(model, "train", "--video_path", "clip.mp4", "--iterations", "1000000000")
        assert done.returncode == 0
        warnings = [line for line in done.stdout.splitlines() if line.startswith("# warning: ")]
        assert len(warnings) == 1 and "--iterations 1000000000 is " in warnings[0] and " years " in warnings[0]

    def test_the_container_records_the_video_under_its_host_path(self, host: Host) -> None:
        done = host.run("ernerf", "check", "--video_path", "clip.mp4")
        argv = docker_argv(done.stdout)
        assert argv[argv.index("--video_given") + 1] == str(host.video)
        assert f"--given {shlex.quote(str(host.video))}" in done.stdout.split("\n\n", 1)[1]

    def test_verbs_that_load_no_weights_run_without_them(self, host: Host) -> None:
        shutil.rmtree(host.weights)
        assert host.run("ernerf", "check", "--video_path", "clip.mp4").returncode == 0
        assert host.run("ernerf", "convert-bfm", "--task", "clip").returncode == 0


class TestRealRun:
    @pytest.mark.parametrize("model", MODELS)
    def test_runs_exactly_the_printed_command(self, host: Host, model: str) -> None:
        printed = docker_argv(host.run(model, "preprocess", "--video_path", "clip.mp4").stdout)
        done = host.run(model, "preprocess", "--video_path", "clip.mp4", TEST_MODE="")
        assert done.returncode == 7  # the fake docker's status comes back
        ran = (host.root / "docker-argv").read_text().splitlines()
        assert ["docker", *ran] == [t for t in printed if t != "--tty"]
        assert host.workspace(model).is_dir()


@pytest.mark.parametrize("model", ONE_SHOT)
class TestOneShotModel:
    def test_infer_mounts_the_photo_read_only_and_names_the_task_after_it(self, host: Host, model: str) -> None:
        photo = host.cwd / "my face.png"
        photo.write_bytes(b"png")
        done = host.run(model, "infer", "--image_path", "my face.png", "--audio_path", "speech.wav")
        assert done.returncode == 0, done.stderr
        argv = docker_argv(done.stdout)
        assert f"type=bind,source={photo},target=/input/image/my face.png,readonly" in argv
        [image] = [a for a in argv if a.startswith(f"talkingface/{model}:{__version__}-")]
        command = argv[argv.index(image) + 1 :]
        assert command[command.index("--image_path") + 1] == "/input/image/my face.png"
        assert command[command.index("--task") + 1] == "my_face"

    @pytest.mark.parametrize("verb", ["train", "preprocess", "check", "paste-back"])
    def test_the_training_verbs_are_refused_on_the_host_too(self, host: Host, model: str, verb: str) -> None:
        done = host.run(model, verb, "--video_path", "clip.mp4")
        assert done.returncode == 2
        assert f"{model} cannot {verb}" in done.stderr and "inference-only" in done.stderr
        assert not (host.root / "docker-argv").exists()
