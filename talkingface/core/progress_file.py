"""The runner's progress as a JSON file beside its resume markers, for programs that watch a run (the web studio).

``<state_dir>/progress-<verb>.json`` is rewritten (temporary name, then rename) at every step's start and end, so a
reader never sees half a file and never has to parse the runner's text output. Written on the host or in a
container alike: it lives in the workspace, which both see.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Dict, List, Optional

from .plan import Plan
from .progress import PlanProgress

PENDING, RUNNING, DONE, SKIPPED, FAILED = "pending", "running", "done", "skipped", "failed"


def progress_path(state_dir: str, verb: str) -> Path:
    return Path(state_dir) / f"progress-{verb}.json"


class ProgressFile:
    def __init__(self, state_dir: str, plan: Plan, progress: PlanProgress) -> None:
        self.path = progress_path(state_dir, plan.verb)
        self.progress = progress
        self.record: Dict[str, object] = {
            "verb": plan.verb,
            "task": plan.task,
            "pid": os.getpid(),
            # Wall-clock, so a reader in another process (or outside the container) can tell runs apart.
            "started": time.time(),
            "state": RUNNING,
        }
        self.steps: List[Dict[str, object]] = [
            {"id": s.id, "title": s.title, "weight": s.weight, "state": PENDING, "seconds": None, "began": None}
            for s in plan.steps
        ]
        self.write()

    def step(self, number: int, state: str, seconds: Optional[float] = None) -> None:
        entry = self.steps[number - 1]
        entry["state"] = state
        if state == RUNNING:
            entry["began"] = time.time()
        if seconds is not None:
            entry["seconds"] = round(seconds, 3)
        self.write()

    def end(self, state: str) -> None:
        self.record["state"] = state
        self.write()

    def write(self) -> None:
        eta = self.progress.eta()
        total = self.progress.total_weight
        record = {
            **self.record,
            "updated": time.time(),
            "percent": round(100.0 * self.progress.done_weight / total, 1) if total else 100.0,
            "eta_s": None if eta is None else round(eta, 1),
            "steps": self.steps,
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            # Progress is for watchers only: a read-only or full disk must not fail the run itself.
            return
