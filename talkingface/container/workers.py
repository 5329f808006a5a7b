"""How many worker processes to run, and how each should start: one per core, one thread each."""

from __future__ import annotations

import os


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def init_worker() -> None:
    # One thread per worker process: there is one worker per core already.
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass
