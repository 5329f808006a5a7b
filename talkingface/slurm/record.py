"""``<workspace>/slurm/<name>/jobs.json``: the jobs one submission made, read back by status and cancel."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Tuple

from ..core.atomic import replacing
from ..core.errors import TalkingfaceError

RECORD_NAME = "jobs.json"


def expand(pattern: str, *, job_id: str, array_id: Optional[str] = None, task: Optional[object] = None) -> str:
    """sbatch's %j, %A and %a in a file name: the log or exit file of one job, or of one task of an array."""
    task_text = str(task) if task is not None else "0"
    return pattern.replace("%A", array_id or job_id).replace("%a", task_text).replace("%j", job_id)


@dataclass(frozen=True)
class SubmittedJob:
    step: str
    job_id: str
    log: str  # with %j / %A_%a as sbatch writes it
    exit_file: str  # the job's exit status, written by the job itself (no accounting needed)
    array_size: int = 0


@dataclass(frozen=True)
class Submission:
    model: str
    name: str
    submitted: str
    jobs: Tuple[SubmittedJob, ...]


def save(folder: Path, submission: Submission) -> None:
    raw = {**asdict(submission), "jobs": [asdict(job) for job in submission.jobs]}
    with replacing(folder / RECORD_NAME) as tmp:
        tmp.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")


def load(folder: Path) -> Optional[Submission]:
    path = folder / RECORD_NAME
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        jobs = tuple(SubmittedJob(**job) for job in raw["jobs"])
        return Submission(model=raw["model"], name=raw["name"], submitted=raw["submitted"], jobs=jobs)
    except (ValueError, KeyError, TypeError) as exc:
        raise TalkingfaceError(
            f"{path} is not a job record: {exc}",
            fix=f"delete {path}; the jobs themselves are listed by 'squeue --me'",
            exit_code=1,
        ) from exc
