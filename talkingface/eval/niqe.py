"""NIQE exactly as MATLAB's ``niqe_release/computequality.m`` (blocks of 96 px, two scales, the pristine model).

The pristine model is MATLAB's ``modelparameters.mat``; the same numbers ship as basicsr's
``niqe_pris_params.npz`` (see ``talkingface.eval.assets``). Steps, as in ``computequality``: gray via MATLAB's
``rgb2gray`` (rounded to uint8), crop to whole blocks, then per scale a 7x7 Gaussian (sigma 7/6) local mean and
deviation with replicated borders, the normalised image, 18 AGGD features per block; halve with MATLAB's bicubic
``imresize``; finally the distance between the pristine and the image's multivariate Gaussian.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
from scipy.ndimage import correlate
from scipy.special import gamma as gamma_fn

from .imresize import imresize_half

BLOCK = 96
SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))
_GAM = 0.2 + 0.001 * np.arange(9801)  # MATLAB's 0.2:0.001:10
_R_GAM = gamma_fn(2 / _GAM) ** 2 / (gamma_fn(1 / _GAM) * gamma_fn(3 / _GAM))
_RGB2GRAY = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


def _window() -> np.ndarray:
    """``fspecial('gaussian', 7, 7/6)``, normalised again as ``computequality`` does, built the way MATLAB builds it.

    The 2-D window and a 2-D correlation (not two 1-D passes) matter: in flat regions the local deviation is a
    difference of nearly equal sums, and the summation order decides which tiny values come out negative.
    """
    x, y = np.meshgrid(np.arange(-3, 4, dtype=np.float64), np.arange(-3, 4, dtype=np.float64))
    h = np.exp(-(x * x + y * y) / (2 * (7 / 6) * (7 / 6)))
    h[h < np.finfo(np.float64).eps * h.max()] = 0
    h = h / h.sum()
    return h / h.sum()


_WINDOW = _window()


@dataclass(frozen=True)
class PristineModel:
    mu: np.ndarray  # (36,)
    cov: np.ndarray  # (36, 36)

    @classmethod
    def load(cls, path: str) -> PristineModel:
        with np.load(path) as data:
            return cls(
                mu=np.asarray(data["mu_pris_param"], np.float64).ravel(),
                cov=np.asarray(data["cov_pris_param"], np.float64),
            )


def rgb2gray_matlab(rgb: np.ndarray) -> np.ndarray:
    """MATLAB's ``rgb2gray`` on uint8: weighted sum, rounded half away from zero, uint8."""
    return np.floor(rgb.astype(np.float64) @ _RGB2GRAY + 0.5).astype(np.uint8)


def _filter(image: np.ndarray) -> np.ndarray:
    return correlate(image, _WINDOW, mode="nearest")


def _aggd(blocks: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``estimateaggdparam`` for each row of ``blocks`` (n, samples): alpha, beta_left, beta_right."""
    neg, pos = blocks < 0, blocks > 0
    # A flat block has no negative (or positive) values: MATLAB's mean([]) is NaN, and so is the feature here;
    # nanmean and complete-row covariance then leave it out, as nanmean/nancov do.
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt((np.where(neg, blocks, 0) ** 2).sum(1) / neg.sum(1))
        right = np.sqrt((np.where(pos, blocks, 0) ** 2).sum(1) / pos.sum(1))
        gammahat = left / right
        rhat = np.abs(blocks).mean(1) ** 2 / (blocks * blocks).mean(1)
        rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    # MATLAB's min over (r_gam - rhatnorm).^2 skips NaN; a NaN block keeps NaN features.
    alpha = _GAM[np.argmin((_R_GAM[None, :] - np.nan_to_num(rhatnorm, nan=-1.0)[:, None]) ** 2, axis=1)]
    alpha = np.where(np.isnan(rhatnorm), np.nan, alpha)
    ratio = np.sqrt(gamma_fn(1 / alpha) / gamma_fn(3 / alpha))
    return alpha, left * ratio, right * ratio


def _features(structdis: np.ndarray, size: int) -> np.ndarray:
    """18 features for each size x size block: ``computefeature`` of MATLAB, vectorised over blocks."""
    rows, cols = structdis.shape[0] // size, structdis.shape[1] // size
    blocks = structdis.reshape(rows, size, cols, size).transpose(0, 2, 1, 3).reshape(rows * cols, size, size)
    flat = blocks.reshape(len(blocks), -1)
    alpha, left, right = _aggd(flat)
    feats = [alpha, (left + right) / 2]
    for shift in SHIFTS:
        pair = (blocks * np.roll(blocks, shift, axis=(1, 2))).reshape(len(blocks), -1)
        alpha, left, right = _aggd(pair)
        mean = (right - left) * (gamma_fn(2 / alpha) / gamma_fn(1 / alpha))
        feats += [alpha, mean, left, right]
    return np.stack(feats, axis=1)


def niqe_features(gray: np.ndarray) -> np.ndarray:
    """(blocks, 36) features of a 2-D uint8 or float image, as ``computequality`` builds them."""
    rows, cols = (gray.shape[0] // BLOCK) * BLOCK, (gray.shape[1] // BLOCK) * BLOCK
    if rows == 0 or cols == 0:
        raise ValueError(f"NIQE needs at least {BLOCK}x{BLOCK} pixels, got {gray.shape[1]}x{gray.shape[0]}")
    image = gray[:rows, :cols].astype(np.float64)
    per_scale = []
    for scale in (1, 2):
        mu = _filter(image)
        sigma = np.sqrt(np.abs(_filter(image * image) - mu * mu))
        per_scale.append(_features((image - mu) / (sigma + 1), BLOCK // scale))
        if scale == 1:
            image = imresize_half(image)
    return np.concatenate(per_scale, axis=1)


def niqe(image: np.ndarray, model: PristineModel) -> float:
    """NIQE of one image: uint8 RGB (H, W, 3) or gray (H, W). Lower is better."""
    gray = rgb2gray_matlab(image) if image.ndim == 3 else image
    feat = niqe_features(gray)
    complete = feat[~np.isnan(feat).any(axis=1)]
    if len(complete) < 2:
        return float("nan")  # a (nearly) flat image: MATLAB's nancov is undefined too
    mu = np.nanmean(feat, axis=0)
    cov = np.cov(complete, rowvar=False)
    diff = model.mu - mu
    return float(np.sqrt(diff @ np.linalg.pinv((model.cov + cov) / 2) @ diff))
