"""Align a photo (or every frame of a video, by its first frame) as FFHQ was, and save the transform.

ffhq-align --src PHOTO --out ALIGNED.png --transform T.json [--size 1024]
ffhq-align --video VIDEO --frames DIR --transform T.json [--size 256]
"""

from __future__ import annotations

import argparse
import os
import shutil
from typing import Iterator, List

import numpy as np

from ...core.errors import TalkingfaceError
from ...prep import ffhq_align
from ...prep.decode import FPS, batches
from ...prep.probe import probe


def align_video(video: str, frames: str, transform: str, size: int) -> None:
    fix = "pass a video that shows one face"
    stream = probe(video).video
    if stream is None:
        raise TalkingfaceError(f"{video} has no video stream", fix=fix, exit_code=1)
    if min(stream.width, stream.height) < ffhq_align.MIN_SIDE:
        raise TalkingfaceError(
            f"the video {video} is {stream.width}x{stream.height} px, smaller than {ffhq_align.MIN_SIDE} px",
            fix=f"pass a video at least {ffhq_align.MIN_SIDE} px on its shorter side",
            exit_code=1,
        )

    def decoded() -> Iterator[np.ndarray]:
        for _, batch in batches(
            video, filters=f"fps={FPS}", width=stream.width, height=stream.height, pix_fmt="rgb24", batch=25
        ):
            yield from batch

    # A folder of finished frames only: a killed run left a partial one, which goes before the frames are made.
    staging = frames.rstrip("/") + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    found = ffhq_align.align_frames(decoded(), staging, size, video)
    if found is None:
        shutil.rmtree(staging, ignore_errors=True)
        raise TalkingfaceError(f"{video} has no frames", fix=fix, exit_code=1)
    count = len(ffhq_align.names(staging))
    shutil.rmtree(frames, ignore_errors=True)
    os.replace(staging, frames)
    record = found.record(os.path.basename(video), stream.width, stream.height)
    record["frames"] = count
    ffhq_align.write_json(transform, record)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps ffhq-align")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--src", help="the photo")
    source.add_argument("--video", help="a video: every frame is cropped as its first frame aligns")
    parser.add_argument("--frames", help="with --video: the folder of cropped frames, 00001.png ...")
    parser.add_argument("--out", help="with --src: the aligned photo")
    parser.add_argument("--transform", required=True, help="JSON: the square in the photo, and both matrices")
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args(argv)
    if args.video:
        if not args.frames:
            parser.error("--video needs --frames")
        align_video(args.video, args.frames, args.transform, args.size)
        print(f"wrote {args.frames} and {args.transform}")
    else:
        if not args.out:
            parser.error("--src needs --out")
        ffhq_align.align_photo(args.src, args.out, args.transform, args.size)
        print(f"wrote {args.out} and {args.transform}")
    return 0
