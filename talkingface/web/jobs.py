"""Jobs are the host CLI's own commands (``bin/run_<model>.sh VERB ...``), run one per lane (a GPU, a native
environment) at a time from the queue; their progress is the runner's own progress file, never their printed text."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Optional, Sequence, Set

from ..adapters import get_adapter
from ..core.errors import TalkingfaceError
from ..core.progress_file import progress_path
from ..slurm import commands as slurm_commands
from ..slurm import record as slurm_record
from ..slurm import states as slurm_states
from .config import WebConfig
from .errors import WebError, cli_error_line
from .store import CANCELLED, DONE, FAILED, INTERRUPTED, QUEUED, RUNNING, Job, Store

REPO = Path(__file__).resolve().parents[2]
LOG_TAIL_BYTES = 16384
# squeue, scontrol and sacct per look: often enough for a page, seldom enough for a busy controller.
SLURM_POLL_S = 3.0


def cli_argv(
    config: WebConfig,
    *,
    model: str,
    verb: str,
    args: Sequence[str],
    gpu: str,
    workspace: Optional[Path] = None,
    queued: bool = False,
) -> List[str]:
    """The command a user would type for the same job; a list, never a shell string. ``queued``: a job of the queue
    (train, infer), which --backend slurm submits; quick commands (check, a dry run) always run here."""
    argv = [str(REPO / "bin" / f"run_{model}.sh"), verb, *args]
    argv += ["--workspace", str(workspace or config.workspace(model)), "--gpu", gpu]
    if queued and config.backend == "slurm":
        argv += ["--backend", "slurm", *config.slurm_args]
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


def lanes(config: WebConfig, *, model: str, gpu: str, task: str) -> str:
    """What a job holds while it runs: its GPU and, natively, its environment (whose upstream links one run owns,
    on a cluster's shared disk too). On Slurm the cluster shares out GPUs and nodes: the GPU lane becomes the task,
    whose job record one chain owns."""
    first = f"slurm:{model}/{task}" if config.backend == "slurm" else f"gpu:{gpu}"
    return ",".join([first, *env_lane(config, model)])


def slurm_folder(config: WebConfig, job: Job) -> Path:
    """Where the CLI's --backend slurm writes the batch script, each job's spec and log, and jobs.json."""
    return config.workspace(job.model) / "slurm" / job.task


def slurm_rows(config: WebConfig, job: Job) -> Optional[List[Dict[str, str]]]:
    """Each Slurm job of this job's submission and its state, as the CLI's ``status`` reads them."""
    try:
        submission = slurm_record.load(slurm_folder(config, job))
    except TalkingfaceError:
        return None
    if submission is None:
        return None
    return [
        {"step": step, "job_id": job_id, "state": state.state, "reason": state.reason, "log": log}
        for step, job_id, state, log in slurm_commands.rows(submission)
    ]


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


# On the Slurm backend a train job is a chain of the CLI's verbs (talkingface/slurm/plan.py): preprocess, then
# train_only per stage. Each writes its own progress file, so the job's progress is the part running now.
PART_VERBS = {"train": ("train", "preprocess", "train_only")}


def job_progress(config: WebConfig, job: Job) -> Optional[Dict[str, Any]]:
    """The runner's progress file for this job's run (the newest of its parts'); an older run's file (same task and
    verb) is not this job's."""
    state_dir = task_paths(config, job.model, job.task).state_dir
    newest: Optional[Dict[str, Any]] = None
    for verb in PART_VERBS.get(job.verb, (job.verb,)):
        try:
            record = json.loads(progress_path(state_dir, verb).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if job.started is None or float(record.get("started", 0)) < job.started - 2.0:
            continue
        if newest is None or float(record.get("started", 0)) > float(newest.get("started", 0)):
            newest = record
    return newest


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
        # Jobs submitted to Slurm: their CLI has exited and their Slurm jobs go on. Job id -> when to look next, and
        # what Slurm said last (the page's table and the log's lines).
        self.following: Dict[int, float] = {}
        self.slurm_states: Dict[int, List[Dict[str, str]]] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="talkingface-web-jobs", daemon=True)

    def start(self) -> None:
        self.recover()
        self.thread.start()

    def recover(self) -> None:
        """Jobs that were running when the site stopped: stop what is left of them, and offer to resume."""
        for job in self.store.jobs(states=(RUNNING,)):
            if self._submitted(job):
                # Its Slurm jobs outlive the site: follow them again rather than calling the job interrupted.
                self.following[job.id] = 0.0
                continue
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
            now = time.monotonic()
            due = [job_id for job_id, at in self.following.items() if now >= at]
            for job_id in due:
                self.following[job_id] = now + SLURM_POLL_S
        # Slurm's commands can take seconds on a busy controller: they run with the lock released, so pages, cancel
        # and the video check never wait on them.
        looks = [(job_id, self._look(job_id)) for job_id in due]
        with self.lock:
            for job_id, rows in looks:
                if job_id in self.following:
                    self._follow(job_id, rows)
            busy = self._busy()
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
                busy = self._busy()
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

    def _busy(self) -> Set[str]:
        return {key for job_id in [*self.procs, *self.following] for key in self._lane_of(job_id)} | self.held

    def _submitted(self, job: Job) -> bool:
        """--backend slurm, and this run of the job got as far as submitting: its job record is newer than its start."""
        if self.config.backend != "slurm" or job.started is None:
            return False
        try:
            submission = slurm_record.load(slurm_folder(self.config, job))
        except TalkingfaceError:
            return False
        if submission is None:
            return False
        submitted = datetime.datetime.fromisoformat(submission.submitted.replace("Z", "+00:00")).timestamp()
        return submitted >= job.started - 2.0  # the record has whole seconds

    def _note(self, job_id: int, line: str) -> None:
        with open(log_path(self.config, job_id), "a", encoding="utf-8") as log:
            log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")

    def _look(self, job_id: int) -> Optional[List[Dict[str, str]]]:
        """A submitted job's Slurm jobs and their states, asked of Slurm; None when its record is gone (or the job
        has ended: only this thread launches jobs, so it stays ended until ``_follow`` sees it)."""
        job = self.store.get(job_id)
        return slurm_rows(self.config, job) if job is not None and job.state == RUNNING else None

    def _follow(self, job_id: int, rows: Optional[List[Dict[str, str]]]) -> None:
        """What one look at a submitted job's Slurm jobs means: the studio's job ends when the last of them has."""
        job = self.store.get(job_id)
        if job is None or job.state != RUNNING:
            self.following.pop(job_id, None)
            return
        if rows is None:
            self.following.pop(job_id, None)
            record = slurm_folder(self.config, job) / slurm_record.RECORD_NAME
            self.store.finish(
                job_id,
                state=FAILED,
                exit_code=None,
                message=f"the Slurm job record {record} is gone or unreadable",
                fix="list the jobs with 'squeue --me', then press Resume to submit again",
            )
            return
        said = "; ".join(
            f"{r['step']} {r['job_id']} {r['state']}" + (f" ({r['reason']})" if r["reason"] else "") for r in rows
        )
        if rows != self.slurm_states.get(job_id):
            self._note(job_id, f"slurm: {said}")
        self.slurm_states[job_id] = rows
        # UNKNOWN: Slurm has forgotten the job and it wrote no exit status, so it will never say more.
        if not all(r["state"] in (*slurm_states.FINAL, "UNKNOWN") for r in rows):
            return
        self.following.pop(job_id, None)
        failed = [r for r in rows if r["state"] not in ("COMPLETED", "CANCELLED")]
        cancelled = [r for r in rows if r["state"] == "CANCELLED"]
        if job_id in self.cancelling:
            self.cancelling.discard(job_id)
            self.store.finish(
                job_id, state=CANCELLED, exit_code=None, message="cancelled", fix="press Resume to submit it again"
            )
        elif failed or cancelled:
            # A step cancelled after another failed is the consequence, not the cause: name the failed one.
            first = (failed or cancelled)[0]
            reason = f", {first['reason']}" if first["reason"] else ""
            self.store.finish(
                job_id,
                state=FAILED,
                exit_code=1,
                message=f"Slurm step {first['step']} ended {first['state']} (job {first['job_id']}{reason})",
                fix=f"read its log {first['log']}; press Resume to submit again (finished steps are skipped)",
            )
        else:
            self._settle(job_id, 0)

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
        if code == 0 and self.config.backend == "slurm":
            if self._submitted(job):
                self.following[job_id] = 0.0  # submitted: the Slurm jobs decide how this ends
                return
            self.store.finish(
                job_id,
                state=FAILED,
                exit_code=code,
                message=f"the submission wrote no job record in {slurm_folder(self.config, job)}",
                fix=f"read the job's log {log_path(self.config, job_id)}",
            )
            return
        self._settle(job_id, code)

    def _settle(self, job_id: int, code: int) -> None:
        """How a job that ran to its end ended: done with its result, or failed with what the CLI said."""
        job = self.store.get(job_id)
        if job is None:
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
            submitted = job.id in self.following
            if submitted:
                self.cancelling.add(job.id)
        if submitted:
            # squeue and scancel, with the lock released (as in tick).
            with open(log_path(self.config, job.id), "a", encoding="utf-8") as log:
                slurm_commands.cancel(slurm_folder(self.config, job), job.model, out=log)
            with self.lock:
                if job.id in self.following:
                    self.following[job.id] = 0.0  # look now: scancel is quick
            return
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
