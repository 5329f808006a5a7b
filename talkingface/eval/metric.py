"""What every metric looks like to the scorer: fed aligned batches of one prediction, then asked for its outcome."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from .frames import VideoInfo

# Which way each output column improves, for the report's labels and its best and worst frames.
BETTER: Dict[str, str] = {
    "psnr": "higher",
    "ssim": "higher",
    "lpips": "lower",
    "niqe": "lower",
    "lmd": "lower",
    "fid": "lower",
    "lse_c": "higher",
    "lse_d": "lower",
}


@dataclass
class Outcome:
    """``per_frame`` columns are summarised as mean and std; ``values`` are single numbers (FID, LSE-C, LSE-D)."""

    per_frame: Dict[str, List[float]] = field(default_factory=dict)
    values: Dict[str, float] = field(default_factory=dict)
    details: Dict[str, Any] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class Clip:
    """The prediction being scored, for metrics that need more than aligned frames (its audio, a second pass)."""

    pred: VideoInfo
    gt: VideoInfo
    audio: Optional[str]
    batch: int


class Metric(ABC):
    name: str = ""
    convention: str = ""

    def weights(self) -> Dict[str, str]:
        """File name -> sha256 of every weight file this metric read."""
        return {}

    @abstractmethod
    def start(self, clip: Clip) -> None:
        """Forget the previous prediction."""

    @abstractmethod
    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        """One batch of aligned frames, uint8 RGB [N,H,W,3], the prediction already at the ground truth's size."""

    @abstractmethod
    def finish(self) -> Outcome: ...


# Float intermediates cost tens of bytes a pixel: metrics work on sub-batches of at most this many pixels, so memory
# stays flat from 512x512 up to 1080p whatever the batch size.
CPU_PIXELS = 1 << 21
GPU_PIXELS = 1 << 24


def sub_batches(frames: np.ndarray, *, budget: int) -> List[slice]:
    step = max(1, budget // max(1, frames.shape[1] * frames.shape[2]))
    return [slice(i, i + step) for i in range(0, len(frames), step)]
