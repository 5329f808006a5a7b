"""FID as pytorch-fid computes it: the 2015 TensorFlow Inception's pool3 features and the Frechet distance.

The network is torchvision's ``Inception3`` (1008 classes, no auxiliary head) with the blocks changed where the
TensorFlow graph differs: its average pools leave the zero padding out of the mean, and the last block pools its pool
branch with a max. ``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid's port of that graph) loads with its own
keys. Frames are resized to 299x299 (bilinear, ``align_corners=False``) and mapped from [0, 1] to [-1, 1] first.

Statistics accumulate in float64 as sums, so memory stays (2048, 2048) however long the video. The distance is
``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2))``; the last trace is taken from eigenvalues, several times
faster than pytorch-fid's ``scipy.linalg.sqrtm`` on 2048x2048 (2 s against 13 s on two cores). The two agree to
1e-14 relative at full rank; with fewer frames than 2049 the product is singular, both carry rounding noise from its
null space, and they agree to about 2e-7 relative (each within about 5e-7 of the exact value).
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.models.inception import (
    BasicConv2d,
    Inception3,
    InceptionA,
    InceptionAux,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE,
)

from .lpips_net import load_exact, read_state_dict

SIZE = 299
DIMS = 2048
# pytorch-fid's check: an eigenvalue of S1 S2 below -IMAG_TOLERANCE**2 would give sqrtm an imaginary part this large.
IMAG_TOLERANCE = 1e-3


def _tf_avg_pool(x: Tensor) -> Tensor:
    # TensorFlow's SAME average pool divides by the number of real pixels under the window, not by 9.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _TfInceptionA(InceptionA):
    def forward(self, x: Tensor) -> Tensor:
        branches = [
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_tf_avg_pool(x)),
        ]
        return torch.cat(branches, 1)


class _TfInceptionC(InceptionC):
    def forward(self, x: Tensor) -> Tensor:
        dbl = x
        for conv in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            dbl = conv(dbl)
        branches = [
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            self.branch7x7dbl_5(dbl),
            self.branch_pool(_tf_avg_pool(x)),
        ]
        return torch.cat(branches, 1)


class _TfInceptionE(InceptionE):
    def __init__(self, in_channels: int, *, max_pool: bool) -> None:
        super().__init__(in_channels)
        self.max_pool = max_pool

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_1(x)
        dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        if self.max_pool:
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _tf_avg_pool(x)
        branches = [
            self.branch1x1(x),
            torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1),
            torch.cat([self.branch3x3dbl_3a(dbl), self.branch3x3dbl_3b(dbl)], 1),
            self.branch_pool(pooled),
        ]
        return torch.cat(branches, 1)


def _tf_inception_e(in_channels: int) -> _TfInceptionE:
    # Inception3 builds Mixed_7b with 1280 inputs and Mixed_7c with 2048; the 2015 graph max-pools only in Mixed_7c.
    return _TfInceptionE(in_channels, max_pool=in_channels == DIMS)


class FidInception(Inception3):
    """pytorch-fid's ``InceptionV3([3])``: frames in [0, 1] of any size to the 2048-d pool3 features."""

    def __init__(self) -> None:
        blocks = [BasicConv2d, _TfInceptionA, InceptionB, _TfInceptionC, InceptionD, _tf_inception_e, InceptionAux]
        # init_weights=False: the file overwrites every weight, and the truncated-normal init is slow.
        super().__init__(num_classes=1008, aux_logits=False, inception_blocks=blocks, init_weights=False)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` float (N, 3, H, W) RGB in [0, 1]; returns (N, 2048)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"FID needs a (N, 3, H, W) batch, got {tuple(x.shape)}")
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (
            self.Mixed_5b, self.Mixed_5c, self.Mixed_5d,
            self.Mixed_6a, self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e,
            self.Mixed_7a, self.Mixed_7b, self.Mixed_7c,
        ):  # fmt: skip
            x = block(x)
        return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)


def load_fid_inception(*, path: str, device: Union[torch.device, str]) -> FidInception:
    """The FID Inception in eval mode on ``device``, from ``pt_inception-2015-12-05-6726825d.pth``."""
    net = FidInception()
    load_exact(net, read_state_dict(path), path=path)
    net.requires_grad_(False)
    return net.eval().to(device)


class RunningStats:
    """Mean and sample covariance (N - 1, as ``np.cov``) of feature rows, accumulated in float64."""

    def __init__(self, dims: int = DIMS) -> None:
        self.dims = dims
        self.count = 0
        # Sums are taken about the first batch's mean: the final ``outer - n mu mu^T`` then cancels no digits
        # when the mean is large against the spread.
        self._shift: Optional[np.ndarray] = None
        self._sum = np.zeros(dims)
        self._outer = np.zeros((dims, dims))

    def update(self, features: Union[np.ndarray, Tensor]) -> None:
        """Add rows of ``features`` (n, dims): a NumPy array or a tensor on any device."""
        if isinstance(features, Tensor):
            features = features.detach().cpu().numpy()
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dims:
            raise ValueError(f"features must be (n, {self.dims}), got {x.shape}")
        if not len(x):
            return
        if self._shift is None:
            self._shift = x.mean(axis=0)
        centred = x - self._shift
        self._sum += centred.sum(axis=0)
        self._outer += centred.T @ centred
        self.count += len(x)

    @property
    def mu(self) -> np.ndarray:
        if self._shift is None:
            raise ValueError("no features were added")
        return self._shift + self._sum / self.count

    @property
    def sigma(self) -> np.ndarray:
        if self.count < 2:
            raise ValueError(f"a covariance needs at least 2 feature rows, got {self.count}")
        mean = self._sum / self.count
        cov = (self._outer - self.count * np.outer(mean, mean)) / (self.count - 1)
        return (cov + cov.T) / 2


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """pytorch-fid's ``calculate_frechet_distance``, with tr(sqrtm(S1 S2)) from eigenvalues.

    S1 S2 = R (R S2) with R = S1^(1/2), and R S2 has the eigenvalues of R S2 R, which is symmetric and positive
    semi-definite: the trace of the principal root is the sum of their square roots. Rounding leaves the null space
    of a singular S1 S2 (fewer frames than 2048) with eigenvalues around +-1e-14; negative ones count as zero, as
    the real part of sqrtm's result does. Clearly negative ones mean the inputs are not covariances: ValueError, as
    pytorch-fid raises on an imaginary component above 1e-3.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"mismatched statistics: {mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}")
    if not all(np.isfinite(a).all() for a in (mu1, sigma1, mu2, sigma2)):
        raise ValueError("statistics contain inf or nan")
    w, v = np.linalg.eigh(sigma1)
    if w.min() < -(IMAG_TOLERANCE**2):
        raise ValueError(f"sigma1 is not positive semi-definite: eigenvalue {w.min()}")
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    product = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    if eigenvalues.min() < -(IMAG_TOLERANCE**2):
        raise ValueError(f"Imaginary component {np.sqrt(-eigenvalues.min())}")
    tr_covmean = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)
