"""A copy of GeneFace's binarized dataset with enough poses for the driving audio.

GeneFace's RAD-NeRF renderer takes one dataset sample (pose, background, torso) per output frame and fails with
IndexError when the audio is longer than the dataset. Rather than patch upstream, the validation samples are
extended so that all samples play back and forth (ping-pong) without a jump, in a copy read through
``binary_data_dir``. ``--frame_ids`` lists the dataset frame (``idx``) each output frame shows, for paste-back.
The file is a pickled object array, as ``np.save`` writes it; reading arrays inside it needs numpy.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import pickle
import struct
from typing import Any, List, Tuple

from ...core.atomic import replacing
from ..npy import npy_shape
from .extend_poses import ping_pong


def read_object_npy(path: str) -> Tuple[bytes, Any]:
    with open(path, "rb") as fh:
        magic = fh.read(8)
        size_format = "<H" if magic[6] == 1 else "<I"
        raw = fh.read(struct.calcsize(size_format))
        (length,) = struct.unpack(size_format, raw)
        header = fh.read(length)
        if ast.literal_eval(header.decode("latin1"))["descr"] != "|O":
            raise ValueError(f"{path} does not hold a pickled object")
        return magic + raw + header, pickle.load(fh)  # noqa: S301 - our own dataset, written by upstream's binarizer


def frames_of(cond: str) -> int:
    shape = npy_shape(cond)
    return shape[1] if len(shape) >= 3 else shape[0]


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps extend-dataset")
    parser.add_argument("--dataset", required=True, help="trainval_dataset.npy")
    parser.add_argument("--cond", required=True, help="the landmark sequence that drives the render")
    parser.add_argument("--out", required=True)
    parser.add_argument("--frame_ids", help="JSON list of the frame number each output frame shows")
    args = parser.parse_args(argv)
    prefix, data = read_object_npy(args.dataset)
    samples = list(data["train_samples"]) + list(data["val_samples"])
    needed = frames_of(args.cond)
    extra = max(0, needed - len(samples))
    # Continue the turn the dataset ends on (..., n-1, n-2, ...) rather than jump back to its first pose.
    played = ping_pong(len(samples), len(samples) + extra)
    data["val_samples"] = list(data["val_samples"]) + [samples[i] for i in played[len(samples) :]]
    with replacing(args.out, suffix=".npy") as tmp:
        with open(tmp, "wb") as fh:
            fh.write(prefix)
            pickle.dump(data, fh, protocol=2)
    if args.frame_ids:
        ids = [int(samples[i]["idx"]) for i in played[:needed]]
        with replacing(args.frame_ids, suffix=".json") as tmp:
            tmp.write_text(json.dumps(ids) + "\n", encoding="utf-8")
    print(f"{os.path.basename(args.out)}: {len(samples)} samples -> {len(samples) + extra} for {needed} frames")
    return 0
