"""docker save and docker load through zstd, and the labels that say what an image is."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from ..core.errors import TalkingfaceError
from . import zstd

MODEL_LABEL = "io.talkingface.model"
LINE_LABEL = "io.talkingface.line"
COMMIT_LABEL = "io.talkingface.upstream.commit"
REVISION_LABEL = "org.opencontainers.image.revision"


@dataclass(frozen=True)
class ImageInfo:
    tag: str
    id: str
    labels: Mapping[str, str]


def require_docker() -> None:
    if shutil.which("docker") is None:
        raise TalkingfaceError(
            "docker is not installed", fix="install Docker Engine (make doctor checks it)", exit_code=1
        )


def inspect(tag: str) -> Optional[ImageInfo]:
    done = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    raw = json.loads(done.stdout)[0]
    return ImageInfo(tag=tag, id=raw["Id"], labels=(raw.get("Config") or {}).get("Labels") or {})


def save(tag: str, dst: Path) -> None:
    saver = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert saver.stdout is not None  # noqa: S101 - Popen with PIPE
    try:
        with zstd.compressing(dst) as pipe:
            shutil.copyfileobj(saver.stdout, pipe, 4 << 20)
    finally:
        saver.stdout.close()
        err = saver.stderr.read().decode(errors="replace").strip() if saver.stderr else ""
        saver.wait()
    if saver.returncode != 0:
        raise TalkingfaceError(
            f"docker save {tag} failed: {err}", fix="check the daemon with 'make doctor'", exit_code=1
        )


def load(src: Path) -> str:
    """docker load's own report, e.g. 'Loaded image: talkingface/ernerf:0.5.0-cu118'."""
    loader = subprocess.Popen(["docker", "load"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert loader.stdin is not None  # noqa: S101 - Popen with PIPE
    try:
        with zstd.decompressing(src) as pipe:
            shutil.copyfileobj(pipe, loader.stdin, 4 << 20)
    finally:
        out, err = loader.communicate()  # closes stdin: docker load sees the end of the archive
    if loader.returncode != 0:
        raise TalkingfaceError(
            f"docker load of {src.name} failed: {err.decode(errors='replace').strip()}",
            fix="check the daemon and its disk with 'make doctor'",
            exit_code=1,
        )
    return out.decode(errors="replace").strip()
