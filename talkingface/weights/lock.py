"""``<weights>/weights.lock.json``: the sha256 of each file whose hash is not published, recorded at its first download.

The lock lives in the weights folder so that it travels with the files it vouches for (copied to a cluster, mounted
read-only into the images). ``fetch`` writes it, ``make load`` merges a bundle's into it; ``verify`` reads it.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from ..core.atomic import replacing
from ..core.errors import TalkingfaceError

LOCK_NAME = "weights.lock.json"
LOCK_COMMENT = (
    "sha256 of each weight whose hash is not published, recorded by 'make weights' at its first download and "
    "verified by every later 'make weights' and 'make verify-weights' (docs/weights.md)"
)


@dataclass(frozen=True)
class LockRecord:
    path: str
    sha256: Optional[str]  # the file's; for a folder, its archive's (None when the folder was put there by hand)
    size: Optional[int]
    url: str
    recorded: str
    files: Tuple[Tuple[str, str], ...] = ()  # a folder's files, relative path -> sha256


def lock_path(weights_dir: str) -> str:
    return os.path.join(weights_dir, LOCK_NAME)


def now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _broken(path: str, problem: str) -> TalkingfaceError:
    return TalkingfaceError(
        f"{path} is not a weights lock: {problem}",
        fix=f"restore {path} from where the weights came from; deleting it makes the next 'make weights' trust and "
        "record whatever files are there",
    )


def parse_entries(entries: Mapping[str, Any]) -> Dict[str, LockRecord]:
    """A lock's ``entries`` object, as read from weights.lock.json or carried in a bundle's record."""
    records = {}
    for entry_id, item in entries.items():
        records[entry_id] = LockRecord(
            path=str(item["path"]),
            sha256=item["sha256"],
            size=item["size"],
            url=str(item["url"]),
            recorded=str(item["recorded"]),
            files=tuple(sorted((str(k), str(v)) for k, v in item.get("files", {}).items())),
        )
    return records


def entries_json(records: Mapping[str, LockRecord]) -> Dict[str, Any]:
    entries: Dict[str, Any] = {}
    for entry_id in sorted(records):
        record = records[entry_id]
        item: Dict[str, Any] = {
            "path": record.path,
            "sha256": record.sha256,
            "size": record.size,
            "url": record.url,
            "recorded": record.recorded,
        }
        if record.files:
            item["files"] = dict(record.files)
        entries[entry_id] = item
    return entries


def load_lock(weights_dir: str) -> Dict[str, LockRecord]:
    path = lock_path(weights_dir)
    if not os.path.exists(path):
        return {}
    try:
        return parse_entries(json.loads(Path(path).read_text(encoding="utf-8"))["entries"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _broken(path, f"{type(exc).__name__}: {exc}") from exc


def save_lock(weights_dir: str, records: Mapping[str, LockRecord]) -> None:
    text = json.dumps({"comment": LOCK_COMMENT, "version": 1, "entries": entries_json(records)}, indent=2) + "\n"
    with replacing(lock_path(weights_dir)) as tmp:
        tmp.write_text(text, encoding="utf-8")
