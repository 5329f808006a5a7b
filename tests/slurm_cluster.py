"""A real single-node Slurm cluster (Debian's slurm-wlm + munge) in a temporary folder on 127.0.0.1, for tests.

Everything it starts is private to one instance: its own munge key and socket, free TCP ports, state, spool, logs
and pid files under one temporary folder. So it never touches a system Slurm or munge, and two instances (or two
test sessions) can run side by side. Each process it starts, and each job process, carries SLURM_CONF=<its conf>
in its environment: that is how stop() finds what is left, leaving other clusters' processes alone.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Set

from talkingface.slurm.states import FINAL

FINAL_STATES = frozenset(FINAL)  # the states a job never leaves, as status reads them
CLIENTS = ("sbatch", "scontrol", "sinfo", "squeue", "scancel")
DAEMONS = ("slurmctld", "slurmd", "munged")
# slurmstepd outlives slurmd (it is detached), so stop() checks for it as well.
PROCESS_NAMES = ("slurmctld", "slurmd", "slurmstepd", "munged")
MUNGE_USER = "munge"

# `scontrol show job -o` prints Key=Value pairs separated by spaces; values may hold spaces ("Command=a b") and
# '=' ("TRES=cpu=1,mem=1G"), keys may hold ':' and '/' ("ReqB:S:C:T", "Socks/Node").
_PAIR = re.compile(r"([A-Za-z][A-Za-z0-9_:/]*)=(.*?)(?= [A-Za-z][A-Za-z0-9_:/]*=|$)")


def _which_sbin(name: str) -> Optional[str]:
    # A non-login root shell may lack /usr/sbin in PATH, where Debian puts the daemons.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def slurm_available() -> Optional[str]:
    """None when a LocalSlurm can start here, else one line saying why not."""
    if not Path("/proc/self/environ").exists():
        return "not Linux: a LocalSlurm needs /proc"
    if os.geteuid() != 0:
        return "not root: slurmd runs jobs as their user and munged must run as user munge"
    missing = [n for n in (*CLIENTS, *DAEMONS) if not _which_sbin(n)]
    if missing:
        how = "" if shutil.which("apt-get") else " (and apt-get is missing, so `make slurm-tools` cannot install them)"
        return f"missing {', '.join(missing)} (Debian packages slurm-wlm and munge){how}"
    try:
        pwd.getpwnam(MUNGE_USER)
    except KeyError:
        return f"no user {MUNGE_USER!r} (the munge package creates it)"
    return None


@dataclass(frozen=True)
class JobRecord:
    """One line of `scontrol show job -o`: a job, or one task (or the pending rest) of an array."""

    fields: Dict[str, str] = field(repr=False)

    @property
    def key(self) -> str:
        # Array tasks share JobId's array id; "12_3" is how squeue and sbatch's %A_%a name them.
        task = self.fields.get("ArrayTaskId")
        return f"{self.fields['ArrayJobId']}_{task}" if task else self.fields["JobId"]

    @property
    def state(self) -> str:
        return self.fields["JobState"]

    @property
    def reason(self) -> str:
        return self.fields.get("Reason", "")

    @property
    def exit_code(self) -> str:
        """'<exit status>:<signal>', e.g. '0:0', '1:0'; '0:9' for a job killed by SIGKILL."""
        return self.fields.get("ExitCode", "")

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def parse_jobs(text: str) -> List[JobRecord]:
    return [JobRecord(fields=dict(_PAIR.findall(line))) for line in text.splitlines() if line.startswith("JobId=")]


def _free_ports(count: int) -> List[int]:
    # Held open together so the two ports differ; a race with another program in between is unlikely and shows
    # as a bind error in the logs.
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"== {path.name}: (none)"
    return "\n".join([f"== {path.name}:", *text])


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


class LocalSlurm:
    """start() brings up munged, slurmctld and slurmd and waits for the node to be idle; stop() ends them all.

    Pass `env` to every Slurm client: it is os.environ plus SLURM_CONF. `root` (default: a new folder under the
    system's temp folder, removed by stop()) must be reachable by user munge, which pytest's tmp_path is not.
    """

    def __init__(self, *, root: Optional[Path] = None, partition: str = "debug", start_timeout: float = 60.0) -> None:
        self.partition = partition
        self.start_timeout = start_timeout
        self.node = socket.gethostname().split(".")[0]
        # Our own folder unless given: munged (user munge) must reach its files, and pytest's tmp_path sits in a
        # root-only (0700) folder.
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="talkingface-slurm-")) if root is None else Path(root)
        self.conf = self.root / "etc" / "slurm.conf"
        self.logs = self.root / "log"
        self.env: Dict[str, str] = {**os.environ, "SLURM_CONF": str(self.conf)}
        self._procs: Dict[str, subprocess.Popen] = {}
        self._started_pids: List[int] = []

    def __enter__(self) -> LocalSlurm:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- start

    def start(self) -> None:
        if self._procs:
            raise RuntimeError(f"LocalSlurm in {self.root} is already started")
        try:
            self._write_files()
            self._start_munged()
            self._spawn("slurmctld", [_which_sbin("slurmctld") or "slurmctld", "-D", "-f", str(self.conf)])
            self._until("slurmctld answers", lambda: "is UP" in self._quiet("scontrol", "ping"))
            self._spawn("slurmd", [_which_sbin("slurmd") or "slurmd", "-D", "-f", str(self.conf)])
            self._until("the node is idle", self._node_idle)
        except Exception as e:
            logs = "\n".join(_tail(p) for p in sorted(self.logs.glob("*")))
            try:
                self.stop()
            except RuntimeError as stop_error:
                logs += f"\n{stop_error}"
            raise RuntimeError(f"LocalSlurm did not start: {e}\n{logs}") from e

    def _write_files(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # 0755: user munge must traverse it to its own folder.
        self.root.chmod(0o755)
        for sub in ("etc", "log", "run", "state", "spool"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        munge_dir = self.root / "munge"
        munge_dir.mkdir(exist_ok=True)
        # munged insists that everyone can reach its socket folder, and that nobody else can write it.
        munge_dir.chmod(0o711)
        key = munge_dir / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
        user = pwd.getpwnam(MUNGE_USER)
        # munged refuses a key that anyone else could read.
        key.chmod(0o400)
        for path in (munge_dir, key):
            os.chown(path, user.pw_uid, user.pw_gid)
        ctld_port, slurmd_port = _free_ports(2)
        # A bit under MemTotal: slurmd drains a node whose RealMemory is more than it finds.
        memory = int(_memory_mb() * 0.9)
        r = self.root
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=talkingface",
                    f"SlurmctldHost={self.node}(127.0.0.1)",
                    f"SlurmctldPort={ctld_port}",
                    f"SlurmdPort={slurmd_port}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    # Our private munged, not the system's /run/munge socket (read by clients and daemons alike).
                    f"AuthInfo=socket={r}/munge/munge.socket",
                    f"StateSaveLocation={r}/state",
                    f"SlurmdSpoolDir={r}/spool",
                    f"SlurmctldPidFile={r}/run/slurmctld.pid",
                    f"SlurmdPidFile={r}/run/slurmd.pid",
                    f"SlurmctldLogFile={self.logs}/slurmctld.log",
                    f"SlurmdLogFile={self.logs}/slurmd.log",
                    "SlurmctldDebug=info",
                    "SlurmdDebug=info",
                    # No cgroups here (containers, no systemd): track processes by parentage, no task binding.
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "JobCompType=jobcomp/none",
                    "MpiDefault=none",
                    "SelectType=select/cons_tres",
                    # Memory is consumable but a job asks 1 GB unless it says --mem, so jobs share the node.
                    "SelectTypeParameters=CR_Core_Memory",
                    "DefMemPerCPU=1024",
                    # Start batch jobs at once: the default (up to 3 s, to batch up submissions) makes a trivial job
                    # take ~2.9 s instead of ~0.9 s, and a 3-task throttled array 9 s instead of 2 s.
                    "SchedulerParameters=batch_sched_delay=0",
                    # No accounting, so sacct can't see finished jobs: keep them in `scontrol show job` 10 min.
                    "MinJobAge=600",
                    "KillOnBadExit=1",
                    # A restarted slurmd brings its node back without `scontrol update`.
                    "ReturnToService=2",
                    f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} RealMemory={memory} "
                    "State=UNKNOWN",
                    f"PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def _start_munged(self) -> None:
        user = pwd.getpwnam(MUNGE_USER)
        d = self.root / "munge"
        socket_path = d / "munge.socket"

        def drop_to_munge() -> None:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

        argv = [_which_sbin("munged") or "munged", "--foreground", f"--socket={socket_path}"]
        argv += [f"--key-file={d}/munge.key", f"--log-file={d}/munged.log"]
        argv += [f"--pid-file={d}/munged.pid", f"--seed-file={d}/munged.seed"]
        self._spawn("munged", argv, preexec_fn=drop_to_munge)
        self._until("munged's socket", socket_path.exists)

    def _spawn(self, name: str, argv: List[str], **kw: object) -> None:
        # stdout/stderr catch what a daemon says before it opens its log file (bad conf, bind errors).
        with open(self.logs / f"{name}.out", "ab") as out:
            proc = subprocess.Popen(
                argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, **kw
            )
        self._procs[name] = proc
        self._started_pids.append(proc.pid)

    def _until(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not ready():
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} while waiting for {what}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} after {self.start_timeout:.0f} s")
            time.sleep(0.2)

    def _node_idle(self) -> bool:
        return self._quiet("sinfo", "-h", "-N", "-n", self.node, "-o", "%t").strip() == "idle"

    def _quiet(self, *argv: str, timeout: float = 20.0) -> str:
        try:
            done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return ""
        return done.stdout if done.returncode == 0 else ""

    # ---- use

    def sbatch(self, *args: str, cwd: Optional[Path] = None) -> str:
        """`sbatch --parsable ARGS` on this cluster: the job id. Give --output: the default log lands in cwd."""
        done = subprocess.run(
            ["sbatch", "--parsable", *args], env=self.env, cwd=cwd, capture_output=True, text=True, check=True
        )
        return done.stdout.strip().split(";")[0]

    def jobs(self, job_id: str) -> List[JobRecord]:
        """`scontrol show job -o JOB_ID`: one record, or one per array task (and one for its pending rest)."""
        done = subprocess.run(
            ["scontrol", "show", "job", "-o", job_id], env=self.env, capture_output=True, text=True, timeout=30
        )
        if done.returncode != 0:
            raise RuntimeError(f"scontrol show job {job_id}: {done.stderr.strip() or done.stdout.strip()}")
        return parse_jobs(done.stdout)

    def wait_idle(self, job_ids: Iterable[str], *, timeout: float = 60.0) -> Dict[str, str]:
        """Wait until every job (every task of an array) is in a final state: {record key: state}.

        A plain job's key is its id; an array's tasks are keyed "<array id>_<task id>".
        """
        ids = list(job_ids)
        deadline = time.monotonic() + timeout
        while True:
            records = [r for i in ids for r in self.jobs(i)]
            if records and all(r.final for r in records):
                return {r.key: r.state for r in records}
            if time.monotonic() > deadline:
                states = {r.key: f"{r.state} ({r.reason})" for r in records}
                raise TimeoutError(f"jobs not finished after {timeout:.0f} s: {states}")
            time.sleep(0.25)

    # ---- stop

    def leftovers(self) -> Dict[int, str]:
        """Processes of this cluster still alive: {pid: command line}."""
        left: Dict[int, str] = {}
        marker = f"SLURM_CONF={self.conf}\0".encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            pid = int(proc.name)
            try:
                # A pid we started counts only while it still runs a daemon: pids get reused.
                started = pid in self._started_pids and (proc / "comm").read_text().strip() in DAEMONS
                ours = started or marker in (proc / "environ").read_bytes() + b"\0"
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                if ours and (proc / "stat").read_text().split(") ")[-1][:1] != "Z":
                    left[pid] = cmdline
            except OSError:
                continue  # gone meanwhile, or a kernel thread
        return left

    def stop(self) -> None:
        """Cancel every job, end slurmd, slurmctld, job processes and munged; raise if any is left. Idempotent."""
        ctld = self._procs.get("slurmctld")
        if ctld is not None and ctld.poll() is None:
            user = pwd.getpwuid(os.geteuid()).pw_name
            self._quiet("scancel", f"--user={user}", timeout=30)
            # Give the jobs' steps time to end by themselves (their output flushed) before the daemons go.
            deadline = time.monotonic() + 15
            while self._quiet("squeue", "-h", "-t", "PD,R,CG,S", "-o", "%i").strip() and time.monotonic() < deadline:
                time.sleep(0.25)
        for name in ("slurmd", "slurmctld"):
            self._end(name)
        self._kill_leftovers()
        self._end("munged")
        deadline = time.monotonic() + 10
        while self.leftovers() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = self.leftovers()
        stray = {n: self._pgrep(n) & set(left) for n in PROCESS_NAMES}
        if left:
            raise RuntimeError(f"LocalSlurm.stop left processes: {left} (by name: {stray}); files in {self.root}")
        if self._own_root and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def _kill_leftovers(self) -> None:
        # slurmstepd and job processes outlive slurmd (they are detached from it); munged goes after them.
        munged = self._procs.get("munged")
        for pid in set(self.leftovers()) - {munged.pid if munged else -1}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _end(self, name: str) -> None:
        proc = self._procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass  # stop() names it among the leftovers

    @staticmethod
    def _pgrep(name: str) -> Set[int]:
        done = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True)
        return {int(p) for p in done.stdout.split()}
