"""The job queue and chat history in one SQLite file: queued jobs survive a restart of the site."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

QUEUED, RUNNING, DONE, FAILED, CANCELLED, INTERRUPTED = (
    "queued",
    "running",
    "done",
    "failed",
    "cancelled",
    "interrupted",
)
ACTIVE = (QUEUED, RUNNING)
# Listed as "this task is busy": an interrupted training is resumed, not started a second time.
BLOCKING = (QUEUED, RUNNING, INTERRUPTED)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    verb TEXT NOT NULL,
    lane TEXT NOT NULL,
    argv TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    pid INTEGER,
    exit_code INTEGER,
    message TEXT,
    fix TEXT,
    result TEXT,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS chat (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    job INTEGER,
    meta TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Job:
    id: int
    owner: str
    model: str
    task: str
    verb: str
    lane: str
    argv: List[str]
    state: str
    created: float
    started: Optional[float]
    finished: Optional[float]
    pid: Optional[int]
    exit_code: Optional[int]
    message: Optional[str]
    fix: Optional[str]
    result: Optional[str]
    meta: Dict[str, Any]

    def public(self) -> Dict[str, Any]:
        """What the browser sees: no argv (it names server paths) and no owner."""
        return {
            "id": self.id,
            "model": self.model,
            "task": self.task,
            "verb": self.verb,
            "state": self.state,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "exit_code": self.exit_code,
            "message": self.message,
            "fix": self.fix,
            "has_result": bool(self.result) and self.state == DONE,
        }


def row_job(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["argv"] = json.loads(data["argv"])
    data["meta"] = json.loads(data["meta"] or "{}")
    return Job(**data)


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def _one(self, sql: str, args: Sequence[Any]) -> Optional[sqlite3.Row]:
        with self.lock:
            return self.db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: Sequence[Any] = ()) -> List[sqlite3.Row]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def _exec(self, sql: str, args: Sequence[Any]) -> int:
        with self.lock:
            return int(self.db.execute(sql, args).lastrowid or 0)

    def add(
        self,
        *,
        owner: str,
        model: str,
        task: str,
        verb: str,
        lane: str,
        argv: Sequence[str],
        result: Optional[str],
        meta: Optional[Dict[str, Any]] = None,
    ) -> Job:
        new_id = self._exec(
            "INSERT INTO jobs (owner, model, task, verb, lane, argv, state, created, result, meta) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                owner,
                model,
                task,
                verb,
                lane,
                json.dumps(list(argv)),
                QUEUED,
                time.time(),
                result,
                json.dumps(meta or {}),
            ),
        )
        job = self.get(new_id)
        if job is None:
            raise RuntimeError(f"job {new_id} vanished right after it was added")
        return job

    def get(self, job_id: int) -> Optional[Job]:
        row = self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return row_job(row) if row else None

    def jobs(self, *, states: Sequence[str] = (), limit: int = 200) -> List[Job]:
        if states:
            marks = ",".join("?" * len(states))
            rows = self._all(f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY id LIMIT ?", (*states, limit))  # noqa: S608 - marks only
        else:
            rows = self._all("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,))
        return [row_job(r) for r in rows]

    def busy_with(self, *, model: str, task: str, verb: str) -> Optional[Job]:
        marks = ",".join("?" * len(BLOCKING))
        row = self._one(
            f"SELECT * FROM jobs WHERE model = ? AND task = ? AND verb = ? AND state IN ({marks}) ORDER BY id",  # noqa: S608
            (model, task, verb, *BLOCKING),
        )
        return row_job(row) if row else None

    def claim(self, job_id: int, pid: int) -> None:
        self._exec("UPDATE jobs SET state = ?, started = ?, pid = ? WHERE id = ?", (RUNNING, time.time(), pid, job_id))

    def finish(
        self,
        job_id: int,
        *,
        state: str,
        exit_code: Optional[int],
        message: Optional[str] = None,
        fix: Optional[str] = None,
    ) -> None:
        self._exec(
            "UPDATE jobs SET state = ?, finished = ?, exit_code = ?, message = ?, fix = ? WHERE id = ?",
            (state, time.time(), exit_code, message, fix, job_id),
        )

    def set_state(self, job_id: int, state: str, *, message: Optional[str] = None, fix: Optional[str] = None) -> None:
        self._exec("UPDATE jobs SET state = ?, message = ?, fix = ? WHERE id = ?", (state, message, fix, job_id))

    def requeue(self, job_id: int) -> None:
        """Resume: the same command again; the runner skips the steps it finished."""
        self._exec(
            "UPDATE jobs SET state = ?, started = NULL, finished = NULL, pid = NULL, exit_code = NULL, message = NULL, "
            "fix = NULL WHERE id = ?",
            (QUEUED, job_id),
        )

    def add_chat(
        self, *, session: str, role: str, content: str, job: Optional[int] = None, meta: Optional[Dict[str, Any]] = None
    ) -> int:
        return self._exec(
            "INSERT INTO chat (session, role, content, job, meta, created) VALUES (?, ?, ?, ?, ?, ?)",
            (session, role, content, job, json.dumps(meta or {}), time.time()),
        )

    def chat(self, session: str, *, limit: int = 100) -> List[Dict[str, Any]]:
        rows = self._all(
            "SELECT role, content, job, meta, created FROM chat WHERE session = ? ORDER BY id DESC LIMIT ?",
            (session, limit),
        )
        return [{**dict(r), "meta": json.loads(r["meta"] or "{}")} for r in reversed(rows)]
