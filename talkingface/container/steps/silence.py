"""A 16 kHz mono wav of silence: what a render takes when no speech drives it."""

from __future__ import annotations

import argparse
from typing import List

from ...core.atomic import replacing
from ..media import ffmpeg


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps silence")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    source = ["-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", f"{args.seconds:g}"]
    with replacing(args.out, suffix=".wav") as tmp:
        ffmpeg([*source, "-c:a", "pcm_s16le", "-fflags", "+bitexact", str(tmp)], what="write silence")
    return 0
