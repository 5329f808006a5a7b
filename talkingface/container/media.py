"""ffprobe and ffmpeg, called with argument lists and checked."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import List, Optional

from ..core.errors import TalkingfaceError


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise TalkingfaceError(f"{name} is not installed", fix=f"install ffmpeg (it provides {name}) or use the image")
    return exe


@dataclass(frozen=True)
class Probe:
    duration: float
    has_video: bool
    has_audio: bool


def probe(path: str) -> Probe:
    out = subprocess.run(
        [tool("ffprobe"), "-v", "error", "-show_entries", "format=duration:stream=codec_type", "-of", "json", path],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        reason = (out.stderr.strip().splitlines() or ["unreadable"])[-1]
        raise TalkingfaceError(f"cannot read media file {path}: {reason}", fix="pass a valid audio or video file")
    data = json.loads(out.stdout or "{}")
    kinds = {s.get("codec_type") for s in data.get("streams", [])}
    duration = float(data.get("format", {}).get("duration") or 0.0)
    return Probe(duration=duration, has_video="video" in kinds, has_audio="audio" in kinds)


def ffmpeg(args: List[str], *, what: str, log: Optional[str] = None) -> None:
    argv = [tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        reason = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        raise TalkingfaceError(
            f"ffmpeg failed to {what}: {reason}", fix="check the input file; see the step log", exit_code=1
        )
