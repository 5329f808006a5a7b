"""Jobs are the host CLI's own commands (``bin/run_<model>.sh VERB ...``), run one per lane (a GPU, a native
environment) at a time from the queue; their progress is the runner's own progress file, never their printed text."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Optional, Sequence, Set

from ..adapters import get_adapter
from ..progress_file import progress_path
from .config import WebConfig
from .errors import WebError, cli_error_line
from .store import CANCELLED, DONE, FAILED, INTERRUPTED, QUEUED, RUNNING, Job, Store

REPO = Path(__file__).resolve().parents[2]
LOG_TAIL_BYTES = 16384


def cli_argv(
    config: WebConfig, *, model: str, verb: str, args: Sequence[str], gpu: str, workspace: Optional[Path] = None
) -> List[str]:
    """The command a user would type for the same job; a list, never a shell string."""
    argv = [str(REPO / "bin" / f"run_{model}.sh"), verb, *args]
    argv += ["--workspace", str(workspace or config.workspace(model)), "--gpu", gpu]
    if config.runtime != "docker":
        argv += ["--runtime", config.runtime]
    prefix = config.native_env(model)
    if config.runtime == "native" and prefix:
        argv += ["--native_env", prefix]
    image = config.image(model)
    if config.runtime != "native" and image:
        argv += ["--image", image]
    if config.line:
        argv += ["--line", config.line]
    if config.bfm_dir:
        argv += ["--bfm_dir", config.bfm_dir]
    if config.weights_dir:
        argv += ["--weights_dir", config.weights_dir]
    return argv


def env_lane(config: WebConfig, model: str) -> List[str]:
    return [f"env:{config.native_env(model) or model}"] if config.runtime == "native" else []


def lanes(config: WebConfig, *, model: str, gpu: str) -> str:
    """What a job holds while it runs: its GPU and, natively, its environment (whose upstream links one run owns)."""
    return ",".join([f"gpu:{gpu}", *env_lane(config, model)])


def log_path(config: WebConfig, job_id: int) -> Path:
    return config.state_dir / "jobs" / f"{job_id}.log"


def log_tail(config: WebConfig, job_id: int, limit: int = LOG_TAIL_BYTES) -> str:
    path = log_path(config, job_id)
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - limit))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def task_paths(config: WebConfig, model: str, task: str) -> Any:
    return get_adapter(model).task_paths(str(config.workspace(model)), task)


def job_progress(config: WebConfig, job: Job) -> Optional[Dict[str, Any]]:
    """The runner's progress file for this job's run; an older run's file (same task and verb) is not this job's."""
    path = progress_path(task_paths(config, job.model, job.task).state_dir, job.verb)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if job.started is None or float(record.get("started", 0)) < job.started - 2.0:
        return None
    return record


def is_ours(pid: int) -> bool:
    """A pid recorded before a restart may now belong to anything: only a talkingface command is stopped."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"talkingface" in cmdline or b"run_" in cmdline


