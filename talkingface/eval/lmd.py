"""LMD (mouth landmark distance) as a metric of the scorer: ER-NeRF's ``LMDMeter(backend='fan', region='mouth')``.

Per frame pair, as the meter computes it (the scorer's frames are already the meter's ``(x * 255).astype(uint8)``):
face-alignment 1.3.5's S3FD on each full RGB frame, FAN landmarks of the *last* face it returns
(``get_landmarks(img)[-1]``), points 48..67 (the mouth) as float32, each set minus its own mean, then the mean over
the 20 points of the Euclidean distance, in pixels of the ground truth's size. The video's LMD is the mean over
frames. Where either frame has no face the meter would fail (``None[-1]``); here that frame's value is NaN, which
the summary leaves out and counts, and a note says how many.

Weights: ``2DFAN4-cd938726ad.zip`` (TorchScript, what face-alignment 1.3.5 downloads under torch 1.12 and 2.0) or
else ``2DFAN4-11f355bf06.pth.tar`` (the same network as a state dict, face-alignment 1.2.0 and 1.5.0), and
``s3fd-619a316812.pth``.
"""

from __future__ import annotations

import math
import os
from typing import Dict, List

import numpy as np

from . import assets
from .deep import sha256s
from .metric import Clip, Metric, Outcome

FAN_2D, FAN_2D_STATE, SFD = assets.FAN_2D, assets.FAN_2D_STATE, assets.FA_S3FD

MOUTH = slice(48, 68)
# S3FD runs on full frames: its first layers hold hundreds of bytes a pixel, so frames go through it in groups of at
# most this many pixels (8 frames of 512x512, one of 1080p).
DETECT_PIXELS = 1 << 21
FAN_BATCH = 32  # 256x256 crops per FAN pass


def mouth_distances(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """float32 ``(N,)`` LMDMeter distances of landmark sets ``(N, 68, 2)``, in its float32 operation order."""
    a = gt[:, MOUTH].astype(np.float32)
    b = pred[:, MOUTH].astype(np.float32)
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return np.sqrt(((b - a) ** 2).sum(-1)).mean(-1)


class Lmd(Metric):
    name = "lmd"
    convention = (
        "ER-NeRF LMDMeter (backend fan, region mouth) with face-alignment 1.3.5: its S3FD on the full RGB frame, "
        "the last face it returns, 2DFAN4 68 landmarks (whole pixels, as 1.3.5 truncates them), points 48-67 each "
        "set centred on its own mean, mean Euclidean distance in ground-truth pixels per frame, then the mean over "
        "frames; frames where either video has no face are NaN and left out"
    )

    def __init__(self, *, weights_dir: str, device: str) -> None:
        from .fan_net import load_fan, load_sfd

        fan_path = os.path.join(weights_dir, FAN_2D.relative_path)
        if not os.path.isfile(fan_path) and os.path.isfile(os.path.join(weights_dir, FAN_2D_STATE.relative_path)):
            fan_path = assets.locate_network(FAN_2D_STATE, weights_dir, metric=self.name)
        else:
            fan_path = assets.locate_network(FAN_2D, weights_dir, metric=self.name)
        sfd_path = assets.locate_network(SFD, weights_dir, metric=self.name)
        self.device = device
        self.fan, self.fan_source = load_fan(path=fan_path, device=device)
        self.sfd = load_sfd(path=sfd_path, device=device)
        self._weights = sha256s(fan_path, sfd_path)
        self.values: List[float] = []
        self.missing = {"gt": 0, "pred": 0}

    def weights(self) -> Dict[str, str]:
        return self._weights

    def start(self, clip: Clip) -> None:
        self.values = []
        self.missing = {"gt": 0, "pred": 0}

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        from .fan_net import detect_faces, landmarks

        frames = np.concatenate([gt, pred])
        faces = detect_faces(self.sfd, frames, batch_size=max(1, DETECT_PIXELS // (gt.shape[1] * gt.shape[2])))
        found = [i for i, boxes in enumerate(faces) if len(boxes)]
        # get_landmarks(img)[-1]: the last of the boxes, which come best first.
        points = landmarks(self.fan, [frames[i] for i in found], [faces[i][-1] for i in found], batch_size=FAN_BATCH)
        by_frame = dict(zip(found, points))
        n = len(gt)
        for k in range(n):
            a, b = by_frame.get(k), by_frame.get(n + k)
            self.missing["gt"] += a is None
            self.missing["pred"] += b is None
            if a is None or b is None:
                self.values.append(float("nan"))
            else:
                self.values.append(float(mouth_distances(a[None], b[None])[0]))

    def finish(self) -> Outcome:
        notes = []
        left_out = sum(1 for v in self.values if math.isnan(v))
        if left_out:
            notes.append(
                f"LMD left out {left_out} of {len(self.values)} frames with no face found (ground truth: "
                f"{self.missing['gt']}, prediction: {self.missing['pred']})"
            )
        details = {self.name: {"frames_without_face": dict(self.missing), "fan_file": self.fan_source}}
        return Outcome(per_frame={self.name: self.values}, details=details, notes=notes)
