"""Elapsed time and ETA over a plan, weighted by each step's expected cost."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional


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
