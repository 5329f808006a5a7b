"""Frames out of ffmpeg as NumPy batches: one decoder, any filter chain, memory bounded by the batch size.

ffmpeg applies the rotation flag itself, and ``fps=25`` first in every chain, so the frame numbers of every pass
over the same source agree with the dataset's.
"""

from __future__ import annotations

import subprocess
import threading
from typing import Iterator, List, Tuple

import numpy as np

from ..container.media import tool
from ..core.errors import ffmpeg_failed

FPS = 25
CHANNELS = {"gray": 1, "rgb24": 3, "bgr24": 3}


def _drain(stream, sink: List[bytes]) -> None:  # type: ignore[no-untyped-def]
    for line in iter(stream.readline, b""):
        sink.append(line)
    stream.close()


def batches(
    path: str,
    *,
    filters: str,
    width: int,
    height: int,
    pix_fmt: str,
    batch: int,
    start: float = 0.0,
    frames: int = 0,
    threads: int = 0,
) -> Iterator[Tuple[int, np.ndarray]]:
    """(first frame number, frames (n, H, W[, C]) uint8) in order; ``filters`` must output ``width`` x ``height``.

    ``start`` seeks (exactly: ffmpeg decodes from the keyframe before and drops what precedes), ``frames`` stops
    after that many, ``threads`` caps the decoder's threads (0: ffmpeg's choice).
    """
    argv = [tool("ffmpeg"), "-nostdin", "-v", "error"]
    if threads:
        argv += ["-threads", str(threads)]
    if start > 0:
        argv += ["-ss", f"{start:.3f}"]
    argv += ["-i", path, "-an", "-sn", "-vf", filters]
    if frames:
        argv += ["-frames:v", str(frames)]
    argv += ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
    channels = CHANNELS[pix_fmt]
    shape: Tuple[int, ...] = (height, width) if channels == 1 else (height, width, channels)
    frame_bytes = width * height * channels
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    errors: List[bytes] = []
    reader = threading.Thread(target=_drain, args=(child.stderr, errors), daemon=True)
    reader.start()
    stdout = child.stdout
    assert stdout is not None  # noqa: S101 - Popen with PIPE always has it
    done = 0
    finished = False
    try:
        while True:
            data = stdout.read(frame_bytes * batch)
            count = len(data) // frame_bytes
            if count == 0:
                break
            yield done, np.frombuffer(data[: count * frame_bytes], np.uint8).reshape(count, *shape)
            done += count
        finished = True
    finally:
        stdout.close()
        if not finished:
            child.kill()
        code = child.wait()
        reader.join()
    if code != 0:
        reason = errors[-1].decode(errors="replace").strip() if errors else f"exit status {code}"
        fix = "the file is damaged or truncated: re-export or re-download it"
        raise ffmpeg_failed(f"decode {path}", reason, fix=fix)


def packet_count(path: str) -> int:
    """Frames in the first video stream, counted from its packets (fast: nothing is decoded); -1 if unreadable."""
    out = subprocess.run(
        [tool("ffprobe"), "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
         "stream=nb_read_packets", "-of", "csv=p=0", path],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    text = out.stdout.strip().split(",")[0]
    return int(text) if text.isdigit() else -1


def grab(path: str, *, at: float, filters: str, width: int, height: int, pix_fmt: str) -> np.ndarray:
    """One frame at ``at`` seconds (fast seek), or an empty array past the end."""
    for _, frames in batches(path, filters=filters, width=width, height=height, pix_fmt=pix_fmt, batch=1, start=at):
        return frames[0]
    return np.zeros((0,), np.uint8)


def scaled(width: int, height: int, scale: float) -> Tuple[int, int]:
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)
