"""Spread per-frame NumPy work over the CPU cores: each worker scores a slice of the batch.

Spawned workers (not forked), because the parent may hold torch's threads. They live as long as the process.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, List, Optional

import numpy as np

_POOL: Optional[ProcessPoolExecutor] = None


def workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _pool() -> ProcessPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ProcessPoolExecutor(max_workers=workers(), mp_context=multiprocessing.get_context("spawn"))
    return _POOL


def map_slices(fn: Callable[..., np.ndarray], *batches: np.ndarray) -> List[float]:
    """``fn(*slices)`` on contiguous slices of the batches, one per core; per-frame results in order."""
    n = len(batches[0])
    count = min(workers(), n)
    if count <= 1:
        return [float(v) for v in fn(*batches)]
    bounds = np.linspace(0, n, count + 1).astype(int)
    futures = [_pool().submit(fn, *(b[lo:hi] for b in batches)) for lo, hi in zip(bounds[:-1], bounds[1:])]
    return [float(v) for f in futures for v in f.result()]
