"""Chunks of frames to worker processes, one per core, with a bounded number in flight and results in order.

The main process only decodes (ffmpeg does that in its own process) and hands chunks on, so memory is a few chunks
whatever the video's length. Workers are spawned, not forked: dlib and OpenCV are loaded fresh in each.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, Deque, Iterator, Optional

from ..container.workers import cores, init_worker


class Ordered:
    """Submit work; ``results()`` yields finished results in submission order while at most ``limit`` wait."""

    def __init__(self, *, workers: int = 0, limit: int = 0) -> None:
        self.workers = workers or cores()
        self.limit = limit or 2 * self.workers
        self._pending: Deque[Future] = deque()
        self._pool: Optional[ProcessPoolExecutor] = None
        if self.workers > 1:
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ.setdefault(name, "1")
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=init_worker)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Iterator[Any]:
        """Queue ``fn(*args)``; yields the results that had to be collected to stay within the limit."""
        if self._pool is None:
            yield fn(*args)
            return
        self._pending.append(self._pool.submit(fn, *args))
        while len(self._pending) > self.limit:
            yield self._pending.popleft().result()

    def drain(self) -> Iterator[Any]:
        while self._pending:
            yield self._pending.popleft().result()

    def close(self) -> None:
        if self._pool is not None:
            for future in self._pending:
                future.cancel()
            self._pool.shutdown(wait=True)

    def __enter__(self) -> Ordered:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
