"""PSNR, SSIM and NIQE in torch, batched over frames, on any device: the NumPy modules' twins.

``ssim.py``, ``niqe.py`` and ``imresize.py`` are the references; everything here is float64 and follows them step by
step, so per-frame results agree to about 1e-12 (tests hold them to 1e-6). Written for torch >= 1.12.
"""

from __future__ import annotations

from functools import lru_cache
from typing import List, Tuple

import numpy as np
import torch
from scipy.special import gamma as gamma_fn

from . import niqe as niqe_ref
from .imresize import weights as resize_weights
from .niqe import BLOCK, SHIFTS, PristineModel
from .ssim import K1, K2, PAD, SIGMA

Tensor = torch.Tensor

# The AGGD lookup, with the gamma-function ratios evaluated once per table entry by the same scipy calls as the
# reference: gathering them by index gives its values bit for bit, which torch.lgamma would not.
_RATIO_SCALE = np.sqrt(gamma_fn(1 / niqe_ref._GAM) / gamma_fn(3 / niqe_ref._GAM))
_RATIO_MEAN = gamma_fn(2 / niqe_ref._GAM) / gamma_fn(1 / niqe_ref._GAM)
_WINDOW_TAPS = [(dy, dx, float(niqe_ref._WINDOW[dy, dx])) for dy in range(7) for dx in range(7)]


def _frames(frames: Tensor, name: str) -> Tensor:
    if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{name} must be uint8 (N, H, W, 3), got {frames.dtype} {tuple(frames.shape)}")
    return frames


def _pair(gt: Tensor, pred: Tensor) -> Tuple[Tensor, Tensor]:
    _frames(gt, "gt")
    _frames(pred, "pred")
    if gt.shape != pred.shape:
        raise ValueError(f"gt {tuple(gt.shape)} and pred {tuple(pred.shape)} differ in shape")
    return gt, pred


def psnr_t(gt: Tensor, pred: Tensor) -> Tensor:
    """Per-frame PSNR (N,) of uint8 batches (N, H, W, 3) in [0, 1]; identical frames give inf."""
    gt, pred = _pair(gt, pred)
    diff = gt.double() / 255.0 - pred.double() / 255.0  # the reference's rounding: each frame scaled, then subtracted
    return -10.0 * torch.log10((diff * diff).flatten(1).mean(1))


def _reflect(index: np.ndarray, length: int) -> np.ndarray:
    """scipy's mode='reflect' (half-sample symmetric, edge repeated), for any overhang."""
    index = np.mod(index, 2 * length)
    return np.where(index >= length, 2 * length - 1 - index, index)


# Rows (or columns) blurred per matrix product: the float64 blur is a product with a banded matrix (tensor-core
# DGEMM on a GPU); tiles keep its cost per pixel fixed, where one (H, H) matrix grows with the frame.
_TILE = 64


