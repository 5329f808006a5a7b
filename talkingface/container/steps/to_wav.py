"""Any audio (or video with audio) that ffmpeg reads -> 16 kHz mono wav, the rate every feature extractor wants."""

from __future__ import annotations

import argparse
from typing import List

from ...core.atomic import replacing
from ...core.errors import TalkingfaceError
from ..media import ffmpeg, probe

# GaussianTalker's process.py cuts the dataset's audio at 10/11, the same split as its frames.
TRAIN_SHARE = 10 / 11


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps to-wav")
    parser.add_argument("--src", required=True)
    parser.add_argument("--dst", required=True)
    parser.add_argument("--split_train", help="also write the first 10/11 here")
    parser.add_argument("--split_novel", help="also write the last 1/11 here")
    args = parser.parse_args(argv)
    info = probe(args.src)
    if not info.has_audio:
        raise TalkingfaceError(f"{args.src} has no audio stream", fix="pass a file with speech in it", exit_code=1)
    pcm = ["-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", "-fflags", "+bitexact", "-map_metadata", "-1"]
    with replacing(args.dst, suffix=".wav") as tmp:
        ffmpeg(["-i", args.src, *pcm, str(tmp)], what="convert the audio to wav")
    cut = info.duration * TRAIN_SHARE
    parts = [(args.split_train, ["-t", f"{cut:.6f}"]), (args.split_novel, ["-ss", f"{cut:.6f}"])]
    for path, window in parts:
        if path:
            with replacing(path, suffix=".wav") as tmp:
                ffmpeg(["-i", args.dst, *window, *pcm, str(tmp)], what=f"cut {path}")
    return 0
