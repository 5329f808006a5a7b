"""Manifests written by the tests, and fetch/verify run against a local server with no waiting."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from talkingface.core.errors import TalkingfaceError
from talkingface.weights.download import Options
from talkingface.weights.fetch import fetch_all
from talkingface.weights.lock import load_lock
from talkingface.weights.manifest import Manifest, parse_manifest
from talkingface.weights.verify import Finding, verify


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry(entry_id: str, url: str, dest: str, **fields: Any) -> Dict[str, Any]:
    """A manifest entry with the test's defaults: unpinned (lock), one image, no archive."""
    raw: Dict[str, Any] = {
        "id": entry_id,
        "title": f"test file {entry_id}",
        "url": url,
        "mirrors": [],
        "size": None,
        "approx_size": None,
        "license": "test",
        "sha256": None,
        "sha256_source": "lock",
        "checks": {},
        "dest": dest,
        "links": [],
        "images": ["ernerf"],
        "unpack": None,
        "manual": False,
        "contains": [],
        "used_by": "the tests",
    }
    raw.update(fields)
    return raw


def pinned(data: bytes) -> Dict[str, Any]:
    return {"sha256": sha256(data), "sha256_source": "published: test"}


def manifest(*entries: Dict[str, Any]) -> Manifest:
    return parse_manifest({"version": 1, "entries": list(entries)}, "test manifest")


@dataclass
class Run:
    failures: List[TalkingfaceError]
    out: str
    sleeps: List[float]

    @property
    def errors(self) -> List[str]:
        return [failure.one_line() for failure in self.failures]


def fetch(man: Manifest, root: Path, images: Optional[Sequence[str]] = None, *, retries: int = 2) -> Run:
    out, sleeps = io.StringIO(), []  # type: ignore[var-annotated]
    options = Options(retries=retries, backoff_s=0.5, progress_every_s=0.0)
    failures = fetch_all(man, str(root), images, options=options, out=out, sleep=sleeps.append)
    return Run(failures=failures, out=out.getvalue(), sleeps=sleeps)


def check(man: Manifest, root: Path, images: Optional[Sequence[str]] = None) -> List[Finding]:
    return verify(man, str(root), load_lock(str(root)), images)


def leftovers(root: Path) -> List[str]:
    """Partial files and folders anywhere under ``root``."""
    found = []
    for base, dirs, names in os.walk(root):
        found += [os.path.join(base, name) for name in dirs + names if ".partial" in name]
    return found
