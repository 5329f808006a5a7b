"""``check-input``: probe the training video and track its face, in seconds, before any slow step.

Writes ``face_track.npz`` (per-frame face boxes and the crop, read by ``normalize`` and ``frames-landmarks``),
``crop_boxes.csv`` (the crop of every frame in the source's pixels, to paste a rendered head back into the
original framing) and ``input.json`` (what was found, the warnings, and the video's fingerprint, which a later run
with another video for the same task is checked against).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import List

import numpy as np

from ...core.atomic import replacing
from ...core.dataset_input import RECORD, fingerprint
from ...core.progress import FrameMeter
from ...prep.decode import FPS, batches, grab, scaled
from ...prep.face_detect import ChunkFaces, detect_chunk, scout_scale
from ...prep.face_track import check_faces, crop_box, describe_ranges, fill_gaps, judge_unsearched, missing_ranges
from ...prep.input_checks import check_decoded, check_streams
from ...prep.pool import Ordered
from ...prep.probe import probe

SCOUT_FRAMES = 4
# Most talking-head videos show the face big enough at 640 px; small faces need the larger search.
SCOUT_SIDES = (640, 1600)
CHUNK = 100
OUTPUT_SIZE = 512


def scout(src: str, *, width: int, height: int, duration: float) -> float:
    """The search scale: a few frames across the clip tell the face's size, hence how small frames can be."""
    times = np.linspace(0.05, 0.95, SCOUT_FRAMES) * duration
    for side in SCOUT_SIDES:
        cap = min(1.0, side / max(width, height))
        sw, sh = scaled(width, height, cap)
        filters = f"scale={sw}:{sh}:flags=area,format=gray"
        grab_at = functools.partial(grab, src, filters=filters, width=sw, height=sh, pix_fmt="gray")
        with ThreadPoolExecutor(SCOUT_FRAMES) as threads:
            grays = list(threads.map(lambda t: grab_at(at=t), times))  # noqa: B023 - used before the loop moves on
        scale = scout_scale([g for g in grays if g.size], cap)
        if scale is not None or cap == 1.0:
            return scale if scale is not None else min(1.0, SCOUT_SIDES[0] / max(width, height))
    return 1.0


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="talkingface.container.steps check-input", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--src", required=True, help="the training video")
    parser.add_argument("--out_dir", required=True, help="the dataset folder")
    parser.add_argument("--needs_audio", action="store_true", help="fail on a video without sound")
    parser.add_argument("--given", help="the video's path as the user gave it, recorded to name it later")
    args = parser.parse_args(argv)

    info = probe(args.src)
    warnings = check_streams(info, needs_audio=args.needs_audio)
    print(f"input: {info.summary()}")
    for text in warnings:
        print(f"warning: {text}")
    assert info.video is not None  # noqa: S101 - check_streams raised otherwise
    width, height = info.video.width, info.video.height

    scale = scout(args.src, width=width, height=height, duration=info.duration)
    dw, dh = scaled(width, height, scale)
    print(f"face search at {dw}x{dh} (scale {scale:.2f})")

    found: List[ChunkFaces] = []
    meter = FrameMeter("face track", int(round(info.duration * FPS)))
    filters = f"fps={FPS},scale={dw}:{dh}:flags=area,format=gray"
    with Ordered() as pool:
        for start, frames in batches(args.src, filters=filters, width=dw, height=dh, pix_fmt="gray", batch=CHUNK):
            for result in pool.submit(detect_chunk, start, frames):
                found.append(result)
                meter.advance(len(result.boxes))
        for result in pool.drain():
            found.append(result)
            meter.advance(len(result.boxes))
    meter.finish()

    boxes = np.concatenate([r.boxes for r in found]) if found else np.zeros((0, 4))
    boxes = boxes / np.array([dw / width, dh / height, dw / width, dh / height])
    counts = np.array([n for r in found for _, n in r.sampled], dtype=np.int64)
    searched = np.concatenate([r.searched for r in found]) if found else np.zeros(0, dtype=bool)
    present = judge_unsearched(~np.isnan(boxes[:, 0]), searched)
    frames_total = len(boxes)
    check_decoded(info, frames_total, fps=FPS)
    check_faces(present, counts, fps=FPS, path=args.src)
    gaps = missing_ranges(present)
    missing = int((~present).sum())
    later: List[str] = []
    if gaps:
        later.append(f"no face in {missing} frames, filled in from their neighbours: "
                        f"{describe_ranges(gaps, FPS)}")  # fmt: skip
    filled = fill_gaps(boxes)
    crop = crop_box(filled, width=width, height=height)
    if crop.size < OUTPUT_SIZE:
        later.append(
            f"the region around the face is {crop.size} px, upscaled to {OUTPUT_SIZE}: "
            "a sharper or closer video trains a sharper model"
        )
    for text in later:
        print(f"warning: {text}")

    os.makedirs(args.out_dir, exist_ok=True)
    with replacing(os.path.join(args.out_dir, "face_track.npz"), suffix=".npz") as tmp:
        np.savez(
            tmp,
            boxes=boxes.astype(np.float32),
            filled=filled.astype(np.float32),
            crop=np.array([crop.x, crop.y, crop.size], dtype=np.int64),
            source_size=np.array([width, height], dtype=np.int64),
            fps=np.array(FPS),
            sampled_faces=counts,
        )
    with replacing(os.path.join(args.out_dir, "crop_boxes.csv"), suffix=".csv") as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("frame,x,y,size,source_width,source_height\n")
            for frame in range(frames_total):
                fh.write(f"{frame},{crop.x},{crop.y},{crop.size},{width},{height}\n")
    report = {
        **fingerprint(args.src, args.given or args.src),
        "source": args.src,
        "probe": info.summary(),
        "frames": frames_total,
        "frames_without_face": missing,
        "search_scale": round(scale, 4),
        "crop": {"x": crop.x, "y": crop.y, "size": crop.size, "output_size": OUTPUT_SIZE},
        "warnings": warnings + later,
    }
    with replacing(os.path.join(args.out_dir, RECORD), suffix=".json") as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(
        f"a face in {frames_total - missing} of {frames_total} frames; "
        f"crop {crop.size}x{crop.size} at ({crop.x}, {crop.y}) -> {OUTPUT_SIZE}x{OUTPUT_SIZE}"
    )
    return 0
