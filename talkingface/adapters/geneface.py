"""GeneFace (yerfor/GeneFace): RAD-NeRF head and torso, driven by its postnet's 3D landmarks.

Upstream runs from its repository root with ``PYTHONPATH=./`` and fixed relative paths (``data/raw/videos/<id>.mp4``,
``data/processed``, ``data/binary``, ``checkpoints/<exp>``, ``egs/datasets/videos/<id>``). The image links those
folders into the workspace; per-video configs are made from the May template. Its person-specific postnet needs
the processed LRS3 set, which is not released, so ``--stage all`` trains head and torso and ``infer`` uses the
released May postnet unless the task has its own.
"""

from __future__ import annotations

import argparse
import glob
import posixpath
import re
from typing import Any, Dict, List, Optional, Tuple

from ..core.layout import ContainerRoots, TaskPaths, default_paths
from ..core.plan import Step, own, step
from . import own_prep
from .base import BFM_FILE, Adapter, DatasetSpec, FrameOrder, choice
from .lineage import TASK_INPUTS

ENV = {"PYTHONPATH": ".:${PYTHONPATH}"}
STAGES = ("head", "torso", "postnet")
EXPERIMENTS = {"head": "lm3d_radnerf", "torso": "lm3d_radnerf_torso", "postnet": "lm3d_postnet_sync"}
TEMPLATE = "May"
RELEASED_POSTNET_STEPS = 4000  # scripts/infer_postnet.sh
# egs_bases/radnerf/base.yaml: utils/commons/trainer.py saves a checkpoint only at multiples of val_check_interval.
VAL_CHECK_INTERVAL = 2000
# process_data.sh's order, run one at a time: its background jobs race (tasks 5 and 6 read task 4's output).
# Tasks 1, 3 and 7 (audio, frames, landmarks) are our own steps (talkingface.adapters.own_prep).
TASKS: Tuple[Tuple[int, str, Tuple[str, ...], float], ...] = (
    (2, "esperanto and DeepSpeech features", ("aud_esperanto.npy", "aud_deepspeech.npy"), 3.0),
    (4, "face parsing", ("parsing/*.png",), 5.0),
    (8, "3DMM face tracking", ("track_params.pt",), 20.0),
    (5, "background image", ("bc.jpg",), 1.0),
    (6, "head, torso and ground-truth images", ("head_imgs/*.jpg", "gt_imgs/*.jpg", "torso_imgs/*.png"), 5.0),
    (9, "camera transforms", ("transforms_train.json", "transforms_val.json"), 0.5),
)


