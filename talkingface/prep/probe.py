"""What a media file holds, from one ffprobe call: streams, size as displayed (rotation applied), fps, duration."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Dict, List, Optional

from ..container.media import tool
from ..core.errors import TalkingfaceError


@dataclass(frozen=True)
class VideoStream:
    codec: str
    # As displayed: ffmpeg applies the rotation flag when it decodes, so every later step sees these dimensions.
    width: int
    height: int
    rotation: int
    fps: Fraction
    pix_fmt: str
    # The stream's own length in seconds, 0 where the container does not give one (Matroska, WebM).
    duration: float = 0.0


@dataclass(frozen=True)
class AudioStream:
    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class MediaInfo:
    path: str
    container: str
    duration: float
    video: Optional[VideoStream]
    audio: Optional[AudioStream]

    def summary(self) -> str:
        parts = [f"{self.container}, {self.duration:.2f} s"]
        if self.video:
            v = self.video
            rotated = f", rotated {v.rotation}" if v.rotation else ""
            parts.append(f"{v.codec} {v.width}x{v.height} {float(v.fps):.3g} fps {v.pix_fmt}{rotated}")
        if self.audio:
            parts.append(f"{self.audio.codec} {self.audio.sample_rate} Hz x{self.audio.channels}")
        return "; ".join(parts)


def _rotation(stream: Dict[str, Any]) -> int:
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return int(round(float(side["rotation"]))) % 360
    tag = (stream.get("tags") or {}).get("rotate")
    return int(tag) % 360 if tag and tag.lstrip("-").isdigit() else 0


def _fps(stream: Dict[str, Any]) -> Fraction:
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(stream.get(key, "0/0")).partition("/")
        if num.isdigit() and den.isdigit() and int(num) and int(den):
            return Fraction(int(num), int(den))
    return Fraction(0)


def _seconds(value: Any) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 0.0


def parse(path: str, data: Dict[str, Any]) -> MediaInfo:
    """MediaInfo from ffprobe's JSON (``-show_format -show_streams``); pure, so recorded outputs test it."""
    streams: List[Dict[str, Any]] = data.get("streams") or []
    fmt = data.get("format") or {}
    video = audio = None
    for s in streams:
        kind = s.get("codec_type")
        # Cover art is a one-frame "video" stream in audio files; it is not a video.
        if kind == "video" and video is None and not (s.get("disposition") or {}).get("attached_pic"):
            rotation = _rotation(s)
            width, height = int(s.get("width") or 0), int(s.get("height") or 0)
            if rotation in (90, 270):
                width, height = height, width
            video = VideoStream(
                codec=str(s.get("codec_name", "?")),
                width=width,
                height=height,
                rotation=rotation,
                fps=_fps(s),
                pix_fmt=str(s.get("pix_fmt", "?")),
                duration=_seconds(s.get("duration")),
            )
        elif kind == "audio" and audio is None:
            audio = AudioStream(
                codec=str(s.get("codec_name", "?")),
                sample_rate=int(s.get("sample_rate") or 0),
                channels=int(s.get("channels") or 0),
            )
    duration = _seconds(fmt.get("duration"))
    return MediaInfo(path=path, container=str(fmt.get("format_name", "?")), duration=duration, video=video, audio=audio)


def probe(path: str) -> MediaInfo:
    out = subprocess.run(
        [tool("ffprobe"), "-v", "error", "-show_format", "-show_streams", "-of", "json", path],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        reason = (out.stderr.strip().splitlines() or ["unreadable"])[-1]
        raise TalkingfaceError(
            f"cannot read {path}: {reason}",
            fix="the file is damaged or not a media file: re-export or re-download it",
            exit_code=1,
        )
    return parse(path, json.loads(out.stdout or "{}"))
