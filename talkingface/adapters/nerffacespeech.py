"""NeRFFaceSpeech (rlgnswk/NeRFFaceSpeech_Code): one photo (or a StyleNeRF latent) and speech to a talking head.

It is one-shot and inference-only: the authors released no training code (their issues #6 and #10), so the verbs
that work on a training video are refused. Each render is one of upstream's four ``StyleNeRF/main_*.py`` scripts,
run from the upstream root (they open ``pretrained_networks/...`` relative to it).

Upstream's habits, and what the plan does about each:

* The photo must be FFHQ-aligned and upstream ships no aligner: ``ffhq-align`` aligns it with our own 68-point
  landmarks and saves the transform beside the aligned image, so a result can be pasted back into the photo.
* It caches the PTI inversion (``G_PTI.pt``, ``w_PTI.pt``, ``bg_PTI.pt``) and the 3DMM fit (``fitted_coeffs.pt``) in
  its output folder and reuses whatever it finds there. The inversion is a step of its own, run once on a second of
  silence into ``models/<task>/inversion``; its fingerprint is the aligned image's content, so a new photo inverts
  again (the stale cache is removed first), and each render links the cache into a fresh output folder.
* It does nothing, successfully, when ``output_NeRFFaceSpeech.mp4`` is already there: the render step removes it
  first (clean_outputs).
* Its ffmpeg call has no ``-shortest`` and no return-code check: our ``mux`` step remuxes its video with the audio
  and checks the lengths.
* It burns a visible "fake video" caption and an invisible watermark into every frame: the authors' disclosure,
  kept as it is, with no option to remove it.
"""

from __future__ import annotations

import argparse
import posixpath
from typing import Any, Dict, List, Optional, Tuple

from ..core.errors import TalkingfaceError
from ..core.names import safe_stem
from ..core.plan import Step, own, step
from ..core.verbs import Verb
from .base import Adapter, DatasetSpec, Requirement, audio_stem, require

SCRIPTS = {
    "image": "StyleNeRF/main_NeRFFaceSpeech_audio_driven_from_image.py",
    "seed": "StyleNeRF/main_NeRFFaceSpeech_audio_driven_from_z.py",
    "poses": "StyleNeRF/main_NeRFFaceSpeech_audio_driven_w_given_poses.py",
    "motion": "StyleNeRF/main_NeRFFaceSpeech_video_driven.py",
}
NETWORK = "pretrained_networks/ffhq_1024.pkl"
RESULT = "output_NeRFFaceSpeech.mp4"
# What upstream caches in its output folder and reuses when present.
INVERSION = ("G_PTI.pt", "w_PTI.pt", "bg_PTI.pt", "fitted_coeffs.pt")
# upstream's README runs every command with --trunc=0.7 (the click default is 1).
TRUNC = 0.7
# The inversion runs upstream's full script: a second of silence renders 25 frames, next to 2000 PTI iterations.
SILENCE_SECONDS = "1"
ALIGNED_SIZE = 1024  # ffhq_1024.pkl, and upstream's own test photos
MOTION_SIZE = 256  # upstream's driving_frames/ are 256 px crops; each is resized to 224 for Deep3DFaceRecon
DNNLIB_CACHE = "cache/dnnlib"
WEIGHTS = (
    NETWORK,
    "pretrained_networks/seg.pth",
    "pretrained_networks/LipaintNet.pt",
    "pretrained_networks/sad_talker_pretrained/SadTalker_V0.0.2_256.safetensors",
    "pretrained_networks/Deep3DFaceRecon_pytorch/face_recon/epoch_20.pth",
    "pretrained_networks/BFM/BFM_model_front.mat",
    "pretrained_networks/BFM_for_3DMM-Fitting-Pytorch/BFM/BFM09_model_info.mat",
)


