"""Align a photo (or every frame of a video, by its first frame) as FFHQ was, and save the transform.

ffhq-align --src PHOTO --out ALIGNED.png --transform T.json [--size 1024]
ffhq-align --video VIDEO --frames DIR --out FIRST.png --transform T.json [--size 256]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from typing import List

from ...core.errors import TalkingfaceError
from ...prep import ffhq_align
from ..media import ffmpeg, probe

FPS = 25


def align_video(video: str, frames: str, out: str, transform: str, size: int) -> None:
    import cv2

    fix = "pass a video of one face as --motion_video"
    if not probe(video).has_video:
        raise TalkingfaceError(f"{video} has no video stream", fix=fix, exit_code=1)
    with tempfile.TemporaryDirectory(prefix="ffhq-align-") as tmp:
        ffmpeg(["-i", video, "-vf", f"fps={FPS}", os.path.join(tmp, "%05d.png")], what="decode the motion video")
        decoded = [os.path.join(tmp, n) for n in ffhq_align.names(tmp)]
        if not decoded:
            raise TalkingfaceError(f"{video} has no frames", fix=fix, exit_code=1)
        first = ffhq_align.read_photo(decoded[0])
        # A folder of finished frames only: a killed run left a partial one, which goes before the frames are made.
        staging = frames.rstrip("/") + ".partial"
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(staging)
        found = ffhq_align.align_frames(
            (cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in decoded),
            staging,
            size,
            video,  # type: ignore[arg-type]
        )
        assert found is not None  # noqa: S101 - there was a first frame
        shutil.rmtree(frames, ignore_errors=True)
        os.replace(staging, frames)
    record = found.record(os.path.basename(video), first.shape[1], first.shape[0])
    record["frames"] = len(decoded)
    ffhq_align.write_png(out, ffhq_align.align(first, ffhq_align.find_one_face(first, video), size)[1])
    ffhq_align.write_json(transform, record)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps ffhq-align")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--src", help="the photo")
    source.add_argument("--video", help="a video: every frame is cropped as its first frame aligns")
    parser.add_argument("--frames", help="with --video: the folder of cropped frames, 00001.png ...")
    parser.add_argument("--out", required=True, help="the aligned photo (with --video: its first frame)")
    parser.add_argument("--transform", required=True, help="JSON: the square in the photo, and both matrices")
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args(argv)
    if args.video:
        if not args.frames:
            parser.error("--video needs --frames")
        align_video(args.video, args.frames, args.out, args.transform, args.size)
        print(f"wrote {args.frames} and {args.transform}")
    else:
        ffhq_align.align_photo(args.src, args.out, args.transform, args.size)
        print(f"wrote {args.out} and {args.transform}")
    return 0
