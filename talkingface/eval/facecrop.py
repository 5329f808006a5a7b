"""Face tracks and 224x224 crops as joonson/syncnet_python's ``run_pipeline.py`` makes them, for one shot.

Tracking (``track_shot``): detections are chained greedily frame by frame: a face joins the current track when it
is at most ``num_failed_det`` frames after the track's last face and their IoU exceeds 0.5; repeated passes
start new tracks from the faces left over. A track is kept when it has more than ``min_track`` detections and
its mean box width or height exceeds ``min_face_size`` px; boxes are linearly interpolated over missed frames.
The reference also skips a whole shot shorter than ``min_track`` frames; that rule is kept.

Cropping (``crop_video``): box half-size ``s = max(w, h) / 2`` and centre ``(x, y)`` are each median-filtered
over the track (kernel 13, zero-padded at the ends as ``scipy.signal.medfilt`` does); the frame is padded with
grey 110 by ``int(s * (1 + 2 * 0.4))``; the crop spans rows ``[y - s, y + 1.8 s)`` and columns
``[x - 1.4 s, x + 1.4 s)`` (a square of 2.8 s, shifted down to keep the mouth), resized to 224x224 with OpenCV's
default bilinear interpolation.

Differences from running the reference on a video, on purpose:

- No scene detection: a talking-head render is one shot, so the whole clip is tracked as one (the reference cuts
  it with PySceneDetect first; on a clip with a hard cut, tracks could here bridge the cut when IoU allows).
- No re-encoding: the reference first converts the input to MPEG-4 at ``-qscale:v 2``, extracts JPEG frames,
  writes the crops as XVID and extracts them again as JPEG before scoring; here the given frames are detected,
  cropped and scored as they are. Detections, crops and therefore LSE values are not bit-identical to those of a
  full ``run_pipeline.py`` + ``run_syncnet.py`` run on the same video (the compression noise and smoothing of
  the round trip are missing; the size of the difference depends on the video and was not measured here); they
  are the reference's computation on the given pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
from scipy.interpolate import interp1d
from scipy.signal import medfilt

from .s3fd_net import cv2_module

CROP_SIZE = 224
CROP_SCALE = 0.4
PAD_VALUE = 110
SMOOTHING = 13  # median filter kernel over s, x and y


@dataclass(frozen=True)
class FaceTrack:
    frames: np.ndarray  # consecutive frame indices (int), first .. last detection
    boxes: np.ndarray  # float64 (len(frames), 4) x1, y1, x2, y2, interpolated over missed frames


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _faces(frame: int, dets: np.ndarray) -> List[Tuple[int, List[float]]]:
    rows = np.asarray(dets, dtype=np.float64)
    return [(frame, [float(v) for v in row[:4]]) for row in rows.reshape(len(rows), -1)] if rows.size else []


def _chain(pending: List[List[Tuple[int, List[float]]]], *, iou_threshold: float, max_gap: int) -> list:
    """One greedy pass: take the faces of one track out of ``pending`` and return them."""
    track: list = []
    for faces in pending:
        # The reference removes faces from the list it is iterating over, which makes it skip the face right
        # after each one it takes (that face stays for a later pass). Walking an index the same way keeps the
        # tracks identical when a frame has several faces.
        k = 0
        while k < len(faces):
            frame, box = faces[k]
            if not track:
                track.append(faces.pop(k))
            elif frame - track[-1][0] <= max_gap:
                if _iou(box, track[-1][1]) > iou_threshold:
                    track.append(faces.pop(k))
            else:
                break
            k += 1
    return track


def track_faces(
    detections: Sequence[np.ndarray],
    *,
    iou_threshold: float = 0.5,
    num_failed_det: int = 25,
    min_track: int = 100,
    min_face_size: float = 100,
) -> List[FaceTrack]:
    """Tracks from per-frame detections (``detect`` output, ``(K, 5)`` or ``(K, 4)``; frame i = position i).

    ``min_track`` is 100 in ``run_pipeline.py`` (syncnet-python 0.2.3 uses 50); at 25 fps that needs clips of
    more than 4 s, so pass a smaller value for short renders.
    """
    if len(detections) < min_track:
        return []
    pending = [_faces(i, dets) for i, dets in enumerate(detections)]
    tracks: List[FaceTrack] = []
    while True:
        track = _chain(pending, iou_threshold=iou_threshold, max_gap=num_failed_det)
        if not track:
            return tracks
        if len(track) <= min_track:
            continue
        known = np.array([frame for frame, _ in track])
        boxes = np.array([box for _, box in track])
        frames = np.arange(known[0], known[-1] + 1)
        dense = np.stack([interp1d(known, boxes[:, c])(frames) for c in range(4)], axis=1)
        if max(np.mean(dense[:, 2] - dense[:, 0]), np.mean(dense[:, 3] - dense[:, 1])) > min_face_size:
            tracks.append(FaceTrack(frames=frames, boxes=dense))


@dataclass(frozen=True)
class CropWindows:
    """Per frame of a track: the median-filtered box half-size ``s`` and centre ``x``, ``y`` (float64)."""

    s: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.s)

    def __getitem__(self, frames: slice) -> CropWindows:
        """The windows of some frames of the track, e.g. of one decoded batch."""
        return CropWindows(s=self.s[frames], x=self.x[frames], y=self.y[frames])


def smooth_track(boxes: np.ndarray) -> CropWindows:
    """Crop windows of a whole track (``(T, 4)`` boxes): the filter looks 6 frames ahead and back."""
    b = np.asarray(boxes, dtype=np.float64)
    return CropWindows(
        s=medfilt(np.maximum(b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]) / 2, kernel_size=SMOOTHING),
        x=medfilt((b[:, 0] + b[:, 2]) / 2, kernel_size=SMOOTHING),
        y=medfilt((b[:, 1] + b[:, 3]) / 2, kernel_size=SMOOTHING),
    )


def crop_track(
    frames_bgr: Sequence[np.ndarray],
    boxes_per_frame: np.ndarray,
    *,
    smoothed: Optional[CropWindows] = None,
    crop_scale: float = CROP_SCALE,
) -> np.ndarray:
    """uint8 ``(T, 224, 224, 3)`` crops of a face track: ``frames_bgr[t]`` is the frame of ``boxes_per_frame[t]``.

    For a ``FaceTrack`` from ``track_faces``, pass ``frames[track.frames[0] : track.frames[-1] + 1]`` and
    ``track.boxes``. To crop a long track batch by batch, smooth the whole track once and pass the batch's part:
    ``crop_track(batch, track.boxes[a:b], smoothed=smooth_track(track.boxes)[a:b])`` (smoothing only the batch
    would change the frames near its ends).
    """
    cv2 = cv2_module()
    if len(frames_bgr) != len(boxes_per_frame):
        raise ValueError(f"{len(frames_bgr)} frames but {len(boxes_per_frame)} boxes")
    win = smooth_track(boxes_per_frame) if smoothed is None else smoothed
    if len(win) != len(frames_bgr):
        raise ValueError(f"{len(frames_bgr)} frames but {len(win)} smoothed windows")
    out = np.empty((len(frames_bgr), CROP_SIZE, CROP_SIZE, 3), dtype=np.uint8)
    for t, frame in enumerate(frames_bgr):
        s = win.s[t]
        pad = int(s * (1 + 2 * crop_scale))
        padded = cv2.copyMakeBorder(
            np.ascontiguousarray(frame), pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
        )
        cy, cx = win.y[t] + pad, win.x[t] + pad
        face = padded[
            int(cy - s) : int(cy + s * (1 + 2 * crop_scale)),
            int(cx - s * (1 + crop_scale)) : int(cx + s * (1 + crop_scale)),
        ]
        out[t] = cv2.resize(face, (CROP_SIZE, CROP_SIZE))
    return out
