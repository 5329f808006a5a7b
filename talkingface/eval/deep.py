"""LPIPS and FID as metrics of the scorer: torch networks, batched on the chosen device."""

from __future__ import annotations

import os
from typing import Dict, List

import numpy as np

from . import assets
from .metric import Clip, Metric, Outcome


def to_tensor(frames: np.ndarray, device: str):
    """uint8 RGB [N,H,W,3] -> float [N,3,H,W] in [0,1], converted on the device (a quarter of the bytes to copy)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(frames)).to(device, non_blocking=True)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


def sha256s(*paths: str) -> Dict[str, str]:
    return {os.path.basename(p): assets.file_sha256(p) for p in paths}


class Lpips(Metric):
    name = "lpips"
    convention = "LPIPS v0.1, AlexNet backbone, inputs RGB scaled to [-1,1], per frame then the mean (lpips 0.1.4)"

    def __init__(self, *, weights_dir: str, device: str) -> None:
        from .lpips_net import load_lpips

        backbone = assets.locate_network(assets.ALEXNET, weights_dir, metric=self.name)
        heads = assets.locate(assets.LPIPS_HEADS, weights_dir)
        self.device = device
        self.net = load_lpips(backbone_path=backbone, heads_path=heads, device=device)
        self._weights = sha256s(backbone, heads)
        self.values: List[float] = []

    def weights(self) -> Dict[str, str]:
        return self._weights

    def start(self, clip: Clip) -> None:
        self.values = []

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        import torch

        with torch.no_grad():
            a = to_tensor(gt, self.device).mul_(2).sub_(1)
            b = to_tensor(pred, self.device).mul_(2).sub_(1)
            self.values += self.net(a, b).reshape(-1).double().cpu().tolist()

    def finish(self) -> Outcome:
        return Outcome(per_frame={self.name: self.values})


class Fid(Metric):
    name = "fid"
    convention = (
        "pytorch-fid 0.3.0: FID Inception (pt_inception-2015-12-05), RGB [0,1] resized bilinearly to 299x299, pool3 "
        "2048-d; the scored ground-truth frames against the scored predicted frames of each video"
    )

    def __init__(self, *, weights_dir: str, device: str) -> None:
        from .fid_net import RunningStats, load_fid_inception

        path = assets.locate_network(assets.FID_INCEPTION, weights_dir, metric=self.name)
        self.device = device
        self.net = load_fid_inception(path=path, device=device)
        self._weights = sha256s(path)
        self._stats = RunningStats
        self.gt = RunningStats()
        self.pred = RunningStats()

    def weights(self) -> Dict[str, str]:
        return self._weights

    def start(self, clip: Clip) -> None:
        self.gt, self.pred = self._stats(), self._stats()

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        import torch

        with torch.no_grad():
            both = self.net(to_tensor(np.concatenate([gt, pred]), self.device)).double().cpu().numpy()
        self.gt.update(both[: len(gt)])
        self.pred.update(both[len(gt) :])

    def finish(self) -> Outcome:
        from .fid_net import frechet_distance

        notes = []
        if self.pred.count < 2:
            return Outcome(notes=["FID needs at least 2 frames; not computed"])
        if self.pred.count < 2048:
            notes.append(
                f"FID from {self.pred.count} frames (< 2048): covariances are singular, compare like with like"
            )
        value = frechet_distance(self.gt.mu, self.gt.sigma, self.pred.mu, self.pred.sigma)
        return Outcome(values={self.name: value}, notes=notes)
