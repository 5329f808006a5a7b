"""``bin/run_<model>.sh``: check everything that can be checked on the host, then run the verb in the image.

``TEST_MODE=1`` (or ``--dry-run``) prints the ``docker run`` command and the in-container plan, and runs nothing.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

from .. import __version__
from ..adapters import ADAPTERS, get_adapter
from ..adapters.base import Adapter
from ..core.cli_args import GPU_DEFAULT, Roots, parse, preflight, request_argv, resolve
from ..core.compose_plan import build_plan
from ..core.cuda_lines import LINE_CHOICES, LOCAL
from ..core.errors import TalkingfaceError
from ..core.host_paths import ENV as HOST_PATHS_ENV
from ..core.host_paths import encode as encode_host_paths
from ..core.layout import ContainerRoots
from ..core.request import Request
from ..core.verbs import VERBS, Verb
from ..slurm import commands as slurm_commands
from ..slurm.plan import gpu_count
from .apptainer import ApptainerRun, apptainer_for
from .docker import DockerRun, Mount, clear_the_way, workspace_tag
from .gpu import (
    GpuSelection,
    check_available,
    list_host_gpus,
    parse_gpu,
    pick_line,
    present_lines,
    query_compute_caps,
)
from .native import NativeEnv, NativeRun, check_paths, default_prefix, execute, native_run
from .slurm_backend import submit_to_slurm
from .writable import check_writable

REPO = Path(__file__).resolve().parents[2]
LOCAL_LINE = LOCAL
LINES = LINE_CHOICES


def dry_run_requested(flag: bool) -> bool:
    return flag or os.environ.get("TEST_MODE", "") not in ("", "0")


def inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def map_path(path: str, host_root: str, container_root: str) -> str:
    return posixpath.join(container_root, posixpath.relpath(path, host_root)) if path != host_root else container_root


def container_view(
    req: Request, croots: ContainerRoots, *, bfm_dir: str, weights_dir: str
) -> Tuple[List[str], List[Mount]]:
    """Mounts for ``req`` and the entrypoint arguments that name the same files inside the container."""
    ws = req.paths.workspace
    mounts = [Mount(ws, croots.workspace, readonly=False)]
    mapped = {"workspace": croots.workspace}
    for key, path, target in (
        ("data_dir", req.paths.data_dir, "/mnt/data"),
        ("model_dir", req.paths.model_dir, "/mnt/model"),
    ):
        if inside(path, ws):
            mapped[key] = map_path(path, ws, croots.workspace)
        else:
            mounts.append(Mount(path, target, readonly=False))
            mapped[key] = target
    inputs = {}
    for key, path, folder in (
        ("video", req.video, "video"),
        ("audio", req.audio, "audio"),
        ("au_csv", req.au_csv, "au"),
        ("background", req.background, "background"),
        ("result", None if req.result is None or inside(req.result, ws) else req.result, "result"),
    ):
        if path:
            target = posixpath.join(croots.inputs, folder, posixpath.basename(path))
            mounts.append(Mount(path, target, readonly=True))
            inputs[key] = target
    options = dict(req.options)
    for option, folder in get_adapter(req.model).input_options:
        path = options.get(option)
        if path:
            target = posixpath.join(croots.inputs, folder, posixpath.basename(path))
            mounts.append(Mount(path, target, readonly=True))
            options[option] = target
    for path, target in ((bfm_dir, croots.bfm), (weights_dir, croots.weights)):
        if os.path.isdir(path):
            mounts.append(Mount(path, target, readonly=True))
    moved = Request(
        model=req.model,
        verb=req.verb,
        task=req.task,
        paths=req.paths,
        upstream_root=req.upstream_root,
        bfm_dir=croots.bfm,
        weights_dir=croots.weights,
        video=inputs.get("video"),
        video_given=req.video_given,
        audio=inputs.get("audio"),
        au_csv=inputs.get("au_csv"),
        result=inputs.get("result") or (req.result and map_path(req.result, ws, croots.workspace)),
        background=inputs.get("background"),
        paste_back=req.paste_back,
        iterations=req.iterations,
        force=req.force,
        from_step=req.from_step,
        options=options,
    )
    argv = request_argv(get_adapter(req.model), moved)
    for flag, key in (("--workspace", "workspace"), ("--data_dir", "data_dir"), ("--model_dir", "model_dir")):
        if flag in argv:
            argv[argv.index(flag) + 1] = mapped[key]
    return argv, mounts


def host_paths_env(mounts: Sequence[Mount]) -> Tuple[str, str]:
    """What was mounted where, so the entrypoint can name host paths in what it prints."""
    return HOST_PATHS_ENV, encode_host_paths({m.target: m.source for m in mounts})


NO_GPU_HINT = "or --line local to try the toolchain on the CPU (test doubles instead of the models: make build-local)"


def choose_gpu(verb: Verb, text: Optional[str], *, cuda_image: bool) -> GpuSelection:
    needs_cuda = verb.needs_cuda and cuda_image
    selection = parse_gpu(text if text is not None else (GPU_DEFAULT if needs_cuda else "CPU"))
    if not cuda_image:
        # The local line never uses a GPU: --gpu GPU0 (checked for its form above) runs the same as no --gpu.
        return parse_gpu("CPU")
    if needs_cuda and selection.is_cpu:
        raise TalkingfaceError(
            f"{verb.name} needs CUDA (training and rendering run on the GPU), but --gpu CPU was given",
            fix=f"pick a GPU, e.g. --gpu GPU0, {NO_GPU_HINT}",
        )
    return selection


def check_gpus(selection: GpuSelection, *, dry_run: bool) -> Optional[str]:
    """Refuse GPUs the host doesn't have; returns a note when they could not be checked."""
    if selection.is_cpu:
        return None
    host = list_host_gpus()
    if host is None:
        if dry_run:
            return (
                "nvidia-smi was not found, so the GPU selection was not checked against this host; without a GPU, "
                "--line local runs the test doubles on the CPU"
            )
        raise TalkingfaceError(
            "no NVIDIA driver found (nvidia-smi is missing or fails)",
            fix="install the NVIDIA driver and container toolkit; use --gpu CPU for verbs that run without CUDA, "
            + NO_GPU_HINT,
        )
    check_available(selection, host)
    return None


