"""Helpers shared by the ER-NeRF test doubles (not an upstream file).

Upstream pins: Fictionarry/ER-NeRF @ 0cf72d8. Nothing here is upstream code; it only
knows the file formats the doubles read and write.

Fake torch files (checkpoints, ``track_params.pt``) are JSON behind a magic line, so a
later double can read back what an earlier one "saved" (epoch, frame count). A file
without the magic line (e.g. written by a test) is treated as a loadable torch file of
unknown content.
"""

from __future__ import annotations

import ast
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import wave
from collections.abc import Sequence
from pathlib import Path

import fakeupstream as fu

TORCH_MAGIC = b"FAKE-TORCH-SAVE\n"


def die(exc: str, message: str) -> None:
    """Fail the way an uncaught Python exception does upstream (exit 1)."""
    print("Traceback (most recent call last):\n  [double] (upstream traceback elided)", file=sys.stderr)
    print(f"{exc}: {message}", file=sys.stderr)
    sys.exit(1)


def np_save_name(path: str) -> str:
    """``np.save`` appends ``.npy`` when the name lacks it."""
    return path if path.endswith(".npy") else path + ".npy"


def npy_shape(path: str) -> tuple[int, ...]:
    """Shape from a ``.npy`` header, failing like ``np.load`` would."""
    if not os.path.exists(path):
        die("FileNotFoundError", f"[Errno 2] No such file or directory: '{path}'")
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            die("ValueError", "Cannot load file containing pickled data when allow_pickle=False")
        major = fh.read(2)[0]
        size = struct.unpack("<H", fh.read(2))[0] if major == 1 else struct.unpack("<I", fh.read(4))[0]
        header = ast.literal_eval(fh.read(size).decode("latin1"))
    return tuple(header["shape"])


def wav_info(path: str) -> tuple[int, int]:
    """(samples per channel, sample rate) of a wav, as soundfile / scipy report them."""
    if not os.path.exists(path):
        die("FileNotFoundError", f"[Errno 2] No such file or directory: '{path}'")
    try:
        with wave.open(path, "rb") as wav:
            return wav.getnframes(), wav.getframerate()
    except (wave.Error, EOFError):
        out = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-select_streams",
                "a:0",
                "-show_entries",
                "stream=sample_rate,duration_ts",
                "-of",
                "json",
                path,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        stream = json.loads(out)["streams"][0]
        return int(stream["duration_ts"]), int(stream["sample_rate"])


