"""Elapsed time and ETA over a plan, weighted by each step's expected cost."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, TextIO


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@dataclass
class PlanProgress:
    total_weight: float
    now: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    done_weight: float = 0.0
    measured_weight: float = 0.0
    measured_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.now()

    def finish(self, weight: float, seconds: Optional[float]) -> None:
        """Record a finished step; ``seconds`` is None for a skipped step, which says nothing about speed."""
        self.done_weight += weight
        if seconds is not None:
            self.measured_weight += weight
            self.measured_seconds += seconds

    def eta(self) -> Optional[float]:
        if self.measured_weight <= 0:
            return None
        remaining = max(0.0, self.total_weight - self.done_weight)
        return self.measured_seconds / self.measured_weight * remaining

    def status(self) -> str:
        eta = self.eta()
        share = 100.0 * self.done_weight / self.total_weight if self.total_weight else 100.0
        left = clock(eta) if eta is not None else "--:--:--"
        return f"{share:5.1f}% | elapsed {clock(self.now() - self.started)} | ETA {left}"


class FrameMeter:
    """Progress of a long step in frames, printed as whole lines (they land in the step's log as well)."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        out: Optional[TextIO] = None,
        every_s: float = 5.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = max(1, total)
        self.out = out if out is not None else sys.stdout
        self.every_s = every_s
        self.now = now
        self.done = 0
        self.started = now()
        self.last_print = self.started

    def line(self) -> str:
        elapsed = self.now() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = clock((self.total - self.done) / rate) if rate > 0 else "--:--:--"
        share = 100.0 * self.done / self.total
        return f"{self.label}: {self.done}/{self.total} frames ({share:5.1f}%) | {rate:6.1f} frames/s | ETA {eta}"

    def advance(self, frames: int) -> None:
        self.done = min(self.total, self.done + frames)
        if self.now() - self.last_print >= self.every_s:
            self.last_print = self.now()
            print(self.line(), file=self.out, flush=True)

    def finish(self) -> None:
        self.done = self.total
        elapsed = self.now() - self.started
        print(f"{self.label}: {self.total} frames in {clock(elapsed)}", file=self.out, flush=True)
