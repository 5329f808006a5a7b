"""The command line every model shares, on the host and in the image, and its resolution into a Request."""

from __future__ import annotations

import argparse
import errno
import glob
import os
import posixpath
from dataclasses import dataclass, replace
from typing import Callable, List, NoReturn, Optional, Sequence, Tuple

from ..adapters.base import BFM_FILE, Adapter, Requirement, features_given, require
from ..weights.manifest import load_manifest
from .cuda_lines import LINE_CHOICES
from .dataset_input import CROP_BOXES, check_same_input, recorded
from .errors import TalkingfaceError
from .names import check_task, safe_stem
from .request import Request
from .text import plural
from .verbs import VERBS, Verb, lookup

GPU_DEFAULT = "GPU0"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line with a fix and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise TalkingfaceError(message, fix=f"see '{self.prog} --help'")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_common(parser: argparse.ArgumentParser, adapter: Adapter, verb: Verb, *, host: bool) -> None:
    fields = adapter.positional_fields(verb.name)
    parser.add_argument(
        "positionals",
        nargs="*",
        metavar=" ".join(f.upper() for f in fields) if fields else "-",
        help=f"positional form: {verb.name} {' '.join(f.upper() for f in fields)}" if fields else argparse.SUPPRESS,
    )
    io = parser.add_argument_group("inputs and outputs")
    io.add_argument("--video_path", help="training video (any container/codec ffmpeg reads)")
    io.add_argument("--audio_path", help="driving audio for infer/extract-features (wav, mp3, m4a, a video, ...)")
    io.add_argument("--task", help="task name (default: the dataset folder's or the video's name)")
    io.add_argument("--data_dir", help="dataset folder (default: <workspace>/data/<task>)")
    io.add_argument("--model_dir", help="checkpoint folder (default: <workspace>/models/<task>)")
    io.add_argument("--workspace", help=f"workspace folder (default: ./workspace/{adapter.name})")
    io.add_argument("--au_csv", help="an OpenFace au.csv to use instead of blinks computed from the landmarks")
    io.add_argument("--result", help="paste-back: the rendered video, e.g. results/<task>/<audio>.mp4")
    io.add_argument("--background", help="paste-back: the full-frame video to paste into (default: the training video)")
    io.add_argument(
        "--paste_back", action="store_true", help="infer: also paste the result back into the full-frame video"
    )
    run = parser.add_argument_group("running")
    run.add_argument("--iterations", type=positive_int, help="training iterations (model-specific default)")
    run.add_argument("--force", action="store_true", help="redo steps that are already done")
    run.add_argument("--from_step", help="redo this step and every step after it")
    if host:
        run.add_argument("--gpu", help="GPU0, GPU1, GPU0,GPU1, all or CPU (default: GPU0)")
        run.add_argument("--dry-run", "--dry_run", dest="dry_run", action="store_true", help="same as TEST_MODE=1")
        run.add_argument(
            "--line",
            default=None,
            help=f"image line: {', '.join(LINE_CHOICES[:-1])} or {LINE_CHOICES[-1]} (default: auto)",
        )
        run.add_argument("--image", help="image to run (default: talkingface/<model>:<version>-<line>)")
        run.add_argument("--bfm_dir", help="folder holding 01_MorphableModel.mat (default: ./bfm_models)")
        run.add_argument("--weights_dir", help="folder of model weights (default: ./weights)")
        run.add_argument(
            "--runtime",
            choices=("docker", "apptainer", "native"),
            default="docker",
            help="run the image with docker (default) or apptainer (a .sif built from a bundle), or run the same "
            "entrypoint with no container in an environment built by make native-env (native)",
        )
        run.add_argument(
            "--native_env",
            metavar="PREFIX",
            help="the environment for --runtime native (default: $TALKINGFACE_NATIVE_ENV, else ./native/<model>)",
        )
        run.add_argument("--sif", help="the .sif for --runtime apptainer (default: ./sif/<model>-<version>-<line>.sif)")
        slurm = parser.add_argument_group("Slurm (--backend slurm; docs/slurm.md)")
        slurm.add_argument(
            "--backend",
            choices=("local", "slurm"),
            default="local",
            help="run here (local, the default) or submit sbatch jobs (slurm)",
        )
        slurm.add_argument("--partition", help="sbatch --partition")
        slurm.add_argument("--time", help="sbatch --time, per job (e.g. 12:00:00)")
        slurm.add_argument("--account", help="sbatch --account")
        slurm.add_argument(
            "--sbatch_opt",
            action="append",
            default=[],
            metavar="OPT",
            help="any other sbatch option, passed as it is (repeat: --sbatch_opt=--qos=high)",
        )
        slurm.add_argument(
            "--video_list", help="train: a text file with one video per line, submitted as one job array"
        )
        slurm.add_argument(
            "--max_concurrent",
            type=positive_int,
            default=4,
            help="how many tasks of a --video_list array run at once (default: 4)",
        )
    else:
        run.add_argument("--gpu", help=argparse.SUPPRESS)
    # The path the user gave, carried where the video is seen under another name: in the container, and in each
    # job of a Slurm chain, which runs the host command again.
    io.add_argument("--video_given", help=argparse.SUPPRESS)
    adapter.add_options(parser)


