"""The batch script and the sbatch command lines: options travel as argv, never as text a shell would parse."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence, Tuple

from ..core.errors import TalkingfaceError

# The same script for every job: what a job does is in the spec file passed as its argument, so no user input is
# ever part of a shell script. sbatch exports the submitting environment (PYTHONPATH included) to the job.
BATCH_SCRIPT = """#!/usr/bin/env bash
# A talkingface job. Its work is described by the JSON spec given as the first argument (sbatch SCRIPT SPEC):
# talkingface.slurm.job runs bin/run_<model>.sh with it, on the GPUs Slurm gave this job.
set -euo pipefail
exec "${TALKINGFACE_PYTHON:-python3}" -m talkingface.slurm.job "$@"
"""


@dataclass(frozen=True)
class SbatchOptions:
    partition: Optional[str] = None
    time: Optional[str] = None
    account: Optional[str] = None
    extra: Tuple[str, ...] = ()  # --sbatch_opt values, passed as they are
    max_concurrent: int = 4


def sbatch_argv(
    *,
    options: SbatchOptions,
    job_name: str,
    log: str,
    gpus: int,
    script: str,
    spec: str,
    after: Optional[str] = None,
    array_size: int = 0,
) -> List[str]:
    argv = ["sbatch", "--parsable", f"--job-name={job_name}", f"--output={log}", "--open-mode=append"]
    if gpus:
        argv.append(f"--gres=gpu:{gpus}")
    for flag, value in (("--partition", options.partition), ("--time", options.time), ("--account", options.account)):
        if value:
            argv.append(f"{flag}={value}")
    if after:
        # A failed step cancels everything after it, instead of leaving it pending forever.
        argv += [f"--dependency=afterok:{after}", "--kill-on-invalid-dep=yes"]
    if array_size:
        argv.append(f"--array=0-{array_size - 1}%{options.max_concurrent}")
    return [*argv, *options.extra, script, spec]


def submit(argv: Sequence[str], env: Mapping[str, str]) -> str:
    try:
        done = subprocess.run(list(argv), env=dict(env), capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise TalkingfaceError(
            "sbatch is not installed here", fix="submit from a Slurm login node, or use --backend local", exit_code=1
        ) from None
    if done.returncode != 0:
        raise TalkingfaceError(
            f"sbatch refused the job: {done.stderr.strip() or done.stdout.strip()}",
            fix="check --partition, --time, --account and --sbatch_opt against 'sinfo' and your cluster's rules",
            exit_code=1,
        )
    return done.stdout.strip().split(";")[0]  # --parsable: "id" or "id;cluster"
