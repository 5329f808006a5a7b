"""One run per task and workspace: ``<workspace>/.talkingface/locks/<task>.lock``, held for the whole run.

Two verbs of one task (a train and an infer, or the same train twice from two shells) would otherwise write one
dataset and one set of resume markers at once. The lock is an flock: the kernel lets it go when its holder dies,
however it dies, so a crash never leaves a stale lock behind. The file says who holds it, for the refusal's message.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from contextlib import contextmanager
from typing import Iterator

from ..core.errors import TalkingfaceError


def lock_path(workspace: str, task: str) -> str:
    return os.path.join(workspace, ".talkingface", "locks", f"{task}.lock")


@contextmanager
def task_lock(workspace: str, task: str, verb: str) -> Iterator[None]:
    path = lock_path(workspace, task)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "another run"
            raise TalkingfaceError(
                f"task {task} is in use by {holder}; two runs can't write one task at once (lock: {path})",
                fix="wait for that run to finish (or stop it), then run this command again",
            ) from None
        # Written only while held, so the text always names the current holder.
        os.ftruncate(fd, 0)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        os.pwrite(fd, f"{verb} (pid {os.getpid()} on {socket.gethostname()}, since {stamp})\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
