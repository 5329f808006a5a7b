"""Any audio (or video with audio) that ffmpeg reads -> 16 kHz mono wav, the rate every feature extractor wants."""

from __future__ import annotations

import argparse
from typing import List

from ..atomic import replacing
from ..errors import TalkingfaceError
from ..media import ffmpeg, probe


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.steps to-wav")
    parser.add_argument("--src", required=True)
    parser.add_argument("--dst", required=True)
    args = parser.parse_args(argv)
    info = probe(args.src)
    if not info.has_audio:
        raise TalkingfaceError(f"{args.src} has no audio stream", fix="pass a file with speech in it", exit_code=1)
    with replacing(args.dst, suffix=".wav") as tmp:
        ffmpeg(
            ["-i", args.src, "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(tmp)],
            what="convert the audio to wav",
        )
    return 0