def requested_line(args_line: Optional[str]) -> str:
    line = (args_line or os.environ.get("TALKINGFACE_LINE") or "auto").lower()
    if line not in LINES:
        raise TalkingfaceError(f"unknown image line {line!r}", fix=f"use one of: {', '.join(LINES)}")
    return line


def choose_image(adapter: Adapter, line: str, image: Optional[str], selection: GpuSelection) -> str:
    if image:
        return image
    if line == "auto":
        if selection.is_cpu:
            line = "cu113"
        else:
            line = pick_line(selection, query_compute_caps(), present_lines(adapter.name, __version__))
    return f"talkingface/{adapter.name}:{__version__}-{line}"


def info(adapter: Adapter, req: Optional[Request]) -> str:
    pin = adapter.pin
    lines = [
        adapter.title,
        f"  upstream: {pin.repo} @ {pin.commit}",
        *(f"  submodule {path} @ {commit}" for path, commit in pin.submodules.items()),
        f"  license:  {adapter.license}",
        f"  images:   talkingface/{adapter.name}:{__version__}-cu113 (CUDA 11.3: Volta..Ampere, sm_70-sm_86)",
        f"            talkingface/{adapter.name}:{__version__}-cu118 (CUDA 11.8: adds RTX 40 sm_89 and H100 sm_90)",
        f"            talkingface/{adapter.name}:{__version__}-cu130 (CUDA 13.0: Turing..Blackwell, sm_75-sm_120; "
        "make build LINE=cu130)",
        f"            talkingface/{adapter.name}:{__version__}-{LOCAL_LINE} (no CUDA: test doubles on the CPU, "
        "--line local; make build-local)",
        f"  stages:   {', '.join(adapter.stages)}",
        "  verbs:",
    ]
    lines += [f"    {v.name:<17}{v.summary}{' [GPU]' if v.needs_cuda else ''}" for v in VERBS]
    if req is not None:
        p = req.paths
        lines += [
            f"  workspace for task {req.task}:",
            f"    data     {p.data_dir}",
            f"    models   {p.model_dir}",
            f"    results  {p.results_dir}",
            f"    logs     {p.logs_dir}",
            f"    audio    {p.audio_root}",
        ]
    return "\n".join(lines)


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
    if not argv or argv[0] not in ADAPTERS:
        raise TalkingfaceError("the first argument must be a model", fix=f"use one of: {', '.join(ADAPTERS)}")
    adapter = get_adapter(argv[0])
    prog = os.environ.get("TALKINGFACE_PROG", f"run_{adapter.name}.sh")
    verb, args = parse(adapter, argv[1:], prog=prog, host=True)
    dry_run = dry_run_requested(args.dry_run)
    croots = ContainerRoots()
    workspace = os.path.abspath(args.workspace or os.path.join("workspace", adapter.name))
    bfm_dir = os.path.abspath(args.bfm_dir or os.environ.get("TALKINGFACE_BFM_DIR") or REPO / "bfm_models")
    weights_dir = os.path.abspath(args.weights_dir or os.environ.get("TALKINGFACE_WEIGHTS_DIR") or REPO / "weights")
    host_roots = Roots(workspace=workspace, upstream=adapter.upstream_dir(croots), bfm=bfm_dir, weights=weights_dir)
    if verb.name == "info":
        req = resolve(adapter, verb, args, host_roots) if (args.task or args.video_path or args.data_dir) else None
        print(info(adapter, req))
        return 0
    if verb.name in ("status", "cancel"):
        req = resolve(adapter, verb, args, host_roots)
        command = slurm_commands.status if verb.name == "status" else slurm_commands.cancel
        return command(Path(req.paths.workspace) / "slurm" / req.task, adapter.name)
    line = requested_line(args.line)
    native: Optional[NativeEnv] = None
    native_problem: Optional[TalkingfaceError] = None
    if args.runtime == "native":
        native, native_problem = find_native(adapter, args.native_env, line, dry_run=dry_run)
        line = native.line
    # The local line has no CUDA: its GPU verbs run the test doubles on the CPU.
    cuda_image = line != LOCAL_LINE
    selection = choose_gpu(verb, args.gpu, cuda_image=cuda_image)
    # A dry run shows the command and the plan, then every unmet precondition, not just the first; a malformed
    # command line still stops at once, as there is no plan to show for it.
    problems: List[TalkingfaceError] = [native_problem] if native_problem else []
    if args.backend == "slurm":
        flags = ["--line", line, "--bfm_dir", bfm_dir, "--weights_dir", weights_dir, "--runtime", args.runtime]
        flags += [*(["--image", args.image] if args.image else []), *(["--sif", args.sif] if args.sif else [])]
        flags += ["--native_env", native.prefix] if native else []
        return submit_to_slurm(
            adapter, verb, args, host_roots, gpus=gpu_count(selection), host_flags=flags, dry_run=dry_run
        )
    if verb.name == "shell":
        args.task = args.task or "shell"
    req = resolve(adapter, verb, args, host_roots)
    if verb.name != "shell":
        problems += preflight(adapter, verb, req, collect=dry_run)
        req = dataclasses.replace(req, options=adapter.settle(req))
    gpu_note = None
    try:
        gpu_note = check_gpus(selection, dry_run=dry_run)
    except TalkingfaceError as exc:
        if not dry_run:
            raise
        problems.append(exc)
    if native is not None:
        nroots = native.roots(workspace=workspace, bfm=bfm_dir, weights=weights_dir)
        check_paths(
            {
                "workspace": workspace,
                "dataset folder": req.paths.data_dir,
                "model folder": req.paths.model_dir,
                "BFM folder": bfm_dir,
                "weights folder": weights_dir,
                "native environment": native.prefix,
            }
        )
        command = ["shell"] if verb.name == "shell" else request_argv(adapter, req)
        runner = native_run(native, nroots, command, selection)
        return launch(runner, adapter, verb, req, selection, gpu_note, dry_run, command, nroots, workspace, problems)
    image = choose_image(adapter, line, args.image, selection)
    entry_argv, mounts = container_view(req, croots, bfm_dir=bfm_dir, weights_dir=weights_dir)
    if verb.name == "shell":
        entry_argv = ["shell"]
    named = req.audio or (req.verb == "infer" and not adapter.audio_required(req))
    suffix = f"-{adapter.output_stem(req)}" if named else ""
    if args.runtime == "apptainer":
        runner: Union[DockerRun, ApptainerRun] = apptainer_for(
            adapter, args.sif, image, entry_argv, mounts, selection, env=[host_paths_env(mounts)]
        )
        return launch(runner, adapter, verb, req, selection, gpu_note, dry_run, entry_argv, croots, workspace, problems)
    cidfile = os.environ.get("TALKINGFACE_CIDFILE")  # set by a Slurm job, which must stop the container on cancel
    docker = DockerRun(
        image=image,
        command=tuple(entry_argv),
        name=f"talkingface-{adapter.name}-{req.verb}-{req.task}{suffix}-{workspace_tag(req.paths.workspace)}"
        + (f"-{os.getpid()}" if verb.name == "shell" else ""),
        user=f"{os.getuid()}:{os.getgid()}",
        mounts=tuple(mounts),
        gpu_args=tuple(selection.docker_args()),
        # Any UID may run the image; HOME must be writable for the caches libraries create.
        env=(("HOME", "/tmp"), host_paths_env(mounts)),  # noqa: S108 - inside the container
        shm_size=adapter.shm_size(),
        workdir=croots.workspace,
        interactive=verb.name == "shell",
        # A TTY gives upstream's progress bars; docker refuses one when stdin is not a terminal.
        tty=sys.stdin.isatty() and sys.stdout.isatty(),
        extra=("--cidfile", cidfile) if cidfile else (),
    )
    return launch(docker, adapter, verb, req, selection, gpu_note, dry_run, entry_argv, croots, workspace, problems)


