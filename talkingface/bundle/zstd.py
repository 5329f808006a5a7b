"""zstd as a pipe: the standard library (3.11) has no zstd, and the CLI is multithreaded."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path
from typing import IO, Iterator, cast

from ..core.errors import TalkingfaceError


def require() -> None:
    if shutil.which("zstd") is None:
        raise TalkingfaceError("zstd is not installed", fix="apt-get install zstd (or make media-tools)", exit_code=1)


def _finish(proc: subprocess.Popen, what: str) -> None:
    err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
    if proc.wait() != 0:
        raise TalkingfaceError(
            f"zstd could not {what}: {err or f'exit {proc.returncode}'}",
            fix="check the disk has room and the file is whole, then run it again",
            exit_code=1,
        )


def _abandon(proc: subprocess.Popen) -> None:
    """The caller failed: its error is the one to report, not zstd's broken pipe."""
    proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream:
            stream.close()


@contextlib.contextmanager
def compressing(dst: Path, *, level: int = 3) -> Iterator[IO[bytes]]:
    """A pipe whose bytes land in ``dst`` compressed; the caller writes ``dst`` under a temporary name."""
    proc = subprocess.Popen(
        ["zstd", "-q", "-f", "-T0", f"-{level}", "-o", str(dst)], stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        yield cast(IO[bytes], proc.stdin)
    except BaseException:
        _abandon(proc)
        raise
    if proc.stdin:
        proc.stdin.close()
    _finish(proc, f"write {dst.name}")


@contextlib.contextmanager
def decompressing(src: Path) -> Iterator[IO[bytes]]:
    proc = subprocess.Popen(["zstd", "-q", "-d", "-c", str(src)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield cast(IO[bytes], proc.stdout)
        # Drain, so a reader that stopped early still learns whether the rest of the frame was intact.
        if proc.stdout:
            while proc.stdout.read(1 << 20):
                pass
    except BaseException:
        _abandon(proc)
        raise
    if proc.stdout:
        proc.stdout.close()
    _finish(proc, f"read {src.name}")


def check_frames(src: Path) -> None:
    """zstd's own frame checksums, read without writing anything."""
    done = subprocess.run(["zstd", "-q", "-t", str(src)], capture_output=True, text=True)
    if done.returncode != 0:
        raise TalkingfaceError(
            f"{src.name} is not a whole zstd archive: {done.stderr.strip()}; nothing was loaded",
            fix="copy the bundle again from the machine that made it",
            exit_code=1,
        )
