"""sha256 of input files, cached by size, time and inode: the runner's step fingerprints and the record of which
video a dataset was made from both decide by content."""

from __future__ import annotations

import glob
import hashlib
import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .atomic import replacing


class ContentHashes:
    """sha256 of input files, recomputed only when a file's size or time changed since it was last hashed.

    Content, not times, decides: copying the same video again, or a step redone with identical results, does not
    redo the steps after it.
    """

    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = path
        self.known: Dict[str, List[object]] = {}
        if path is not None:
            try:
                self.known = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.known = {}

    def digest(self, file: str) -> Optional[str]:
        try:
            info = os.stat(file)
        except OSError:
            return None
        stamp = [info.st_size, info.st_mtime_ns, info.st_ino]
        cached = self.known.get(file)
        if cached and cached[:3] == stamp:
            return str(cached[3])
        sha = hashlib.sha256()
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                sha.update(block)
        self.known[file] = [*stamp, sha.hexdigest()]
        return sha.hexdigest()

    def state(self, patterns: Sequence[str]) -> List[List[object]]:
        """Each input file and its digest; a pattern that matches nothing counts as such."""
        state: List[List[object]] = []
        for pattern in patterns:
            hits = sorted(glob.glob(pattern))
            state += [[hit, self.digest(hit)] for hit in hits] or [[pattern, None]]
        return state

    def save(self) -> None:
        if self.path is None:
            return
        with replacing(self.path) as tmp:
            tmp.write_text(json.dumps(self.known), encoding="utf-8")
