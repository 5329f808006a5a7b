"""LPIPS and FID as metrics of the scorer: torch networks, batched on the chosen device."""

from __future__ import annotations

import os
from typing import Dict, List

import numpy as np

from . import assets
from .metric import CPU_PIXELS, GPU_PIXELS, Clip, Metric, Outcome, sub_batches
from .uploads import upload


def to_float(frames):
    """uint8 RGB tensor [N,H,W,3] -> float [N,3,H,W] in [0,1], on its device (uint8 is a quarter of the bytes)."""
    return frames.permute(0, 3, 1, 2).float().div_(255.0)


def budget(device: str) -> int:
    return GPU_PIXELS if device.startswith("cuda") else CPU_PIXELS


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

        g, p = upload(gt, self.device), upload(pred, self.device)
        for part in sub_batches(gt, budget=budget(self.device)):
            with torch.no_grad():
                a = to_float(g[part]).mul_(2).sub_(1)
                b = to_float(p[part]).mul_(2).sub_(1)
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
        # On a GPU the statistics stay beside the features (see DeviceRunningStats).
        self._stats = DeviceRunningStats if device.startswith("cuda") else RunningStats
        self.gt, self.pred = self._stats(), self._stats()

    def weights(self) -> Dict[str, str]:
        return self._weights

    def start(self, clip: Clip) -> None:
        self.gt, self.pred = self._stats(), self._stats()

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        import torch

        g, p = upload(gt, self.device), upload(pred, self.device)
        # Frames are resized to 299x299 first, so the pixel budget is per input frame; both videos in one pass.
        for part in sub_batches(gt, budget=budget(self.device) // 2):
            with torch.no_grad():
                both = self.net(to_float(torch.cat([g[part], p[part]])))
            self.gt.update(both[: len(both) // 2])
            self.pred.update(both[len(both) // 2 :])

    def finish(self) -> Outcome:
        from .fid_net import frechet_distance

        notes = []
        if self.pred.count < 2:
            return Outcome(notes=["FID needs at least 2 frames; not computed"])
        if self.pred.count < 2048:
            notes.append(
                f"FID from {self.pred.count} frames (< 2048): covariances are singular, compare like with like"
            )
        if self.device.startswith("cuda"):
            value = frechet_distance_on(self.device, self.gt.mu, self.gt.sigma, self.pred.mu, self.pred.sigma)
        else:
            value = frechet_distance(self.gt.mu, self.gt.sigma, self.pred.mu, self.pred.sigma)
        return Outcome(values={self.name: value}, notes=notes)


def frechet_distance_on(device: str, mu1, sigma1, mu2, sigma2) -> float:
    """``fid_net.frechet_distance``'s arithmetic (float64, symmetric eigenproblems) on the GPU: 2048x2048
    eigendecompositions take seconds on a few CPU cores, a fixed cost per video that would dominate short clips."""
    import torch

    from .fid_net import IMAG_TOLERANCE

    s1 = torch.as_tensor(sigma1, dtype=torch.float64, device=device)
    s2 = torch.as_tensor(sigma2, dtype=torch.float64, device=device)
    w, v = torch.linalg.eigh(s1)
    if float(w.min()) < -(IMAG_TOLERANCE**2):
        raise ValueError(f"sigma1 is not positive semi-definite: eigenvalue {float(w.min())}")
    root1 = (v * w.clamp(min=0).sqrt()) @ v.T
    product = root1 @ s2 @ root1
    eigenvalues = torch.linalg.eigvalsh((product + product.T) / 2)
    if float(eigenvalues.min()) < -(IMAG_TOLERANCE**2):
        raise ValueError(f"Imaginary component {float((-eigenvalues.min()).sqrt())}")
    tr_covmean = float(eigenvalues.clamp(min=0).sqrt().sum())
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


class DeviceRunningStats:
    """``fid_net.RunningStats`` with its float64 sums kept on the features' device: on a GPU, the 2048x2048 outer
    products of every batch cost nothing, where on the host they took longer than the network."""

    def __init__(self) -> None:
        self.count = 0
        self._shift = self._sum = self._outer = None

    def update(self, features) -> None:
        x = features.detach().double()
        if not len(x):
            return
        if self._shift is None:
            self._shift = x.mean(0)
            self._sum = x.new_zeros(x.shape[1])
            self._outer = x.new_zeros((x.shape[1], x.shape[1]))
        centred = x - self._shift
        self._sum += centred.sum(0)
        self._outer += centred.T @ centred
        self.count += len(x)

    @property
    def mu(self) -> np.ndarray:
        return (self._shift + self._sum / self.count).cpu().numpy()

    @property
    def sigma(self) -> np.ndarray:
        mean = self._sum / self.count
        cov = (self._outer - self.count * mean[:, None] * mean[None, :]) / (self.count - 1)
        return ((cov + cov.T) / 2).cpu().numpy()
