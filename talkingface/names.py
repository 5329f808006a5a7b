"""Task names and file stems: they become paths, container names and upstream hparams."""

from __future__ import annotations

import re

from .errors import TalkingfaceError

# Upstream interpolates names unquoted into os.system strings and GeneFace splits hparams on ',' and '=', so the
# accepted alphabet is deliberately small.
_TASK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def check_task(name: str) -> str:
    if not _TASK.fullmatch(name) or ".." in name:
        raise TalkingfaceError(
            f"invalid task name {name!r}",
            fix="use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit (e.g. --task my_task)",
        )
    return name


def safe_stem(stem: str) -> str:
    """A file stem made safe for upstream command lines; never empty."""
    cleaned = _UNSAFE.sub("_", stem).strip("._-").replace("..", "_")
    return cleaned[:64] or "input"
