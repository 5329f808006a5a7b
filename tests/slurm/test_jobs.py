"""Real jobs on a real single-node Slurm: bin/run_<model>.sh --backend slurm with the local image line.

Each job runs the container with Docker on the node (this machine), as a cluster with Docker on its nodes would."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from tests.conftest import REPO
from tests.doubles.install import install
from tests.slurm_cluster import LocalSlurm

MODEL = "gaussiantalker"  # preprocess, one training stage, infer: a three-job chain
JOB_TIMEOUT_S = 900


class Site:
    """Inputs, BFM, weights and a workspace; the jobs run as root, as the test does."""

    def __init__(self, root: Path, media: Dict[str, Path], slurm: LocalSlurm) -> None:
        self.root, self.slurm = root, slurm
        install(MODEL, root / "scaffold")
        self.inputs = root / "inputs"
        self.inputs.mkdir()
        shutil.copy(media["clip"], self.inputs / "clip.mp4")
        shutil.copy(media["speech"], self.inputs / "speech.wav")
        self.workspace = root / "ws"

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        common = ["--line", "local", "--gpu", "CPU", "--workspace", str(self.workspace)]
        common += ["--bfm_dir", str(self.root / "scaffold" / "bfm_models")]
        common += ["--weights_dir", str(self.root / "scaffold" / "weights")]
        env = {k: v for k, v in self.slurm.env.items() if k != "TEST_MODE"}
        command = [str(REPO / "bin" / f"run_{MODEL}.sh"), *argv, *common]
        return subprocess.run(command, cwd=self.inputs, env=env, capture_output=True, text=True, timeout=120)

    def submit(self, *argv: str, name: str = "clip") -> List[dict]:
        done = self.run(*argv, "--backend", "slurm")
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads((self.workspace / "slurm" / name / "jobs.json").read_text())["jobs"]

    def wait(self, jobs: List[dict]) -> Dict[str, str]:
        return self.slurm.wait_idle([job["job_id"] for job in jobs], timeout=JOB_TIMEOUT_S)

    def log(self, job: dict, job_id: str) -> str:
        return Path(job["log"].replace("%j", job_id)).read_text(errors="replace")


def running_containers() -> List[str]:
    done = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"name=talkingface-{MODEL}-"], capture_output=True, text=True
    )
    return done.stdout.split()


@pytest.fixture
def site(slurm: LocalSlurm, media) -> Iterator[Site]:
    root = Path(tempfile.mkdtemp(prefix="tf-slurm-", dir="/tmp"))
    try:
        yield Site(root, media, slurm)
    finally:
        left = running_containers()
        if left:
            subprocess.run(["docker", "rm", "-f", *left], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"containers still running after the test: {left}"


def test_a_train_chain_runs_preprocess_train_and_infer(site: Site) -> None:
    jobs = site.submit("train", "--video_path", "clip.mp4", "--audio_path", "speech.wav", "--iterations", "6000")
    assert [job["step"] for job in jobs] == ["preprocess", "train", "infer"]
    states = site.wait(jobs)
    assert states == {job["job_id"]: "COMPLETED" for job in jobs}, {j["step"]: site.log(j, j["job_id"]) for j in jobs}
    result = site.workspace / "results" / "clip" / "speech.mp4"
    assert result.is_file() and result.stat().st_size > 0
    status = site.run("status", "--task", "clip")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("COMPLETED") == 3
    assert "step preprocess done" in site.log(jobs[0], jobs[0]["job_id"])


def test_a_failed_step_cancels_the_steps_after_it(site: Site) -> None:
    site.workspace.mkdir()
    # The training double fails; the container reads this from its workspace (Slurm starts it, not the test).
    (site.workspace / ".fake-upstream-fail").write_text("train.py")
    jobs = site.submit("train", "--video_path", "clip.mp4", "--audio_path", "speech.wav")
    states = site.wait(jobs)
    ids = [job["job_id"] for job in jobs]
    assert [states[i] for i in ids] == ["COMPLETED", "FAILED", "CANCELLED"]
    record = site.slurm.jobs(ids[2])[0]
    assert record.reason == "DependencyNeverSatisfied" and record.fields.get("RunTime") == "00:00:00"
    assert not (site.workspace / "results" / "clip").exists()
    train_log = site.log(jobs[1], ids[1])
    assert "injected failure" in train_log and "step train failed (exit" in train_log
    status = site.run("status", "--task", "clip")
    assert status.returncode == 1
    assert f"step train failed (job {ids[1]})" in status.stdout
    assert str(Path(jobs[1]["log"].replace("%j", ids[1]))) in status.stdout
    assert "CANCELLED (DependencyNeverSatisfied)" in status.stdout


def test_a_video_list_is_one_array_of_trains(site: Site) -> None:
    names = ["ann", "bob", "cy"]
    for name in names:
        shutil.copy(site.inputs / "clip.mp4", site.inputs / f"{name}.mp4")
    (site.inputs / "people.txt").write_text("".join(f"{name}.mp4\n" for name in names))
    jobs = site.submit(
        "train", "--video_list", "people.txt", "--max_concurrent", "2", "--iterations", "6000", name="people"
    )
    [job] = jobs
    assert job["array_size"] == 3
    states = site.wait(jobs)
    assert states == {f"{job['job_id']}_{i}": "COMPLETED" for i in range(3)}
    for name in names:
        assert list((site.workspace / "models" / name).glob("point_cloud/iteration_*/point_cloud.ply")), name
    status = site.run("status", "--task", "people")
    assert status.returncode == 0 and status.stdout.count("COMPLETED") == 3
    logs = sorted(p.name for p in (site.workspace / "slurm" / "people").glob("01-train-*.log"))
    assert logs == [f"01-train-{job['job_id']}_{i}.log" for i in range(3)]


def test_cancel_stops_the_running_container_and_the_chain(site: Site) -> None:
    jobs = site.submit("train", "--video_path", "clip.mp4", "--audio_path", "speech.wav")
    first = jobs[0]["job_id"]
    deadline = time.monotonic() + 120
    while not running_containers():  # the preprocess container has started inside job 1
        assert time.monotonic() < deadline, site.slurm.jobs(first)
        time.sleep(0.2)
    status = site.run("status", "--task", "clip")
    assert "RUNNING" in status.stdout and "PENDING (Dependency)" in status.stdout, status.stdout
    done = site.run("cancel", "--task", "clip")
    assert done.returncode == 0 and "cancelled 3 jobs of clip" in done.stdout, done.stdout + done.stderr
    states = site.wait(jobs)
    assert set(states.values()) == {"CANCELLED"}
    deadline = time.monotonic() + 30
    while running_containers():  # docker kill, from the job's SIGTERM handler
        assert time.monotonic() < deadline, "the container outlived its cancelled job"
        time.sleep(0.2)
    assert "stopping the container" in site.log(jobs[0], first)
