"""A request: one verb for one task of one model, with every path resolved in one filesystem view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from .layout import TaskPaths


@dataclass(frozen=True)
class Request:
    model: str
    verb: str
    task: str
    paths: TaskPaths
    upstream_root: str
    bfm_dir: str
    weights_dir: str
    video: Optional[str] = None
    # The video's path on the host, as the user gave it: ``video`` is where the container sees it.
    video_given: Optional[str] = None
    audio: Optional[str] = None
    au_csv: Optional[str] = None
    # paste-back: the rendered video, the full-frame video to paste it into (default: the training video), and
    # whether infer pastes its result back as its last step.
    result: Optional[str] = None
    background: Optional[str] = None
    paste_back: bool = False
    iterations: Optional[int] = None
    force: bool = False
    from_step: Optional[str] = None
    options: Dict[str, Any] = field(default_factory=dict)

    def option(self, name: str) -> Any:
        return self.options.get(name)
