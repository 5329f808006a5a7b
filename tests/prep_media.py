"""Generated media for the preprocessing tests: the sample clip, and bad or odd variants of it.

Each function writes one file into ``folder`` and returns its path. All are deterministic; the sample clip a variant
starts from is made once per folder and reused (same arguments, same bytes, so reuse is safe).
"""

from __future__ import annotations

import math
import subprocess
import tempfile
from pathlib import Path
from typing import Tuple

import numpy as np

from talkingface.demo import sample_clip as sc


def x264(*, crf: int = 20) -> Tuple[str, ...]:
    # Threads pinned as in the sample clip (x264's output depends on the count): the variants reproduce as it does.
    return ("-c:v", "libx264", "-preset", "ultrafast", "-crf", str(crf), "-threads", "2", "-pix_fmt", "yuv420p")


def _out(*args: str, dst: Path) -> Path:
    """Run ffmpeg with ``args`` (inputs and output options), writing ``dst`` bit-exactly."""
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, *sc.BITEXACT_FLAGS, str(dst)]
    subprocess.run(argv, check=True)
    return dst


def sample_clip(folder: Path, *, seconds: float = 12, size: int = 512) -> Path:
    """The sample clip (with its ``.truth.json``), made once per folder and arguments."""
    clip = Path(folder) / f"sample-{seconds:g}s-{size}.mp4"
    if not (clip.exists() and sc.truth_path(clip).exists()):
        sc.generate(clip, seconds=seconds, size=size)
    return clip


def cat_clip(folder: Path, *, seconds: float = 12) -> Path:
    """``skimage.data.chelsea()`` (a cat, no human face) as a 512x512 still, with the sample's speech."""
    import cv2
    from skimage import data

    cat = data.chelsea()  # 300x451
    scale = 512 / cat.shape[0]
    wide = cv2.resize(cat, (round(cat.shape[1] * scale), 512), interpolation=cv2.INTER_CUBIC)
    left = (wide.shape[1] - 512) // 2
    speech = sample_clip(folder, seconds=seconds)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        still = Path(tmp) / "chelsea.png"
        cv2.imwrite(str(still), cv2.cvtColor(wide[:, left : left + 512], cv2.COLOR_RGB2BGR))
        return _out(
            "-loop", "1", "-framerate", str(sc.FPS), "-i", str(still), "-i", str(speech),
            "-map", "0:v", "-map", "1:a", "-t", f"{seconds:g}", *x264(), "-c:a", "copy",
            dst=Path(folder) / "cat.mp4",
        )  # fmt: skip


def two_people_clip(folder: Path, *, seconds: float = 12) -> Path:
    """Two astronauts side by side (the sample's face half and its mirror image), 512x512, with speech."""
    sample = sample_clip(folder, seconds=seconds)
    # Columns 96..352 hold the face (x 179..266) with the jitter's few pixels to spare on both sides.
    return _out(
        "-i", str(sample),
        "-filter_complex", "[0:v]crop=256:512:96:0,split[a][b];[b]hflip[m];[a][m]hstack=inputs=2[v]",
        "-map", "[v]", "-map", "0:a", *x264(), "-c:a", "copy",
        dst=Path(folder) / "two-people.mp4",
    )  # fmt: skip


def portrait_rotated_clip(folder: Path, *, seconds: float = 12) -> Path:
    """A 288x512 portrait clip stored as 512x288 landscape pixels with a 90-degree display matrix, as phones do.

    ffmpeg 5.1 (Debian 12) drops ``-metadata:s:v:0 rotate=N`` when the stream is encoded and honours it only on a
    stream copy, where it takes N as degrees anticlockwise: ``rotate=270`` writes the matrix ffprobe shows as
    ``rotation=-90`` (turn 90 degrees clockwise to display), the one a phone held upright writes. (ffmpeg 6 and
    newer replace the tag with ``-display_rotation``.) So: encode the pixels turned anticlockwise, then copy the
    stream with the tag.
    """
    sample = sample_clip(folder, seconds=seconds)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        # Columns 112..400 of the sample: the face (x 179..266) in a 9:16 frame.
        sideways = _out(
            "-i", str(sample), "-vf", "crop=288:512:112:0,transpose=cclock", *x264(), "-c:a", "copy",
            dst=Path(tmp) / "sideways.mp4",
        )  # fmt: skip
        return _out(
            "-i", str(sideways), "-map", "0", "-c", "copy", "-metadata:s:v:0", "rotate=270",
            dst=Path(folder) / "portrait-rotated.mp4",
        )  # fmt: skip


def uhd60_clip(folder: Path, *, seconds: float = 10.5) -> Path:
    """3840x2160 at 60 fps: the sample scaled up to the full height (face ~380 px) on a grey background.

    The slowest helper: x264 must encode 8.3 Mpixel frames, about 1.5 s of CPU per second of clip here even with
    the ultrafast preset.
    """
    sample = sample_clip(folder, seconds=max(12, math.ceil(seconds)))
    return _out(
        "-i", str(sample), "-t", f"{seconds:g}",
        "-vf", "scale=2160:2160:flags=bicubic,fps=60,pad=3840:2160:840:0:color=0x808080",
        *x264(crf=28), "-c:a", "aac", "-b:a", "96k",
        dst=Path(folder) / "uhd60.mp4",
    )  # fmt: skip


def no_audio_clip(folder: Path) -> Path:
    """The sample's video stream alone."""
    return _out("-i", str(sample_clip(folder)), "-map", "0:v", "-c", "copy", dst=Path(folder) / "no-audio.mp4")


def audio_only(folder: Path, *, fmt: str = "wav") -> Path:
    """The sample's speech alone: ``fmt="wav"`` is 16 kHz mono PCM, ``fmt="m4a"`` the sample's AAC stream."""
    dst = Path(folder) / f"speech.{fmt}"
    if fmt == "wav":
        sc.write_wav(dst, sc.speech(seconds=12))
        return dst
    if fmt == "m4a":
        return _out("-i", str(sample_clip(folder)), "-map", "0:a", "-c", "copy", dst=dst)
    raise ValueError(f"fmt must be 'wav' or 'm4a', not {fmt!r}")


def one_second_clip(folder: Path) -> Path:
    """A 1 s sample clip (25 frames): shorter than any model's minimum."""
    clip = Path(folder) / "one-second.mp4"
    sc.generate(clip, seconds=1)
    return clip


def truncated_mp4(folder: Path, *, faststart: bool = False) -> Path:
    """The sample cut to half its bytes.

    As written, the sample's moov (the index) is at the end, so the half has none and nothing can read it. With
    ``faststart`` the moov is moved to the front first: the header reads and says 12 s, the frames stop halfway.
    """
    sample = sample_clip(folder)
    data = sample.read_bytes()
    if faststart:
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            moved = _out("-i", str(sample), "-map", "0", "-c", "copy", "-movflags", "+faststart",
                         dst=Path(tmp) / "faststart.mp4")  # fmt: skip
            data = moved.read_bytes()
    dst = Path(folder) / ("truncated-faststart.mp4" if faststart else "truncated.mp4")
    dst.write_bytes(data[: len(data) // 2])
    return dst


def corrupt_file(folder: Path, *, size: int = 256 * 1024, seed: int = 0) -> Path:
    """Random bytes named .mp4."""
    dst = Path(folder) / "corrupt.mp4"
    dst.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return dst
