"""Copy an input file to where upstream expects it; inputs are mounted read-only and never touched."""

from __future__ import annotations

import argparse
import glob
import os
from typing import List

from ..atomic import copy_file, replacing
from ..errors import TalkingfaceError
from ..media import ffmpeg, video_fps


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.steps stage-input")
    parser.add_argument("--src", required=True, help="a file, or a glob whose newest match is used")
    parser.add_argument("--dst", required=True)
    parser.add_argument("--fps", type=int, help="re-encode a video whose frame rate differs from this")
    args = parser.parse_args(argv)
    matches = [m for m in glob.glob(args.src) if os.path.isfile(m)]
    if not matches:
        raise TalkingfaceError(f"input file {args.src} does not exist", fix="check the path you passed", exit_code=1)
    args.src = max(matches, key=os.path.getmtime)
    if args.fps and video_fps(args.src) != args.fps:
        with replacing(args.dst, suffix=os.path.splitext(args.dst)[1]) as tmp:
            codecs = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "17", "-c:a", "aac"]
            ffmpeg(
                ["-i", args.src, "-r", str(args.fps), *codecs, str(tmp)], what=f"re-encode the video to {args.fps} fps"
            )
    elif os.path.abspath(args.src) != os.path.abspath(args.dst):
        copy_file(args.src, args.dst)
    else:
        os.utime(args.dst)
    return 0
