"""Which jobs a verb becomes: pure, from the resolved request, so TEST_MODE and the real submission agree."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ..adapters.base import Adapter
from ..core.cli_args import request_argv
from ..core.errors import TalkingfaceError
from ..core.request import Request
from ..host.gpu import GpuSelection


@dataclass(frozen=True)
class JobStep:
    """One sbatch job: ``argv`` is what ``bin/run_<model>.sh`` gets inside the job, without ``--gpu``."""

    step: str
    argv: Tuple[str, ...]
    gpus: int


def gpu_count(selection: GpuSelection) -> int:
    if selection.all_gpus:
        raise TalkingfaceError(
            "--gpu all has no meaning on a cluster, where Slurm picks the GPUs",
            fix="ask for a count by listing that many, e.g. --gpu GPU0,GPU1 for two GPUs per job",
        )
    return len(selection.indices)


def _argv(adapter: Adapter, req: Request, verb: str, host_flags: Sequence[str], **changes: object) -> Tuple[str, ...]:
    moved = dataclasses.replace(req, verb=verb, **changes)  # type: ignore[arg-type]
    return (*request_argv(adapter, moved), *host_flags)


def plan_jobs(
    adapter: Adapter, req: Request, *, gpus: int, host_flags: Sequence[str], infer_audio: Optional[str]
) -> List[JobStep]:
    """``train`` with a video is preprocess, then one job per training stage, then infer when ``infer_audio`` is
    given; any other verb is one job. ``host_flags`` (line, image, BFM and weights folders) go to every job."""
    if req.verb != "train":
        return [JobStep(req.verb, _argv(adapter, req, req.verb, host_flags), gpus)]
    jobs = [JobStep("preprocess", _argv(adapter, req, "preprocess", host_flags, audio=None), gpus)]
    stages = adapter.stage_options(req.options)
    for name, options in stages:
        step = f"train-{name}" if len(stages) > 1 else "train"
        argv = _argv(adapter, req, "train_only", host_flags, video=None, audio=None, au_csv=None, options=options)
        jobs.append(JobStep(step, argv, gpus))
    if infer_audio:
        argv = _argv(
            adapter, req, "infer", host_flags, video=None, au_csv=None, audio=infer_audio, force=False, from_step=None
        )
        jobs.append(JobStep("infer", argv, gpus))
    return jobs
