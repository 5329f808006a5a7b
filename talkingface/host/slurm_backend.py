"""``--backend slurm`` on the host: check the request as a local run would, then hand it to talkingface.slurm."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import List

from ..adapters.base import Adapter
from ..core.cli_args import Roots, preflight, request_argv, resolve
from ..core.errors import TalkingfaceError
from ..core.names import safe_stem
from ..core.request import Request
from ..core.verbs import Verb
from ..slurm.plan import JobStep, plan_jobs
from ..slurm.sbatch import SbatchOptions
from ..slurm.submit import Batch, print_dry_run, read_video_list, submit_batch


def submit_to_slurm(
    adapter: Adapter,
    verb: Verb,
    args: argparse.Namespace,
    roots: Roots,
    *,
    gpus: int,
    host_flags: List[str],
    dry_run: bool,
) -> int:
    """Check the request here, on the login node, as a local run would; then submit it as jobs."""
    if not verb.in_container or verb.name == "shell":
        raise TalkingfaceError(f"{verb.name} can't run as a Slurm job", fix="drop --backend slurm")
    options = SbatchOptions(
        partition=args.partition,
        time=args.time,
        account=args.account,
        extra=tuple(args.sbatch_opt),
        max_concurrent=args.max_concurrent,
    )

    def checked(namespace: argparse.Namespace) -> Request:
        req = resolve(adapter, verb, namespace, roots)
        preflight(adapter, verb, req)
        return dataclasses.replace(req, options=adapter.settle(req))

    if args.video_list:
        if verb.name != "train" or args.video_path or args.task or args.audio_path:
            raise TalkingfaceError(
                "--video_list goes with train alone: each line is a video, each task its name",
                fix="drop --video_path, --task and --audio_path (infer each task afterwards)",
            )
        array, tasks = [], set()
        for video in read_video_list(args.video_list):
            req = checked(argparse.Namespace(**{**vars(args), "video_path": video}))
            if req.task in tasks:
                raise TalkingfaceError(
                    f"two videos in --video_list give the task name {req.task!r}",
                    fix="rename one of the videos: the task is the file's name",
                )
            tasks.add(req.task)
            array.append((*request_argv(adapter, req), *host_flags))
        name = safe_stem(Path(args.video_list).stem)
        folder = Path(roots.workspace) / "slurm" / name
        batch = Batch(adapter.name, name, folder, (JobStep("train", (), gpus),), tuple(array))
    else:
        req = checked(args)
        infer_audio = req.audio if req.verb == "train" else None
        jobs = plan_jobs(adapter, req, gpus=gpus, host_flags=host_flags, infer_audio=infer_audio)
        batch = Batch(adapter.name, req.task, Path(req.paths.workspace) / "slurm" / req.task, tuple(jobs))
    if dry_run:
        print_dry_run(batch, options)
        return 0
    submit_batch(batch, options)
    where = f" --workspace {args.workspace}" if args.workspace else ""
    print(
        f"follow them with: {os.environ.get('TALKINGFACE_PROG', f'run_{adapter.name}.sh')} status --task "
        f"{batch.name}{where}"
    )
    return 0