def build_parser(adapter: Adapter, *, prog: str, host: bool) -> Parser:
    parser = Parser(prog=prog, description=f"{adapter.title}. Upstream {adapter.pin.repo} @ {adapter.pin.short}.")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", title="verbs")
    for verb in VERBS:
        if not verb.in_container and not host:
            continue
        child = sub.add_parser(verb.name, aliases=list(verb.aliases), help=verb.summary, description=verb.summary)
        add_common(child, adapter, verb, host=host)
    return parser


def parse(adapter: Adapter, argv: Sequence[str], *, prog: str, host: bool) -> Tuple[Verb, argparse.Namespace]:
    args_list = list(argv)
    if not args_list:
        raise TalkingfaceError("no verb given", fix=f"run '{prog} --help' to see the verbs")
    if not args_list[0].startswith("-"):
        lookup(args_list[0])  # one-line error for an unknown verb, before argparse's multi-line one
    args = build_parser(adapter, prog=prog, host=host).parse_args(args_list)
    verb = lookup(args.verb)
    refusal = adapter.refusal(verb)
    if refusal is not None:
        raise refusal
    fold_positionals(adapter, verb, args)
    return verb, args


def fold_positionals(adapter: Adapter, verb: Verb, args: argparse.Namespace) -> None:
    fields = adapter.positional_fields(verb.name)
    values = list(args.positionals)
    if len(values) > len(fields):
        form = f"{verb.name} {' '.join(f.upper() for f in fields)}" if fields else f"{verb.name} --flags"
        raise TalkingfaceError(f"unexpected argument {values[len(fields)]!r}", fix=f"use the form: {form}")
    for name, value in zip(fields, values):
        if getattr(args, name, None) not in (None, value):
            raise TalkingfaceError(f"{name} given twice ({getattr(args, name)!r} and {value!r})", fix="give it once")
        setattr(args, name, value)


@dataclass(frozen=True)
class Roots:
    """Where shared folders are in the filesystem view a request is resolved in."""

    workspace: str
    upstream: str
    bfm: str
    weights: str


def resolve(adapter: Adapter, verb: Verb, args: argparse.Namespace, roots: Roots) -> Request:
    """Turn parsed arguments into a Request: pure, except for making relative paths absolute and, for a
    paste-back, finding the training video (the default background) through the dataset's record."""

    def absolute(path: Optional[str]) -> Optional[str]:
        return os.path.abspath(path) if path else None

    data_dir, model_dir = absolute(args.data_dir), absolute(args.model_dir)
    if (data_dir or model_dir) and not adapter.custom_paths():
        raise TalkingfaceError(
            f"{adapter.name} keeps data and checkpoints where upstream expects them",
            fix="drop --data_dir/--model_dir and use --workspace to choose the folder",
        )
    video = absolute(args.video_path)
    canonical = verb.name
    if canonical == "train" and not video:
        canonical = "train_only"  # `train DATA MODEL GPU STAGE`: the original container trained existing datasets
    options = adapter.collect_options(args, canonical)
    task = args.task or (posixpath.basename(data_dir.rstrip("/")) if data_dir else None)
    if task is None and video:
        task = safe_stem(posixpath.splitext(posixpath.basename(video))[0])
    if task is None:
        task = adapter.default_task(options)
    if task is None:
        raise TalkingfaceError(f"{verb.name} needs a task", fix="pass --task NAME (or --video_path / --data_dir)")
    check_task(task)
    workspace = absolute(args.workspace) or roots.workspace
    paths = adapter.task_paths(workspace, task)
    paths = replace(paths, data_dir=data_dir or paths.data_dir, model_dir=model_dir or paths.model_dir)
    paste_back = canonical == "paste-back" or bool(getattr(args, "paste_back", False) and canonical == "infer")
    result = absolute(args.result)
    if result and not os.path.exists(result) and not posixpath.isabs(args.result):
        # `--result results/T/speech.mp4`, as the workspace names it.
        result = posixpath.join(workspace, args.result)
    background = absolute(args.background) or (training_video(paths.data_dir) if paste_back else None)
    return Request(
        model=adapter.name,
        verb=canonical,
        task=task,
        paths=paths,
        upstream_root=roots.upstream,
        bfm_dir=roots.bfm,
        weights_dir=roots.weights,
        video=video,
        video_given=getattr(args, "video_given", None) or video,
        audio=absolute(args.audio_path),
        au_csv=absolute(args.au_csv),
        result=result if canonical == "paste-back" else None,
        background=background if paste_back else None,
        paste_back=paste_back,
        iterations=args.iterations,
        force=args.force,
        from_step=args.from_step,
        options=options,
    )


