"""Steps shared by the AD-NeRF lineage (ER-NeRF, GaussianTalker): ``data_utils/process.py --task 1..9``.

Upstream runs the nine tasks in one process and never checks them; here each task is its own step with the
files it must produce, so a task that fails quietly stops the plan at once. Tasks 1, 3 and 7 (audio, frames,
face_alignment landmarks) are replaced by our own offline steps, which also normalize the video first.
"""

from __future__ import annotations

import posixpath
from typing import Any, Dict, List, Sequence, Tuple

from ..core.layout import ContainerRoots
from ..core.plan import Step, step
from . import own_prep
from .base import BFM_FILE, Adapter, DatasetSpec, features_given

# Upstream tasks still run, task -> (title, outputs relative to the dataset folder, relative cost). Tasks 1, 3 and 7
# (audio, frames, landmarks) are our own steps (talkingface.adapters.own_prep).
PROCESS_TASKS: Dict[int, Tuple[str, Tuple[str, ...], float]] = {
    2: ("DeepSpeech audio features (aud.npy)", ("aud.npy",), 2.0),
    4: ("face parsing (parsing)", ("parsing/*.png",), 5.0),
    5: ("background image (bc.jpg)", ("bc.jpg",), 1.0),
    6: ("torso and ground-truth images", ("gt_imgs/*.jpg", "torso_imgs/*.png"), 5.0),
    8: ("3DMM face tracking (track_params.pt)", ("track_params.pt",), 20.0),
    9: ("camera transforms (transforms_*.json)", ("transforms_train.json", "transforms_val.json"), 0.5),
}

PER_FRAME = (
    ("ori_imgs", ".jpg"),
    ("ori_imgs", ".lms"),
    ("parsing", ".png"),
    ("gt_imgs", ".jpg"),
    ("torso_imgs", ".png"),
)
DATASET_FILES = ("aud_ds.npy", "au.csv", "bc.jpg", "track_params.pt", "transforms_train.json", "transforms_val.json")
BFM_LINK = "data_utils/face_tracking/3DMM/01_MorphableModel.mat"
BFM_INFO_LINK = "data_utils/face_tracking/3DMM/3DMM_info.npy"
FACE_PARSING = "data_utils/face_parsing/79999_iter.pth"
TRACKING_HELPERS = tuple(
    f"data_utils/face_tracking/3DMM/{name}"
    for name in ("exp_info.npy", "keys_info.npy", "sub_mesh.obj", "topology_info.npy")
)


# What each upstream task reads, so a redone input redoes the task.
TASK_INPUTS: Dict[int, Tuple[str, ...]] = {
    2: ("aud.wav",),
    4: ("ori_imgs/*.jpg",),
    5: ("parsing/*.png",),
    6: ("parsing/*.png", "bc.jpg"),
    8: ("ori_imgs/*.lms",),
    9: ("track_params.pt",),
}


def process_steps(root: str, data_dir: str, video: str, extra_outputs: Dict[int, Sequence[str]]) -> List[Step]:
    steps = []
    for task, (title, outputs, weight) in PROCESS_TASKS.items():
        declared = tuple(outputs) + tuple(extra_outputs.get(task, ()))
        steps.append(
            step(
                f"process-task{task}",
                f"process.py task {task}: {title}",
                ("python", "data_utils/process.py", video, "--task", str(task)),
                cwd=root,
                inputs=[posixpath.join(data_dir, path) for path in TASK_INPUTS.get(task, ())],
                outputs=[posixpath.join(data_dir, out) for out in declared],
                weight=weight,
                clean_outputs=True,
            )
        )
    return steps


def bfm_step(root: str, output: str) -> Step:
    # convert_BFM.py opens 3DMM/... relative to its working directory, so it must run inside face_tracking.
    return step(
        "convert-bfm",
        "convert the Basel Face Model for the face tracker (convert_BFM.py)",
        ("python", "convert_BFM.py"),
        cwd=posixpath.join(root, "data_utils", "face_tracking"),
        outputs=(output,),
        weight=1.0,
        reuse_outputs=True,
    )


class AdNerfLineage(Adapter):
    """Dataset layout, BFM conversion and DeepSpeech features shared by ER-NeRF and GaussianTalker."""

    # Files some tasks write beyond the common ones, per task number.
    extra_outputs: Dict[int, Tuple[str, ...]] = {}
    # Whether upstream leaves aud.npy under a name training does not read.
    alias_features: bool = True

    def image_links(self, roots: ContainerRoots) -> Dict[str, str]:
        return {
            **super().image_links(roots),
            BFM_LINK: posixpath.join(roots.bfm, BFM_FILE),
            BFM_INFO_LINK: posixpath.join(roots.workspace, ".talkingface", "bfm", "3DMM_info.npy"),
        }

    def bfm_output(self, req: Any) -> str:
        return posixpath.join(req.paths.workspace, ".talkingface", "bfm", "3DMM_info.npy")

    def bfm_steps(self, req: Any) -> List[Step]:
        out = self.bfm_output(req)
        return [self.ensure_dirs(req, "bfm-dirs", posixpath.dirname(out)), bfm_step(req.upstream_root, out)]

    def preprocess_steps(self, req: Any) -> List[Step]:
        data = req.paths.data_dir
        video = posixpath.join(data, f"{req.task}.mp4")
        split = tuple(posixpath.join(data, name) for name in self.extra_outputs.get(1, ()))
        steps = [
            self.ensure_dirs(req, "dataset-dir", data),
            *own_prep.input_steps(req, data, video),
            own_prep.audio_step(req, video, posixpath.join(data, "aud.wav"), split=split),
            own_prep.frames_step(req, video, data),
        ]
        for item in process_steps(req.upstream_root, data, video, self.extra_outputs):
            steps.append(item)
            if item.id == "process-task2" and self.alias_features:
                # process.py writes aud.npy; training with DeepSpeech loads aud_ds.npy (ER-NeRF #33, #87).
                src, dst = posixpath.join(data, "aud.npy"), posixpath.join(data, "aud_ds.npy")
                steps.append(
                    self.stage_file(req, "features-name", src, dst, "aud.npy -> aud_ds.npy, the name training reads")
                )
        steps.append(self.au_step(req, data))
        return steps

    def features_file(self, req: Any, stem: str) -> str:
        if features_given(req):
            return req.audio
        return posixpath.join(req.paths.audio_dir(stem), f"{stem}_ds.npy")

    def feature_steps(self, req: Any, stem: str) -> List[Step]:
        wav = posixpath.join(req.paths.audio_dir(stem), f"{stem}.wav")
        out = self.features_file(req, stem)
        return [
            step(
                f"audio-{stem}-deepspeech",
                "DeepSpeech features for the driving audio",
                ("python", "data_utils/deepspeech_features/extract_ds_features.py", "--input", wav, "--output", out),
                cwd=req.upstream_root,
                outputs=(out,),
                weight=2.0,
            )
        ]

    def dataset_spec(self) -> DatasetSpec:
        return DatasetSpec(
            files=DATASET_FILES,
            per_frame=PER_FRAME,
            features=("aud_ds.npy",),
            au_csv="au.csv",
            transforms=("transforms_train.json", "transforms_val.json"),
        )
