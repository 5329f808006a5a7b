"""MATLAB's ``imresize`` (bicubic, antialiasing on), in float64, as separable weight matrices.

NIQE's reference results come from MATLAB, which halves the image with this filter between scales; any other
resampling changes the score in the third decimal.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))


@lru_cache(maxsize=32)
def weights(in_length: int, out_length: int, scale: float) -> np.ndarray:
    """The (out_length, in_length) matrix of MATLAB's ``contributions`` for the cubic kernel."""
    width = 4.0 / scale if scale < 1 else 4.0
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]
    distance = u[:, None] - indices
    w = scale * _cubic(scale * distance) if scale < 1 else _cubic(distance)
    w = w / w.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    columns = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    matrix = np.zeros((out_length, in_length))
    np.add.at(matrix, (np.repeat(np.arange(out_length), taps), columns.ravel()), w.ravel())
    return matrix


def imresize_half(image: np.ndarray) -> np.ndarray:
    """``imresize(image, 0.5)`` for a 2-D float64 image; rows are resized first, as MATLAB does for equal scales."""
    rows, cols = image.shape
    out_rows, out_cols = int(math.ceil(rows * 0.5)), int(math.ceil(cols * 0.5))
    return (weights(rows, out_rows, 0.5) @ image) @ weights(cols, out_cols, 0.5).T
