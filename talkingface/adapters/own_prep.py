"""Our own preprocessing steps, the same for every model: they replace upstream's audio, frame and landmark tasks.

Each adapter places them where its upstream reads the results; nothing here knows which model asks.
"""

from __future__ import annotations

import posixpath
from typing import Any, List, Sequence

from ..core.plan import Step, own, step

TRACK = "face_track.npz"


def check_step(req: Any, data_dir: str, *, always: bool = False) -> Step:
    """Probe the given video and track its face: the checks that stop a bad video in seconds.

    ``always`` for the ``check`` verb, whose report is what the user asked for; preprocessing reuses a finished one.
    """
    track = posixpath.join(data_dir, TRACK)
    return step(
        "input-check",
        "check the video and track the face (no face, two people, too short: stop here)",
        own(
            "check-input",
            "--src",
            req.video,
            "--given",
            req.video_given or req.video,
            "--out_dir",
            data_dir,
            "--needs_audio",
        ),
        cwd=req.paths.workspace,
        inputs=(req.video,),
        outputs=(track, posixpath.join(data_dir, "crop_boxes.csv"), posixpath.join(data_dir, "input.json")),
        weight=2.0,
        always=always,
    )


def input_steps(req: Any, data_dir: str, video: str) -> List[Step]:
    """Check the given video and track its face, then write it normalized to ``video``."""
    track = posixpath.join(data_dir, TRACK)
    normalize = step(
        "normalize",
        "25 fps, 512x512 around the face, H.264; sound as 16 kHz mono",
        own("normalize", "--src", req.video, "--track", track, "--out", video),
        cwd=req.paths.workspace,
        inputs=(req.video, track),
        outputs=(video,),
        weight=1.0,
    )
    return [check_step(req, data_dir), normalize]


def audio_step(req: Any, video: str, wav: str, *, split: Sequence[str] = ()) -> Step:
    """The dataset's 16 kHz mono wav; ``split`` names (train, novel) wavs cut at 10/11, as some upstreams want."""
    argv = ["--src", video, "--dst", wav]
    if split:
        argv += ["--split_train", split[0], "--split_novel", split[1]]
    return step(
        "audio",
        "the dataset's audio as 16 kHz mono wav",
        own("to-wav", *argv),
        cwd=req.paths.workspace,
        inputs=(video,),
        outputs=(wav, *split),
        weight=0.2,
    )


def frames_step(req: Any, video: str, data_dir: str) -> Step:
    ori = posixpath.join(data_dir, "ori_imgs")
    return step(
        "frames-landmarks",
        "frames (ori_imgs/*.jpg) and 68-point landmarks (*.lms), offline, on every core",
        own("frames-landmarks", "--video", video, "--track", posixpath.join(data_dir, TRACK), "--out_dir", ori),
        cwd=req.paths.workspace,
        inputs=(video, posixpath.join(data_dir, TRACK)),
        outputs=(posixpath.join(ori, "*.jpg"), posixpath.join(ori, "*.lms")),
        weight=3.0,
        resumable=True,
    )
