#!/usr/bin/env python3
"""Our own preprocessing steps against the naive sequence, side by side in one run, with peak memory.

    python benchmarks/prep_cpu.py [--seconds 180] [--lengths 60,180] [--work DIR] [--json OUT]

Targets (issue "Preprocessing that doesn't waste hours"), on a generated 512x512 sample clip:
- our steps (check-input, normalize, audio, frames-landmarks, au-from-landmarks) take at most 2 minutes for 3 minutes
  of video on a 2-core machine;
- at least 3x faster than the naive equivalent: an ffmpeg frame dump to disk (upstream's task 3 command), then
  reading every frame back and searching it for a face with the same detector, then its landmarks;
- peak memory of all their processes together at most 2 GB, whatever the length (``--lengths`` measures several).
Each command runs as its own process; the resident memory of it and its children is summed from /proc every 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.proc_memory import measure  # noqa: E402

NAIVE_LANDMARKS = r"""
import glob, os, sys
import cv2, dlib, face_recognition_models
import numpy as np
folder = sys.argv[1]
detector = dlib.get_frontal_face_detector()
predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
for path in sorted(glob.glob(os.path.join(folder, "*.jpg"))):
    image = cv2.imread(path)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    faces = detector(gray, 0)
    if len(faces):
        shape = predictor(gray, faces[0])
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=float)
        np.savetxt(path[:-4] + ".lms", points, "%f")
"""


def ours(clip: Path, data: Path, env: Dict[str, str]) -> Dict[str, Dict[str, float]]:
    py = [sys.executable, "-m", "talkingface.container.steps"]
    video, track = data / "clip.mp4", data / "face_track.npz"
    steps = {
        "check-input": [*py, "check-input", "--src", str(clip), "--out_dir", str(data), "--needs_audio"],
        "normalize": [*py, "normalize", "--src", str(clip), "--track", str(track), "--out", str(video)],
        "audio": [*py, "to-wav", "--src", str(video), "--dst", str(data / "aud.wav")],
        "frames-landmarks": [*py, "frames-landmarks", "--video", str(video), "--track", str(track),
                             "--out_dir", str(data / "ori_imgs")],
        "au-csv": [*py, "au-from-landmarks", "--data_dir", str(data), "--out", str(data / "au.csv")],
    }  # fmt: skip
    return {name: measure(command, env) for name, command in steps.items()}


def naive(clip: Path, data: Path, env: Dict[str, str]) -> Dict[str, Dict[str, float]]:
    frames = data / "ori_imgs"
    frames.mkdir(parents=True)
    dump = ["ffmpeg", "-v", "error", "-i", str(clip), "-vf", "fps=25", "-qmin", "1", "-q:v", "1",
            "-start_number", "0", str(frames / "%d.jpg")]  # fmt: skip
    return {
        "ffmpeg frame dump": measure(dump, env),
        "read + detect + landmarks": measure([sys.executable, "-c", NAIVE_LANDMARKS, str(frames)], env),
    }


def total(steps: Dict[str, Dict[str, float]]) -> Dict[str, float]:
    return {
        "seconds": sum(s["seconds"] for s in steps.values()),
        "peak_gb": max(s["peak_gb"] for s in steps.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the clip compared with naive")
    parser.add_argument("--lengths", default="", help="more lengths (s) to measure our steps' memory at, e.g. 60,600")
    parser.add_argument("--work", type=Path, help="keep clips here between runs (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    from talkingface.demo.sample_clip import generate

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results: Dict[str, object] = {
            "machine": f"{platform.node()}: {os.cpu_count()} cores, {platform.processor() or platform.machine()}",
            "python": platform.python_version(),
        }
        lengths = [args.seconds] + [float(s) for s in args.lengths.split(",") if s]
        for seconds in lengths:
            clip = work / f"sample-{seconds:g}s.mp4"
            if not clip.exists():
                generate(clip, seconds=seconds, size=512)
            for folder in ("ours", "naive"):
                shutil.rmtree(work / f"{folder}-{seconds:g}", ignore_errors=True)
            mine = ours(clip, work / f"ours-{seconds:g}", env)
            entry: Dict[str, object] = {"ours": mine, "ours_total": total(mine)}
            if seconds == args.seconds:
                theirs = naive(clip, work / f"naive-{seconds:g}", env)
                entry.update(naive=theirs, naive_total=total(theirs))
                entry["speedup"] = total(theirs)["seconds"] / total(mine)["seconds"]
            results[f"{seconds:g}s"] = entry
            print(f"\n{seconds:g} s clip (512x512, {int(seconds * 25)} frames)")
            for name, value in mine.items():
                print(f"  ours  {name:26s} {value['seconds']:7.1f} s  peak {value['peak_gb']:.2f} GB")
            print(f"  ours  {'total':26s} {total(mine)['seconds']:7.1f} s  peak {total(mine)['peak_gb']:.2f} GB")
            if "naive" in entry:
                for name, value in theirs.items():
                    print(f"  naive {name:26s} {value['seconds']:7.1f} s  peak {value['peak_gb']:.2f} GB")
                print(f"  naive {'total':26s} {total(theirs)['seconds']:7.1f} s")
                print(f"  speedup {entry['speedup']:.2f}x")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
