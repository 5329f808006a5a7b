"""Dataset checks that take seconds, so a broken dataset fails before hours of training, not after."""

from __future__ import annotations

import csv
import glob
import json
import os
from dataclasses import dataclass
from typing import List

from ..adapters.base import DatasetSpec
from .image_size import image_size
from .npy import npy_shape

PREPROCESS_FIX = "rerun preprocess (finished steps are skipped; add --force to redo them)"


@dataclass(frozen=True)
class Problem:
    what: str
    fix: str


def _count(data_dir: str, folder: str, ext: str) -> int:
    return len(glob.glob(os.path.join(data_dir, folder, f"*{ext}")))


def check_dataset(spec: DatasetSpec, data_dir: str) -> List[Problem]:
    if not os.path.isdir(data_dir):
        return [
            Problem(f"dataset folder {data_dir} does not exist", "run preprocess first, or pass the right --data_dir")
        ]
    problems = [
        Problem(f"{name} is missing", PREPROCESS_FIX)
        for name in spec.files
        if not os.path.isfile(os.path.join(data_dir, name))
    ]
    frames = _count(data_dir, "ori_imgs", ".jpg")
    if frames == 0:
        return problems + [Problem("ori_imgs/ has no frames", PREPROCESS_FIX)]
    for folder, ext in spec.per_frame:
        count = _count(data_dir, folder, ext)
        if count != frames:
            problems.append(Problem(f"{folder}/*{ext}: {count} files for {frames} frames", PREPROCESS_FIX))
    if spec.au_csv and os.path.isfile(os.path.join(data_dir, spec.au_csv)):
        problems += _check_au(os.path.join(data_dir, spec.au_csv), frames)
    for name in spec.features:
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            try:
                rows = npy_shape(path)[0]
            except (ValueError, KeyError, IndexError, SyntaxError):
                problems.append(Problem(f"{name} is not a readable .npy file", PREPROCESS_FIX))
                continue
            if abs(rows - frames) > 1:
                problems.append(Problem(f"{name} has {rows} rows for {frames} frames at 25 fps", PREPROCESS_FIX))
    covered = set()
    for name in spec.transforms:
        path = os.path.join(data_dir, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                covered |= {int(f["img_id"]) for f in json.load(fh)["frames"]}
        except (ValueError, KeyError, TypeError):
            problems.append(Problem(f"{name} does not parse as camera transforms", PREPROCESS_FIX))
    if spec.transforms and covered and covered != set(range(frames)):
        problems.append(Problem(f"transforms cover {len(covered)} of {frames} frames", PREPROCESS_FIX))
    if spec.background and os.path.isfile(os.path.join(data_dir, spec.background)):
        problems += _check_background(data_dir, spec.background)
    return problems


def _check_background(data_dir: str, name: str) -> List[Problem]:
    frame = image_size(os.path.join(data_dir, "ori_imgs", "0.jpg"))
    background = image_size(os.path.join(data_dir, name))
    if background is None:
        return [Problem(f"{name} is not a readable image", PREPROCESS_FIX)]
    if frame is not None and background != frame:
        size = "x".join(map(str, background))
        return [Problem(f"{name} is {size} but the frames are {'x'.join(map(str, frame))}", PREPROCESS_FIX)]
    return []


def _check_au(path: str, frames: int) -> List[Problem]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    fix = "delete au.csv and rerun preprocess, or pass an OpenFace au.csv made from the same 25 fps video"
    if not rows or " AU45_r" not in rows[0]:
        return [Problem("au.csv has no ' AU45_r' column (OpenFace's header, with its leading space)", fix)]
    if len(rows) - 1 != frames:
        return [Problem(f"au.csv has {len(rows) - 1} rows for {frames} frames", fix)]
    return []


def format_table(problems: List[Problem]) -> str:
    width = max(len(p.what) for p in problems)
    lines = [f"{'problem'.ljust(width)} | fix", f"{'-' * width}-+-{'-' * 40}"]
    lines += [f"{p.what.ljust(width)} | {p.fix}" for p in problems]
    return "\n".join(lines)
