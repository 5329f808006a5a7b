"""Write OpenFace's ``au.csv`` from the 68-point landmarks, so no model needs OpenFace.

The blink intensity AU45 comes from the eye aspect ratio (EAR, Soukupova & Cech 2016) of both eyes, averaged.
Calibration onto OpenFace's 0-5 intensity scale, linear in the EAR and per clip, so it holds for any face:
- the clip's 90th-percentile EAR is the open eye: AU45 = 0 (people have their eyes open ~90 % of the time);
- an EAR at 40 % of that is a closed eye (dlib's eyelid points then nearly touch): AU45 = 4, "severe" on FACS's
  A-E scale, where OpenFace's AU45_r puts a full blink (3 to 4);
- values are clipped to [0, 5]. ER-NeRF and GaussianTalker read min(AU45, 2) / 2, so the lid's travel from open
  to half-closed spans their whole input, and a full blink saturates it, as OpenFace's values do.
Frames whose landmarks are missing repeat the previous value.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
from typing import List, Optional, Sequence, Tuple

from ...core.atomic import replacing
from ...core.errors import TalkingfaceError

Point = Tuple[float, float]
LEFT, RIGHT = range(36, 42), range(42, 48)
HEADER = "frame, face_id, timestamp, confidence, success, AU45_r"
OPEN_PERCENTILE = 0.9
CLOSED_SHARE = 0.4
CLOSED_INTENSITY = 4.0


def read_lms(path: str) -> List[Point]:
    points = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2:
                points.append((float(parts[0]), float(parts[1])))
    if len(points) != 68:
        raise ValueError(f"{path}: expected 68 landmarks, found {len(points)}")
    return points


def eye_aspect_ratio(points: Sequence[Point]) -> float:
    def dist(a: Point, b: Point) -> float:
        return math.hypot(a[0] - b[0], a[1] - b[1])

    def one(idx: range) -> float:
        p = [points[i] for i in idx]
        width = dist(p[0], p[3])
        return (dist(p[1], p[5]) + dist(p[2], p[4])) / (2.0 * width) if width > 0 else 0.0

    return (one(LEFT) + one(RIGHT)) / 2.0


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def intensities(ears: Sequence[Optional[float]]) -> List[float]:
    known = [e for e in ears if e is not None]
    if not known:
        return [0.0] * len(ears)
    open_ear = percentile(known, OPEN_PERCENTILE) or 1.0
    out, last = [], 0.0
    for ear in ears:
        if ear is not None:
            closure = (open_ear - ear) / ((1.0 - CLOSED_SHARE) * open_ear)
            last = min(5.0, max(0.0, CLOSED_INTENSITY * closure))
        out.append(last)
    return out


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps au-from-landmarks")
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    frames = len(glob.glob(os.path.join(args.data_dir, "ori_imgs", "*.jpg")))
    if frames == 0:
        raise TalkingfaceError(f"no frames in {args.data_dir}/ori_imgs", fix="run preprocessing first", exit_code=1)
    ears: List[Optional[float]] = []
    for index in range(frames):
        lms = os.path.join(args.data_dir, "ori_imgs", f"{index}.lms")
        ears.append(eye_aspect_ratio(read_lms(lms)) if os.path.exists(lms) else None)
    missing = sum(e is None for e in ears)
    if missing:
        print(f"warning: {missing} of {frames} frames have no landmarks; their blink value repeats the previous frame")
    with replacing(args.out, suffix=".csv") as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(HEADER + "\n")
            for index, value in enumerate(intensities(ears)):
                seen = ears[index] is not None
                fh.write(f"{index + 1}, 0, {index * 0.04:.3f}, {0.98 if seen else 0.0:.2f}, {int(seen)}, {value:.2f}\n")
    print(f"wrote {args.out}: {frames} rows")
    return 0
