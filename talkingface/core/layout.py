"""Where things live: the workspace layout on the host, and the fixed mount points inside a container.

Workspace layout (``--workspace``, default ``./workspace/<model>``)::

    data/<task>/        the dataset that preprocessing writes
    models/<task>/      checkpoints
    results/<task>/     rendered videos, <audio-stem>.mp4
    audio/<stem>/       driving audio as 16 kHz wav, and its features
    logs/<task>/        one log per step
    .talkingface/       resume markers and converted BFM files

A model adapter may move ``data`` and ``models`` where its upstream insists (GeneFace).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class ContainerRoots:
    """Mount points inside the image; overridable so the entrypoint can be tested outside a container."""

    workspace: str = "/workspace"
    inputs: str = "/input"
    bfm: str = "/bfm_models"
    weights: str = "/weights"
    upstream: str = "/opt/upstream"

    @classmethod
    def from_env(cls) -> ContainerRoots:
        return cls(
            workspace=os.environ.get("TALKINGFACE_WORKSPACE", cls.workspace),
            inputs=os.environ.get("TALKINGFACE_INPUTS", cls.inputs),
            bfm=os.environ.get("TALKINGFACE_BFM", cls.bfm),
            weights=os.environ.get("TALKINGFACE_WEIGHTS", cls.weights),
            upstream=os.environ.get("TALKINGFACE_UPSTREAM", cls.upstream),
        )


@dataclass(frozen=True)
class TaskPaths:
    """Every folder one task of one model uses; all absolute, in one filesystem view (host or container)."""

    workspace: str
    data_dir: str
    model_dir: str
    results_dir: str
    logs_dir: str
    state_dir: str
    audio_root: str

    def audio_dir(self, stem: str) -> str:
        return str(PurePosixPath(self.audio_root) / stem)


def default_paths(workspace: str, task: str) -> TaskPaths:
    ws = PurePosixPath(workspace)
    return TaskPaths(
        workspace=str(ws),
        data_dir=str(ws / "data" / task),
        model_dir=str(ws / "models" / task),
        results_dir=str(ws / "results" / task),
        logs_dir=str(ws / "logs" / task),
        state_dir=str(ws / ".talkingface" / "state" / task),
        audio_root=str(ws / "audio"),
    )
