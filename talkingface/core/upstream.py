"""The pinned upstream commits: one JSON file that images, entrypoints and docs all read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

# talkingface/upstream.json, one folder up: the Makefile and the images read it at that path.
PINS_FILE = Path(__file__).parents[1] / "upstream.json"


@dataclass(frozen=True)
class UpstreamPin:
    name: str
    repo: str
    commit: str
    submodules: Dict[str, str]

    @property
    def short(self) -> str:
        return self.commit[:7]


def load_pins(path: Path = PINS_FILE) -> Dict[str, UpstreamPin]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: UpstreamPin(name=name, repo=entry["repo"], commit=entry["commit"], submodules=dict(entry["submodules"]))
        for name, entry in raw.items()
    }


def pin(name: str) -> UpstreamPin:
    return load_pins()[name]
