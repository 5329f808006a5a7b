"""Shared helpers for the upstream test doubles.

The doubles stand in for ER-NeRF, GaussianTalker and GeneFace in tests and in the
local image line. They accept exactly the flags of the upstream argument parsers at
the pinned commits and write outputs of the right names and formats, so the
entrypoints can be exercised end to end without CUDA or upstream code.

Environment knobs (read by every double):

- ``FAKE_UPSTREAM_LOG``: append one JSON line per invocation (script, argv, cwd).
- ``FAKE_UPSTREAM_FAIL``: comma-separated ``<script>[#<task>]:<mode>`` entries.
  ``<script>`` is the path relative to the double's tree root, ``mode`` is
  ``exit`` (fail loudly, exit 1) or ``silent`` (exit 0, write nothing) -- the
  second is the upstream habit the entrypoints must catch. ``fill`` writes
  ``<workspace>/.fake-upstream-ballast`` until the disk is full, then dies of
  the OSError as upstream's checkpoint writes would (the test frees the disk
  by removing that file).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import wave
from pathlib import Path
from typing import Optional, Sequence

FPS = 25


def tree_root(script_file: str, depth: int) -> Path:
    """The double tree's root, ``depth`` folders above the script."""
    return Path(script_file).resolve().parents[depth]


def failures() -> str:
    """FAKE_UPSTREAM_FAIL, or the same text in <workspace>/.fake-upstream-fail: the only way into a container that
    a Slurm job starts, whose environment the test does not control."""
    marker = os.path.join(os.environ.get("TALKINGFACE_WORKSPACE", "/workspace"), ".fake-upstream-fail")
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as fh:
            return fh.read().strip()
    return os.environ.get("FAKE_UPSTREAM_FAIL", "")


def start(script_file: str, depth: int, argv: Sequence[str], task: Optional[object] = None) -> None:
    """Record the call, then fail as ``FAKE_UPSTREAM_FAIL`` asks, if it does."""
    rel = Path(script_file).resolve().relative_to(tree_root(script_file, depth)).as_posix()
    log = os.environ.get("FAKE_UPSTREAM_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"script": rel, "argv": list(argv), "cwd": os.getcwd(), "task": task}) + "\n")
    for entry in filter(None, failures().split(",")):
        target, _, mode = entry.partition(":")
        name, _, want_task = target.partition("#")
        if name != rel or (want_task and str(task) != want_task):
            continue
        if mode == "fill":
            ballast = os.path.join(os.environ.get("TALKINGFACE_WORKSPACE", "/workspace"), ".fake-upstream-ballast")
            with open(ballast, "ab", buffering=0) as fh:
                while True:
                    fh.write(b"\0" * (1 << 20))  # ends in OSError ENOSPC: the traceback is the point
        if mode == "silent":
            print(f"[double] {rel}: pretending success without writing outputs")
            sys.exit(0)
        print(f"[double] {rel}: injected failure", file=sys.stderr)
        sys.exit(1)


def write_npy(path: os.PathLike, shape: Sequence[int], fill: float = 0.0) -> None:
    """Write a little-endian float32 ``.npy`` (format 1.0) without numpy."""
    count = 1
    for dim in shape:
        count *= dim
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % dims
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as fh:
        fh.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        fh.write(struct.pack("<f", fill) * count)


def wav_seconds(path: os.PathLike) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())


def ffmpeg(*args: str) -> None:
    """Run the real ffmpeg, as upstream does, and fail loudly (unlike upstream)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        sys.exit("[double] ffmpeg not found on PATH")
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def ffprobe_frames(video: os.PathLike) -> int:
    """Number of video frames after resampling to 25 fps, as ``-vf fps=25`` would give."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(video)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return max(1, int(round(float(out) * FPS)))


def write_video(path: os.PathLike, frames: int, size: int = 64, audio: Optional[os.PathLike] = None) -> None:
    """A real H.264 clip of ``frames`` frames at 25 fps (plus AAC audio when given)."""
    args = ["-f", "lavfi", "-i", f"testsrc=size={size}x{size}:rate={FPS}", "-frames:v", str(frames)]
    if audio is not None:
        args += ["-i", str(audio), "-c:a", "aac"]
    ffmpeg(*args, "-pix_fmt", "yuv420p", "-c:v", "libx264", str(path))


def write_image(path: os.PathLike, size: int = 64) -> None:
    """A real JPEG or PNG (by extension) of a flat colour."""
    ffmpeg("-f", "lavfi", "-i", f"color=c=gray:s={size}x{size}", "-frames:v", "1", str(path))


def write_text(path: os.PathLike, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")


# A real render changes the mouth and keeps the rest of the crop as the dataset's frame at the same pose. The
# doubles render just that: the dataset frames of the poses they use, in the order they use them, with a grey block
# over the mouth. Tests can then tell which pose each rendered frame used.
MOUTH = "drawbox=x=iw*0.38:y=ih*0.62:w=iw*0.24:h=ih*0.1:color=gray:t=fill"


def render_frames(images: Sequence[os.PathLike], out: os.PathLike, *, video: bool = True) -> None:
    """``images`` in order, each with the mouth block, as an H.264 video at 25 fps (or, with ``video=False``, as the
    numbered PNGs ``out`` names, e.g. ``.../%05d.png``)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="double-render-") as tmp:
        for number, image in enumerate(images):
            os.symlink(os.path.abspath(image), os.path.join(tmp, f"{number:05d}{Path(image).suffix}"))
        suffix = Path(images[0]).suffix
        args = ["-framerate", str(FPS), "-start_number", "0", "-i", os.path.join(tmp, f"%05d{suffix}"), "-vf", MOUTH]
        if video:
            args += ["-pix_fmt", "yuv420p", "-c:v", "libx264"]
        else:
            args += ["-start_number", "0"]
        ffmpeg(*args, str(out))


def write_parsing(path: os.PathLike, width: int, height: int) -> None:
    """A face-parsing map as upstream's parser saves it (cv2.imwrite, so BGR (255,0,0) is the head, blue in the
    file): head ellipse, neck, torso and white background, where the sample clip's crop has them."""
    head = f"lt(pow((X-{width}/2)/({width}*0.28),2)+pow((Y-{height}*0.45)/({height}*0.36),2),1)"
    neck = f"between(X,{width}*0.38,{width}*0.62)*between(Y,{height}*0.75,{height}*0.9)"
    torso = f"gt(Y,{height}*0.9)"
    red = f"if({head}+{neck},0,255)"
    green = f"if({head},0,if({neck},255,if({torso},0,255)))"
    blue = f"if({head},255,if({neck}+{torso},0,255))"
    ffmpeg(
        "-f", "lavfi", "-i", f"color=c=white:s={width}x{height}", "-frames:v", "1",
        "-vf", f"format=rgb24,geq=r='{red}':g='{green}':b='{blue}'", str(path),
    )  # fmt: skip