class GeneFace(Adapter):
    name = "geneface"
    title = "GeneFace (ICLR 2023): generalized audio-driven 3D talking faces"
    license = "MIT (the Basel Face Model it needs is non-commercial)"
    stages = STAGES
    weight_files = (
        "deep_3drecon/BFM/BFM_model_front.mat",
        "deep_3drecon/BFM/Exp_Pca.bin",
        "deep_3drecon/checkpoints/facerecon/epoch_20.pth",
    )
    default_iterations = 250000  # egs_bases/radnerf/base.yaml max_updates, for the head and the torso each
    # Rough: a RAD-NeRF stage at its default runs for several hours on one recent GPU.
    iterations_per_second = 10.0

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("GeneFace")
        group.add_argument("--stage", help="head, torso, postnet (needs LRS3) or all = head+torso")
        group.add_argument("--postnet", default="auto", help="postnet to drive infer: a task name, or auto (default)")
        group.add_argument("--postnet_steps", type=int, default=0, help="postnet checkpoint step (default: latest)")

    def collect_options(self, args: argparse.Namespace, verb: str) -> Dict[str, Any]:
        return {
            "stage": choice(args.stage or "all", (*STAGES, "all"), "--stage"),
            "postnet": args.postnet,
            "postnet_steps": args.postnet_steps,
        }

    def option_argv(self, options: Dict[str, Any]) -> List[str]:
        argv = ["--stage", options["stage"], "--postnet", options["postnet"]]
        return argv + ["--postnet_steps", str(options["postnet_steps"])]

    def custom_paths(self) -> bool:
        return False

    def task_paths(self, workspace: str, task: str) -> TaskPaths:
        paths = default_paths(workspace, task)
        return TaskPaths(
            workspace=paths.workspace,
            data_dir=posixpath.join(workspace, "data", "processed", "videos", task),
            model_dir=posixpath.join(workspace, "checkpoints", task),
            results_dir=paths.results_dir,
            logs_dir=paths.logs_dir,
            state_dir=paths.state_dir,
            audio_root=paths.audio_root,
        )

    def image_links(self, roots: ContainerRoots) -> Dict[str, str]:
        ws = roots.workspace
        return {
            **super().image_links(roots),
            "data": posixpath.join(ws, "data"),
            "checkpoints": posixpath.join(ws, "checkpoints"),
            "infer_out": posixpath.join(ws, "infer_out"),
            "egs/datasets/videos": posixpath.join(ws, "egs", "videos"),
            f"deep_3drecon/BFM/{BFM_FILE}": posixpath.join(roots.bfm, BFM_FILE),
            "data_util/face_tracking/3DMM/3DMM_info.npy": posixpath.join(ws, ".talkingface", "bfm", "3DMM_info.npy"),
            # face_tracker.py appends to ./log.txt, in the read-only upstream tree.
            "log.txt": posixpath.join(ws, ".talkingface", "face_tracker.log.txt"),
        }

    # -- plans --------------------------------------------------------------------------------------------------
    def _py(
        self, req: Any, id_: str, title: str, argv: Tuple[str, ...], outputs: Tuple[str, ...], weight: float, **kw: Any
    ) -> Step:
        return step(id_, title, ("python", *argv), cwd=req.upstream_root, outputs=outputs, env=ENV, weight=weight, **kw)

    def bfm_output(self, req: Any) -> str:
        return posixpath.join(req.paths.workspace, ".talkingface", "bfm", "3DMM_info.npy")

    def bfm_steps(self, req: Any) -> List[Step]:
        out = self.bfm_output(req)
        convert = step(
            "convert-bfm",
            "convert the Basel Face Model for the face tracker (convert_BFM.py)",
            ("python", "convert_BFM.py"),
            cwd=posixpath.join(req.upstream_root, "data_util", "face_tracking"),
            outputs=(out,),
            reuse_outputs=True,
        )
        return [self.ensure_dirs(req, "bfm-dirs", posixpath.dirname(out)), convert]

    def _binary(self, req: Any) -> str:
        return posixpath.join(req.paths.workspace, "data", "binary", "videos", req.task, "trainval_dataset.npy")

    def preprocess_steps(self, req: Any) -> List[Step]:
        ws, data, task = req.paths.workspace, req.paths.data_dir, req.task
        egs = posixpath.join(ws, "egs", "videos", task)
        raw = posixpath.join(ws, "data", "raw", "videos", f"{task}.mp4")
        template = posixpath.join(req.upstream_root, "egs", "datasets", "videos.orig", TEMPLATE)
        configs = own("retarget-configs", "--src", template, "--dst", egs, "--old", TEMPLATE, "--new", task)
        steps = [
            self.ensure_dirs(
                req, "dataset-dirs", data, posixpath.join(ws, "checkpoints"), posixpath.join(ws, "infer_out")
            ),
            step(
                "configs",
                f"per-video configs from the {TEMPLATE} template",
                (*configs, "--keys", "video_id,head_model_dir"),
                cwd=ws,
                outputs=(posixpath.join(egs, "lm3d_radnerf.yaml"),),
                weight=0.01,
            ),
            *own_prep.input_steps(req, data, raw),
            own_prep.audio_step(req, raw, posixpath.join(data, "aud.wav")),
            own_prep.frames_step(req, raw, data),
        ]
        for number, title, outputs, weight in TASKS:
            argv = ("data_util/process.py", f"--video_id={task}", f"--task={number}")
            produced = tuple(posixpath.join(data, out) for out in outputs)
            steps.append(
                self._py(
                    req,
                    f"process-task{number}",
                    f"process.py task {number}: {title}",
                    argv,
                    produced,
                    weight,
                    clean_outputs=True,
                    inputs=tuple(posixpath.join(data, path) for path in TASK_INPUTS.get(number, ())),
                )
            )
        steps += [
            self._py(
                req,
                "hubert-mel-f0",
                "HuBERT, mel and f0 features",
                ("data_gen/nerf/extract_hubert_mel_f0.py", f"--video_id={task}"),
                (posixpath.join(data, "aud_hubert.npy"), posixpath.join(data, "aud_mel_f0.npy")),
                3.0,
            ),
            self._py(
                req,
                "3dmm",
                "Deep3DFaceRecon coefficients",
                ("data_gen/nerf/extract_3dmm.py", f"--video_id={task}"),
                (posixpath.join(data, "vid_coeff.npy"),),
                10.0,
            ),
            self._py(
                req,
                "binarize",
                "binarize the dataset",
                ("data_gen/nerf/binarizer.py", f"--config=egs/datasets/videos/{task}/lm3d_radnerf.yaml"),
                (self._binary(req),),
                1.0,
            ),
        ]
        return steps

    def _pretrained_links(self, req: Any, step_id: str) -> Step:
        pairs: List[str] = []
        names = ["lrs3"] + ([TEMPLATE] if req.task != TEMPLATE else [])
        for name in names:
            target = posixpath.join(req.weights_dir, self.name, "checkpoints", name)
            pairs += ["--pair", target, posixpath.join(req.paths.workspace, "checkpoints", name)]
        return step(
            step_id,
            "link the released checkpoints (LRS3, May postnet) into the workspace",
            own("link", *pairs),
            cwd=req.paths.workspace,
            weight=0.01,
        )

    @staticmethod
    def iteration_hparams(iterations: int) -> str:
        """``--hparams`` for a training of ``iterations``: upstream saves only at multiples of val_check_interval,
        so a shorter run would end with no checkpoint at all (found by the GPU run); a longer one is rounded up to
        the next save."""
        interval = min(iterations, VAL_CHECK_INTERVAL)
        updates = -(-iterations // interval) * interval
        return f"max_updates={updates},val_check_interval={interval}"

    def stages_of(self, stage: Optional[str]) -> Tuple[str, ...]:
        return ("head", "torso") if stage == "all" else (str(stage),)

    def train_steps(self, req: Any) -> List[Step]:
        chosen = self.stages_of(req.option("stage"))
        hparams = (f"--hparams={self.iteration_hparams(req.iterations)}",) if req.iterations else ()
        steps = [self._pretrained_links(req, "pretrained")] if "postnet" in chosen else []
        for name in chosen:
            exp = EXPERIMENTS[name]
            argv = (
                "tasks/run.py",
                f"--config=egs/datasets/videos/{req.task}/{exp}.yaml",
                f"--exp_name={req.task}/{exp}",
                "--reset",
                *hparams,
            )
            ckpts = posixpath.join(req.paths.model_dir, exp, "model_ckpt_steps_*.ckpt")
            steps.append(self._py(req, f"train-{name}", f"train the {name} ({exp})", argv, (ckpts,), 100.0))
        return steps

    def settle(self, req: Any) -> Dict[str, Any]:
        options = dict(req.options)
        if req.verb not in ("infer", "extract-features"):
            return options
        postnet = options.get("postnet") or "auto"
        if postnet == "auto":
            own_ckpts = self._postnet_ckpts(req, req.task)
            postnet = req.task if own_ckpts else TEMPLATE
        if not options.get("postnet_steps"):
            steps = [
                int(m.group(1))
                for m in (re.search(r"steps_(\d+)\.ckpt$", p) for p in self._postnet_ckpts(req, postnet))
                if m
            ]
            options["postnet_steps"] = max(steps) if steps else RELEASED_POSTNET_STEPS
        options["postnet"] = postnet
        return options

    def _postnet_ckpts(self, req: Any, task: str) -> List[str]:
        return glob.glob(
            posixpath.join(req.paths.workspace, "checkpoints", task, EXPERIMENTS["postnet"], "model_ckpt_steps_*.ckpt")
        )

    def checkpoint_patterns(self, req: Any) -> Tuple[str, ...]:
        return tuple(
            posixpath.join(req.paths.model_dir, EXPERIMENTS[s], "model_ckpt_steps_*.ckpt") for s in ("head", "torso")
        )

    def _cond(self, req: Any, stem: str) -> str:
        return posixpath.join(req.paths.audio_dir(stem), f"{stem}_lm3d.npy")

    def _wav(self, req: Any, stem: str) -> str:
        return posixpath.join(req.paths.audio_dir(stem), f"{stem}.wav")

    def feature_steps(self, req: Any, stem: str) -> List[Step]:
        postnet = req.option("postnet") if req.option("postnet") not in (None, "auto") else TEMPLATE
        steps_ = req.option("postnet_steps") or RELEASED_POSTNET_STEPS
        hparams = ",".join(
            (
                f"infer_audio_source_name={self._wav(req, stem)}",
                f"infer_out_npy_name={self._cond(req, stem)}",
                f"infer_ckpt_steps={steps_}",
            )
        )
        argv = (
            "inference/postnet/postnet_infer.py",
            f"--config=checkpoints/{postnet}/{EXPERIMENTS['postnet']}/config.yaml",
            f"--hparams={hparams}",
            "--reset",
        )
        return [
            self._pretrained_links(req, f"audio-{stem}-pretrained"),
            self._py(
                req,
                f"audio-{stem}-postnet",
                f"audio to 3D landmarks ({postnet} postnet, step {steps_})",
                argv,
                (self._cond(req, stem),),
                3.0,
            ),
        ]

    def _scratch(self, req: Any, stem: str) -> str:
        return posixpath.join(req.paths.workspace, ".talkingface", "infer", req.task, stem, "binary")

    def frame_order(self, req: Any, stem: str) -> FrameOrder:
        # The renderer takes trainval sample i for frame i; extend-dataset lists each sample's frame number.
        return FrameOrder(posixpath.join(self._scratch(req, stem), req.task, "frame_ids.json"), "forward")

    def render_steps(self, req: Any, stem: str) -> List[Step]:
        scratch = self._scratch(req, stem)
        extended = posixpath.join(scratch, req.task, "trainval_dataset.npy")
        frame_ids = self.frame_order(req, stem).poses
        video = posixpath.join(req.paths.workspace, "infer_out", req.task, "pred_video", f"{stem}.mp4")
        hparams = ",".join(
            (
                f"infer_audio_source_name={self._wav(req, stem)}",
                f"infer_cond_name={self._cond(req, stem)}",
                f"infer_out_video_name={video}",
                f"binary_data_dir={scratch}",
            )
        )
        config = f"--config=checkpoints/{req.task}/{EXPERIMENTS['torso']}/config.yaml"
        # upstream prints "saved" even when its ffmpeg failed (#114, #214): the output check catches that.
        render = self._py(
            req,
            f"infer-{stem}-render",
            "render head and torso (lm3d_radnerf_infer.py)",
            ("inference/nerfs/lm3d_radnerf_infer.py", config, f"--hparams={hparams}", "--infer"),
            (video,),
            20.0,
        )
        return [
            step(
                f"infer-{stem}-poses",
                "extend the dataset's poses (ping-pong) to the audio's length",
                own(
                    "extend-dataset",
                    "--dataset",
                    self._binary(req),
                    "--cond",
                    self._cond(req, stem),
                    "--out",
                    extended,
                    "--frame_ids",
                    frame_ids,
                ),  # fmt: skip
                cwd=req.paths.workspace,
                outputs=(extended, frame_ids),
                weight=0.2,
            ),
            render,
            self.mux_step(req, stem, render),
        ]

    def dataset_spec(self) -> DatasetSpec:
        return DatasetSpec(
            files=(
                "aud.wav",
                "aud_hubert.npy",
                "aud_mel_f0.npy",
                "vid_coeff.npy",
                "track_params.pt",
                "bc.jpg",
                "transforms_train.json",
                "transforms_val.json",
            ),
            per_frame=(
                ("ori_imgs", ".jpg"),
                ("ori_imgs", ".lms"),
                ("parsing", ".png"),
                ("gt_imgs", ".jpg"),
                ("torso_imgs", ".png"),
                ("head_imgs", ".jpg"),
            ),
            transforms=("transforms_train.json", "transforms_val.json"),
        )
