"""Stream a ground truth and one prediction side by side, in batches, through every requested metric."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..core.errors import TalkingfaceError
from .frames import VideoInfo, stream
from .metric import Clip, Metric, Outcome
from .prefetch import Prefetch


@dataclass
class Scores:
    video: str
    notes: List[str] = field(default_factory=list)
    per_frame: Dict[str, List[float]] = field(default_factory=dict)
    values: Dict[str, float] = field(default_factory=dict)
    details: Dict[str, Any] = field(default_factory=dict)
    frames_scored: int = 0
    gt_frames: int = 0
    pred_frames: int = 0

    def add(self, outcome: Outcome) -> None:
        self.per_frame.update(outcome.per_frame)
        self.values.update(outcome.values)
        self.details.update(outcome.details)
        self.notes += outcome.notes

    def columns(self) -> List[str]:
        return [*self.per_frame, *self.values]

    def summary(self) -> Dict[str, Dict[str, Optional[float]]]:
        out: Dict[str, Dict[str, Optional[float]]] = {}
        for name, values in self.per_frame.items():
            finite = np.array([v for v in values if math.isfinite(v)])
            out[name] = {
                "mean": float(finite.mean()) if len(finite) else None,
                "std": float(finite.std()) if len(finite) else None,
                "frames": len(values),
                "infinite_frames": len(values) - len(finite),
            }
        for name, value in self.values.items():
            out[name] = {"value": float(value)}
        return out


# Decoded frames in flight (two streams, each a batch being scored and two prefetched) stay under ~600 MB: at 1080p a
# batch is 8 frames, at 512x512 up to 64.
BATCH_PIXELS = 1 << 24


def frames_per_batch(batch: int, frame_pixels: int) -> int:
    return max(1, min(batch, BATCH_PIXELS // max(1, frame_pixels)))


def score(
    gt: VideoInfo,
    pred: VideoInfo,
    metrics: Sequence[Metric],
    *,
    resample: bool,
    batch: int,
    audio: Optional[str] = None,
) -> Scores:
    result = Scores(video=pred.path)
    if pred.fps != gt.fps and not resample:
        raise TalkingfaceError(
            f"{pred.path} runs at {float(pred.fps):g} fps but the ground truth at {float(gt.fps):g} fps",
            fix="re-render at the same rate, or pass --resample to convert the prediction",
        )
    if pred.fps != gt.fps:
        result.notes.append(f"resampled from {float(pred.fps):g} to {float(gt.fps):g} fps")
    size = (gt.width, gt.height)
    if (pred.width, pred.height) != size:
        result.notes.append(f"resized from {pred.width}x{pred.height} to {gt.width}x{gt.height} (bicubic)")
    batch = frames_per_batch(batch, gt.width * gt.height)
    clip = Clip(pred=pred, gt=gt, audio=audio, batch=batch)
    for metric in metrics:
        metric.start(clip)
    # Both streams come in batches of exactly `batch` frames but the last, so they pair up one to one; scoring stops
    # with the shorter video, and nothing more is decoded.
    gt_batches = Prefetch(stream(gt, batch=batch))
    pred_batches = Prefetch(stream(pred, batch=batch, size=size, fps=gt.fps))
    scored = 0
    try:
        for a, b in zip(gt_batches, pred_batches):
            n = min(len(a), len(b))
            a, b = a[:n], b[:n]
            scored += n
            for metric in metrics:
                metric.update(a, b)
    finally:
        gt_batches.close()
        pred_batches.close()
    for metric in metrics:
        result.add(metric.finish())
    result.frames_scored = scored
    result.gt_frames, result.pred_frames = gt.frames or scored, pred.frames or scored
    if pred.fps == gt.fps and result.gt_frames != result.pred_frames:
        result.notes.append(
            f"frame counts differ (gt {result.gt_frames}, pred {result.pred_frames}): scored the first {scored}"
        )
    return result
