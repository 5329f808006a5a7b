"""What a model adapter provides. Shared code talks to models only through this interface."""

from __future__ import annotations

import abc
import argparse
import posixpath
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..core.dataset_input import CROP_BOXES
from ..core.errors import TalkingfaceError
from ..core.layout import ContainerRoots, TaskPaths, default_paths
from ..core.names import safe_stem
from ..core.plan import Step, own, step
from ..core.upstream import UpstreamPin, pin
from ..core.verbs import Verb
from . import own_prep

BFM_FILE = "01_MorphableModel.mat"


@dataclass(frozen=True)
class DatasetSpec:
    """What ``validate`` checks in a dataset folder; all paths relative to it."""

    files: Tuple[str, ...]
    # Folders of per-frame files, as (folder, extension); their counts must all agree with ori_imgs/*.jpg.
    per_frame: Tuple[Tuple[str, str], ...] = ()
    features: Tuple[str, ...] = ()
    au_csv: Optional[str] = None
    transforms: Tuple[str, ...] = ()
    # The background image, which must have the frames' size.
    background: Optional[str] = "bc.jpg"


@dataclass(frozen=True)
class FrameOrder:
    """Which dataset frame each frame of a render shows: the ``img_id`` of a pose list (a transforms json, or a
    JSON list of frame numbers) taken in order (``forward``) or replayed back and forth (``mirror``)."""

    poses: str
    order: str


@dataclass(frozen=True)
class Requirement:
    """A file (glob) that must exist before a verb can run."""

    pattern: str
    problem: str
    fix: str


