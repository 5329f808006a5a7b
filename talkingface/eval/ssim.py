"""PSNR and SSIM with the conventions the talking-head papers use.

PSNR: per frame, on the whole RGB frame in [0, 1] (ER-NeRF's ``PSNRMeter``), then the mean over frames.
SSIM: Wang et al.'s Gaussian window (sigma 1.5, truncated at 3.5 sigma: 11 taps), population covariance, data
range 1, mean over channels: exactly skimage's ``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1, channel_axis=-1)``, computed for a batch of frames at once.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

K1, K2 = 0.01, 0.03
SIGMA, TRUNCATE = 1.5, 3.5
PAD = int(TRUNCATE * SIGMA + 0.5)  # skimage crops (win_size - 1) // 2 = 5 pixels on each side


def to_unit(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float64) / 255.0


def psnr(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-frame PSNR of uint8 batches (N, H, W, 3); identical frames give inf."""
    mse = ((to_unit(gt) - to_unit(pred)) ** 2).reshape(len(gt), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return -10.0 * np.log10(mse)


def ssim(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-frame SSIM of uint8 batches (N, H, W, C), mean over channels."""
    # Channels first, so each image plane is contiguous: the 1-D passes along H then W are the same arithmetic, in
    # the same order, as skimage's on one channel, but several times faster than on interleaved RGB.
    x = np.ascontiguousarray(to_unit(gt).transpose(0, 3, 1, 2))
    y = np.ascontiguousarray(to_unit(pred).transpose(0, 3, 1, 2))

    def blur(a: np.ndarray) -> np.ndarray:
        return gaussian_filter(a, sigma=(0, 0, SIGMA, SIGMA), truncate=TRUNCATE)

    ux, uy = blur(x), blur(y)
    vx, vy, vxy = blur(x * x) - ux * ux, blur(y * y) - uy * uy, blur(x * y) - ux * uy
    c1, c2 = K1**2, K2**2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    cropped = s[:, :, PAD:-PAD, PAD:-PAD]
    return cropped.reshape(len(s), s.shape[1], -1).mean(axis=2, dtype=np.float64).mean(axis=1)
