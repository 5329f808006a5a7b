"""Put the driving audio into the rendered video, as ``<results>/<stem>.mp4``, and check the lengths agree.

Upstream either renders silent videos (ER-NeRF), muxes without ``-shortest`` (GaussianTalker) or swallows render
errors so the video comes out short; a video much shorter than its audio is therefore an error here.
"""

from __future__ import annotations

import argparse
import glob
import os
from typing import List

from ...core.atomic import replacing
from ...core.errors import TalkingfaceError
from ..media import ffmpeg, probe

FRAME = 1.0 / 25


def newest(pattern: str, exclude: str) -> str:
    hits = [p for p in glob.glob(pattern) if not (exclude and exclude in os.path.basename(p))]
    if not hits:
        raise TalkingfaceError(f"no rendered video matches {pattern}", fix="check the render step's log", exit_code=1)
    return max(hits, key=os.path.getmtime)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps mux")
    parser.add_argument("--video", required=True, help="glob of the rendered video; the newest match is used")
    parser.add_argument("--audio", help="16 kHz wav; without it the video is copied as it is")
    parser.add_argument("--out", required=True)
    parser.add_argument("--exclude", default="", help="skip matches whose name contains this")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument(
        "--short_fix",
        default="the renderer dropped frames: see the render log",
        help="the fix for a video much shorter than its audio (the adapter's short_render_fix)",
    )
    args = parser.parse_args(argv)
    if os.path.exists(args.out) and not args.overwrite:
        raise TalkingfaceError(
            f"{args.out} already exists", fix="move it away, or rerun with --force to replace it", exit_code=1
        )
    video = newest(args.video, args.exclude)
    rendered = probe(video)
    with replacing(args.out, suffix=".mp4") as tmp:
        if not args.audio:
            ffmpeg(
                ["-i", video, "-map", "0:v:0", "-c:v", "copy", "-movflags", "+faststart", str(tmp)],
                what="copy the video",
            )
        else:
            speech = probe(args.audio)
            if rendered.duration + 2 * FRAME < speech.duration:
                raise TalkingfaceError(
                    f"the rendered video lasts {rendered.duration:.2f} s but the audio {speech.duration:.2f} s",
                    fix=args.short_fix,
                    exit_code=1,
                )
            ffmpeg(
                [
                    "-i",
                    video,
                    "-i",
                    args.audio,
                    "-map",
                    "0:v:0",
                    "-map",
                    "1:a:0",
                    "-c:v",
                    "copy",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "128k",
                    "-shortest",
                    "-movflags",
                    "+faststart",
                    str(tmp),
                ],
                what="mux the audio into the video",
            )
    print(f"wrote {args.out}")
    return 0
