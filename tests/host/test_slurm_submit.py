"""--backend slurm through bin/run_<model>.sh, with sbatch, squeue, scontrol and scancel replaced by recorders.

tests/slurm runs the same against a real Slurm; these cover what a real cluster can't be asked to do here."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from talkingface.slurm.sbatch import BATCH_SCRIPT
from tests.conftest import REPO
from tests.host.test_cli import Host

# Each call appends its argv (one JSON list per line) and answers like the real tool.
FAKE_SBATCH = """#!/bin/sh
python3 - "$@" <<'PY'
import json, os, sys
log = os.environ["FAKE_SLURM_LOG"]
calls = open(log).read().splitlines() if os.path.exists(log) else []
with open(log, "a") as fh:
    fh.write(json.dumps({"argv": sys.argv[1:], "pythonpath": os.environ.get("PYTHONPATH", "")}) + "\\n")
refuse = os.environ.get("FAKE_SBATCH_REFUSE_AT")
if refuse and len(calls) + 1 == int(refuse):
    sys.stderr.write("sbatch: error: invalid partition specified: nope\\n")
    sys.exit(1)
print(f"{1000 + len(calls)};cluster")
PY
"""
FAKE_RECORDER = """#!/bin/sh
printf '%s\\n' "$(basename "$0") $*" >> "$FAKE_SLURM_LOG.other"
"""


class SlurmHost(Host):
    def __init__(self, root: Path, clip: Path) -> None:
        super().__init__(root, clip)
        for name, body in (("sbatch", FAKE_SBATCH), ("scancel", FAKE_RECORDER), ("squeue", FAKE_RECORDER),
                           ("scontrol", FAKE_RECORDER), ("sacct", FAKE_RECORDER)):  # fmt: skip
            (self.bin / name).write_text(body)
            (self.bin / name).chmod(0o755)
        self.log = root / "slurm-calls.jsonl"

    def env(self, **extra: str) -> Dict[str, str]:
        return super().env(FAKE_SLURM_LOG=str(self.log), **extra)

    def calls(self) -> List[List[str]]:
        return [json.loads(line)["argv"] for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def other(self) -> List[str]:
        path = Path(f"{self.log}.other")
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def host(tmp_path: Path, media) -> SlurmHost:
    return SlurmHost(tmp_path, media["clip"])


def slurm(host: SlurmHost, model: str, *argv: str, line: str = "local", **env: str) -> subprocess.CompletedProcess:
    return host.run(model, *argv, "--backend", "slurm", "--line", line, **{"TEST_MODE": "", **env})


def option(argv: List[str], name: str) -> str:
    return next(a.split("=", 1)[1] for a in argv if a.startswith(f"{name}="))


class TestChain:
    @pytest.mark.parametrize(
        ("model", "steps"),
        [
            ("ernerf", ["preprocess", "train-head", "train-lips", "train-torso", "infer"]),
            ("gaussiantalker", ["preprocess", "train", "infer"]),
            ("geneface", ["preprocess", "train-head", "train-torso", "infer"]),
        ],
    )
    def test_train_is_a_chain_of_afterok_jobs(self, host: SlurmHost, model: str, steps: List[str]) -> None:
        done = slurm(host, model, "train", "--video_path", "clip.mp4", "--audio_path", "speech.wav", "--gpu", "CPU")
        assert done.returncode == 0, done.stderr
        calls = host.calls()
        assert [option(c, "--job-name") for c in calls] == [f"tf-{model}-clip-{s}" for s in steps]
        deps = [next((a for a in c if a.startswith("--dependency=")), None) for c in calls]
        assert deps == [None, *(f"--dependency=afterok:{1000 + i}" for i in range(len(steps) - 1))]
        assert all(("--kill-on-invalid-dep=yes" in c) == (i > 0) for i, c in enumerate(calls))
        folder = host.workspace(model) / "slurm" / "clip"
        record = json.loads((folder / "jobs.json").read_text())
        assert [(j["step"], j["job_id"]) for j in record["jobs"]] == [(s, str(1000 + i)) for i, s in enumerate(steps)]
        for number, (call, step) in enumerate(zip(calls, steps), 1):
            spec = json.loads(Path(call[-1]).read_text())
            assert call[-2] == str(folder / "job.sbatch") and spec["step"] == step
            assert option(call, "--output") == str(folder / f"{number:02d}-{step}-%j.log")
            verb = {"preprocess": "preprocess", "infer": "infer"}.get(step, "train_only")
            assert spec["argv"][0] == verb and spec["argv"][spec["argv"].index("--line") + 1] == "local"
        assert (folder / "job.sbatch").read_text() == BATCH_SCRIPT and os.access(folder / "job.sbatch", os.X_OK)
        pythonpath = json.loads(host.log.read_text().splitlines()[0])["pythonpath"]
        assert pythonpath.split(os.pathsep)[0] == str(REPO)
        assert "status --task clip" in done.stdout

    def test_gpus_and_passthrough_options(self, host: SlurmHost) -> None:
        args = ["--gpu", "GPU0,GPU1", "--partition", "a100", "--time", "1-00:00:00", "--account", "lab",
                "--sbatch_opt=--qos=high", "--sbatch_opt=--mail-type=FAIL"]  # fmt: skip
        # A CUDA line: the local line runs on the CPU whatever --gpu says, so it asks Slurm for no GPU.
        done = slurm(host, "gaussiantalker", "preprocess", "--video_path", "clip.mp4", *args, line="cu118")
        assert done.returncode == 0, done.stderr
        [call] = host.calls()
        assert call[1:8] == ["--job-name=tf-gaussiantalker-clip-preprocess", call[2], "--open-mode=append",
                             "--gres=gpu:2", "--partition=a100", "--time=1-00:00:00", "--account=lab"]  # fmt: skip
        assert call[8:10] == ["--qos=high", "--mail-type=FAIL"]
        spec = json.loads(Path(call[-1]).read_text())
        assert spec["gpus"] == 2 and "--gpu" not in spec["argv"]

    def test_the_local_line_asks_for_no_gpu_whatever_gpu_says(self, host: SlurmHost) -> None:
        done = slurm(host, "gaussiantalker", "preprocess", "--video_path", "clip.mp4", "--gpu", "GPU0,GPU1")
        assert done.returncode == 0, done.stderr
        [call] = host.calls()
        assert not [arg for arg in call if arg.startswith("--gres")]
        assert json.loads(Path(call[-1]).read_text())["gpus"] == 0

    def test_a_refused_submission_cancels_the_jobs_already_in(self, host: SlurmHost) -> None:
        done = slurm(host, "ernerf", "train", "--video_path", "clip.mp4", "--gpu", "CPU", FAKE_SBATCH_REFUSE_AT="3")
        assert done.returncode == 1 and "sbatch refused the job: sbatch: error: invalid partition" in done.stderr
        assert "scancel 1000 1001" in host.other()
        assert not (host.workspace("ernerf") / "slurm" / "clip" / "jobs.json").exists()

    def test_bad_input_is_refused_before_anything_is_submitted(self, host: SlurmHost) -> None:
        done = slurm(host, "ernerf", "train", "--video_path", "nope.mp4", "--gpu", "CPU")
        assert done.returncode == 2 and "--video_path" in done.stderr and host.calls() == []
        done = slurm(host, "ernerf", "train", "--video_path", "clip.mp4", "--gpu", "all", line="cu118")
        assert done.returncode == 2 and "--gpu all" in done.stderr and host.calls() == []
        done = slurm(host, "ernerf", "shell")
        assert done.returncode == 2 and "can't run as a Slurm job" in done.stderr


class TestArray:
    def write_list(self, host: SlurmHost, names: List[str]) -> Path:
        for name in names:
            (host.cwd / name).write_bytes(host.video.read_bytes())
        listing = host.cwd / "people.txt"
        listing.write_text("# one per line\n" + "\n".join(names) + "\n\n")
        return listing

    def test_a_video_list_is_one_array_job(self, host: SlurmHost) -> None:
        self.write_list(host, ["ann.mp4", "bob.mp4", "cy.mp4"])
        done = slurm(host, "ernerf", "train", "--video_list", "people.txt", "--max_concurrent", "2", "--gpu", "CPU")
        assert done.returncode == 0, done.stderr
        [call] = host.calls()
        assert "--array=0-2%2" in call and option(call, "--job-name") == "tf-ernerf-people-train"
        spec = json.loads(Path(call[-1]).read_text())
        tasks = [argv[argv.index("--task") + 1] for argv in spec["array"]]
        assert tasks == ["ann", "bob", "cy"] and all(argv[0] == "train" for argv in spec["array"])
        assert option(call, "--output").endswith("01-train-%A_%a.log")

    def test_refusals(self, host: SlurmHost) -> None:
        (host.cwd / "sub").mkdir()
        self.write_list(host, ["ann.mp4", "sub/ann.mp4"])
        done = slurm(host, "ernerf", "train", "--video_list", "people.txt", "--gpu", "CPU")
        assert done.returncode == 2 and "task name 'ann'" in done.stderr
        (host.cwd / "people.txt").write_text("ann.mp4\nmissing.mp4\n")
        done = slurm(host, "ernerf", "train", "--video_list", "people.txt", "--gpu", "CPU")
        assert done.returncode == 2 and "missing.mp4 does not exist" in done.stderr
        done = slurm(host, "ernerf", "train", "--video_list", "people.txt", "--task", "x", "--gpu", "CPU")
        assert done.returncode == 2 and "--video_list goes with train alone" in done.stderr
        assert host.calls() == []


class TestDryRun:
    def test_prints_the_script_and_each_sbatch_line_and_writes_nothing(self, host: SlurmHost, tmp_path: Path) -> None:
        done = host.run("gaussiantalker", "train", "--video_path", "clip.mp4", "--audio_path", "speech.wav",
                        "--gpu", "GPU0", "--backend", "slurm", "--partition", "gpu")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert BATCH_SCRIPT in done.stdout and host.calls() == []
        lines = [shlex.split(line) for line in done.stdout.splitlines() if line.startswith("sbatch ")]
        assert len(lines) == 3 and all("--gres=gpu:1" in line and "--partition=gpu" in line for line in lines)
        assert "--dependency=afterok:<job 2>" in lines[2]
        assert not (host.workspace("gaussiantalker")).exists()
        script = tmp_path / "job.sbatch"
        script.write_text(BATCH_SCRIPT)
        lint = subprocess.run([str(REPO / ".venv" / "bin" / "shellcheck"), str(script)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout

    def test_apptainer_runtime(self, host: SlurmHost) -> None:
        done = host.run("ernerf", "preprocess", "--video_path", "clip.mp4", "--gpu", "GPU1", "--runtime", "apptainer",
                        "--line", "cu118", "--sif", "/sifs/ernerf.sif")  # fmt: skip
        assert done.returncode == 0, done.stderr
        command = shlex.split(done.stdout.split("\n\n")[0].split("\n", 1)[1].replace("\\\n", " "))
        assert command[:6] == ["apptainer", "run", "--containall", "--net", "--network", "none"]
        assert "--nv" in command and "CUDA_VISIBLE_DEVICES=1" in command
        binds = [command[i + 1] for i, word in enumerate(command) if word == "--bind"]
        assert f"{host.video}:/input/video/clip.mp4:ro" in binds and f"{host.weights}:/weights:ro" in binds
        assert any(b.endswith(":/workspace:rw") for b in binds)
        assert command[command.index("/sifs/ernerf.sif") + 1] == "preprocess"

    def test_apptainer_without_the_sif_says_how_to_build_it(self, host: SlurmHost) -> None:
        done = host.run("ernerf", "check", "--video_path", "clip.mp4", "--runtime", "apptainer", "--gpu", "CPU",
                        TEST_MODE="")  # fmt: skip
        assert done.returncode == 2 and "apptainer build" in done.stderr and ".sif does not exist" in done.stderr


class TestStatusAndCancel:
    def submit(self, host: SlurmHost) -> Path:
        assert slurm(host, "gaussiantalker", "train", "--video_path", "clip.mp4", "--gpu", "CPU").returncode == 0
        return host.workspace("gaussiantalker") / "slurm" / "clip"

    def test_without_accounting_the_exit_files_tell_how_jobs_ended(self, host: SlurmHost) -> None:
        folder = self.submit(host)
        (folder / "01-preprocess.exit").write_text(json.dumps({"job": "1000", "code": 0}))
        (folder / "02-train.exit").write_text(json.dumps({"job": "1001", "code": 3}))
        done = host.run("gaussiantalker", "status", "--task", "clip", TEST_MODE="")
        assert done.returncode == 1
        assert "preprocess  1000" in done.stdout and "COMPLETED" in done.stdout
        assert "step train failed (job 1001)" in done.stdout and str(folder / "02-train-1001.log") in done.stdout

    def test_status_of_a_task_never_submitted(self, host: SlurmHost) -> None:
        done = host.run("ernerf", "status", "--task", "nobody", TEST_MODE="")
        assert done.returncode == 1 and "no Slurm jobs were submitted" in done.stderr

    def test_cancel_cancels_what_is_not_finished(self, host: SlurmHost) -> None:
        folder = self.submit(host)
        (folder / "01-preprocess.exit").write_text(json.dumps({"job": "1000", "code": 0}))
        # squeue lists the train job as pending; the recorder prints nothing, so state comes from a fake scontrol.
        (host.bin / "scontrol").write_text(
            "#!/bin/sh\n[ \"$4\" = 1001 ] && echo 'JobId=1001 JobName=x JobState=PENDING Reason=Dependency'\nexit 0\n"
        )
        done = host.run("gaussiantalker", "cancel", "--task", "clip", TEST_MODE="")
        assert done.returncode == 0 and "cancelled 1 job of clip: 1001" in done.stdout
        assert "scancel 1001" in host.other()