class Worker:
    """Starts queued jobs when their lanes are free, and records how each ended."""

    def __init__(self, *, config: WebConfig, store: Store, poll_s: float = 0.3) -> None:
        self.config = config
        self.store = store
        self.poll_s = poll_s
        self.procs: Dict[int, subprocess.Popen] = {}
        self.logs: Dict[int, IO[bytes]] = {}
        self.cancelling: Set[int] = set()
        # Lanes a quick command outside the queue (a video's check) holds: no job starts on them meanwhile.
        self.held: Set[str] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="talkingface-web-jobs", daemon=True)

    def start(self) -> None:
        self.recover()
        self.thread.start()

    def recover(self) -> None:
        """Jobs that were running when the site stopped: stop what is left of them, and offer to resume."""
        for job in self.store.jobs(states=(RUNNING,)):
            if job.pid and is_ours(job.pid):
                try:
                    os.killpg(job.pid, signal.SIGTERM)
                except OSError:
                    pass
            self.store.set_state(
                job.id,
                INTERRUPTED,
                message="the site stopped while this job ran",
                fix="press Resume: the steps it finished are skipped",
            )

    def stop(self) -> None:
        """The site is stopping: running jobs end as interrupted, to be resumed after the restart."""
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        with self.lock:
            for job_id, proc in list(self.procs.items()):
                self._signal(proc)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                self.logs.pop(job_id).close()
                self.store.set_state(
                    job_id,
                    INTERRUPTED,
                    message="the site stopped while this job ran",
                    fix="press Resume: the steps it finished are skipped",
                )
            self.procs.clear()

    def loop(self) -> None:
        while not self.stopping.wait(self.poll_s):
            self.tick()

    def tick(self) -> None:
        with self.lock:
            for job_id, proc in list(self.procs.items()):
                if proc.poll() is not None:
                    self._finished(job_id, proc.returncode)
            busy = {key for job_id in self.procs for key in self._lane_of(job_id)} | self.held
            for job in self.store.jobs(states=(QUEUED,)):
                keys = set(job.lane.split(","))
                if keys & busy:
                    continue
                self._launch(job)
                busy |= keys

    @contextlib.contextmanager
    def holding(self, keys: Sequence[str], *, timeout_s: float) -> Iterator[None]:
        """Wait (bounded) until no job uses ``keys``, and keep jobs off them until the block ends."""
        wanted = set(keys)
        end = time.monotonic() + timeout_s
        while True:
            with self.lock:
                busy = {key for job_id in self.procs for key in self._lane_of(job_id)} | self.held
                if not wanted & busy:
                    self.held |= wanted
                    break
            if time.monotonic() > end:
                raise WebError(
                    f"a running job has held {', '.join(sorted(wanted & busy))} for over {timeout_s:g} s",
                    fix="try again when it ends, or cancel it",
                    status=409,
                )
            time.sleep(0.2)
        try:
            yield
        finally:
            with self.lock:
                self.held -= wanted

    def _lane_of(self, job_id: int) -> List[str]:
        job = self.store.get(job_id)
        return job.lane.split(",") if job else []

    def _launch(self, job: Job) -> None:
        path = log_path(self.config, job.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        log = open(path, "ab")  # noqa: SIM115 - closed when the job ends
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(job.argv)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(
                job.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(REPO),
                # Its own process group: Cancel stops the CLI and everything it started (docker run, the steps).
                start_new_session=True,
            )
        except OSError as exc:
            log.close()
            self.store.finish(
                job.id,
                state=FAILED,
                exit_code=None,
                message=f"{job.argv[0]} could not start: {exc}",
                fix="check the installation (make venv, make build)",
            )
            return
        self.procs[job.id] = proc
        self.logs[job.id] = log
        self.store.claim(job.id, proc.pid)

    def _finished(self, job_id: int, code: int) -> None:
        self.procs.pop(job_id)
        self.logs.pop(job_id).close()
        job = self.store.get(job_id)
        if job is None:
            return
        if job_id in self.cancelling:
            self.cancelling.discard(job_id)
            self.store.finish(
                job_id,
                state=CANCELLED,
                exit_code=code,
                message="cancelled",
                fix="press Resume to continue where it stopped",
            )
            return
        if code == 0 and job.result and not os.path.isfile(job.result):
            self.store.finish(
                job_id,
                state=FAILED,
                exit_code=code,
                message=f"the job wrote no {job.result}",
                fix=f"read the job's log {log_path(self.config, job_id)}",
            )
            return
        if code == 0:
            self.store.finish(job_id, state=DONE, exit_code=0)
            return
        said = cli_error_line(log_tail(self.config, job_id))
        if said is not None:
            self.store.finish(job_id, state=FAILED, exit_code=code, message=said.problem, fix=said.fix)
        else:
            self.store.finish(
                job_id,
                state=FAILED,
                exit_code=code,
                message=f"the job exited with status {code}",
                fix=f"read its log {log_path(self.config, job_id)}",
            )

    def _signal(self, proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except OSError:
            pass

    def cancel(self, job: Job) -> None:
        with self.lock:
            proc = self.procs.get(job.id)
            if proc is not None:
                self.cancelling.add(job.id)
                self._signal(proc)
            elif job.state in (QUEUED, INTERRUPTED):
                self.store.finish(
                    job.id, state=CANCELLED, exit_code=None, message="cancelled", fix="press Resume to start it again"
                )

    def wait_idle(self, timeout_s: float) -> bool:
        """For shutdown and tests: True once nothing is queued or running (bounded by ``timeout_s``)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if not self.store.jobs(states=(QUEUED, RUNNING)):
                return True
            time.sleep(0.2)
        return False
