"""The model adapters. Adding a model means adding one module here and one line below."""

from __future__ import annotations

from typing import Dict

from ..core.errors import TalkingfaceError
from .base import Adapter
from .ernerf import ErNerf
from .gaussiantalker import GaussianTalker
from .geneface import GeneFace
from .nerffacespeech import NeRFFaceSpeech

ADAPTERS: Dict[str, Adapter] = {
    adapter.name: adapter for adapter in (ErNerf(), GaussianTalker(), GeneFace(), NeRFFaceSpeech())
}


def get_adapter(name: str) -> Adapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise TalkingfaceError(f"unknown model {name!r}", fix=f"use one of: {', '.join(ADAPTERS)}") from None
