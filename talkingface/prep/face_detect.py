"""Find the face in every frame with dlib's HOG detector, cheaply: a full-frame search only now and then.

A full search costs about 50 ms on a 512x512 frame with two cores' worth of contention; a search in a square twice
the size of the last face costs about 5 ms and finds the same face. So each chunk of frames searches the whole
frame on its first frame, on every ``SAMPLE_EVERY``-th frame (those also count the faces, for the one-person check)
and, while the face is lost, every ``RETRY``-th frame; other searched frames look around the last face.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

Box = Tuple[float, float, float, float]
# Every third frame is searched: a face does not come and go within 120 ms, and the boxes between are interpolated.
STRIDE = 3
# While the face is lost, the whole frame is searched every RETRY frames (the place it was, every searched frame).
RETRY = 6
# Frames whose faces are all counted, for the one-person check (a multiple of STRIDE).
SAMPLE_EVERY = 48
# Face width the detection frames are scaled to: dlib's window is 80 px, and bigger only costs time.
TARGET_FACE = 90.0

# Detector scores: real faces score about 1 or more; textures that look a little like a face (a badge, a pattern)
# score about 0. A face that starts a track or counts as a second person must score this much; the face already
# tracked, searched for near its last place, needs less.
NEW_FACE = 0.5
SAME_FACE = 0.0

_DETECTOR: Any = None


def detector() -> Any:
    global _DETECTOR
    if _DETECTOR is None:
        import dlib

        _DETECTOR = dlib.get_frontal_face_detector()
    return _DETECTOR


@dataclass(frozen=True)
class ChunkFaces:
    start: int
    boxes: np.ndarray  # (n, 4) float64 in the detection frames' pixels, NaN where no face was found
    searched: np.ndarray  # (n,) bool: frames between two searched ones are judged from them
    sampled: Tuple[Tuple[int, int], ...]  # (frame, number of faces) for the full-frame samples


def find_all(gray: np.ndarray, *, threshold: float = NEW_FACE) -> List[Box]:
    """Faces scoring at least ``threshold``, best first."""
    found, scores, _ = detector().run(gray, 0, threshold)
    ranked = sorted(zip(scores, found), key=lambda pair: -pair[0])
    return [(float(d.left()), float(d.top()), float(d.right()), float(d.bottom())) for _, d in ranked]


def overlap(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def pick(found: Sequence[Box], last: Optional[Box]) -> Optional[Box]:
    """The face that continues the track (largest overlap), or the best-scoring face to start one."""
    if not found:
        return None
    if last is not None:
        best = max(found, key=lambda b: overlap(b, last))
        if overlap(best, last) > 0:
            return best
    return found[0]


def find_near(gray: np.ndarray, last: Box) -> Optional[Box]:
    w = last[2] - last[0]
    cx, cy = (last[0] + last[2]) / 2, (last[1] + last[3]) / 2
    x0, y0 = int(max(0, cx - w)), int(max(0, cy - w))
    x1, y1 = int(min(gray.shape[1], cx + w)), int(min(gray.shape[0], cy + w))
    if x1 - x0 < 40 or y1 - y0 < 40:
        return None
    found = find_all(np.ascontiguousarray(gray[y0:y1, x0:x1]), threshold=SAME_FACE)
    shifted = [(b[0] + x0, b[1] + y0, b[2] + x0, b[3] + y0) for b in found]
    return pick(shifted, last)


def detect_chunk(start: int, frames: np.ndarray) -> ChunkFaces:
    """Faces in ``frames`` (n, H, W) uint8 gray, whose first frame is number ``start`` of the video."""
    boxes = np.full((len(frames), 4), np.nan)
    searched = np.zeros(len(frames), dtype=bool)
    sampled: List[Tuple[int, int]] = []
    last: Optional[Box] = None
    last_full = -RETRY
    for i, gray in enumerate(frames):
        frame = start + i
        if frame % STRIDE:
            continue
        searched[i] = True
        box = None
        sample = frame % SAMPLE_EVERY == 0
        if last is not None and not sample:
            box = find_near(gray, last)
        if box is None and (sample or i - last_full >= RETRY):
            found = find_all(gray)
            last_full = i
            if sample:
                sampled.append((frame, len(found)))
            box = pick(found, last)
        if box is not None:
            boxes[i] = box
            last = box
    return ChunkFaces(start=start, boxes=boxes, searched=searched, sampled=tuple(sampled))


def scout_scale(grays: Sequence[np.ndarray], scale: float) -> Optional[float]:
    """The scale that brings the median face found in ``grays`` (taken at ``scale``) to TARGET_FACE wide."""
    widths = []
    for gray in grays:
        found = find_all(gray)
        if found:
            best = max(found, key=lambda b: b[2] - b[0])
            widths.append((best[2] - best[0]) / scale)
    if not widths:
        return None
    scale = min(2.0, max(0.05, TARGET_FACE / float(np.median(widths))))
    # Scaling by a few percent gains nothing and costs a resampling pass per frame.
    return 1.0 if 0.85 <= scale <= 1.15 else float(scale)
