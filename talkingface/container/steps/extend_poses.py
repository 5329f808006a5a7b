"""A shadow dataset whose validation poses last as long as the driving audio.

GaussianTalker renders custom audio over the validation split's poses, so a long audio is cut to that split's
length. Rather than patch upstream, the poses are replayed back and forth (ping-pong, as ER-NeRF does) in a copy
of ``transforms_val.json``; every other dataset entry is a symlink to the original.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from typing import List

from ...core.errors import TalkingfaceError
from ..npy import npy_shape


def ping_pong(count: int, length: int) -> List[int]:
    """Indices 0..count-1 forwards, then backwards, repeated, ``length`` long, never repeating an end frame."""
    if count <= 1:
        return [0] * length
    cycle = list(range(count)) + list(range(count - 2, 0, -1))
    return [cycle[i % len(cycle)] for i in range(length)]


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps extend-poses")
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--features", required=True, help="audio features; one row per output frame")
    parser.add_argument("--out", required=True)
    parser.add_argument("--transforms", default="transforms_val.json")
    args = parser.parse_args(argv)
    length = npy_shape(args.features)[0]
    source = os.path.join(args.data_dir, args.transforms)
    try:
        with open(source, encoding="utf-8") as fh:
            transforms = json.load(fh)
        frames = transforms["frames"]
    except (OSError, ValueError, KeyError) as exc:
        raise TalkingfaceError(
            f"cannot read {source}: {exc}", fix="run preprocess (and validate) first", exit_code=1
        ) from exc
    extended = []
    for index, pick in enumerate(ping_pong(len(frames), length)):
        frame = dict(frames[pick])
        frame["aud_id"] = index
        extended.append(frame)
    transforms["frames"] = extended
    tmp = args.out.rstrip("/") + f".partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for entry in os.listdir(args.data_dir):
        if entry != args.transforms:
            os.symlink(os.path.join(os.path.abspath(args.data_dir), entry), os.path.join(tmp, entry))
    with open(os.path.join(tmp, args.transforms), "w", encoding="utf-8") as fh:
        json.dump(transforms, fh)
    # Our own scratch folder: replacing an older one loses nothing.
    shutil.rmtree(args.out, ignore_errors=True)
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(frames)} validation poses -> {length} frames")
    return 0