class NeRFFaceSpeech(Adapter):
    name = "nerffacespeech"
    title = "NeRFFaceSpeech (CVPR 2024 AI4CC workshop): one-shot audio-driven 3D talking head from one photo"
    license = "MIT"
    trainable = False
    inference_only_reason = (
        "it is one-shot and inference-only; its authors released no training code (upstream issues #6 and #10)"
    )
    input_options = (("image_path", "image"), ("motion_video", "motion"))
    weight_files = WEIGHTS

    # -- command line -------------------------------------------------------------------------------------------
    def add_options(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("NeRFFaceSpeech")
        group.add_argument("--image_path", help="infer: the photo of one face (aligned here, FFHQ's recipe)")
        group.add_argument("--seed", type=int, help="infer: a face from StyleNeRF's latent space instead of a photo")
        group.add_argument(
            "--motion_video",
            help="infer: head poses from this video (with --audio_path), or poses and expressions (without it)",
        )
        group.add_argument("--trunc", type=float, help=f"truncation psi (default: {TRUNC}, as upstream's README)")

    def refusal(self, verb: Verb) -> Optional[TalkingfaceError]:
        if verb.name == "extract-features":
            return TalkingfaceError(
                f"{self.name} cannot extract-features: it computes its audio features inside infer",
                fix=f"run infer with the audio (run_{self.name}.sh infer --help)",
            )
        return super().refusal(verb)

    def collect_options(self, args: argparse.Namespace, verb: str) -> Dict[str, Any]:
        image, seed, motion = args.image_path, args.seed, args.motion_video
        trunc = TRUNC if args.trunc is None else args.trunc
        if verb == "infer":
            require(
                (image is None) != (seed is None),
                "infer needs one face: a photo (--image_path) or a latent (--seed), not "
                + ("both" if image is not None else "neither"),
                "pass --image_path face.png, or --seed N",
            )
            require(
                seed is None or seed >= 0, f"--seed must be 0 or more, got {seed}", "pass a whole number, e.g. --seed 6"
            )
            require(
                motion is None or image is not None,
                "--motion_video drives a photo, not a latent",
                "pass --image_path with --motion_video",
            )
            require(0.0 <= trunc <= 1.0, f"--trunc must be between 0 and 1, got {trunc}", f"pass e.g. --trunc {TRUNC}")
        return {
            "image_path": image and posixpath.abspath(image),
            "seed": seed,
            "motion_video": motion and posixpath.abspath(motion),
            "trunc": trunc,
        }

    def option_argv(self, options: Dict[str, Any]) -> List[str]:
        argv = []
        for flag in ("image_path", "seed", "motion_video"):
            if options.get(flag) is not None:
                argv += [f"--{flag}", str(options[flag])]
        return argv + ["--trunc", f"{options['trunc']:g}"]

    def default_task(self, options: Dict[str, Any]) -> Optional[str]:
        if options.get("image_path"):
            return safe_stem(posixpath.splitext(posixpath.basename(options["image_path"]))[0])
        if options.get("seed") is not None:
            return f"seed{options['seed']}"
        return None

    def audio_required(self, req: Any) -> bool:
        # Without audio, a motion video drives poses and expressions alike (upstream's video_driven script).
        return not req.option("motion_video")

    def output_stem(self, req: Any) -> str:
        if req.audio or not req.option("motion_video"):
            return audio_stem(req.audio)
        return safe_stem(posixpath.splitext(posixpath.basename(req.option("motion_video")))[0], kind="audio")

    # -- plans --------------------------------------------------------------------------------------------------
    def _mode(self, req: Any) -> str:
        if req.option("seed") is not None:
            return "seed"
        if req.option("motion_video"):
            return "poses" if req.audio else "motion"
        return "image"

    def _aligned(self, req: Any) -> str:
        return posixpath.join(req.paths.data_dir, "aligned.png")

    def _inversion_dir(self, req: Any) -> str:
        return posixpath.join(req.paths.model_dir, "inversion")

    def _upstream(self, req: Any, script: str, outdir: str, audio: str, extra: Tuple[str, ...] = ()) -> List[str]:
        trunc = f"{req.option('trunc'):g}"
        return ["python", script, f"--outdir={outdir}", f"--trunc={trunc}", f"--network={NETWORK}"] + [
            f"--test_data={audio}",
            *extra,
        ]

    def _env(self, req: Any) -> Dict[str, str]:
        # dnnlib downloads vgg16.pt into its cache at first use: the cache is the weights folder's, filled ahead.
        return {"DNNLIB_CACHE_DIR": posixpath.join(req.weights_dir, DNNLIB_CACHE)}

    def _face_args(self, req: Any) -> Tuple[str, ...]:
        if req.option("seed") is not None:
            return (f"--seeds={req.option('seed')}",)
        return (f"--test_img={self._aligned(req)}",)

    def face_steps(self, req: Any) -> List[Step]:
        """The aligned photo (or nothing, for a latent) and the cached inversion every render of the task uses."""
        steps: List[Step] = [self.ensure_dirs(req, "infer-dirs", req.paths.data_dir, self._inversion_dir(req))]
        inputs: Tuple[str, ...] = ()
        if req.option("seed") is None:
            aligned = self._aligned(req)
            transform = posixpath.join(req.paths.data_dir, "aligned.json")
            argv = ["--src", req.option("image_path"), "--out", aligned, "--transform", transform]
            steps.append(
                step(
                    "align",
                    "align the photo as FFHQ was (68-point landmarks), saving the transform",
                    own("ffhq-align", *argv, "--size", str(ALIGNED_SIZE)),
                    cwd=req.paths.workspace,
                    inputs=(req.option("image_path"),),
                    outputs=(aligned, transform),
                    weight=0.5,
                )
            )
            inputs = (aligned,)
        silence = posixpath.join(req.paths.model_dir, "silence.wav")
        steps.append(
            step(
                "silence",
                "a second of silence for the inversion's own render",
                own("silence", "--seconds", SILENCE_SECONDS, "--out", silence),
                cwd=req.paths.workspace,
                outputs=(silence,),
                weight=0.05,
            )
        )
        inversion = self._inversion_dir(req)
        script = SCRIPTS["seed" if req.option("seed") is not None else "image"]
        steps.append(
            step(
                "invert",
                "invert the face into StyleNeRF (PTI) and fit the 3DMM, once per photo",
                self._upstream(req, script, inversion, silence, self._face_args(req)),
                cwd=req.upstream_root,
                env=self._env(req),
                inputs=inputs,
                outputs=tuple(posixpath.join(inversion, name) for name in (*INVERSION, RESULT)),
                # Upstream reuses whatever inversion it finds in its folder: a new photo must not inherit the old.
                clean_outputs=True,
                weight=30.0,
            )
        )
        return steps

    def feature_steps(self, req: Any, stem: str) -> List[Step]:
        # Upstream computes its mel features (SadTalker's) inside the render.
        return []

    def motion_steps(self, req: Any, stem: str) -> Tuple[List[Step], str]:
        folder = posixpath.join(req.paths.data_dir, f"motion-{stem}")
        frames = posixpath.join(folder, "frames")
        argv = ["--video", req.option("motion_video"), "--frames", frames, "--size", str(MOTION_SIZE)]
        argv += ["--transform", posixpath.join(folder, "transform.json")]
        made = step(
            f"infer-{stem}-motion",
            "the driving video's frames, cropped as its first frame aligns (FFHQ's recipe)",
            own("ffhq-align", *argv),
            cwd=req.paths.workspace,
            inputs=(req.option("motion_video"),),
            outputs=(posixpath.join(frames, "*.png"), posixpath.join(folder, "transform.json")),
            clean_outputs=True,
            weight=1.0,
        )
        return [made], frames

    def render_steps(self, req: Any, stem: str) -> List[Step]:
        mode = self._mode(req)
        steps = self.face_steps(req)
        extra = list(self._face_args(req))
        if mode in ("poses", "motion"):
            made, frames = self.motion_steps(req, stem)
            steps += made
            extra.append(f"--motion_guide_img_folder={frames}")
        outdir = posixpath.join(req.paths.model_dir, f"render-{stem}")
        inversion = self._inversion_dir(req)
        pairs: List[str] = []
        for name in INVERSION:
            pairs += ["--pair", posixpath.join(inversion, name), posixpath.join(outdir, name)]
        steps.append(
            step(
                f"infer-{stem}-inversion",
                "use the task's inversion in this render",
                own("link", *pairs),
                cwd=req.paths.workspace,
                outputs=tuple(posixpath.join(outdir, name) for name in INVERSION),
                # Links made again to the same files count as written only if the old ones went first.
                clean_outputs=True,
                weight=0.01,
            )
        )
        # Upstream takes the audio of the motion video's first frame from --test_data; without speech, silence.
        silence = posixpath.join(req.paths.model_dir, "silence.wav")
        audio = posixpath.join(req.paths.audio_dir(stem), f"{stem}.wav") if req.audio else silence
        render = step(
            f"infer-{stem}-render",
            f"render the talking head ({posixpath.basename(SCRIPTS[mode])})",
            self._upstream(req, SCRIPTS[mode], outdir, audio, tuple(extra)),
            cwd=req.upstream_root,
            env=self._env(req),
            inputs=tuple(posixpath.join(inversion, name) for name in INVERSION),
            outputs=(posixpath.join(outdir, RESULT),),
            clean_outputs=True,
            weight=20.0,
        )
        return [*steps, render, self.mux_step(req, stem, render)]

    def preflight(self, req: Any) -> List[Requirement]:
        return []

    # -- what a trainable model has and this one does not ---------------------------------------------------------
    # The verbs that would call these are refused (refusal above), so they are never reached.
    def bfm_steps(self, req: Any) -> List[Step]:
        return []

    def preprocess_steps(self, req: Any) -> List[Step]:
        return []

    def train_steps(self, req: Any) -> List[Step]:
        return []

    def checkpoint_patterns(self, req: Any) -> Tuple[str, ...]:
        # Nothing to train: the released weights (the manifest's) are all a render needs.
        return ()

    def bfm_output(self, req: Any) -> str:
        return posixpath.join(req.upstream_root, "pretrained_networks", "BFM", "BFM_model_front.mat")

    def dataset_spec(self) -> DatasetSpec:
        return DatasetSpec(files=())
