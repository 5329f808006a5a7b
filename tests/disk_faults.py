"""Real broken disks for the tests of issue 14's one-line errors: read-only, not writable, full.

No monkeypatching: the kernel refuses the writes. A small tmpfs mounted over the workspace (needs root and
``mount``, as in CI's container) gives a read-only or a full file system. A folder the user can't write is
``chmod 0555``; root ignores file modes (CAP_DAC_OVERRIDE), so as root the command runs under ``setpriv`` with
the capabilities that bypass them dropped from its bounding set: root, but bound by the modes like anyone else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator, List

import pytest

CAPS = "-dac_override,-dac_read_search,-fowner"


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@contextlib.contextmanager
def tmpfs(folder: Path, *, size: str = "64m", read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` (created), unmounted afterwards; skips where mount is refused."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a tmpfs mount needs root and mount(8)")
    folder.mkdir(parents=True, exist_ok=True)
    done = _mount("-t", "tmpfs", "-o", f"size={size},mode=0755{',ro' if read_only else ''}", "tmpfs", str(folder))
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs is refused here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def remount(folder: Path, option: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{option}", str(folder)], check=True)


def fill(folder: Path) -> Path:
    """A ballast file taking every free block of the file system holding ``folder``; removing it frees the disk."""
    # Only ever a tmpfs of ours: filling the disk the tests run on would fail every test after this one.
    assert os.path.ismount(folder), f"{folder} is not the tmpfs mounted by tmpfs(): refusing to fill its disk"
    ballast = folder / "ballast"
    with open(ballast, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 20))
        except OSError:
            pass
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 4096)
    return ballast


def unprivileged(argv: List[str]) -> List[str]:
    """``argv`` as a user bound by file modes: itself when not root, else root without the bypassing capabilities."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("setpriv") is None:
        pytest.skip("root ignores chmod, and setpriv (to drop CAP_DAC_OVERRIDE) is missing")
    return ["setpriv", "--bounding-set", CAPS, *argv]


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]