class Adapter(abc.ABC):
    """One model: its flags, its workspace layout and the upstream commands of each verb."""

    name: str = ""
    title: str = ""
    license: str = ""
    stages: Tuple[str, ...] = ()
    # Whether infer may be driven by precomputed features (.npy) instead of audio, as ER-NeRF's container allowed.
    accepts_features: bool = False
    # Weights upstream expects inside its tree (relative paths); the image links each to <weights>/<model>/<path>.
    weight_files: Tuple[str, ...] = ()
    # Upstream's default for what --iterations sets, and a rough training speed on one recent GPU: together they
    # estimate how long an --iterations far beyond the default would train, before it starts. 0: no estimate.
    default_iterations: int = 0
    iterations_per_second: float = 0.0
    # Person-specific models train on a video of the person, then infer. A one-shot model (trainable = False) only
    # infers, and refuses the verbs that work on a training video or dataset, giving this reason.
    trainable: bool = True
    inference_only_reason: str = ""
    # Model options that name input files, as (option, folder): the host mounts each read-only under
    # <inputs>/<folder>/ and the preflight checks it, as it does --video_path and --audio_path.
    input_options: Tuple[Tuple[str, str], ...] = ()
    # The fix the mux step gives when the rendered video is much shorter than its audio: the model's own advice
    # about what drops frames, so the shared step names no model.
    short_render_fix: str = "the renderer dropped frames: see the render log"

    @property
    def pin(self) -> UpstreamPin:
        return pin(self.name)

    # -- command line -------------------------------------------------------------------------------------------
    def add_options(self, parser: argparse.ArgumentParser) -> None:  # noqa: B027 - optional hook
        """Model-specific flags."""

    def collect_options(self, args: argparse.Namespace, verb: str) -> Dict[str, Any]:
        """Validated model-specific options."""
        return {}

    def option_argv(self, options: Dict[str, Any]) -> List[str]:
        """The flags that carry ``options`` into the container; the inverse of ``collect_options``."""
        return []

    def refusal(self, verb: Verb) -> Optional[TalkingfaceError]:
        """Why this model does not offer ``verb``, or None when it does."""
        if verb.for_training and not self.trainable:
            return TalkingfaceError(
                f"{self.name} cannot {verb.name}: {self.inference_only_reason}",
                fix=f"use infer (run_{self.name}.sh infer --help)",
            )
        return None

    def default_task(self, options: Dict[str, Any]) -> Optional[str]:
        """The task name when neither --task nor a video or dataset names one."""
        return None

    def audio_required(self, req: Any) -> bool:
        """Whether a verb that takes audio needs it for this request (a motion video may drive a render alone)."""
        return True

    def output_stem(self, req: Any) -> str:
        """What infer names its result, ``<results>/<stem>.mp4``: the driving audio's name."""
        return audio_stem(req.audio)

    def stages_of(self, stage: Optional[str]) -> Tuple[str, ...]:
        """The stages a ``--stage`` value trains, in order; () for a model trained in one run."""
        return ()

    def trained_iterations(self, req: Any) -> int:
        """Iterations a train request runs in all, summed over its stages (each stage runs --iterations)."""
        return (req.iterations or self.default_iterations) * max(1, len(self.stages_of(req.option("stage"))))

    def stage_options(self, options: Dict[str, Any]) -> List[Tuple[str, Dict[str, Any]]]:
        """One (name, options) per training run, for a scheduler that submits each stage as its own job."""
        chosen = self.stages_of(options.get("stage"))
        if not chosen:
            return [("train", dict(options))]
        return [(name, {**options, "stage": name}) for name in chosen]

    def positional_fields(self, verb: str) -> Tuple[str, ...]:
        """Positional forms accepted for ``verb`` (e.g. ``preprocess VIDEO TASK``), as flag names."""
        return ("video_path", "task") if verb in ("check", "preprocess") else ()

    def custom_paths(self) -> bool:
        """Whether --data_dir/--model_dir may move data and checkpoints out of the workspace layout."""
        return True

    def task_paths(self, workspace: str, task: str) -> TaskPaths:
        return default_paths(workspace, task)

    def shm_size(self) -> str:
        return "16g"

    def upstream_dir(self, roots: ContainerRoots) -> str:
        return posixpath.join(roots.upstream, self.name)

    # -- plans --------------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def bfm_steps(self, req: Any) -> List[Step]:
        """Convert the BFM for the face tracker (its output lands in the workspace)."""

    @abc.abstractmethod
    def preprocess_steps(self, req: Any) -> List[Step]:
        """Video to dataset, one upstream task per step."""

    @abc.abstractmethod
    def train_steps(self, req: Any) -> List[Step]:
        """The training stages selected by the request, in order."""

    @abc.abstractmethod
    def feature_steps(self, req: Any, stem: str) -> List[Step]:
        """Audio (already a 16 kHz wav in ``req.paths.audio_dir(stem)``) to the model's features."""

    @abc.abstractmethod
    def render_steps(self, req: Any, stem: str) -> List[Step]:
        """Render ``stem`` and mux its audio into ``<results>/<stem>.mp4``."""

    @abc.abstractmethod
    def checkpoint_patterns(self, req: Any) -> Tuple[str, ...]:
        """Globs that must match for ``infer`` to have a trained model to use."""

    @abc.abstractmethod
    def bfm_output(self, req: Any) -> str:
        """The converted BFM file; when it exists, the original .mat is no longer needed."""

    @abc.abstractmethod
    def dataset_spec(self) -> DatasetSpec:
        """What a finished dataset contains."""

    def settle(self, req: Any) -> Dict[str, Any]:
        """Options with anything left to the disk decided (e.g. "latest checkpoint"), in ``req``'s view."""
        return dict(req.options)

    def preflight(self, req: Any) -> List[Requirement]:
        """Files this request needs beyond the shared checks (inputs, BFM, trained checkpoint)."""
        return []

    def image_links(self, roots: ContainerRoots) -> Dict[str, str]:
        """Links the image build makes inside the upstream tree, relative path -> target."""
        return {path: posixpath.join(roots.weights, self.name, path) for path in self.weight_files}

    # -- shared step builders -----------------------------------------------------------------------------------
    def ensure_dirs(self, req: Any, step_id: str, *dirs: str) -> Step:
        return step(step_id, "create folders", own("mkdirs", *dirs), cwd=req.paths.workspace, outputs=dirs, weight=0.01)

    def stage_file(self, req: Any, step_id: str, src: str, dst: str, title: str) -> Step:
        argv = own("stage-input", "--src", src, "--dst", dst)
        return step(step_id, title, argv, cwd=req.paths.workspace, outputs=(dst,), weight=0.2)

    def wav_step(self, req: Any, stem: str) -> Step:
        wav = posixpath.join(req.paths.audio_dir(stem), f"{stem}.wav")
        return step(
            wav_step_id(stem),
            "convert the driving audio to 16 kHz mono wav",
            own("to-wav", "--src", req.audio, "--dst", wav),
            cwd=req.paths.workspace,
            outputs=(wav,),
            weight=0.2,
        )

    def frame_order(self, req: Any, stem: str) -> FrameOrder:
        """The poses the render of ``stem`` used. Default: the training split replayed back and forth, as the
        AD-NeRF lineage's ``--test_train`` does for an audio longer than it."""
        return FrameOrder(posixpath.join(req.paths.data_dir, "transforms_train.json"), "mirror")

    def paste_back_step(self, req: Any, stem: str, result: str) -> Step:
        order = self.frame_order(req, stem)
        out = posixpath.join(req.paths.results_dir, f"{stem}_full.mp4")
        argv = ["--result", result, "--background", req.background, "--data_dir", req.paths.data_dir]
        argv += ["--poses", order.poses, "--order", order.order, "--out", out]
        crop_boxes = posixpath.join(req.paths.data_dir, CROP_BOXES)
        return step(
            f"paste-back-{stem}",
            "paste the result back into the full-frame video (feathered, colour-matched)",
            own("paste-back", *argv),
            cwd=req.paths.workspace,
            inputs=(result, req.background, crop_boxes, order.poses),
            outputs=(out,),
            weight=2.0,
            forced_argv=own("paste-back", *argv, "--overwrite"),
            forced_overwrites=True,
        )

    def check_steps(self, req: Any) -> List[Step]:
        """The ``check`` verb: the video's streams, length and face, in seconds, before committing to hours."""
        check = own_prep.check_step(req, req.paths.data_dir, always=True)
        return [self.ensure_dirs(req, "dataset-dir", req.paths.data_dir), check]

    def validate_step(self, req: Any) -> Step:
        return step(
            "validate",
            "check the dataset before training",
            own("validate", "--model", self.name, "--data_dir", req.paths.data_dir),
            cwd=req.paths.workspace,
            weight=0.05,
            always=True,
        )

    def mux_step(self, req: Any, stem: str, render: Step, *, exclude: str = "") -> Step:
        """Mux the audio into what ``render`` wrote (the newest match of its output glob, less ``exclude``)."""
        out = posixpath.join(req.paths.results_dir, f"{stem}.mp4")
        argv = ["--video", rendered_glob(render), "--out", out, "--short_fix", self.short_render_fix]
        after = [render.id]
        # No audio is muxed where features drove the render, or nothing did (a model driven by a video alone).
        muxed = bool(req.audio) and not features_given(req)
        if muxed:
            argv += ["--audio", posixpath.join(req.paths.audio_dir(stem), f"{stem}.wav")]
            after.append(wav_step_id(stem))
        if exclude:
            argv += ["--exclude", exclude]
        return step(
            f"infer-{stem}-mux",
            "mux the audio into the result, as long as the audio" if muxed else "copy the render to the results",
            own("mux", *argv),
            cwd=req.paths.workspace,
            outputs=(out,),
            # Redone after the render or the wav ran again, rather than on their files' content: ER-NeRF and
            # GaussianTalker render every audio of a task into one file, which another audio's render replaces
            # while this audio's render stays done (its content would remux that other render with this audio).
            # And the command and inputs stay as they were, so a result muxed before does not mux again.
            after=after,
            weight=0.3,
            forced_argv=own("mux", *argv, "--overwrite"),
            forced_overwrites=True,
        )

    def au_step(self, req: Any, data_dir: str) -> Step:
        out = posixpath.join(data_dir, "au.csv")
        if req.au_csv:
            return self.stage_file(req, "au-csv", req.au_csv, out, "use the given OpenFace au.csv")
        return step(
            "au-csv",
            "blink intensity (AU45) from the landmarks, written as OpenFace's au.csv",
            own("au-from-landmarks", "--data_dir", data_dir, "--out", out),
            cwd=req.paths.workspace,
            inputs=(posixpath.join(data_dir, "ori_imgs", "*.lms"),),
            outputs=(out,),
            weight=0.1,
        )


def wav_step_id(stem: str) -> str:
    """The step that converts the driving audio ``stem`` to the 16 kHz wav the features and the mux take."""
    return f"audio-{stem}-wav"


def rendered_glob(render: Step) -> str:
    """What a render step writes: its one output (a glob), which the mux step reads."""
    if len(render.outputs) != 1:
        raise ValueError(f"render step {render.id} has {len(render.outputs)} outputs, not one")
    return render.outputs[0]


def audio_stem(audio: Optional[str]) -> str:
    name = (audio or "").rsplit("/", 1)[-1]
    return safe_stem(name.rsplit(".", 1)[0] if "." in name else name, kind="audio")


def features_given(req: Any) -> bool:
    """The driving audio was given as precomputed features (``.npy``), as the ER-NeRF container allowed."""
    return bool(req.audio) and req.audio.endswith(".npy")


def require(condition: bool, problem: str, fix: str) -> None:
    if not condition:
        raise TalkingfaceError(problem, fix=fix)


def choice(value: str, allowed: Sequence[str], flag: str) -> str:
    lowered = value.lower()
    require(lowered in allowed, f"invalid {flag} {value!r}", f"use one of: {', '.join(allowed)}")
    return lowered
