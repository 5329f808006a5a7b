"""Runs a plan: one command at a time, each output checked, each finished step remembered.

Upstream projects chain their steps with unchecked ``os.system``; here a step fails when its command exits
non-zero *or* exits 0 without (re)writing its declared outputs. A finished step leaves a marker holding the
fingerprint of its command; a rerun skips steps whose marker matches and whose outputs still exist, so a crash
or Ctrl-C resumes where it stopped.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Dict, List, Optional, Sequence

from .errors import TalkingfaceError
from .plan import Plan, Step
from .progress import PlanProgress, clock


def fingerprint(item: Step, *, forced: bool = False) -> str:
    payload = json.dumps([list(item.command(forced=forced)), item.cwd, sorted(item.env)], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def snapshot(patterns: Sequence[str]) -> Dict[str, int]:
    """Modification times (ns) of every file the patterns match now."""
    seen = {}
    for pattern in patterns:
        for hit in glob.glob(pattern):
            try:
                seen[hit] = os.stat(hit).st_mtime_ns
            except OSError:
                continue
    return seen


def unwritten(patterns: Sequence[str], before: Dict[str, int]) -> List[str]:
    """Patterns under which the step created or changed no file, compared with ``before``."""
    missing = []
    for pattern in patterns:
        now = snapshot([pattern])
        if not any(before.get(path) != mtime for path, mtime in now.items()):
            missing.append(pattern)
    return missing


def outputs_present(patterns: Sequence[str]) -> bool:
    return all(glob.glob(pattern) for pattern in patterns)


@dataclass(frozen=True)
class RunOptions:
    state_dir: str
    logs_dir: str
    force: bool = False
    from_step: Optional[str] = None
    heartbeat_s: float = 60.0


class Runner:
    def __init__(self, options: RunOptions, *, out: Optional[BinaryIO] = None) -> None:
        self.options = options
        self.out = out if out is not None else sys.stdout.buffer

    def say(self, text: str) -> None:
        self.out.write(f"[talkingface] {text}\n".encode())
        self.out.flush()

    def marker_path(self, item: Step) -> Path:
        return Path(self.options.state_dir) / f"{item.id}.done.json"

    def is_done(self, item: Step) -> bool:
        if item.reuse_outputs and item.outputs and outputs_present(item.outputs):
            return True
        marker = self.marker_path(item)
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return recorded.get("fingerprint") in {fingerprint(item), fingerprint(item, forced=True)} and outputs_present(
            item.outputs
        )

    def run(self, plan: Plan) -> None:
        step_ids = [s.id for s in plan.steps]
        if self.options.from_step and self.options.from_step not in step_ids:
            raise TalkingfaceError(
                f"--from_step {self.options.from_step!r} is not a step of this plan",
                fix=f"use one of: {', '.join(step_ids)}",
            )
        forced_from = step_ids.index(self.options.from_step) if self.options.from_step else None
        progress = PlanProgress(total_weight=sum(s.weight for s in plan.steps) or 1.0)
        for number, item in enumerate(plan.steps, 1):
            forced = self.options.force or (forced_from is not None and number - 1 >= forced_from)
            head = f"[{number}/{len(plan.steps)}] {item.id}: {item.title}"
            if not forced and self.is_done(item):
                progress.finish(item.weight, None)
                self.say(f"{head} -- done before, skipped ({progress.status()})")
                continue
            self.say(f"{head} ({progress.status()})")
            seconds = self.run_step(number, item, forced=forced, progress=progress)
            progress.finish(item.weight, seconds)
        self.say(
            f"{plan.verb} {plan.task}: all {len(plan.steps)} steps done in {clock(time.monotonic() - progress.started)}"
        )

    def run_step(self, number: int, item: Step, *, forced: bool, progress: PlanProgress) -> float:
        logs = Path(self.options.logs_dir)
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{number:02d}-{item.id}.log"
        argv = list(item.command(forced=forced))
        env = dict(os.environ)
        for key, value in item.env:
            env[key] = value.replace("${" + key + "}", os.environ.get(key, ""))
        marker = self.marker_path(item)
        marker.unlink(missing_ok=True)
        if item.clean_outputs:
            # Only files of this unfinished step; a finished step is never rerun without --force.
            for pattern in item.outputs:
                for stale in glob.glob(pattern):
                    if os.path.isfile(stale):
                        os.unlink(stale)
        before = snapshot(item.outputs)
        began = time.monotonic()
        with open(log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} cwd={item.cwd} argv={argv}\n".encode())
            log.flush()
            try:
                child = subprocess.Popen(
                    argv,
                    cwd=item.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            except OSError as exc:
                raise TalkingfaceError(
                    f"step {item.id} could not start {argv[0]!r}: {exc.strerror}",
                    fix="check that the image is complete (make build) and the upstream tree is in place",
                    exit_code=1,
                ) from exc
            stop = threading.Event()
            beat = threading.Thread(target=self._heartbeat, args=(item, began, progress, stop), daemon=True)
            beat.start()
            try:
                stream = child.stdout
                for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[union-attr]
                    log.write(chunk)
                    self.out.write(chunk)
                    self.out.flush()
                code = child.wait()
            except BaseException:
                child.terminate()
                child.wait()
                raise
            finally:
                stop.set()
        elapsed = time.monotonic() - began
        if code != 0:
            raise TalkingfaceError(
                f"step {item.id} ({item.title}) failed with exit status {code}; its log is {log_path}",
                fix="read the log, fix the cause, and run the same command again: finished steps are skipped",
                exit_code=1,
            )
        missing = unwritten(item.outputs, before)
        if missing:
            raise TalkingfaceError(
                f"step {item.id} ({item.title}) exited 0 but did not write {missing[0]}; its log is {log_path}",
                fix="the upstream step failed silently: read its log, fix the cause, and run the same command again",
                exit_code=1,
            )
        self._write_marker(marker, item, forced=forced, seconds=elapsed)
        self.say(f"[{number}] {item.id} finished in {clock(elapsed)}")
        return elapsed

    def _write_marker(self, marker: Path, item: Step, *, forced: bool, seconds: float) -> None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_name(marker.name + ".tmp")
        record = {"fingerprint": fingerprint(item, forced=forced), "seconds": round(seconds, 3), "id": item.id}
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, marker)

    def _heartbeat(self, item: Step, began: float, progress: PlanProgress, stop: threading.Event) -> None:
        while not stop.wait(self.options.heartbeat_s):
            self.say(f"... {item.id} running for {clock(time.monotonic() - began)} ({progress.status()})")
