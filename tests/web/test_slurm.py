"""The studio with --backend slurm on a real single-node Slurm cluster (tests/slurm_cluster.py): its jobs are the
CLI's own --backend slurm submissions, run natively on the node (--runtime native), followed through the CLI's job
record until the last Slurm job ends; a failed step, a restart of the site and cancel."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from talkingface.core.errors import TalkingfaceError
from talkingface.web.config import from_args
from talkingface.web.jobs import cli_argv, env_lane, lanes
from tests.slurm_cluster import LocalSlurm, slurm_available
from tests.web.conftest import MODEL, Client, Service, Studio


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalSlurm]:
    reason = slurm_available()
    if reason:
        pytest.skip(f"no local Slurm cluster: {reason} -- fix: make slurm-tools (as root; Debian's slurm-wlm, munge)")
    with LocalSlurm() as slurm:
        yield slurm
    assert not slurm.leftovers(), "the test cluster's processes outlived it"


@pytest.fixture
def site(tmp_path: Path, native_env: Path, support: Path, tts: Service, cluster: LocalSlurm) -> Iterator[Studio]:
    with Studio(
        tmp_path,
        native_env=native_env,
        support=support,
        tts_url=tts.url,
        # The partition the test cluster has, passed through to sbatch as a user's --partition would be.
        extra=("--backend", "slurm", "--partition", "debug"),
        env={"SLURM_CONF": cluster.env["SLURM_CONF"]},
    ) as studio:
        yield studio


def start_training(site: Studio, clip: Path, task: str) -> Dict[str, Any]:
    shutil.copy(clip, site.inputs / "clip.mp4")
    client = site.client()
    code, answer = client.post(
        "/api/train", fields={"model": MODEL, "gpu": "CPU", "video_name": "clip.mp4", "task": task}
    )
    assert code == 200, answer
    # The video's check ran here before anything was submitted.
    assert "input-check" in answer["check"]
    return {"client": client, "id": answer["job"]["id"]}


def record(site: Studio, task: str) -> Dict[str, Any]:
    return json.loads((site.workspace / MODEL / "slurm" / task / "jobs.json").read_text())


def wait_for(client: Client, job_id: int, check: Any, timeout_s: float = 120.0) -> Dict[str, Any]:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        job = client.get(f"/api/jobs/{job_id}")
        if check(job):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id}: {job}")


def test_train_and_generate_run_as_slurm_jobs(site: Studio, clip: Path, cluster: LocalSlurm) -> None:
    started = start_training(site, clip, "clip")
    client, job_id = started["client"], started["id"]
    job = client.wait_job(job_id, timeout_s=600)
    assert job["state"] == "done", (job, (site.root / "web.log").read_text()[-3000:])
    steps = record(site, "clip")["jobs"]
    assert [s["step"] for s in steps] == ["preprocess", "train-head", "train-lips", "train-torso"]
    # Slurm itself ran each of them, and the studio's job ended only once the last had.
    assert cluster.wait_idle([s["job_id"] for s in steps]) == {s["job_id"]: "COMPLETED" for s in steps}
    assert [(r["step"], r["state"]) for r in job["slurm"]] == [(s["step"], "COMPLETED") for s in steps]
    assert f"slurm: preprocess {steps[0]['job_id']} COMPLETED" in job["log"]
    assert "submitted preprocess: job" in job["log"]
    assert list((site.workspace / MODEL / "models" / "clip").rglob("*.pth"))
    # Its progress is the runner's own file of the chain's last part (one train_only per stage), not none.
    assert job["progress"]["verb"] == "train_only" and job["progress"]["percent"] == 100.0, job["progress"]

    code, gen = client.post("/api/generate", fields={"model": MODEL, "task": "clip", "gpu": "CPU", "text": "hello"})
    assert code == 200, gen
    done = client.wait_job(gen["job"]["id"], timeout_s=300)
    assert done["state"] == "done", done
    assert [r["step"] for r in done["slurm"]] == ["infer"]
    code, video, headers = client.request("GET", f"/api/jobs/{gen['job']['id']}/result")
    assert code == 200 and headers["content-type"] == "video/mp4" and len(video) > 1000


def test_a_failed_step_fails_the_job_with_its_log(site: Studio, clip: Path) -> None:
    (site.workspace / MODEL).mkdir(parents=True)
    # The training double fails on the node; the job reads this from its workspace (Slurm starts it, not the test).
    (site.workspace / MODEL / ".fake-upstream-fail").write_text("main.py")
    started = start_training(site, clip, "bad")
    job = started["client"].wait_job(started["id"], timeout_s=600)
    steps = record(site, "bad")["jobs"]
    head = steps[1]
    assert job["state"] == "failed", job
    assert job["message"].startswith(f"Slurm step train-head ended FAILED (job {head['job_id']}")
    log = head["log"].replace("%j", head["job_id"])
    assert job["fix"].startswith(f"read its log {log}") and "injected failure" in Path(log).read_text()
    assert [r["state"] for r in job["slurm"]][2:] == ["CANCELLED", "CANCELLED"]


def test_a_restart_follows_the_submitted_jobs_again_and_cancel_reaches_slurm(site: Studio, clip: Path) -> None:
    started = start_training(site, clip, "long")
    client, job_id = started["client"], started["id"]
    wait_for(client, job_id, lambda j: j["slurm"] is not None)
    site.restart()
    job = client.get(f"/api/jobs/{job_id}")  # the same browser: its session cookie outlives the restart
    # Its Slurm jobs went on without the site: it is followed again, not called interrupted.
    assert job["state"] == "running", job
    wait_for(client, job_id, lambda j: j["slurm"] is not None)
    code, _ = client.post(f"/api/jobs/{job_id}/cancel")
    assert code == 200
    job = client.wait_job(job_id, timeout_s=120)
    assert job["state"] == "cancelled", job
    assert re.search(r"cancelled [1-4] jobs? of long", job["log"])  # the CLI's own cancel, into the job's log
    # Nothing of it is left in the queue. The step that was running may end FAILED rather than CANCELLED: its job
    # stops its process on SIGTERM and reports that exit.
    assert not {r["state"] for r in job["slurm"]} & {"PENDING", "RUNNING", "COMPLETING"}
    assert job["slurm"][-1]["state"] == "CANCELLED"


def test_the_slurm_options_are_the_clis_own_flags(tmp_path: Path) -> None:
    config = from_args(
        ["--workspace", str(tmp_path), "--backend", "slurm", "--time", "1:00:00", "--sbatch_opt=--qos=high"]
    )
    argv = cli_argv(config, model=MODEL, verb="train", args=["--task", "x"], gpu="GPU0", queued=True)
    assert argv[argv.index("--backend") :][:5] == ["--backend", "slurm", "--time", "1:00:00", "--sbatch_opt=--qos=high"]
    # The video's check and dry runs answer at once, here: they are never submitted.
    assert "--backend" not in cli_argv(config, model=MODEL, verb="check", args=[], gpu="GPU0")
    # Distinct tasks wait on the cluster, not on each other; natively they share one environment, which one run at a
    # time may use (host/native.py's RunLock), so there they do wait on each other.
    a, b = (set(lanes(config, model=MODEL, gpu="GPU0", task=t).split(",")) for t in ("a", "b"))
    assert not a & b and a == set(lanes(config, model=MODEL, gpu="GPU1", task="a").split(","))
    native = from_args(["--workspace", str(tmp_path), "--backend", "slurm", "--runtime", "native"])
    a, b = (set(lanes(native, model=MODEL, gpu="GPU0", task=t).split(",")) for t in ("a", "b"))
    assert a & b == set(env_lane(native, MODEL)) != set()
    with pytest.raises(TalkingfaceError, match="--partition is an sbatch option") as err:
        from_args(["--workspace", str(tmp_path), "--partition", "gpu"])
    assert err.value.fix == "add --backend slurm, or drop the Slurm options"
