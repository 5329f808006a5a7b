"""From per-frame face boxes to a verdict (enough face, one person) and the square crop the dataset is cut to.

Pure NumPy, so every rule is tested on made-up tracks. Boxes are (x0, y0, x1, y1) in the source video's displayed
pixels, NaN where no face was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from ..core.errors import TalkingfaceError
from .input_checks import clock

MAX_MISSING = 0.01
# dlib's frontal box spans brows to chin; the NeRF models want the whole head, the neck and some shoulders.
CROP_PER_FACE = 2.6
# Moving the crop's centre down keeps the chin and neck in; the models' torso stages need them.
DROP_PER_FACE = 0.25
# Every face box, grown by this share of its width on each side, must stay inside the crop.
TRACK_MARGIN = 0.3
LISTED_RANGES = 5


@dataclass(frozen=True)
class CropBox:
    """One square in source pixels; the same for every frame, so the background stays still for NeRF."""

    x: int
    y: int
    size: int


def missing_ranges(present: np.ndarray) -> List[Tuple[int, int]]:
    """Runs of frames without a face, as [first, last] frame numbers."""
    ranges: List[Tuple[int, int]] = []
    start = None
    for index, seen in enumerate(present.tolist() + [True]):
        if not seen and start is None:
            start = index
        elif seen and start is not None:
            ranges.append((start, index - 1))
            start = None
    return ranges


def describe_ranges(ranges: List[Tuple[int, int]], fps: float) -> str:
    shown = [f"{clock(a / fps)}-{clock((b + 1) / fps)}" for a, b in ranges[:LISTED_RANGES]]
    more = f" and {len(ranges) - LISTED_RANGES} more" if len(ranges) > LISTED_RANGES else ""
    return ", ".join(shown) + more


def check_faces(present: np.ndarray, faces_sampled: np.ndarray, *, fps: float, path: str) -> None:
    """Raise if more than 1 % of frames have no face, or if most sampled frames show more than one."""
    frames = len(present)
    missing = int(frames - present.sum())
    if frames == 0:
        raise TalkingfaceError(f"{path} has no decodable frames", fix="re-export the video", exit_code=1)
    if missing > MAX_MISSING * frames:
        where = describe_ranges(missing_ranges(present), fps)
        raise TalkingfaceError(
            f"no face found in {missing} of {frames} frames ({100.0 * missing / frames:.1f} %, at most "
            f"{100 * MAX_MISSING:.0f} % allowed) of {path}, at {where} (mm:ss)",
            fix="cut those parts out, or use a video where one face is visible and frontal throughout",
            exit_code=1,
        )
    if len(faces_sampled):
        crowded = int((faces_sampled >= 2).sum())
        if crowded * 2 > len(faces_sampled):
            raise TalkingfaceError(
                f"{path} shows more than one face in {crowded} of {len(faces_sampled)} sampled frames",
                fix="crop the video to the one person to model (ffmpeg -vf crop=W:H:X:Y)",
                exit_code=1,
            )


def judge_unsearched(found: np.ndarray, searched: np.ndarray) -> np.ndarray:
    """Presence for every frame: an unsearched frame has a face when the searched frames around it both do."""
    present = found & searched
    index = np.flatnonzero(searched)
    if len(index) == 0:
        return present
    others = np.flatnonzero(~searched)
    before = index[np.clip(np.searchsorted(index, others) - 1, 0, len(index) - 1)]
    after = index[np.clip(np.searchsorted(index, others), 0, len(index) - 1)]
    present[others] = found[before] & found[after]
    return present


def fill_gaps(boxes: np.ndarray) -> np.ndarray:
    """Interpolate missing boxes from the nearest found ones (a few frames at most, checked before)."""
    out = boxes.astype(np.float64, copy=True)
    seen = ~np.isnan(out[:, 0])
    if not seen.any():
        return out
    index = np.arange(len(out))
    for column in range(4):
        out[:, column] = np.interp(index, index[seen], out[seen, column])
    return out


def crop_box(boxes: np.ndarray, *, width: int, height: int) -> CropBox:
    """A square around the whole track: sized from the median face, grown to hold every box, kept in frame."""
    sizes = boxes[:, 2] - boxes[:, 0]
    face = float(np.median(sizes))
    cx = float(np.median((boxes[:, 0] + boxes[:, 2]) / 2))
    cy = float(np.median((boxes[:, 1] + boxes[:, 3]) / 2)) + DROP_PER_FACE * face
    grow = TRACK_MARGIN * sizes
    reach = max(
        float(np.max(cx - (boxes[:, 0] - grow))),
        float(np.max((boxes[:, 2] + grow) - cx)),
        float(np.max(cy - (boxes[:, 1] - grow))),
        float(np.max((boxes[:, 3] + grow) - cy)),
    )
    size = int(round(min(max(CROP_PER_FACE * face, 2 * reach), width, height)))
    size -= size % 2  # H.264 in yuv420p needs even dimensions before scaling
    x = int(round(min(max(cx - size / 2, 0), width - size)))
    y = int(round(min(max(cy - size / 2, 0), height - size)))
    return CropBox(x=x, y=y, size=size)
