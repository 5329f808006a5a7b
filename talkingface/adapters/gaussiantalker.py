"""GaussianTalker (KU-CVLAB/GaussianTalker): one ``train.py`` run (coarse, then fine) and ``render.py``.

Upstream quirks absorbed here: ``render.py`` names its output after ``model_path.split("/")[-2]``, so the model
path always ends with '/'; ``--batch`` is required by render.py and frames are lost with batches above 1
(upstream #20); ``train.py`` listens on a TCP port (6009); custom-audio renders are as long as the validation
split, so the plan renders from a shadow dataset whose ``transforms_val.json`` is extended to the audio's length.
"""

from __future__ import annotations

import argparse
import glob
import posixpath
import re
import zlib
from typing import Any, Dict, List, Tuple

from ..core.plan import Step, own, step
from .base import FrameOrder, choice, require
from .lineage import FACE_PARSING, AdNerfLineage

CONFIGS = ("64_dim_1_transformer.py", "64_dim_2_transformer.py")
BASE_PORT = 6009
# Its configs: 7999 coarse then 10000 fine iterations; train.py saves only at iteration 1 and every 500.
COARSE_ITERS, FINE_ITERS, SAVE_EVERY = 7999, 10000, 500


def stage_iterations(requested: int) -> Tuple[int, int]:
    """(coarse, fine) for --iterations N. Found by the real run: the configs override the command line, and a
    derived config that set only the fine count still trained 7999 coarse iterations; and iterations after the
    last multiple of 500 are never saved. So both stages scale, and both end on a save."""
    fine = -(-requested // SAVE_EVERY) * SAVE_EVERY
    coarse = round(fine * COARSE_ITERS / FINE_ITERS / SAVE_EVERY) * SAVE_EVERY
    return min(COARSE_ITERS, max(SAVE_EVERY, coarse)), fine


def port_for(task: str) -> int:
    """A stable port per task, so two trainings never fight over upstream's default 6009."""
    return BASE_PORT + zlib.crc32(task.encode()) % 1000


class GaussianTalker(AdNerfLineage):
    name = "gaussiantalker"
    title = "GaussianTalker (ACM MM 2024): 3D Gaussian splatting talking heads"
    license = "Inria Gaussian-Splatting licence (research, non-commercial)"
    stages = ("coarse+fine",)
    extra_outputs = {1: ("aud_train.wav", "aud_novel.wav"), 2: ("aud_ds.npy",)}
    alias_features = False  # its process.py copies aud.npy to aud_ds.npy itself
    weight_files = (FACE_PARSING,)  # the 3DMM helper files are committed in its repository
    default_iterations = 10000  # the configs' OptimizationParams.iterations (after 7999 coarse ones)
    # Rough: users report 3 to 5 hours on an A100 or A6000 for the default config (upstream issue #58).
    iterations_per_second = 1.0
    # Batches larger than 1 drop frames (upstream #20).
    short_render_fix = "the renderer dropped frames: see the render log, and render with --render_batch 1"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("GaussianTalker")
        group.add_argument(
            "--config", default=CONFIGS[0], help=f"model config: {' or '.join(CONFIGS)} (default: {CONFIGS[0]})"
        )
        group.add_argument("--batch_size", type=int, help="training batch size (default: the config's, 32)")
        group.add_argument(
            "--iteration", type=int, default=-1, help="checkpoint iteration to render (default: the latest)"
        )
        group.add_argument(
            "--render_batch",
            type=int,
            default=1,
            help="render.py --batch (default: 1; larger batches drop frames, upstream #20)",
        )

    def collect_options(self, args: argparse.Namespace, verb: str) -> Dict[str, Any]:
        config = choice(args.config, CONFIGS, "--config")
        for flag, value in (("--batch_size", args.batch_size), ("--render_batch", args.render_batch)):
            require(value is None or value >= 1, f"{flag} must be at least 1, got {value}", f"pass {flag} 1 or more")
        require(
            args.iteration >= -1,
            f"--iteration {args.iteration} is invalid",
            "pass a saved iteration, or -1 for the latest",
        )
        return {
            "config": config,
            "batch_size": args.batch_size,
            "iteration": args.iteration,
            "render_batch": args.render_batch,
        }

    def option_argv(self, options: Dict[str, Any]) -> List[str]:
        argv = [
            "--config",
            options["config"],
            "--iteration",
            str(options["iteration"]),
            "--render_batch",
            str(options["render_batch"]),
        ]
        if options["batch_size"] is not None:
            argv += ["--batch_size", str(options["batch_size"])]
        return argv

    def _model_path(self, req: Any) -> str:
        return req.paths.model_dir.rstrip("/") + "/"

    def train_steps(self, req: Any) -> List[Step]:
        config = posixpath.join("arguments", req.option("config"))
        steps = []
        coarse, fine = stage_iterations(req.iterations) if req.iterations else (None, None)
        overrides = [("coarse_iterations", coarse), ("iterations", fine), ("batch_size", req.option("batch_size"))]
        sets = [f"OptimizationParams.{key}={value}" for key, value in overrides if value]
        if sets:
            derived = posixpath.join(req.paths.model_dir, "talkingface_config.py")
            argv = own("derive-config", "--base", posixpath.join(req.upstream_root, config), "--out", derived)
            for item in sets:
                argv += ("--set", item)
            steps.append(
                step(
                    "train-config",
                    f"a config with your --iterations/--batch_size (coarse {coarse}, fine {fine})"
                    if req.iterations
                    else "a config with your --batch_size",
                    argv,
                    cwd=req.paths.workspace,
                    outputs=(derived,),
                    weight=0.01,
                )
            )
            config = derived
        argv = (
            "python", "train.py",
            "-s", req.paths.data_dir,
            "--model_path", self._model_path(req),
            "--configs", config,
            "--port", str(port_for(req.task)),
        )  # fmt: skip
        final = posixpath.join(req.paths.model_dir, "point_cloud", "iteration_*", "point_cloud.ply")
        steps.append(
            step(
                "train",
                "train coarse then fine stages (train.py)",
                argv,
                cwd=req.upstream_root,
                outputs=(final,),
                weight=100.0,
            )
        )
        return steps

    def settle(self, req: Any) -> Dict[str, Any]:
        # render.py's "latest" (-1) also counts coarse_iteration_* folders and then fails to load them.
        options = dict(req.options)
        if options.get("iteration") == -1:
            done = glob.glob(posixpath.join(req.paths.model_dir, "point_cloud", "iteration_*", "point_cloud.ply"))
            numbers = [int(m.group(1)) for m in (re.search(r"iteration_(\d+)/", p) for p in done) if m]
            if numbers:
                options["iteration"] = max(numbers)
        return options

    def checkpoint_patterns(self, req: Any) -> Tuple[str, ...]:
        iteration = req.option("iteration")
        name = "iteration_*" if iteration in (None, -1) else f"iteration_{iteration}"
        return (posixpath.join(req.paths.model_dir, "point_cloud", name, "point_cloud.ply"),)

    def _shadow(self, req: Any, stem: str) -> str:
        return posixpath.join(req.paths.workspace, ".talkingface", "infer", req.task, stem)

    def frame_order(self, req: Any, stem: str) -> FrameOrder:
        # render.py renders the shadow dataset's validation poses in order, already extended ping-pong.
        return FrameOrder(posixpath.join(self._shadow(req, stem), "transforms_val.json"), "forward")

    def render_steps(self, req: Any, stem: str) -> List[Step]:
        audio_dir = req.paths.audio_dir(stem)
        source = self._shadow(req, stem)
        features = self.features_file(req, stem)
        wav = posixpath.join(audio_dir, f"{stem}.wav")
        extend = step(
            f"infer-{stem}-poses",
            "extend the validation poses (ping-pong) to the audio's length",
            own("extend-poses", "--data_dir", req.paths.data_dir, "--features", features, "--out", source),
            cwd=req.paths.workspace,
            outputs=(posixpath.join(source, "transforms_val.json"),),
            weight=0.1,
        )
        argv = [
            "python", "render.py",
            "-s", source,
            "--model_path", self._model_path(req),
            "--configs", posixpath.join("arguments", req.option("config")),
            "--iteration", str(req.option("iteration")),
            "--batch", str(req.option("render_batch")),
            "--custom_aud", features,
            "--custom_wav", wav,
            "--skip_train", "--skip_test",
        ]  # fmt: skip
        task_name = posixpath.basename(req.paths.model_dir.rstrip("/"))
        rendered = posixpath.join(
            req.paths.model_dir, "custom", "ours_*", "renders", f"{task_name}_custom_*iter_renders.mov"
        )
        render = step(
            f"infer-{stem}-render",
            "render the talking head (render.py)",
            argv,
            cwd=req.upstream_root,
            outputs=(rendered,),
            weight=10.0,
        )
        return [extend, render, self.mux_step(req, stem, render)]