def image_size(path: str) -> tuple[int, int]:
    """(height, width) of an image or video, via ffprobe."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
            path,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    width, height = (int(v) for v in out.split(",")[:2])
    return height, width


def write_color_image(path: str, height: int, width: int, color: str = "gray", rgba: bool = False) -> None:
    """A real JPEG/PNG of ``width`` x ``height`` pixels (RGBA PNG when asked)."""
    args = ["-f", "lavfi", "-i", f"color=c={color}:s={width}x{height}", "-frames:v", "1"]
    if rgba:
        args += ["-pix_fmt", "rgba"]
    fu.ffmpeg(*args, path)


def fill_copies(template: str, targets: Sequence[str]) -> None:
    for target in targets:
        shutil.copyfile(template, target)


def write_video(path: str, frames: int, height: int, width: int) -> None:
    """Silent H.264 at 25 fps, like imageio.mimwrite(fps=25, quality=8, macro_block_size=1)."""
    fu.ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size={width}x{height}:rate={fu.FPS}",
        "-frames:v",
        str(frames),
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        path,
    )


def torch_save(path: str, payload: dict[str, object]) -> None:
    with open(path, "wb") as fh:
        fh.write(TORCH_MAGIC + json.dumps(payload, indent=1).encode("utf-8"))


def torch_load(path: str) -> dict[str, object] | None:
    """Content of a fake torch file; None for a foreign placeholder; fails like torch.load."""
    if not os.path.exists(path):
        die("FileNotFoundError", f"[Errno 2] No such file or directory: '{path}'")
    if os.path.isdir(path):
        die("IsADirectoryError", f"[Errno 21] Is a directory: '{path}'")
    data = Path(path).read_bytes()
    if not data:
        die("EOFError", "Ran out of input")
    if not data.startswith(TORCH_MAGIC):
        return None
    return json.loads(data[len(TORCH_MAGIC) :].decode("utf-8"))


def ds_rows(samples: int, rate: int, count: int | None = None) -> int:
    """Rows of extract_ds_features output: M 50 fps steps, M-1 windows, stride 2 over 16 -> M // 2."""
    steps = count if count is not None else round(float(samples) / rate * 50)
    return max(0, steps // 2)


def conv_len(samples: int, layers: Sequence[tuple[int, int]]) -> int:
    length = samples
    for kernel, stride in layers:
        length = (length - kernel) // stride + 1
    return max(0, length)


WAV2VEC2_CONV = ((10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2))


def wav2vec_rows(samples16k: int, fps: int = 50, left: int = 10, mid: int = 50, right: int = 10) -> int:
    """Rows written by the ASR --save_feats path (simulates its chunked streaming loop)."""
    chunk = 16000 // fps
    sizes = [chunk] * (samples16k // chunk) + ([samples16k % chunk] if samples16k % chunk else [])
    frames = [chunk] * left if left > 0 else []
    total = 0
    for size in sizes:
        frames.append(size)
        if len(frames) < left + mid + right:
            continue
        n = conv_len(sum(frames), WAV2VEC2_CONV)
        frames = frames[-(left + right) :] if (left + right) else []
        total += max(0, min(n, n - right + 1) - max(0, left))
    n = conv_len(sum(frames), WAV2VEC2_CONV)
    total += max(0, n - max(0, left))
    return total // 2 + 1


def hubert_rows(samples16k: int) -> int:
    expected = max(0, (samples16k - (400 - 320)) // 320)
    return (expected - expected % 2) // 2


def resampled_len(samples: int, rate: int, how: str) -> int:
    if rate == 16000:
        return samples
    if how == "librosa":  # soxr: ceil(n * ratio)
        return math.ceil(samples * 16000 / rate)
    return int(samples * 16000 / rate)  # resampy


def landmarks_text(height: int, width: int) -> str:
    """68 plausible (x, y) face landmarks in pixel coordinates, np.savetxt('%f') style."""
    cx, cy, s = width / 2.0, height / 2.0, min(width, height) / 4.0
    pts = []
    for i in range(17):  # jaw
        t = math.pi * (i / 16.0)
        pts.append((cx - s * math.cos(t), cy + s * 0.2 + s * 0.8 * math.sin(t)))
    for i in range(10):  # brows
        pts.append((cx - s * 0.8 + s * 1.6 * i / 9.0, cy - s * 0.55))
    for i in range(4):  # nose bridge
        pts.append((cx, cy - s * 0.4 + s * 0.15 * i))
    for i in range(5):  # nostrils
        pts.append((cx - s * 0.2 + s * 0.1 * i, cy + s * 0.25))
    for ex in (-0.4, 0.4):  # eyes
        for i in range(6):
            t = 2 * math.pi * i / 6.0
            pts.append((cx + s * ex + s * 0.15 * math.cos(t), cy - s * 0.3 + s * 0.06 * math.sin(t)))
    for i in range(12):  # outer lips
        t = 2 * math.pi * i / 12.0
        pts.append((cx + s * 0.35 * math.cos(t), cy + s * 0.6 + s * 0.15 * math.sin(t)))
    for i in range(8):  # inner lips
        t = 2 * math.pi * i / 8.0
        pts.append((cx + s * 0.25 * math.cos(t), cy + s * 0.6 + s * 0.07 * math.sin(t)))
    return "".join(f"{x:f} {y:f}\n" for x, y in pts)
