"""``status`` and ``cancel``: the jobs of one submission, read from its record and from Slurm."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional, TextIO, Tuple

from ..core.errors import TalkingfaceError
from ..core.text import plural
from . import record, states
from .record import Submission, SubmittedJob, expand
from .states import JobState
from .submit import cancel_ids


def _load(folder: Path, model: str) -> Submission:
    found = record.load(folder)
    if found is None:
        raise TalkingfaceError(
            f"no Slurm jobs were submitted from {folder}",
            fix=f"submit with 'run_{model}.sh train ... --backend slurm', or pass the same "
            "--task and --workspace as then",
            exit_code=1,
        )
    return found


def _ended(job: SubmittedJob, job_id: str, task: Optional[int]) -> Optional[JobState]:
    """What the job's exit file says, if it wrote one."""
    return states.from_exit_file(expand(job.exit_file, job_id=job_id, array_id=job.job_id, task=task), job_id)


def rows(submission: Submission) -> List[Tuple[str, str, JobState, str]]:
    """(step, job id, state, log) for each job, and for each task of an array job."""
    found = states.query([job.job_id for job in submission.jobs])
    out = []
    for job in submission.jobs:
        tasks: List[Optional[int]] = list(range(job.array_size)) if job.array_size else [None]
        for task in tasks:
            job_id = f"{job.job_id}_{task}" if task is not None else job.job_id
            state = found.get(job_id)
            if state is None and task is not None:  # pending tasks show as 123_[0-2%1] in squeue
                state = next((s for k, s in found.items() if k.startswith(f"{job.job_id}_[")), None)
            # The job's exit file says how it ended once Slurm has forgotten it (no accounting) or still reports
            # it as completing; a state Slurm gave it from outside (CANCELLED, TIMEOUT) is kept.
            ended = _ended(job, job_id, task)
            if ended is not None and (state is None or state.state in ("COMPLETING", *states.GOOD)):
                state = ended
            if state is None:
                state = JobState(job_id, "UNKNOWN", "Slurm no longer lists it and it wrote no exit status")
            out.append((job.step, job_id, state, expand(job.log, job_id=job_id, array_id=job.job_id, task=task)))
    return out


def status(folder: Path, model: str, out: TextIO = sys.stdout) -> int:
    submission = _load(folder, model)
    table = rows(submission)
    width = max(len(step) for step, _, _, _ in table)
    print(f"{model} {submission.name}: submitted {submission.submitted}", file=out)
    for step, job_id, state, log in table:
        reason = f" ({state.reason})" if state.reason else ""
        print(f"  {step:<{width}}  {job_id:<12} {state.state}{reason}  {log}", file=out)
    # A cancelled step is the consequence of a failure (or of cancel), not its cause.
    failed = [(step, job_id, log) for step, job_id, state, log in table if state.failed and state.state != "CANCELLED"]
    for step, job_id, log in failed:
        print(f"step {step} failed (job {job_id}); the steps after it were cancelled. Its log: {log}", file=out)
    if failed:
        return 1
    return 1 if any(state.state == "CANCELLED" for _, _, state, _ in table) else 0


def cancel(folder: Path, model: str, out: TextIO = sys.stdout) -> int:
    submission = _load(folder, model)
    live = [job_id for _, job_id, state, _ in rows(submission) if not state.final]
    ids = sorted({job_id.split("_")[0] for job_id in live})
    cancel_ids(ids)
    listed = ", ".join(ids) or "none were still queued or running"
    print(f"cancelled {plural(len(ids), 'job')} of {submission.name}: {listed}", file=out)
    return 0
