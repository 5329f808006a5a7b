"""Task names and file stems: they become paths, container names and upstream hparams."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from .errors import TalkingfaceError

# Upstream interpolates names unquoted into os.system strings and GeneFace splits hparams on ',' and '=', so the
# accepted alphabet is deliberately small.
_TASK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_WORD = re.compile(r"\w")
_LONGEST = 64
_TAG = 8


def check_task(name: str) -> str:
    if not _TASK.fullmatch(name) or ".." in name:
        raise TalkingfaceError(
            f"invalid task name {name!r}",
            fix="use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit (e.g. --task my_task)",
        )
    return name


def _clean(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("._-").replace("..", "_")


def safe_stem(stem: str, *, kind: str = "video") -> str:
    """A file stem made safe for upstream command lines; never empty, and distinct for distinct stems.

    Accents fold to their ASCII letters (``ä`` -> ``a``). Letters with no ASCII form (``日本``) would vanish, and
    ``日本.mp4`` and ``中国.mp4`` would then share one task and overwrite each other's dataset, so a name that lost
    any, or was cut to 64 characters, gets a hash of the original: ``<kind>-<8 hex>`` when nothing readable is left.
    """
    folded = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    cleaned = _clean(folded)
    marks_only = "".join(ch for ch in unicodedata.normalize("NFKD", stem) if not unicodedata.combining(ch))
    lost = len(_WORD.findall(marks_only)) > len(_WORD.findall(folded))
    if not lost and cleaned and len(cleaned) <= _LONGEST:
        return cleaned
    tag = hashlib.sha256(stem.encode("utf-8", "surrogatepass")).hexdigest()[:_TAG]
    if not cleaned:
        return f"{kind}-{tag}"
    return f"{cleaned[: _LONGEST - _TAG - 1].rstrip('._-')}-{tag}"