@lru_cache(maxsize=16)
def _blur_tiles(length: int, device: torch.device) -> Tuple[Tensor, Tensor]:
    """gaussian_filter1d(sigma 1.5, truncate 3.5, mode='reflect') along an axis of ``length`` samples, in tiles.

    Returns the source index of every input sample of every tile, (tiles, tile + 10), with the boundary folded in as
    scipy's 'reflect', and the band matrix (tile, tile + 10) that blurs one tile. Outputs past ``length`` are junk.
    """
    tile = min(_TILE, length)
    tiles = -(-length // tile)
    positions = np.arange(tiles)[:, None] * tile - PAD + np.arange(tile + 2 * PAD)[None, :]
    taps = np.arange(-PAD, PAD + 1, dtype=np.float64)
    kernel = np.exp(-0.5 / SIGMA**2 * taps**2)
    kernel /= kernel.sum()
    band = np.zeros((tile, tile + 2 * PAD))
    for row in range(tile):
        band[row, row : row + 2 * PAD + 1] = kernel
    return torch.from_numpy(_reflect(positions, length)).to(device), torch.from_numpy(band).to(device)


def _blur_rows(maps: Tensor, keep: slice) -> Tensor:
    """Blur (..., H, W) along H and keep rows ``keep``."""
    index, band = _blur_tiles(maps.shape[-2], maps.device)
    out = torch.matmul(band, maps[..., index, :])  # (..., tiles, tile, W)
    return out.reshape(maps.shape[:-2] + (-1, maps.shape[-1]))[..., keep, :]


def _blur_cols(maps: Tensor, keep: slice) -> Tensor:
    """Blur (..., H, W) along W and keep columns ``keep``."""
    index, band = _blur_tiles(maps.shape[-1], maps.device)
    out = torch.matmul(maps[..., index], band.t())  # (..., H, tiles, tile)
    return out.reshape(maps.shape[:-1] + (-1,))[..., keep]


def ssim_t(gt: Tensor, pred: Tensor) -> Tensor:
    """Per-frame SSIM (N,) of uint8 batches (N, H, W, 3): skimage's Gaussian SSIM, mean over channels."""
    gt, pred = _pair(gt, pred)
    n, h, w, c = gt.shape
    # The five maps in one tensor, blurred together: few large matrix products instead of many small ones.
    maps = torch.empty((n, 5 * c, h, w), dtype=torch.float64, device=gt.device)
    x, y = maps[:, :c], maps[:, c : 2 * c]
    x.copy_(gt.permute(0, 3, 1, 2)).div_(255.0)
    y.copy_(pred.permute(0, 3, 1, 2)).div_(255.0)
    torch.mul(x, x, out=maps[:, 2 * c : 3 * c])
    torch.mul(y, y, out=maps[:, 3 * c : 4 * c])
    torch.mul(x, y, out=maps[:, 4 * c :])
    # Only the part left after skimage's crop is needed: crop rows after the first pass, columns after the second.
    blurred = _blur_cols(_blur_rows(maps, slice(PAD, h - PAD)), slice(PAD, w - PAD))
    ux, uy, xx, yy, xy = blurred.split(c, dim=1)
    vx, vy, vxy = xx - ux * ux, yy - uy * uy, xy - ux * uy
    c1, c2 = K1**2, K2**2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.flatten(2).mean(2).mean(1)


def rgb2gray_t(frames: Tensor) -> Tensor:
    """MATLAB's ``rgb2gray`` of uint8 (N, H, W, 3), as float64 (N, H, W) holding the rounded uint8 values."""
    rgb = frames.double()
    r, g, b = (float(v) for v in niqe_ref._RGB2GRAY)
    return torch.floor(rgb[..., 0] * r + rgb[..., 1] * g + rgb[..., 2] * b + 0.5)


def _replicate_index(length: int, device: torch.device) -> Tensor:
    return torch.arange(-3, length + 3, device=device).clamp(0, length - 1)


def _local_filter(images: Tensor) -> Tensor:
    """scipy ``correlate(image, window, mode='nearest')`` for each image of (N, H, W), bit for bit (checked on CPU).

    Same 2-D window, same taps in the same (row-major) order, each product rounded before its sum: in flat regions
    the local variance is a difference of nearly equal sums and the reference's rounding decides its sign, and with
    it which pixels count as negative in the AGGD fit. Multiply and add stay separate ops so no FMA changes that.
    """
    _, h, w = images.shape
    padded = images[:, _replicate_index(h, images.device)][:, :, _replicate_index(w, images.device)]
    acc = torch.zeros_like(images)
    term = torch.empty_like(images)
    for dy, dx, weight in _WINDOW_TAPS:
        torch.mul(padded[:, dy : dy + h, dx : dx + w], weight, out=term)
        acc += term
    return acc


def _nearest(rhatnorm: Tensor) -> Tensor:
    """Index of the table entry nearest ``rhatnorm``: the reference's argmin of squared differences, first on ties.

    The table increases strictly, so only the two neighbours of the insertion point can be nearest.
    """
    table = torch.as_tensor(niqe_ref._R_GAM, device=rhatnorm.device)
    hi = torch.searchsorted(table, rhatnorm.contiguous()).clamp(1, len(table) - 1)
    lo = hi - 1
    below, above = (table[lo] - rhatnorm) ** 2, (table[hi] - rhatnorm) ** 2
    return torch.where(below <= above, lo, hi)


def _aggd(samples: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """``estimateaggdparam`` for each row of (..., samples): alpha, beta_left, beta_right and the table index."""
    neg, pos = samples < 0, samples > 0
    square = samples * samples
    # An empty side gives 0/0 = NaN, as MATLAB's mean([]) does; such features are left out later.
    left = torch.sqrt(square.masked_fill(~neg, 0).sum(-1) / neg.sum(-1))
    right = torch.sqrt(square.masked_fill(~pos, 0).sum(-1) / pos.sum(-1))
    gammahat = left / right
    rhat = samples.abs().mean(-1) ** 2 / square.mean(-1)
    rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    missing = torch.isnan(rhatnorm)
    index = _nearest(rhatnorm.masked_fill(missing, -1.0))
    # A missing fit leaves alpha and both betas NaN (the reference's gamma(NaN)), even where one side was measured.
    alpha = torch.as_tensor(niqe_ref._GAM, device=samples.device)[index].masked_fill(missing, float("nan"))
    ratio = torch.as_tensor(_RATIO_SCALE, device=samples.device)[index].masked_fill(missing, float("nan"))
    return alpha, left * ratio, right * ratio, index


def _block_features(structdis: Tensor, size: int) -> Tensor:
    """(N, blocks, 18) features of each size x size block, ``computefeature`` vectorised over frames and blocks."""
    n, h, w = structdis.shape
    rows, cols = h // size, w // size
    blocks = structdis.reshape(n, rows, size, cols, size).permute(0, 1, 3, 2, 4).reshape(n, rows * cols, size, size)
    # The raw block and its products with the four neighbours (cyclic within the block, as np.roll) in one batch.
    samples = torch.stack([blocks] + [blocks * torch.roll(blocks, shift, dims=(2, 3)) for shift in SHIFTS])
    alpha, left, right, index = _aggd(samples.flatten(3))
    mean_ratio = torch.as_tensor(_RATIO_MEAN, device=structdis.device)[index]
    mean = (right - left) * mean_ratio
    feats: List[Tensor] = [alpha[0], (left[0] + right[0]) / 2]
    for k in range(1, len(SHIFTS) + 1):
        feats += [alpha[k], mean[k], left[k], right[k]]
    return torch.stack(feats, dim=-1)


@lru_cache(maxsize=16)
def _half_matrix(length: int, device: torch.device) -> Tensor:
    return torch.from_numpy(resize_weights(length, (length + 1) // 2, 0.5)).to(device)


def _imresize_half(images: Tensor) -> Tensor:
    """MATLAB ``imresize(image, 0.5)`` of each image of (N, H, W), with imresize.py's weight matrices."""
    _, h, w = images.shape
    return torch.matmul(torch.matmul(_half_matrix(h, images.device), images), _half_matrix(w, images.device).t())


def niqe_features_t(gray: Tensor) -> Tensor:
    """(N, blocks, 36) NIQE features of float64 gray images (N, H, W), as ``niqe.niqe_features`` per image."""
    rows, cols = (gray.shape[1] // BLOCK) * BLOCK, (gray.shape[2] // BLOCK) * BLOCK
    if rows == 0 or cols == 0:
        raise ValueError(f"NIQE needs at least {BLOCK}x{BLOCK} pixels, got {gray.shape[2]}x{gray.shape[1]}")
    image = gray[:, :rows, :cols].contiguous()
    per_scale = []
    for scale in (1, 2):
        n = len(image)
        filtered = _local_filter(torch.cat([image, image * image]))
        mu, mu_sq = filtered[:n], filtered[n:]
        sigma = torch.sqrt(torch.abs(mu_sq - mu * mu))
        per_scale.append(_block_features((image - mu) / (sigma + 1), BLOCK // scale))
        if scale == 1:
            image = _imresize_half(image)
    return torch.cat(per_scale, dim=-1)


def niqe_t(frames: Tensor, model: PristineModel) -> Tensor:
    """Per-frame NIQE (N,) float64 of uint8 RGB (N, H, W, 3) or gray (N, H, W) frames. Lower is better.

    NaN for a frame with fewer than two blocks free of NaN features (a nearly flat frame), as the reference.
    """
    if frames.dtype != torch.uint8 or frames.dim() not in (3, 4) or (frames.dim() == 4 and frames.shape[-1] != 3):
        raise ValueError(f"frames must be uint8 (N, H, W, 3) or (N, H, W), got {frames.dtype} {tuple(frames.shape)}")
    gray = rgb2gray_t(frames) if frames.dim() == 4 else frames.double()
    feat = niqe_features_t(gray)
    return _distance(feat, model)


def _distance(feat: Tensor, model: PristineModel) -> Tensor:
    """The reference's nanmean / complete-row covariance / pinv distance, for (N, blocks, 36) at once."""
    device = feat.device
    nan = torch.isnan(feat)
    # nanmean over blocks, per feature.
    mu = feat.masked_fill(nan, 0).sum(1) / (~nan).sum(1)
    # np.cov over the complete rows (blocks without any NaN feature), normalised by count - 1.
    complete = ~nan.any(2, keepdim=True)
    count = complete.sum(1)
    centred = feat - feat.masked_fill(~complete, 0).sum(1, keepdim=True) / count.unsqueeze(1)
    centred = centred.masked_fill(~complete, 0)
    valid = count.squeeze(1) >= 2
    cov = torch.matmul(centred.transpose(1, 2), centred) / (count.unsqueeze(2) - 1)
    # A frame without a covariance is NaN anyway; keep its non-finite values out of the factorisations.
    cov = cov.masked_fill(~valid[:, None, None], 0)
    model_mu = torch.as_tensor(model.mu, device=device)
    model_cov = torch.as_tensor(model.cov, device=device)
    diff = (model_mu - mu).masked_fill(~valid[:, None], 0)
    matrix = (model_cov + cov) / 2
    # The pristine covariance is positive definite (condition ~1e5) and the image's is semi-definite, so the matrix is
    # invertible and pinv is its inverse: a Cholesky solve gives the same to ~1e-11. A batched SVD on a GPU takes
    # about 1 ms per 36x36 matrix, more than the rest of NIQE. pinv (numpy's cutoff) stays for a matrix Cholesky
    # refuses, which only a singular one would be.
    chol, info = torch.linalg.cholesky_ex(matrix)
    solved = torch.cholesky_solve(diff.unsqueeze(2), chol).squeeze(2)
    refused = info != 0
    if bool(refused.any()):
        inverse = torch.pinverse(matrix[refused], rcond=1e-15)  # rcond: numpy's cutoff, in any torch version
        solved[refused] = torch.matmul(inverse, diff[refused].unsqueeze(2)).squeeze(2)
    score = torch.sqrt((diff * solved).sum(1))
    return score.masked_fill(~valid, float("nan"))
