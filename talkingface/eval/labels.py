"""Names for predictions that tell them apart: two ``pred.mp4`` from different folders are not both "pred.mp4"."""

from __future__ import annotations

from pathlib import PurePath
from typing import List, Sequence


def labels(paths: Sequence[str]) -> List[str]:
    """Each path's shortest suffix of folders that no other path ends with; the same path twice gets #1, #2."""
    parts = [PurePath(p).parts for p in paths]
    names = []
    for index, mine in enumerate(parts):
        others = [other for at, other in enumerate(parts) if at != index and other != mine]
        size = 1
        while size < len(mine) and any(other[-size:] == mine[-size:] for other in others):
            size += 1
        names.append("/".join(mine[-size:]).replace("//", "/"))
    repeats = {name: names.count(name) for name in names}
    seen = {name: 0 for name in names}
    for at, name in enumerate(names):
        if repeats[name] > 1:
            seen[name] += 1
            names[at] = f"{name} #{seen[name]}"
    return names
