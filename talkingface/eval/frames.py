"""Decode videos as a stream of RGB batches through ffmpeg, so memory stays flat whatever the length."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator, List, Optional, Tuple

import numpy as np

from ..core.errors import TalkingfaceError


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int
    height: int
    fps: Fraction
    frames: Optional[int]


def probe_video(path: str) -> VideoInfo:
    if shutil.which("ffprobe") is None:
        raise TalkingfaceError("ffprobe is not installed", fix="install ffmpeg")
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
         "-show_entries", "stream=width,height,r_frame_rate,nb_read_packets", "-of", "json", path],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    streams = json.loads(out.stdout or "{}").get("streams") if out.returncode == 0 else None
    if not streams:
        reason = (out.stderr.strip().splitlines() or ["no video stream"])[-1]
        raise TalkingfaceError(f"cannot read a video stream from {path}: {reason}", fix="pass a readable video file")
    s = streams[0]
    frames = int(s["nb_read_packets"]) if str(s.get("nb_read_packets", "")).isdigit() else None
    return VideoInfo(path, int(s["width"]), int(s["height"]), Fraction(s["r_frame_rate"]), frames)


def stream(
    info: VideoInfo, *, batch: int, size: Optional[Tuple[int, int]] = None, fps: Optional[Fraction] = None
) -> Iterator[np.ndarray]:
    """uint8 batches (n, H, W, 3); ``size`` resizes (bicubic) and ``fps`` resamples on the way."""
    width, height = size or (info.width, info.height)
    filters: List[str] = []
    if fps is not None and fps != info.fps:
        filters.append(f"fps={fps.numerator}/{fps.denominator}")
    if (width, height) != (info.width, info.height):
        filters.append(f"scale={width}:{height}:flags=bicubic")
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", info.path]
    command += ["-vf", ",".join(filters)] if filters else []
    command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    frame_bytes = width * height * 3
    stdout, stderr = child.stdout, child.stderr
    assert stdout is not None and stderr is not None  # noqa: S101 - Popen with PIPE always has them
    finished = False
    try:
        while True:
            data = stdout.read(frame_bytes * batch)
            if not data:
                break
            count = len(data) // frame_bytes
            yield np.frombuffer(data[: count * frame_bytes], np.uint8).reshape(count, height, width, 3)
        finished = True
    finally:
        stdout.close()
        if not finished:
            child.kill()
        code = child.wait()
        message = stderr.read().decode(errors="replace").strip()
        stderr.close()
    if code != 0:
        raise TalkingfaceError(
            f"decoding {info.path} failed: {message.splitlines()[-1] if message else code}", fix="check the file"
        )
