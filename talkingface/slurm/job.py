"""``python3 -m talkingface.slurm.job SPEC``: what each batch script runs, on the node, inside the allocation.

It runs ``bin/run_<model>.sh`` with the local backend on the GPUs Slurm gave the job, writes the exit status next
to the log (status reads it where there is no accounting), and stops the container when Slurm cancels the job:
a container is not in the job's cgroup, so Slurm can't stop it by itself.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Dict, List, Mapping, Optional

from ..core.atomic import replacing
from .record import expand

REPO = Path(__file__).resolve().parents[2]


def gpu_flag(gpus: int, env: Mapping[str, str]) -> str:
    """``--gpu`` for the GPUs of this job: Slurm's physical indices, which is what ``docker --gpus`` wants."""
    if gpus <= 0:
        return "CPU"
    listed = env.get("SLURM_JOB_GPUS") or env.get("SLURM_STEP_GPUS") or env.get("CUDA_VISIBLE_DEVICES") or ""
    indices = [item for item in listed.split(",") if item.strip().isdigit()]
    if not indices:
        indices = [str(i) for i in range(gpus)]
    return ",".join(f"GPU{i}" for i in indices)


def command(spec: Mapping[str, object], env: Mapping[str, str]) -> List[str]:
    task = env.get("SLURM_ARRAY_TASK_ID")
    argv = spec["array"][int(task)] if "array" in spec and task is not None else spec["argv"]  # type: ignore[index]
    gpu = gpu_flag(int(spec["gpus"]), env)  # type: ignore[call-overload]
    return [sys.executable, str(REPO / "bin" / "talkingface"), str(spec["model"]), *argv, "--gpu", gpu]  # type: ignore[misc]


def this_jobs(pattern: str, env: Mapping[str, str]) -> str:
    """The exit file or log of the job running here, as sbatch named it."""
    return expand(
        pattern,
        job_id=env.get("SLURM_JOB_ID", "0"),
        array_id=env.get("SLURM_ARRAY_JOB_ID"),
        task=env.get("SLURM_ARRAY_TASK_ID"),
    )


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    env: Dict[str, str] = dict(os.environ)
    job_id = env.get("SLURM_JOB_ID", "?")
    cidfile = Path(env.get("TMPDIR", "/tmp")) / f"talkingface-{job_id}-{os.getpid()}.cid"  # noqa: S108
    env.update(TALKINGFACE_PROG=f"run_{spec['model']}.sh", TALKINGFACE_CIDFILE=str(cidfile), TEST_MODE="")
    cmd = command(spec, env)
    print(
        f"[talkingface] {now()} job {job_id} step {spec['step']} on {socket.gethostname()}: "
        f"{spec['model']} {' '.join(cmd[3:])}",
        flush=True,
    )
    child = subprocess.Popen(cmd, env=env)

    def stop(signum: int, _frame: Optional[FrameType]) -> None:
        print(f"[talkingface] {now()} got signal {signum}: stopping the container", flush=True)
        if cidfile.is_file():
            subprocess.run(["docker", "kill", cidfile.read_text().strip()], capture_output=True)
        child.terminate()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(signum, stop)
    code = child.wait()
    cidfile.unlink(missing_ok=True)
    with replacing(this_jobs(str(spec["exit_file"]), env)) as tmp:
        tmp.write_text(json.dumps({"job": job_id, "code": code, "ended": now()}) + "\n", encoding="utf-8")
    if code == 0:
        print(f"[talkingface] {now()} step {spec['step']} done", flush=True)
    else:
        print(
            f"[talkingface] {now()} step {spec['step']} failed (exit {code}); Slurm cancels the steps after it "
            f"(afterok). This log: {this_jobs(str(spec['log']), env)}",
            flush=True,
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
