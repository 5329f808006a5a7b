"""Submit a verb: write the batch script and one spec per job, then sbatch them, each after the one before it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, TextIO, Tuple

from ..core.atomic import replacing
from ..core.errors import TalkingfaceError
from ..core.text import plural
from ..weights.lock import now_utc
from . import record, states
from .plan import JobStep
from .record import Submission, SubmittedJob
from .sbatch import BATCH_SCRIPT, SbatchOptions, sbatch_argv, submit

REPO = Path(__file__).resolve().parents[2]
SCRIPT_NAME = "job.sbatch"


@dataclass(frozen=True)
class Batch:
    """What one submission sends: a chain of jobs, or one array job (``array`` holds each task's argv)."""

    model: str
    name: str  # the task, or the video list's name
    folder: Path  # <workspace>/slurm/<name>
    jobs: Tuple[JobStep, ...]
    array: Tuple[Tuple[str, ...], ...] = ()


def job_env() -> dict:
    """sbatch exports this to the job: the job imports talkingface from this checkout (a shared filesystem)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


def _files(batch: Batch, number: int, job: JobStep) -> Tuple[Path, str, str]:
    stem = f"{number:02d}-{job.step}"
    log = f"{stem}-%A_%a.log" if batch.array else f"{stem}-%j.log"
    exit_file = f"{stem}.%a.exit" if batch.array else f"{stem}.exit"
    return batch.folder / f"{stem}.json", str(batch.folder / log), str(batch.folder / exit_file)


def _check_not_running(batch: Batch) -> None:
    earlier = record.load(batch.folder)
    if earlier is None:
        return
    found = states.query([job.job_id for job in earlier.jobs])
    live = sorted(s.job_id for s in found.values() if not s.final)
    if live:
        raise TalkingfaceError(
            f"{batch.name} already has jobs in the queue ({', '.join(live)}), so nothing was submitted",
            fix=f"wait for them (run_{batch.model}.sh status --task {batch.name}) or cancel them (... cancel)",
            exit_code=1,
        )


def _sbatch_line(batch: Batch, options: SbatchOptions, number: int, job: JobStep, after: Optional[str]) -> List[str]:
    spec, log, _ = _files(batch, number, job)
    return sbatch_argv(
        options=options,
        job_name=f"tf-{batch.model}-{batch.name}-{job.step}",
        log=log,
        gpus=job.gpus,
        script=str(batch.folder / SCRIPT_NAME),
        spec=str(spec),
        after=after,
        array_size=len(batch.array),
    )


def plan_lines(batch: Batch, options: SbatchOptions) -> List[List[str]]:
    """Each job's sbatch argv; the job ids it depends on are placeholders until the real submission."""
    return [
        _sbatch_line(batch, options, n, job, f"<job {n - 1}>" if n > 1 else None) for n, job in enumerate(batch.jobs, 1)
    ]


def _spec(batch: Batch, number: int, job: JobStep) -> dict:
    _, log, exit_file = _files(batch, number, job)
    spec = {"model": batch.model, "step": job.step, "gpus": job.gpus, "log": log, "exit_file": exit_file}
    if batch.array:
        spec["array"] = [list(argv) for argv in batch.array]
    else:
        spec["argv"] = list(job.argv)
    return spec


def print_dry_run(batch: Batch, options: SbatchOptions, out: TextIO = sys.stdout) -> None:
    count = f"one array of {plural(len(batch.array), 'task')}" if batch.array else plural(len(batch.jobs), "job")
    print(f"# TEST_MODE: nothing is submitted. {batch.model} {batch.name}: {count}, files in {batch.folder}", file=out)
    print(f"# {batch.folder / SCRIPT_NAME}:", file=out)
    print(BATCH_SCRIPT, file=out)
    for number, (job, line) in enumerate(zip(batch.jobs, plan_lines(batch, options)), 1):
        print(f"# job {number}: {job.step}", file=out)
        print(shlex.join(line), file=out)
        print(f"# {line[-1]}: {json.dumps(_spec(batch, number, job))}", file=out)


def cancel_ids(job_ids: Sequence[str]) -> None:
    if job_ids:
        subprocess.run(["scancel", *job_ids], capture_output=True)


def submit_batch(batch: Batch, options: SbatchOptions, out: TextIO = sys.stdout) -> Submission:
    _check_not_running(batch)
    batch.folder.mkdir(parents=True, exist_ok=True)
    script = batch.folder / SCRIPT_NAME
    with replacing(script) as tmp:
        tmp.write_text(BATCH_SCRIPT, encoding="utf-8")
        tmp.chmod(0o755)
    env, submitted, after = job_env(), [], None
    try:
        for number, job in enumerate(batch.jobs, 1):
            spec_path, log, exit_file = _files(batch, number, job)
            for stale in batch.folder.glob(Path(exit_file).name.replace("%a", "*")):
                stale.unlink()  # an earlier submission's, which status would otherwise read as this one's
            with replacing(spec_path) as tmp:
                tmp.write_text(json.dumps(_spec(batch, number, job), indent=2) + "\n", encoding="utf-8")
            after = submit(_sbatch_line(batch, options, number, job, after), env)
            submitted.append(SubmittedJob(job.step, after, log, exit_file, len(batch.array)))
            print(f"submitted {job.step}: job {after}, log {log}", file=out, flush=True)
    except BaseException:
        cancel_ids([job.job_id for job in submitted])  # half a chain would wait on nothing, or run out of order
        raise
    result = Submission(model=batch.model, name=batch.name, submitted=now_utc(), jobs=tuple(submitted))
    record.save(batch.folder, result)
    return result


def read_video_list(path: str) -> List[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TalkingfaceError(
            f"--video_list {path} can't be read: {exc.strerror}", fix="pass a text file with one video path per line"
        ) from exc
    base = Path(path).resolve().parent
    videos = [str((base / line.strip()).resolve()) for line in lines if line.strip() and not line.startswith("#")]
    if not videos:
        raise TalkingfaceError(f"--video_list {path} lists no videos", fix="put one video path per line in it")
    return videos
