"""What our job submission relies on Slurm to do, checked on a real cluster (tests/slurm_cluster.py)."""

from __future__ import annotations

import subprocess
import time
from datetime import datetime
from pathlib import Path

from tests.slurm_cluster import LocalSlurm


def test_wrap_runs_and_writes_its_log_to_output(slurm: LocalSlurm, tmp_path: Path) -> None:
    out = tmp_path / "hi.txt"
    job = slurm.sbatch("--output", str(tmp_path / "job-%j.log"), "--wrap", f"echo hi > {out}; echo to-the-log")

    assert slurm.wait_idle([job]) == {job: "COMPLETED"}
    assert out.read_text() == "hi\n"
    assert (tmp_path / f"job-{job}.log").read_text() == "to-the-log\n"
    assert slurm.jobs(job)[0].exit_code == "0:0"


def test_failed_job_cancels_its_afterok_dependent_without_running_it(slurm: LocalSlurm, tmp_path: Path) -> None:
    ran = tmp_path / "b-ran"
    # A is held until B is queued: otherwise A could fail before B names it and the test would race.
    a = slurm.sbatch("--hold", "--output", str(tmp_path / "a.log"), "--wrap", "exit 1")
    b = slurm.sbatch(
        f"--dependency=afterok:{a}",
        "--kill-on-invalid-dep=yes",
        "--output",
        str(tmp_path / "b.log"),
        "--wrap",
        f"touch {ran}",
    )
    subprocess.run(["scontrol", "release", a], env=slurm.env, check=True)

    assert slurm.wait_idle([a, b]) == {a: "FAILED", b: "CANCELLED"}
    assert slurm.jobs(a)[0].exit_code == "1:0"
    record = slurm.jobs(b)[0]
    assert record.reason == "DependencyNeverSatisfied"
    assert record.fields["Dependency"] == f"afterok:{a}(failed)"
    # Never given a node: a cancelled pending job's StartTime is its cancel time, so that says nothing.
    assert (record.fields["NodeList"], record.fields["RunTime"]) == ("", "00:00:00")
    assert not ran.exists()
    assert not (tmp_path / "b.log").exists()


def test_throttled_array_runs_each_task_once_one_at_a_time(slurm: LocalSlurm, tmp_path: Path) -> None:
    job = slurm.sbatch(
        "--array=0-2%1",
        "--output",
        str(tmp_path / "task-%A_%a.log"),
        "--wrap",
        "echo task=$SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID; sleep 1",
    )

    assert slurm.wait_idle([job]) == {f"{job}_{i}": "COMPLETED" for i in range(3)}
    for i in range(3):
        assert (tmp_path / f"task-{job}_{i}.log").read_text() == f"task={i} of {job}\n"
    # %1: no two tasks overlap (times are whole seconds, so one may start the second the last ended).
    spans = sorted(
        (datetime.fromisoformat(r.fields["StartTime"]), datetime.fromisoformat(r.fields["EndTime"]))
        for r in slurm.jobs(job)
    )
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:])), spans


def test_stop_ends_running_jobs_and_every_daemon(slurm: LocalSlurm, tmp_path: Path) -> None:
    # A second cluster beside the session's one: its own ports, key and folder.
    with LocalSlurm() as other:
        job = other.sbatch("--output", str(tmp_path / "sleep.log"), "--wrap", "sleep 600")
        deadline = time.monotonic() + 30
        while "sleep 600" not in " ".join(other.leftovers().values()):
            assert time.monotonic() < deadline, other.jobs(job)[0].fields
            time.sleep(0.2)
        running = other.leftovers()
    names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in running if Path(f"/proc/{pid}").exists()}
    assert not names - {"slurmstepd", "sleep"}, names  # zombies at most, until init reaps them
    assert {"munged", "slurmctld", "slurmd", "slurmstepd"} <= {_comm(cmd) for cmd in running.values()}, running
    assert not other.leftovers()
    assert not [pid for pid in running if _alive(pid)]
    assert not other.root.exists()
    other.stop()  # a second stop is harmless
    # The session's cluster was not touched.
    job = slurm.sbatch("--output", str(tmp_path / "after.log"), "--wrap", "true")
    assert slurm.wait_idle([job]) == {job: "COMPLETED"}


def _comm(cmdline: str) -> str:
    # "/usr/sbin/slurmd -D ..." -> slurmd; "slurmstepd: [1.batch]" -> slurmstepd
    return Path(cmdline.split()[0]).name.rstrip(":")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return False
