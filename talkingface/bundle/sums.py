"""SHA256SUMS in ``sha256sum``'s own format, so a user can also check a bundle by hand with ``sha256sum -c``."""

from __future__ import annotations

import hashlib
import re
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, TextIO

from ..core.atomic import replacing
from ..core.errors import TalkingfaceError
from ..core.progress import clock
from .record import SUMS_NAME

CHUNK = 4 << 20
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def hash_file(path: Path, *, label: str, out: TextIO = sys.stdout, every_s: float = 10.0) -> str:
    """sha256 of ``path``; a line every ``every_s`` seconds with the share done and the ETA (archives run to GBs)."""
    digest, size, done = hashlib.sha256(), path.stat().st_size, 0
    started = last = time.monotonic()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
            done += len(chunk)
            now = time.monotonic()
            if now - last >= every_s and done < size:
                eta = (now - started) / done * (size - done)
                print(
                    f"  {label}: {100 * done // size}% of {size / 1e9:.1f} GB, ETA {clock(eta)}", file=out, flush=True
                )
                last = now
    return digest.hexdigest()


def write_sums(folder: Path, names: Sequence[str], known: Dict[str, str]) -> None:
    """``known`` holds hashes already computed while writing; only the others are read again."""
    lines = [f"{known.get(name) or hash_file(folder / name, label=name)}  {name}\n" for name in names]
    with replacing(folder / SUMS_NAME) as tmp:
        tmp.write_text("".join(lines), encoding="utf-8")


def read_sums(folder: Path) -> Dict[str, str]:
    path = folder / SUMS_NAME
    if not path.is_file():
        raise TalkingfaceError(
            f"{path} is missing, so nothing in {folder} can be trusted; nothing was loaded",
            fix="copy the whole folder written by 'make bundle' (or 'make save')",
            exit_code=1,
        )
    sums: Dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = _LINE.match(line)
        if not match:
            raise TalkingfaceError(
                f"{path} line {number} is not '<sha256>  <file>'; nothing was loaded",
                fix="copy SHA256SUMS again from the machine that made the bundle",
                exit_code=1,
            )
        sums[match.group(2)] = match.group(1)
    return sums


def check_sums(folder: Path, sums: Dict[str, str], *, out: TextIO = sys.stdout) -> List[str]:
    """Every listed file's problem, as text: missing, or its sha256 against the listed one."""
    problems = []
    for name, expected in sums.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
            continue
        print(f"checking {name} ({path.stat().st_size / 1e6:,.1f} MB)", file=out, flush=True)
        actual = hash_file(path, label=name, out=out)
        if actual != expected:
            problems.append(f"{name} has sha256 {actual}, SHA256SUMS says {expected}")
    return problems
