"""Job states from squeue (queued and running), scontrol (recently finished), sacct (where there is accounting) and
the exit file each job writes, in that order: clusters without accounting forget a job soon after it ends."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

FINAL = (
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "DEADLINE",
    "BOOT_FAIL",
)
GOOD = ("COMPLETED",)


@dataclass(frozen=True)
class JobState:
    job_id: str  # "123" or, for an array task, "123_4"
    state: str
    reason: str = ""
    exit_code: str = ""

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def failed(self) -> bool:
        return self.final and self.state not in GOOD


def _run(argv: Sequence[str]) -> Optional[str]:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def parse_squeue(text: str) -> Dict[str, JobState]:
    """``squeue -h -o %i|%T|%r``: array tasks come as 123_4 (or 123_[5-9%2] while pending)."""
    found = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3:
            found[parts[0]] = JobState(parts[0], parts[1].split()[0], "" if parts[2] == "None" else parts[2])
    return found


def parse_scontrol(text: str) -> List[JobState]:
    """``scontrol show job -o ID``: one line per job (each task of an array)."""
    states = []
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" not in fields:
            continue
        job_id = fields["JobId"]
        if fields.get("ArrayTaskId") and fields.get("ArrayJobId"):
            job_id = f"{fields['ArrayJobId']}_{fields['ArrayTaskId']}"
        reason = "" if fields.get("Reason") in (None, "None") else fields["Reason"]
        states.append(JobState(job_id, fields.get("JobState", "UNKNOWN"), reason, fields.get("ExitCode", "")))
    return states


def parse_sacct(text: str) -> List[JobState]:
    """``sacct -n -P -X -o JobID,State,ExitCode``."""
    states = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3 and "." not in parts[0]:
            states.append(JobState(parts[0], parts[1].split()[0], "", parts[2]))
    return states


def from_exit_file(path: str, job_id: str) -> Optional[JobState]:
    """The state the job's own exit file records; None where it wrote none (yet)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    code = int(raw.get("code", 1))
    return JobState(job_id, "COMPLETED" if code == 0 else "FAILED", "", f"{code}:0")


def query(job_ids: Sequence[str]) -> Dict[str, JobState]:
    """Every known state of ``job_ids`` (and of their array tasks), keyed by job id or ``<id>_<task>``."""
    ids = ",".join(job_ids)
    found: Dict[str, JobState] = {}
    for job_id in job_ids:  # scontrol takes one job at a time
        for state in parse_scontrol(_run(["scontrol", "show", "job", "-o", job_id]) or ""):
            found[state.job_id] = state
    sacct = _run(["sacct", "-n", "-P", "-X", "-o", "JobID,State,ExitCode", "-j", ids])
    for state in parse_sacct(sacct or ""):
        found.setdefault(state.job_id, state)
    found.update(parse_squeue(_run(["squeue", "-h", "-o", "%i|%T|%r", "-j", ids]) or ""))
    return found
