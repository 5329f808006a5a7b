"""Container paths back to the host paths the user can open, for every line a user reads.

The host command knows what it mounted where; it passes that as ``TALKINGFACE_HOST_PATHS``, a JSON object
``{container_path: host_path}``. Inside the container, any path under a mapped container path is rewritten to the
host path. Without the variable (a native run, or a test outside a container) every function is the identity.

Text must be mapped exactly once, where it is printed or written: a host path may itself begin with a container
root (a user whose home is ``/workspace``), so mapping an already mapped text again would change it.
"""

from __future__ import annotations

import json
import os
import re
from typing import Dict, Mapping, Optional, Pattern, Tuple

ENV = "TALKINGFACE_HOST_PATHS"
# A mapped root counts only as a whole path component: not inside /data/workspace, not as /workspace2.
_BEFORE = r"(?<![\w./~-])"
_AFTER = r"(?=/|$|[^\w.-])"

_cache: Dict[str, Tuple[Dict[str, str], Optional[Pattern[str]]]] = {}


def encode(mapping: Mapping[str, str]) -> str:
    """The value of ``TALKINGFACE_HOST_PATHS`` for ``mapping`` (container path -> host path)."""
    return json.dumps(dict(mapping), sort_keys=True)


def _compiled() -> Tuple[Dict[str, str], Optional[Pattern[str]]]:
    raw = os.environ.get(ENV, "")
    if raw not in _cache:
        try:
            loaded = json.loads(raw) if raw else {}
        except ValueError:
            loaded = {}  # a broken mapping must not stop a run: paths then show as the container sees them
        mapping = {
            k.rstrip("/") or "/": v.rstrip("/") or "/"
            for k, v in (loaded.items() if isinstance(loaded, dict) else ())
            if isinstance(k, str) and isinstance(v, str) and k.startswith("/") and k != "/" and k != v
        }
        # Longest first, so a file mounted inside a mounted folder wins over the folder.
        roots = sorted(mapping, key=len, reverse=True)
        pattern = re.compile(_BEFORE + "(" + "|".join(re.escape(r) for r in roots) + ")" + _AFTER) if roots else None
        _cache[raw] = (mapping, pattern)
    return _cache[raw]


def to_host(text: str) -> str:
    """``text`` with every container path in it replaced by the host path it is mounted from."""
    mapping, pattern = _compiled()
    if pattern is None or not text:
        return text
    return pattern.sub(lambda m: mapping[m.group(1)], text)


def active() -> bool:
    return _compiled()[1] is not None
