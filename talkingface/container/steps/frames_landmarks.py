"""``frames-landmarks``: the dataset video's frames as ``ori_imgs/<n>.jpg`` with their 68 landmarks ``<n>.lms``.

It replaces upstream's frame dump (task 3) and face_alignment pass (task 7): one decode, the face boxes already
tracked by ``check-input``, and the work spread over every core. A rerun after a crash redoes only missing frames.
"""

from __future__ import annotations

import argparse
import glob
import os
from typing import List, Mapping

import numpy as np

from ...core.errors import TalkingfaceError
from ...core.progress import FrameMeter
from ...prep.decode import FPS, packet_count
from ...prep.landmarks import done, mark_range
from ...prep.pool import Ordered

# Frames per worker task: a seek and a decoder start each (~50 ms), and the unit a resumed run skips.
CHUNK = 250


def crop_boxes(track: Mapping[str, np.ndarray], size: int) -> np.ndarray:
    """The tracked face boxes in the normalized frames' pixels."""
    x, y, side = (float(v) for v in track["crop"])
    scale = size / side
    return (track["filled"].astype(np.float64) - np.array([x, y, x, y])) * scale


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="talkingface.container.steps frames-landmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--video", required=True, help="the normalized dataset video")
    parser.add_argument("--track", required=True, help="face_track.npz from check-input")
    parser.add_argument("--out_dir", required=True, help="ori_imgs folder")
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args(argv)
    track = np.load(args.track)
    boxes = crop_boxes(track, args.size)
    frames = len(boxes)
    os.makedirs(args.out_dir, exist_ok=True)
    for stale in glob.glob(os.path.join(args.out_dir, ".*.partial-*")):
        os.unlink(stale)
    finished = np.array([done(args.out_dir, n) for n in range(frames)], dtype=bool)
    if finished.any():
        print(f"resuming: {int(finished.sum())} of {frames} frames were done before")
    have = packet_count(args.video)
    if have != frames:
        raise TalkingfaceError(
            f"{args.video} has {have} frames but the face track has {frames}",
            fix="the dataset video changed after check-input: rerun preprocess with --from_step input-check",
            exit_code=1,
        )
    meter = FrameMeter("frames and landmarks", frames)
    meter.advance(int(finished.sum()))
    try:
        mark_all(args, boxes, finished, meter)
    except RuntimeError as exc:
        raise TalkingfaceError(str(exc), fix="the dataset video is damaged: rerun with --from_step normalize") from exc
    meter.finish()
    print(f"wrote {frames} frames and landmarks to {args.out_dir}")
    return 0


def mark_all(args: argparse.Namespace, boxes: np.ndarray, finished: np.ndarray, meter: FrameMeter) -> None:
    frames = len(boxes)
    with Ordered() as pool:
        for start in range(0, frames, CHUNK):
            stop = min(frames, start + CHUNK)
            if finished[start:stop].all():
                continue
            skip = finished[start:stop]
            work = (args.video, start, boxes[start:stop], args.out_dir, skip if skip.any() else None, args.size, FPS)
            for written in pool.submit(mark_range, *work):
                meter.advance(written)
        for written in pool.drain():
            meter.advance(written)
