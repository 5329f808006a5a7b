"""``bin/run_eval.sh``: score videos in the eval image, with every input mounted read-only.

Inputs are mounted one by one under ``/input``; each output's folder is mounted writable under ``/output``, and the
container writes the output files there under a temporary name first, so a crash never leaves half a report.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

from .. import __version__
from ..core.errors import TalkingfaceError
from ..core.host_paths import ENV as HOST_PATHS_ENV
from ..core.host_paths import encode as encode_host_paths
from ..eval.assets import UNVERIFIED_ENV
from ..eval.options import build_parser
from .cli import REPO, dry_run_requested, requested_line
from .docker import DockerRun, Mount
from .gpu import GpuSelection, check_available, list_host_gpus, parse_gpu, pick_line, query_compute_caps

IMAGE = "talkingface/eval"
WEIGHTS_TARGET = "/weights"


def choose_gpu(text: Optional[str]) -> GpuSelection:
    if text is not None:
        selection = parse_gpu(text)
        if len(selection.indices) > 1 or selection.all_gpus:
            raise TalkingfaceError("the evaluation runs on one GPU", fix="pick one, e.g. --gpu GPU0, or --gpu CPU")
        return selection
    # Without --gpu: the first GPU where there is one, else the CPU (every metric runs there, only slower).
    return GpuSelection(indices=(0,)) if list_host_gpus() else GpuSelection()


class MountPlan:
    """Host paths to container paths: one read-only mount per input file, one writable mount per output folder."""

    def __init__(self) -> None:
        self.mounts: List[Mount] = []
        self._outputs: Dict[str, str] = {}

    def input(self, path: str, *, what: str) -> str:
        path = os.path.abspath(path)
        if not os.path.isfile(path):
            raise TalkingfaceError(f"{what} {path} does not exist", fix="pass the path of an existing file")
        target = posixpath.join("/input", str(len(self.mounts)), os.path.basename(path))
        self.mounts.append(Mount(path, target, readonly=True))
        return target

    def output(self, path: str) -> str:
        folder, name = os.path.split(os.path.abspath(path))
        if folder not in self._outputs:
            self._outputs[folder] = posixpath.join("/output", str(len(self._outputs)))
            self.mounts.append(Mount(folder, self._outputs[folder], readonly=False))
        return posixpath.join(self._outputs[folder], name)

    def output_folders(self) -> List[str]:
        return list(self._outputs)


def main(argv: Sequence[str]) -> int:
    try:
        return run(list(argv))
    except TalkingfaceError as exc:
        print(exc.one_line(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run(argv: List[str]) -> int:
    prog = os.environ.get("TALKINGFACE_PROG", "run_eval.sh")
    args = build_parser(prog=prog, host=True).parse_args(argv)
    dry_run = dry_run_requested(args.dry_run)
    line = requested_line(args.line)
    selection = choose_gpu(args.gpu)
    if not selection.is_cpu:
        host = list_host_gpus()
        if host is None:
            raise TalkingfaceError("no NVIDIA driver found (nvidia-smi is missing or fails)", fix="use --gpu CPU")
        check_available(selection, host)
    if args.image:
        image = args.image
    else:
        if line == "auto":
            line = pick_line(selection, query_compute_caps()) if not selection.is_cpu else "cu113"
        image = f"{IMAGE}:{__version__}-{line}"

    plan = MountPlan()
    command = ["--gt_video", plan.input(args.gt_video, what="--gt_video")]
    for pred in args.pred_video:
        command += ["--pred_video", plan.input(pred, what="--pred_video")]
    if args.audio:
        command += ["--audio", plan.input(args.audio, what="--audio")]
    for flag, value in (("--out_json", args.out_json), ("--csv", args.csv), ("--report", args.report)):
        if value:
            command += [flag, plan.output(value)]
    weights_dir = os.path.abspath(args.weights_dir or os.environ.get("TALKINGFACE_WEIGHTS_DIR") or REPO / "weights")
    if os.path.isdir(weights_dir):
        plan.mounts.append(Mount(weights_dir, WEIGHTS_TARGET, readonly=True))
    command += ["--weights_dir", WEIGHTS_TARGET, "--metrics", args.metrics, "--lse_crop", args.lse_crop]
    command += ["--batch", str(args.batch), "--device", "cpu" if selection.is_cpu else "cuda"]
    command += ["--resample"] if args.resample else []
    command += ["--force"] if args.force else []

    docker = DockerRun(
        image=image,
        command=tuple(command),
        name=f"talkingface-eval-{os.getpid()}",
        user=f"{os.getuid()}:{os.getgid()}",
        mounts=tuple(plan.mounts),
        gpu_args=tuple(selection.docker_args()),
        # Random test weights pass only where the caller asked for it explicitly (tests and benchmarks).
        env=(("HOME", "/tmp"), (HOST_PATHS_ENV, encode_host_paths({m.target: m.source for m in plan.mounts})))  # noqa: S108
        + (((UNVERIFIED_ENV, "1"),) if os.environ.get(UNVERIFIED_ENV) == "1" else ()),
        shm_size="4g",
    )
    if dry_run:
        print(f"# TEST_MODE: nothing is run. eval on {selection.describe()}")
        print(docker.render())
        return 0
    for folder in plan.output_folders():
        os.makedirs(folder, exist_ok=True)
    return subprocess.call(docker.argv())