def training_video(data_dir: str) -> Optional[str]:
    """The video the dataset was made from, where it still is: the default a paste-back pastes into."""
    record = recorded(data_dir) or {}
    for key in ("given", "source"):
        path = record.get(key)
        if isinstance(path, str) and os.path.isfile(path):
            return path
    return None


def check_paste_back(verb: Verb, req: Request) -> None:
    """Before anything runs: the crop boxes, the result and the background a paste-back needs."""
    crop_boxes = posixpath.join(req.paths.data_dir, CROP_BOXES)
    if not os.path.isfile(crop_boxes):
        raise TalkingfaceError(
            f"task {req.task} has no crop boxes ({crop_boxes}), so its renders cannot be pasted back",
            fix=f"run 'check --video_path <its training video> --task {req.task}': it writes them, and changes "
            "nothing else of the dataset",
        )
    if verb.needs_result:
        check_input_file(req.result, "--result", required=True, verb=req.verb)
        assert req.result is not None  # noqa: S101 - just checked
        folder = posixpath.dirname(req.result)
        other = posixpath.basename(folder)
        if posixpath.dirname(folder) == posixpath.dirname(req.paths.results_dir.rstrip("/")) and other != req.task:
            raise TalkingfaceError(
                f"--result {req.result} is a result of task {other}, not of task {req.task}",
                fix=f"pass --task {other} to paste it into its own video, or a result under {req.paths.results_dir}",
            )
    if req.background is None:
        record = recorded(req.paths.data_dir) or {}
        raise TalkingfaceError(
            f"the training video of task {req.task} ({record.get('given', 'unknown')}) is not there to paste into",
            fix="pass it, or a copy of it, with --background VIDEO",
        )
    check_input_file(req.background, "--background", required=True, verb=req.verb)


def check_input_file(path: Optional[str], flag: str, *, required: bool, verb: str) -> None:
    if path is None:
        if required:
            raise TalkingfaceError(f"{verb} needs {flag}", fix=f"pass {flag} PATH")
        return
    if os.path.isdir(path):
        raise TalkingfaceError(f"{flag} {path} is a directory", fix=f"pass a file to {flag}")
    try:
        os.stat(path)
    except OSError as exc:
        # exists() is False for a loop and for a broken link alike; "does not exist" sends the user looking for a
        # file that is plainly there in `ls`.
        if exc.errno == errno.ELOOP:
            raise TalkingfaceError(
                f"{flag} {path} is a symbolic link loop", fix=f"point the link at the real file (see: ls -l {path})"
            ) from None
        if os.path.islink(path):
            raise TalkingfaceError(
                f"{flag} {path} is a symbolic link to {os.readlink(path)}, which does not exist",
                fix="point the link at the real file, or pass the file itself",
            ) from None
        raise TalkingfaceError(
            f"{flag} {path} does not exist", fix="check the path (relative paths start from the current folder)"
        ) from None
    if not os.access(path, os.R_OK):
        raise TalkingfaceError(f"{flag} {path} is not readable", fix=f"make it readable: chmod u+r {path}")


