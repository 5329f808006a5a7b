"""The verbs every model offers, with their aliases and what each needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

from .errors import TalkingfaceError


@dataclass(frozen=True)
class Verb:
    name: str
    summary: str
    aliases: Tuple[str, ...] = ()
    needs_cuda: bool = False
    needs_video: bool = False
    needs_audio: bool = False
    needs_checkpoint: bool = False
    needs_result: bool = False
    in_container: bool = True
    # Works on a person-specific training video or dataset: only models that train offer it.
    for_training: bool = False


VERBS: Tuple[Verb, ...] = (
    Verb(
        "train",
        "preprocess the video, then run every training stage",
        needs_cuda=True,
        needs_video=True,
        for_training=True,
    ),
    Verb(
        "check",
        "check a training video in seconds: its streams, length, and one face throughout",
        needs_video=True,
        for_training=True,
    ),
    Verb(
        "preprocess",
        "turn a video into a training dataset",
        ("preprocess_only",),
        needs_cuda=True,
        needs_video=True,
        for_training=True,
    ),
    Verb("train_only", "run the training stages on an existing dataset", needs_cuda=True, for_training=True),
    Verb(
        "infer",
        "render a lip-synced video for an audio file, with the audio muxed in",
        ("test",),
        needs_cuda=True,
        needs_audio=True,
        needs_checkpoint=True,
    ),
    Verb(
        "paste-back",
        "paste a rendered result back into the full-frame training video, with its audio",
        needs_result=True,
        for_training=True,
    ),
    Verb("extract-features", "compute the model's audio features for an audio file", needs_audio=True),
    Verb("convert-bfm", "convert the Basel Face Model 2009 for the face tracker", for_training=True),
    Verb("validate", "check a dataset before training", for_training=True),
    Verb("shell", "open a shell inside the image, in the upstream tree"),
    Verb("info", "show the model, its pinned upstream commit, image tags and workspace layout", in_container=False),
    Verb("status", "show the Slurm jobs of a task (--backend slurm): state, and log of each step", in_container=False),
    Verb("cancel", "cancel the Slurm jobs of a task that are still queued or running", in_container=False),
)

_BY_NAME: Dict[str, Verb] = {}
for _verb in VERBS:
    _BY_NAME[_verb.name] = _verb
    for _alias in _verb.aliases:
        _BY_NAME[_alias] = _verb


def lookup(name: str) -> Verb:
    try:
        return _BY_NAME[name]
    except KeyError:
        names = ", ".join(v.name for v in VERBS)
        raise TalkingfaceError(f"unknown verb {name!r}", fix=f"use one of: {names} (see --help)") from None
