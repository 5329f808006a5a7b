"""Write under a temporary name in the destination folder, then rename: a crash never leaves half a file."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def replacing(dst: os.PathLike, *, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``dst``; rename it onto ``dst`` only if the block succeeds."""
    target = Path(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}{suffix or target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def copy_file(src: os.PathLike, dst: os.PathLike) -> None:
    with replacing(dst) as tmp:
        shutil.copyfile(src, tmp)
