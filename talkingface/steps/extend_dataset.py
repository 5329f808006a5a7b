"""A copy of GeneFace's binarized dataset with enough poses for the driving audio.

GeneFace's RAD-NeRF renderer takes one dataset sample (pose, background, torso) per output frame and fails with
IndexError when the audio is longer than the dataset. Rather than patch upstream, the validation samples are
extended by replaying all samples back and forth (ping-pong), in a copy read through ``binary_data_dir``.
The file is a pickled object array, as ``np.save`` writes it; reading arrays inside it needs numpy.
"""

from __future__ import annotations

import argparse
import ast
import os
import pickle
import struct
from typing import Any, List, Tuple

from ..atomic import replacing
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
    parser = argparse.ArgumentParser(prog="talkingface.steps extend-dataset")
    parser.add_argument("--dataset", required=True, help="trainval_dataset.npy")
    parser.add_argument("--cond", required=True, help="the landmark sequence that drives the render")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    prefix, data = read_object_npy(args.dataset)
    samples = list(data["train_samples"]) + list(data["val_samples"])
    needed = frames_of(args.cond)
    extra = max(0, needed - len(samples))
    data["val_samples"] = list(data["val_samples"]) + [samples[i] for i in ping_pong(len(samples), extra)]
    with replacing(args.out, suffix=".npy") as tmp:
        with open(tmp, "wb") as fh:
            fh.write(prefix)
            pickle.dump(data, fh, protocol=2)
    print(f"{os.path.basename(args.out)}: {len(samples)} samples -> {len(samples) + extra} for {needed} frames")
    return 0
