"""ER-NeRF (Fictionarry/ER-NeRF): head, lips fine-tune and torso stages of ``main.py``.

Workspace: ``models/<task>/head`` is the head workspace (stages head and lips), ``models/<task>/torso`` the torso
one. Upstream writes ``aud.npy`` but trains on ``aud_ds.npy``, needs OpenFace's ``au.csv`` and renders silent
videos; the plan copies the features, writes ``au.csv`` from the landmarks and muxes the audio.
"""

from __future__ import annotations

import argparse
import posixpath
from typing import Any, Dict, List, Optional, Tuple

from ..core.plan import Step, step
from .base import Requirement, choice
from .lineage import FACE_PARSING, TRACKING_HELPERS, AdNerfLineage

STAGES = ("head", "lips", "torso")
HEAD_ITERS = 100000  # README: head to 100k, lips to 125k, torso 200k.


class ErNerf(AdNerfLineage):
    name = "ernerf"
    title = "ER-NeRF (ICCV 2023): efficient region-aware neural radiance fields"
    license = "MIT"
    stages = STAGES
    accepts_features = True
    weight_files = (FACE_PARSING, *TRACKING_HELPERS)
    default_iterations = HEAD_ITERS
    # Rough: the paper trains each part in about an hour on one RTX 3090; main.py reports its own speed as it runs.
    iterations_per_second = 25.0

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("ER-NeRF")
        group.add_argument("--stage", help="training stage: head, lips, torso or all (default: all)")
        group.add_argument("--torso", help="infer with the torso model: true or false (default: true)")

    def collect_options(self, args: argparse.Namespace, verb: str) -> Dict[str, Any]:
        # Defaults are applied here, not by argparse, so positional forms can still fill these in.
        stage = choice(args.stage or "all", (*STAGES, "all"), "--stage")
        torso = choice(args.torso or "true", ("true", "false"), "--torso") == "true"
        return {"stage": stage, "torso": torso}

    def option_argv(self, options: Dict[str, Any]) -> List[str]:
        return ["--stage", options["stage"], "--torso", "true" if options["torso"] else "false"]

    def positional_fields(self, verb: str) -> Tuple[str, ...]:
        # The forms users of the original ER-NeRF container type.
        return {
            "preprocess": ("video_path", "task"),
            "train": ("data_dir", "model_dir", "gpu", "stage"),
            "train_only": ("data_dir", "model_dir", "gpu", "stage"),
            "infer": ("data_dir", "model_dir", "audio_path", "torso"),
        }.get(verb, ())

    def _workspaces(self, req: Any) -> Tuple[str, str]:
        return posixpath.join(req.paths.model_dir, "head"), posixpath.join(req.paths.model_dir, "torso")

    def stages_of(self, stage: Optional[str]) -> Tuple[str, ...]:
        return STAGES if stage == "all" else (str(stage),)

    def trained_iterations(self, req: Any) -> int:
        head = req.iterations or HEAD_ITERS
        # The lips continue from the head's checkpoint to 1.25x; the torso trains from scratch to 2x.
        new = {"head": head, "lips": head // 4, "torso": head * 2}
        return sum(new[name] for name in self.stages_of(req.option("stage")))

    def train_steps(self, req: Any) -> List[Step]:
        chosen = self.stages_of(req.option("stage"))
        head_ws, torso_ws = self._workspaces(req)
        head_ckpt = posixpath.join(req.paths.model_dir, "head_for_torso.pth")
        head = req.iterations or HEAD_ITERS
        iters = {"head": head, "lips": head + head // 4, "torso": head * 2}
        data = req.paths.data_dir.rstrip("/") + "/"
        flags = {
            "head": (head_ws, ("-O", "--iters", str(iters["head"]))),
            "lips": (head_ws, ("-O", "--iters", str(iters["lips"]), "--finetune_lips", "--patch_size", "32")),
            "torso": (torso_ws, ("-O", "--torso", "--head_ckpt", head_ckpt, "--iters", str(iters["torso"]))),
        }
        titles = {"head": "train the head", "lips": "fine-tune the lips", "torso": "train the torso"}
        weights = {"head": 100.0, "lips": 30.0, "torso": 100.0}
        steps = []
        for name in chosen:
            workspace, extra = flags[name]
            argv = ("python", "main.py", data, "--workspace", workspace) + extra
            steps.append(
                step(
                    f"train-{name}",
                    f"{titles[name]} (main.py, to {iters[name]} iterations)",
                    argv,
                    cwd=req.upstream_root,
                    # Every epoch writes ngp_epNNNN.pth; ngp.pth only appears when an evaluation has run.
                    outputs=(posixpath.join(workspace, "checkpoints", "ngp_ep*.pth"),),
                    weight=weights[name],
                    # main.py resumes from the workspace's latest checkpoint; --force means start over. The lips
                    # stage must always continue from the head, so it has no "from scratch" form.
                    forced_argv=argv + ("--ckpt", "scratch") if name != "lips" else None,
                )
            )
            if name == "torso":
                # upstream: "<head>.pth should be the latest checkpoint" of the head workspace.
                latest = posixpath.join(head_ws, "checkpoints", "ngp_ep*.pth")
                steps.insert(
                    -1,
                    self.stage_file(
                        req, "head-for-torso", latest, head_ckpt, "take the latest head checkpoint for the torso"
                    ),
                )
        return steps

    def preflight(self, req: Any) -> List[Requirement]:
        if req.verb not in ("train", "train_only") or req.option("stage") in ("head", "all"):
            return []
        head_ckpt = posixpath.join(self._workspaces(req)[0], "checkpoints", "ngp_ep*.pth")
        problem = f"stage {req.option('stage')} needs the trained head {head_ckpt}, which does not exist"
        return [Requirement(head_ckpt, problem, "train the head first: --stage head (or --stage all)")]

    def _render_workspace(self, req: Any) -> str:
        head_ws, torso_ws = self._workspaces(req)
        return torso_ws if req.option("torso") else head_ws

    def checkpoint_patterns(self, req: Any) -> Tuple[str, ...]:
        return (posixpath.join(self._render_workspace(req), "checkpoints", "ngp_ep*.pth"),)

    def render_steps(self, req: Any, stem: str) -> List[Step]:
        workspace = self._render_workspace(req)
        argv = ["python", "main.py", req.paths.data_dir.rstrip("/") + "/", "--workspace", workspace, "-O"]
        if req.option("torso"):
            argv.append("--torso")
        # --test_train replays the training poses back and forth, so the video is as long as the audio.
        argv += ["--test", "--test_train", "--aud", self.features_file(req, stem)]
        # Every audio's render is results/ngp_ep<epoch>.mp4 (and _depth.mp4): the mux takes the newest.
        rendered = posixpath.join(workspace, "results", "ngp_ep*.mp4")
        render = step(
            f"infer-{stem}-render",
            "render the talking head (main.py --test)",
            argv,
            cwd=req.upstream_root,
            outputs=(rendered,),
            weight=20.0,
        )
        return [render, self.mux_step(req, stem, render, exclude="_depth")]
