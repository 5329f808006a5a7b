"""Spread per-frame NumPy work over the CPU cores: slices of each batch go to worker processes.

Work is submitted without waiting, so SSIM and NIQE slices of the same batch (and the next batch's decoding in the
main process) run at the same time; results are collected in order. Spawned workers (not forked), because the
parent may hold torch's threads; they live as long as the process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Callable, Deque, List, Optional

import numpy as np

from ..container.workers import cores as workers
from ..container.workers import init_worker

_POOL: Optional[ProcessPoolExecutor] = None


def _pool() -> ProcessPoolExecutor:
    global _POOL
    if _POOL is None:
        # Workers start their own BLAS with one thread each (they read this when numpy loads): with one worker per
        # core, more threads only fight over the cores. The parent's BLAS is already running and keeps its threads.
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = "1"
        context = multiprocessing.get_context("spawn")
        _POOL = ProcessPoolExecutor(max_workers=workers(), mp_context=context, initializer=init_worker)
    return _POOL


class Pending:
    """Per-frame results of work in flight, in submission order; at most ``limit`` slices wait at a time."""

    def __init__(self, *, limit: int = 0) -> None:
        self.limit = limit or 4 * workers()
        self.values: List[float] = []
        self._futures: Deque[Future] = deque()

    def submit(self, fn: Callable[..., np.ndarray], *batches: np.ndarray) -> None:
        n = len(batches[0])
        count = min(workers(), n)
        if workers() <= 1 or n == 0:
            self._drain(0)
            self.values += [float(v) for v in fn(*batches)]
            return
        bounds = np.linspace(0, n, count + 1).astype(int)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            self._futures.append(_pool().submit(fn, *(b[lo:hi] for b in batches)))
        self._drain(self.limit)

    def _drain(self, keep: int) -> None:
        while len(self._futures) > keep:
            self.values += [float(v) for v in self._futures.popleft().result()]

    def collect(self) -> List[float]:
        self._drain(0)
        return self.values