def preflight(adapter: Adapter, verb: Verb, req: Request, *, collect: bool = False) -> List[TalkingfaceError]:
    """Checks against the filesystem of the view ``req`` was resolved in: raises on the first failure, or with
    ``collect`` (a dry run, which shows the whole plan and then everything that stands in its way) returns them all.
    """
    problems: List[TalkingfaceError] = []

    def check(condition: Callable[[], None]) -> None:
        try:
            condition()
        except TalkingfaceError as exc:
            if not collect:
                raise
            problems.append(exc)

    check(
        lambda: check_input_file(
            req.video, "--video_path", required=req.verb in ("check", "preprocess", "train"), verb=req.verb
        )
    )
    audio_needed = verb.needs_audio and adapter.audio_required(req)
    check(lambda: check_input_file(req.audio, "--audio_path", required=audio_needed, verb=req.verb))
    for option, _ in adapter.input_options:
        check(
            lambda option=option: check_input_file(  # type: ignore[misc]
                req.option(option), f"--{option}", required=False, verb=req.verb
            )
        )
    check(lambda: check_input_file(req.au_csv, "--au_csv", required=False, verb=req.verb))
    if req.paste_back:
        check(lambda: check_paste_back(verb, req))
    if req.video and not req.force:
        check(
            lambda: check_same_input(req.task, req.paths.data_dir, req.video or "", req.video_given or req.video or "")
        )
    if features_given(req) and not adapter.accepts_features:
        check(
            lambda: require(
                False,
                f"{adapter.name} needs the audio itself, not precomputed features ({req.audio})",
                "pass the speech as a wav (or any audio file) with --audio_path",
            )
        )
    needs: List[Requirement] = []
    if req.verb in ("preprocess", "train", "convert-bfm") and not os.path.exists(adapter.bfm_output(req)):
        needs.append(
            Requirement(
                posixpath.join(req.bfm_dir, BFM_FILE),
                f"the Basel Face Model {BFM_FILE} is not in {req.bfm_dir}",
                "register at faces.dmi.unibas.ch, then put the file there as bfm_models/README.md explains",
            )
        )
    if req.verb == "train_only":
        needs.append(
            Requirement(
                req.paths.data_dir,
                f"no dataset at {req.paths.data_dir}",
                "preprocess first (train --video_path VIDEO does both), or pass the right --data_dir",
            )
        )
    if verb.needs_checkpoint:
        for pattern in adapter.checkpoint_patterns(req):
            needs.append(
                Requirement(
                    pattern,
                    f"task {req.task} has no trained checkpoint ({pattern})",
                    f"train it first (train --task {req.task} ...), or pass the right --model_dir",
                )
            )
    check(lambda: needs.extend(adapter.preflight(req)))
    if verb.needs_cuda or verb.name == "extract-features":
        check(lambda: check_weights(adapter.name, req.weights_dir))
    for need in needs:
        check(lambda need=need: require(bool(glob.glob(need.pattern)), need.problem, need.fix))  # type: ignore[misc]
    return problems


def check_weights(image: str, weights_dir: str) -> None:
    """Every file the manifest lists for this image, before any step: upstream would otherwise download it, which
    fails offline, or stop with a traceback hours into a run."""
    missing = [path for path in load_manifest().paths([image]) if not os.path.exists(os.path.join(weights_dir, path))]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise TalkingfaceError(
            f"missing from {weights_dir}: {plural(len(missing), 'weight file')} {image} loads ({shown})",
            fix=f"run 'make weights WEIGHTS=<dir> WEIGHTS_FOR={image}' where there is internet, or 'make load "
            "BUNDLE=<bundle>' from an offline bundle, then pass --weights_dir <dir> (docs/weights.md)",
        )


def request_argv(adapter: Adapter, req: Request) -> List[str]:
    """The arguments that recreate ``req`` in another view (all its paths already mapped)."""
    argv = [req.verb, "--task", req.task, "--workspace", req.paths.workspace]
    if adapter.custom_paths():
        argv += ["--data_dir", req.paths.data_dir, "--model_dir", req.paths.model_dir]
    for flag, value in (
        ("--video_path", req.video),
        ("--audio_path", req.audio),
        ("--au_csv", req.au_csv),
        ("--result", req.result),
        ("--background", req.background),
    ):
        if value:
            argv += [flag, value]
    if req.video_given and req.video_given != req.video:
        argv += ["--video_given", req.video_given]
    if req.paste_back and req.verb == "infer":
        argv.append("--paste_back")
    if req.iterations:
        argv += ["--iterations", str(req.iterations)]
    if req.force:
        argv.append("--force")
    if req.from_step:
        argv += ["--from_step", req.from_step]
    return argv + adapter.option_argv(req.options)
