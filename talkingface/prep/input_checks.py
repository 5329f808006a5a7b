"""Checks on a training video that take a second, before anything slow runs. Pure functions of a MediaInfo."""

from __future__ import annotations

from typing import List

from ..core.errors import TalkingfaceError
from .probe import MediaInfo

MIN_SECONDS = 10.0
# Upstream asks for 1-5 minutes; shorter clips train, but the head sees few poses and mouth shapes.
ADVISED_SECONDS = 60.0
# Decoded frames fall short of the header's length by rounding and frame-rate conversion only; a second more means
# the file stops early, as a truncated download whose index survived does (ffmpeg decodes what is there, exits 0).
SHORTFALL_SECONDS = 1.0


def check_streams(info: MediaInfo, *, needs_audio: bool) -> List[str]:
    """Raise on a video that cannot become a dataset; return warnings for one that can, but poorly."""
    if info.video is None:
        raise TalkingfaceError(
            f"{info.path} has no video stream ({info.summary()})",
            fix="pass a video of the person talking, not an audio file",
            exit_code=1,
        )
    if needs_audio and info.audio is None:
        raise TalkingfaceError(
            f"{info.path} has no audio stream; training learns the mouth from the speech in the video",
            fix="pass the original recording with its sound",
            exit_code=1,
        )
    if info.video.width < 64 or info.video.height < 64:
        raise TalkingfaceError(
            f"{info.path} is {info.video.width}x{info.video.height}, too small to find a face in",
            fix="pass a video of at least 512x512 around the face",
            exit_code=1,
        )
    if info.duration < MIN_SECONDS:
        raise TalkingfaceError(
            # Two decimals: 9.96 s must not read as "10.0 s" next to "at least 10 s".
            f"{info.path} lasts {info.duration:.2f} s; training needs at least {MIN_SECONDS:.0f} s",
            fix="pass a longer video (1 to 5 minutes of one person talking is best)",
            exit_code=1,
        )
    warnings = []
    if info.duration < ADVISED_SECONDS:
        warnings.append(
            f"the video lasts {info.duration:.1f} s; under a minute the model sees few poses and mouth shapes "
            "(1 to 5 minutes is best)"
        )
    return warnings


def check_decoded(info: MediaInfo, frames: int, *, fps: int) -> None:
    """Raise if ``frames`` decoded at ``fps`` end well before the video's header says the video does."""
    assert info.video is not None  # noqa: S101 - check_streams raised otherwise
    said = info.video.duration or info.duration
    expected = int(round(said * fps))
    # Without the stream's own length, the file's may include audio that runs on after the picture.
    slack = fps * SHORTFALL_SECONDS if info.video.duration else max(fps * SHORTFALL_SECONDS, 0.1 * expected)
    if expected - frames > slack:
        raise TalkingfaceError(
            f"{info.path} stops after {clock(frames / fps)} (mm:ss) though its header says {clock(said)}: only "
            f"{frames} of {expected} frames decode",
            fix="the file is truncated or damaged: re-export or re-download it",
            exit_code=1,
        )


def clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes):02d}:{rest:05.2f}"
