"""Runs a plan: one command at a time, each output checked, each finished step remembered.

Upstream projects chain their steps with unchecked ``os.system``; here a step fails when its command exits
non-zero *or* exits 0 without (re)writing its declared outputs. A finished step leaves a marker holding the
fingerprint of its command and of its inputs' content; a rerun skips steps whose marker matches and whose outputs
still exist, so a crash or Ctrl-C resumes where it stopped, and a changed input redoes what depends on it (as does
an earlier step the step comes ``after`` that ran again). A step redone that way may replace the outputs it wrote
itself (see ``Step.forced_overwrites``), never a file it did not write.
A resumable step (our own per-frame steps) killed half-way keeps its finished frames for the next attempt.
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
from typing import BinaryIO, Dict, List, Optional, Sequence, TextIO, Tuple

from ..core.atomic import replacing
from ..core.content_hashes import ContentHashes
from ..core.errors import DISK_ERROR_WORDS, TalkingfaceError, disk_error
from ..core.host_paths import active, to_host
from ..core.plan import Plan, Step
from ..core.progress import PlanProgress, clock
from ..core.progress_file import DONE, FAILED, RUNNING, SKIPPED, ProgressFile


def fingerprint(item: Step, *, forced: bool = False, hashes: Optional[ContentHashes] = None) -> str:
    """The command and the content of its inputs: a changed input means a rerun."""
    inputs = (hashes or ContentHashes()).state(item.inputs)
    payload = json.dumps([list(item.command(forced=forced)), item.cwd, sorted(item.env), inputs], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def remove_partials(patterns: Sequence[str]) -> None:
    """Temporary files a killed step left beside its outputs (``atomic.replacing`` names them .<name>.partial-*)."""
    for folder in {os.path.dirname(p) for p in patterns}:
        for stale in glob.glob(os.path.join(glob.escape(folder), ".*.partial-*")):
            try:
                os.unlink(stale)
            except OSError:
                continue


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


def done_all(count: int) -> str:
    return "nothing to run" if count == 0 else "1 step done" if count == 1 else f"all {count} steps done"


ERROR_PREFIX = b"error: "
FIX_MARK = " -- fix: "
# The last line a failing step printed names the cause (an upstream traceback ends with the exception); long lines
# are cut, the log has them whole.
CAUSE_CHARS = 300


class StepOutput:
    """Echoes a step's output as it comes, but holds back our own steps' one-line errors (``error: P -- fix: F``).

    The runner then prints a single line for the failure, with the step's cause and fix and the log's path, instead
    of the step's line followed by its own. Progress bars (``\r`` without ``\n``) still show at once: only text
    that may begin such an error line waits for its end.
    """

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.pending = b""
        self.current = b""
        self.mid_line = False
        self.held: List[str] = []
        self.last_line = ""

    def feed(self, data: bytes) -> None:
        while data:
            if self.mid_line:
                end = data.find(b"\n")
                if end < 0:
                    self._show(data)
                    self.current = (self.current + data)[-CAUSE_CHARS * 4 :]
                    break
                self._show(data[: end + 1])
                self._remember(self.current + data[:end])
                data, self.current, self.mid_line = data[end + 1 :], b"", False
                continue
            self.pending, data = self.pending + data, b""
            end = self.pending.find(b"\n")
            if end >= 0:
                line, data, self.pending = self.pending[: end + 1], self.pending[end + 1 :], b""
                self._line(line)
            elif not (self.pending.startswith(ERROR_PREFIX) or ERROR_PREFIX.startswith(self.pending)):
                self._show(self.pending)
                self.current, self.pending, self.mid_line = self.pending, b"", True
        self.out.flush()

    def close(self, *, failed: bool) -> None:
        """The step ended: a successful step's held lines are shown after all; a failed step's last is its cause."""
        if self.pending:
            self._line(self.pending)
        self._remember(self.current)
        self.pending = self.current = b""
        for text in self.held[:-1] if failed else self.held:
            self.out.write(f"{to_host(text)}\n".encode())
        self.out.flush()

    def error(self) -> Optional[Tuple[str, str]]:
        """(problem, fix) of the step's own error line, if it printed one."""
        if not self.held:
            return None
        problem, _, fix = self.held[-1][len(ERROR_PREFIX) :].partition(FIX_MARK)
        return problem, fix

    def _line(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").strip()
        if line.startswith(ERROR_PREFIX) and FIX_MARK in text:
            self.held.append(text)
            return
        self._show(line)
        self._remember(line)

    def _show(self, data: bytes) -> None:
        # Each piece as it comes (progress bars can't wait for a whole line), so a path split between two reads
        # of the pipe stays as the container names it; a step's lines come whole in practice. surrogateescape keeps
        # the bytes as they were, a character split between two reads included.
        if active():
            data = to_host(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        self.out.write(data)

    def _remember(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rsplit("\r", 1)[-1].strip()
        if text:
            self.last_line = text if len(text) <= CAUSE_CHARS else text[:CAUSE_CHARS] + " ..."


@dataclass(frozen=True)
class RunOptions:
    state_dir: str
    logs_dir: str
    force: bool = False
    from_step: Optional[str] = None
    heartbeat_s: float = 60.0


RERUN = "run the same command again: finished steps are skipped"


def step_failed(
    item: Step, code: int, log_path: Path, shown: StepOutput, log_lost: Optional[OSError] = None
) -> TalkingfaceError:
    """One line: what failed and why, where its log is, and what to do."""
    if log_lost is not None:
        log_path = Path(f"{log_path} (incomplete: {log_lost.strerror})")
    for words, code_ in DISK_ERROR_WORDS.items():
        # A step killed by a full or read-only disk: its traceback's last line says so, and the fix is the disk's.
        if words in shown.last_line:
            mapped = disk_error(OSError(code_, words), str(log_path.parent))
            return TalkingfaceError(
                f"step {item.id} ({item.title}) failed: {shown.last_line}; its log is {log_path}",
                fix=mapped.fix if mapped else f"read the log, fix the cause, and {RERUN}",
                exit_code=1,
            )
    own = shown.error()
    if own is not None:
        problem, fix = own
        return TalkingfaceError(f"step {item.id} failed: {problem}; its log is {log_path}", fix=fix, exit_code=1)
    said = f" ({shown.last_line})" if shown.last_line else ""
    return TalkingfaceError(
        f"step {item.id} ({item.title}) failed with exit status {code}{said}; its log is {log_path}",
        fix=f"read the log, fix the cause, and {RERUN}",
        exit_code=1,
    )


class Runner:
    def __init__(self, options: RunOptions, *, out: Optional[BinaryIO] = None, err: Optional[TextIO] = None) -> None:
        self.options = options
        self.out = out if out is not None else sys.stdout.buffer
        self.err = err if err is not None else sys.stderr
        self.hashes = ContentHashes(Path(options.state_dir) / "input-hashes.json")

    def say(self, text: str) -> None:
        self.out.write(f"[talkingface] {to_host(text)}\n".encode())
        self.out.flush()

    def marker_path(self, item: Step) -> Path:
        return self._marker(item.id)

    def _marker(self, step_id: str) -> Path:
        return Path(self.options.state_dir) / f"{step_id}.done.json"

    def started_path(self, item: Step) -> Path:
        return Path(self.options.state_dir) / f"{item.id}.started.json"

    def can_resume(self, item: Step, *, forced: bool, print_: str) -> bool:
        """A resumable step killed earlier with the same command and inputs continues; anything else starts over."""
        if not item.resumable or forced:
            return False
        try:
            recorded = json.loads(self.started_path(item).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return recorded.get("fingerprint") == print_

    def finished_at(self, step_id: str) -> Optional[int]:
        """When the step last finished (ns since the epoch), or None if it has no marker. Markers written before
        they recorded the time count by their modification time, which is when they were written."""
        marker = self._marker(step_id)
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8"))
            return int(recorded["finished_ns"]) if "finished_ns" in recorded else marker.stat().st_mtime_ns
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def is_done(self, item: Step) -> bool:
        if item.reuse_outputs and item.outputs and outputs_present(item.outputs):
            return True
        marker = self.marker_path(item)
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not outputs_present(item.outputs):
            return False
        prints = {fingerprint(item, hashes=self.hashes), fingerprint(item, forced=True, hashes=self.hashes)}
        if recorded.get("fingerprint") not in prints:
            return False
        # A step it comes after that ran again since (or never finished) leaves its result out of date.
        mine = self.finished_at(item.id)
        for earlier in item.after:
            theirs = self.finished_at(earlier)
            if mine is None or theirs is None or theirs > mine:
                return False
        return True

    def outputs_ours(self, item: Step) -> bool:
        """Whether the step's present outputs were written by this runner: it finished the step before (its marker),
        or an attempt begun as such, or with --force, was stopped before it finished (its started record)."""
        if self.marker_path(item).exists():
            return True
        try:
            recorded = json.loads(self.started_path(item).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return recorded.get("ours") is True

    def run(self, plan: Plan) -> None:
        step_ids = [s.id for s in plan.steps]
        if self.options.from_step and self.options.from_step not in step_ids:
            raise TalkingfaceError(
                f"--from_step {self.options.from_step!r} is not a step of this plan",
                fix=f"use one of: {', '.join(step_ids)}",
            )
        forced_from = step_ids.index(self.options.from_step) if self.options.from_step else None
        for warning in plan.warnings:
            print(f"warning: {to_host(warning)}", file=self.err, flush=True)
        progress = PlanProgress(total_weight=sum(s.weight for s in plan.steps) or 1.0)
        watch = ProgressFile(self.options.state_dir, plan, progress)
        for number, item in enumerate(plan.steps, 1):
            forced = self.options.force or (forced_from is not None and number - 1 >= forced_from)
            head = f"[{number}/{len(plan.steps)}] {item.id}: {item.title}"
            if not forced and not item.always and self.is_done(item):
                progress.finish(item.weight, None)
                watch.step(number, SKIPPED)
                self.say(f"{head} -- done before, skipped ({progress.status()})")
                continue
            self.say(f"{head} ({progress.status()})")
            watch.step(number, RUNNING)
            try:
                seconds = self.run_step(number, item, forced=forced, progress=progress)
            except BaseException:
                watch.step(number, FAILED)
                watch.end(FAILED)
                raise
            progress.finish(item.weight, seconds)
            watch.step(number, DONE, seconds)
        watch.end(DONE)
        self.say(
            f"{plan.verb} {plan.task}: {done_all(len(plan.steps))} in {clock(time.monotonic() - progress.started)}"
        )

    def run_step(self, number: int, item: Step, *, forced: bool, progress: PlanProgress) -> float:
        logs = Path(self.options.logs_dir)
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{number:02d}-{item.id}.log"
        # A step that refuses to replace existing outputs (mux, paste-back: they never overwrite a file we did not
        # write) may replace its own: redone because an input changed, a step this runner finished before gets
        # its overwriting form. With no marker, an output already there is someone else's, and the step refuses.
        ours = self.outputs_ours(item)
        had_outputs = any(glob.glob(pattern) for pattern in item.outputs)
        replacing_own = forced or (item.forced_overwrites and ours)
        argv = list(item.command(forced=replacing_own))
        env = dict(os.environ)
        for key, value in item.env:
            env[key] = value.replace("${" + key + "}", os.environ.get(key, ""))
        marker = self.marker_path(item)
        marker.unlink(missing_ok=True)
        print_ = fingerprint(item, forced=replacing_own, hashes=self.hashes)
        resume = self.can_resume(item, forced=forced, print_=print_)
        remove_partials(item.outputs)
        if resume:
            self.say(f"[{number}] {item.id}: resuming where the last attempt stopped")
        elif item.clean_outputs or item.resumable:
            # Only files of this unfinished step; a finished step is never rerun without --force.
            for pattern in item.outputs:
                for stale in glob.glob(pattern):
                    if os.path.isfile(stale):
                        os.unlink(stale)
        # The marker is gone until this attempt finishes: the record tells a next attempt whether the outputs it
        # finds are ours (this attempt's, or ones it was allowed to replace) or were there before we ever ran.
        owned = ours or forced or not had_outputs
        self._write_record(self.started_path(item), {"fingerprint": print_, "id": item.id, "ours": owned})
        before = snapshot(item.outputs)
        began = time.monotonic()
        # Unbuffered, so a full disk fails the write that hit it (caught below) and never the close.
        log_lost: Optional[OSError] = None
        with open(log_path, "ab", buffering=0) as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} cwd={item.cwd} argv={argv}\n".encode())
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
            shown = StepOutput(self.out)
            try:
                stream = child.stdout
                for chunk in iter(lambda: stream.read1(65536), b""):  # type: ignore[union-attr]
                    if log_lost is None:
                        try:
                            log.write(chunk)
                        except OSError as exc:
                            # The disk filled up under the step: the terminal still shows its output, and the
                            # step's own failure (or the marker's write) reports the disk.
                            log_lost = exc
                    shown.feed(chunk)
                code = child.wait()
            except BaseException:
                child.terminate()
                child.wait()
                raise
            finally:
                stop.set()
                shown.close(failed=child.returncode != 0)
        elapsed = time.monotonic() - began
        if code != 0:
            raise step_failed(item, code, log_path, shown, log_lost)
        # A resumed step may find every output already written by the attempt that was killed.
        missing = [p for p in item.outputs if not glob.glob(p)] if resume else unwritten(item.outputs, before)
        if missing:
            raise TalkingfaceError(
                f"step {item.id} ({item.title}) exited 0 but did not write {missing[0]}; its log is {log_path}",
                fix="the upstream step failed silently: read its log, fix the cause, and run the same command again",
                exit_code=1,
            )
        self._write_record(
            marker,
            {"fingerprint": print_, "seconds": round(elapsed, 3), "id": item.id, "finished_ns": time.time_ns()},
        )
        self.started_path(item).unlink(missing_ok=True)
        self.hashes.save()
        self.say(f"[{number}] {item.id} finished in {clock(elapsed)}")
        return elapsed

    def _write_record(self, path: Path, record: Dict[str, object]) -> None:
        with replacing(path) as tmp:
            tmp.write_text(json.dumps(record), encoding="utf-8")

    def _heartbeat(self, item: Step, began: float, progress: PlanProgress, stop: threading.Event) -> None:
        while not stop.wait(self.options.heartbeat_s):
            self.say(f"... {item.id} running for {clock(time.monotonic() - began)} ({progress.status()})")