def find_native(
    adapter: Adapter, prefix_arg: Optional[str], line: str, *, dry_run: bool
) -> Tuple[NativeEnv, Optional[TalkingfaceError]]:
    """The environment --runtime native runs in; a dry run goes on without one and reports it at the end."""
    prefix = os.path.abspath(prefix_arg) if prefix_arg else default_prefix(adapter.name)
    try:
        native = NativeEnv.load(prefix, adapter.name)
    except TalkingfaceError as exc:
        if not dry_run:
            raise
        return NativeEnv(prefix=prefix, model=adapter.name, line=line, upstream_commit=""), exc
    if line not in ("auto", native.line):
        raise TalkingfaceError(
            f"--line {line} was given, but the native environment {prefix} is the {native.line} line",
            fix=f"drop --line, or pass --native_env with a {line} environment",
        )
    return native, None


def launch(
    runner: Union[DockerRun, ApptainerRun, NativeRun],
    adapter: Adapter,
    verb: Verb,
    req: Request,
    selection: GpuSelection,
    gpu_note: Optional[str],
    dry_run: bool,
    entry_argv: List[str],
    croots: ContainerRoots,
    workspace: str,
    problems: Sequence[TalkingfaceError] = (),
) -> int:
    if dry_run:
        print(f"# TEST_MODE: nothing is run. {adapter.name} {req.verb} {req.task} on {selection.describe()}")
        if gpu_note:
            print(f"# note: {gpu_note}")
        print(runner.render())
        if verb.name != "shell":
            print()
            print(build_plan(adapter, container_request(adapter, entry_argv, croots)).render())
        return report_problems(problems)
    if isinstance(runner, ApptainerRun) and not os.path.isfile(runner.sif):
        raise TalkingfaceError(
            f"{runner.sif} does not exist",
            fix="build it from a bundle's image as docs/offline.md shows (apptainer build "
            "X.sif docker-archive:X.tar), or pass --sif PATH",
        )
    for folder in sorted({workspace, req.paths.data_dir, req.paths.model_dir}):
        check_writable(folder)
    if isinstance(runner, NativeRun):
        return execute(runner)
    if isinstance(runner, DockerRun):
        clear_the_way(runner.name)
    return subprocess.call(runner.argv())


def report_problems(problems: Sequence[TalkingfaceError]) -> int:
    """Every unmet precondition of a dry run, one line each on stderr; the status a real run would stop with."""
    sys.stdout.flush()
    for problem in problems:
        print(problem.one_line(), file=sys.stderr)
    return problems[0].exit_code if problems else 0


def container_request(adapter: Adapter, entry_argv: List[str], croots: ContainerRoots) -> Request:
    """Resolve the entrypoint's arguments exactly as the entrypoint will, to print its plan."""
    verb, args = parse(adapter, entry_argv, prog="entrypoint", host=False)
    roots = Roots(
        workspace=croots.workspace, upstream=adapter.upstream_dir(croots), bfm=croots.bfm, weights=croots.weights
    )
    return resolve(adapter, verb, args, roots)
