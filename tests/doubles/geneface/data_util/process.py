#!/usr/bin/env python3
"""Test double for data_util/process.py @ 15ff4e5: same flags, fake outputs.

Run from the repo root: ``python data_util/process.py --video_id=<id> --task=<n>``.
Reads ``data/raw/videos/<id>.mp4``, writes into ``data/processed/videos/<id>/``.
Like upstream, sub-commands (ffmpeg, helper scripts) are started without checking
their return codes.
"""

import argparse
import glob
import json
import math
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import _geneface_double as gd  # noqa: E402
import fakeupstream  # noqa: E402


def _frame_ids(ori_imgs_dir):
    names = glob.glob(os.path.join(ori_imgs_dir, "*.jpg"))
    return sorted(int(Path(n).stem) for n in names if re.fullmatch(r"\d+", Path(n).stem))


def extract_audio(video_path, wav_path):
    if os.path.exists(wav_path):
        # upstream: `ffmpeg -i ... <out>` without -y asks before overwriting; without a tty it keeps the old file
        print(f"File '{wav_path}' already exists. Not overwriting - exiting")
        return
    gd.run_ffmpeg("-i", video_path, "-f", "wav", "-ar", "16000", wav_path)


def extract_audio_features(wav_path):
    gd.run_python(ROOT, "data_util/extract_esperanto.py", "--wav", wav_path, "--save_feats")
    gd.run_python(
        ROOT,
        "data_util/deepspeech_features/extract_ds_features.py",
        "--input",
        wav_path,
        "--output",
        wav_path.replace(".wav", "_deepspeech.npy"),
    )


def extract_images(video_path, ori_imgs_dir):
    gd.run_ffmpeg(
        "-y",
        "-i",
        video_path,
        "-vf",
        "fps=25",
        "-qmin",
        "1",
        "-q:v",
        "1",
        "-start_number",
        "0",
        os.path.join(ori_imgs_dir, "%d.jpg"),
    )


def extract_semantics(ori_imgs_dir, parsing_dir):
    gd.run_python(ROOT, "data_util/face_parsing/test.py", f"--respath={parsing_dir}", f"--imgpath={ori_imgs_dir}")


def _first_image(ori_imgs_dir):
    ids = _frame_ids(ori_imgs_dir)
    if not ids:
        raise IndexError("list index out of range")  # upstream: image_paths[0]
    return ids, os.path.join(ori_imgs_dir, f"{ids[0]}.jpg")


def _require_parsing(ori_imgs_dir, ids):
    for i in ids:
        png = os.path.join(ori_imgs_dir, f"{i}.jpg").replace("ori_imgs", "parsing").replace(".jpg", ".png")
        if not os.path.exists(png):
            raise TypeError("'NoneType' object is not subscriptable")  # cv2.imread of a missing file


def extract_background(base_dir, ori_imgs_dir):
    ids, first = _first_image(ori_imgs_dir)
    _require_parsing(ori_imgs_dir, ids[::20])
    shutil.copyfile(first, os.path.join(base_dir, "bc.jpg"))


def extract_head_torso_gt(base_dir, ori_imgs_dir):
    ids = _frame_ids(ori_imgs_dir)
    if not os.path.exists(os.path.join(base_dir, "bc.jpg")):
        raise TypeError("'NoneType' object is not subscriptable")  # bc.jpg missing
    _require_parsing(ori_imgs_dir, ids)
    if not ids:
        return
    h, w = gd.image_size(os.path.join(ori_imgs_dir, f"{ids[0]}.jpg"))
    torso_png = Path(base_dir) / "torso_imgs" / f"{ids[0]}.png"
    fakeupstream.ffmpeg(
        "-f", "lavfi", "-i", f"color=c=black@0.0:s={w}x{h},format=rgba", "-frames:v", "1", str(torso_png)
    )
    for i in ids:
        src = os.path.join(ori_imgs_dir, f"{i}.jpg")
        shutil.copyfile(src, os.path.join(base_dir, "head_imgs", f"{i}.jpg"))
    for i in ids:
        src = os.path.join(ori_imgs_dir, f"{i}.jpg")
        shutil.copyfile(src, os.path.join(base_dir, "gt_imgs", f"{i}.jpg"))
        if i != ids[0]:
            shutil.copyfile(torso_png, os.path.join(base_dir, "torso_imgs", f"{i}.png"))


def _fake_landmarks(h, w):
    """68 points on a face-like layout inside the frame (x, y)."""
    pts = []
    cx, cy, r = w / 2.0, h / 2.0, min(h, w) * 0.3
    for k in range(68):
        if k < 17:  # jaw, lower half ellipse, index 8 is the chin
            t = math.pi * (k / 16.0)
            pts.append((cx - r * math.cos(t), cy + r * 0.9 * math.sin(t)))
        else:
            row, col = divmod(k - 17, 10)
            pts.append((cx - r * 0.6 + col * r * 0.13, cy - r * 0.5 + row * r * 0.2))
    return pts


def extract_landmarks(ori_imgs_dir):
    ids = _frame_ids(ori_imgs_dir)
    if not ids:
        return
    h, w = gd.image_size(os.path.join(ori_imgs_dir, f"{ids[0]}.jpg"))
    text = "".join(f"{x:f} {y:f}\n" for x, y in _fake_landmarks(h, w))
    for i in ids:
        Path(ori_imgs_dir, f"{i}.lms").write_text(text, encoding="utf-8")


def face_tracking(video_id, ori_imgs_dir):
    ids, first = _first_image(ori_imgs_dir)
    h, w = gd.image_size(first)
    gd.run_python(
        ROOT,
        "data_util/face_tracking/face_tracker.py",
        f"--idname={video_id}",
        f"--img_h={h}",
        f"--img_w={w}",
        f"--frame_num={len(ids)}",
    )


def save_transforms(base_dir, ori_imgs_dir):
    ids, first = _first_image(ori_imgs_dir)
    h, w = gd.image_size(first)
    track = os.path.join(base_dir, "track_params.pt")
    gd.require(track)
    try:
        info = json.loads(Path(track).read_text(encoding="utf-8"))
        valid_num, focal = int(info["frames"]), float(info["focal"])
    except (ValueError, KeyError, UnicodeDecodeError):
        valid_num, focal = len(ids), 1100.0
    split = int(valid_num * 10 / 11)
    for name, frame_ids in (("train", range(0, split)), ("val", range(split, valid_num))):
        frames = []
        for i in frame_ids:
            lms_path = os.path.join(ori_imgs_dir, f"{i}.lms")
            gd.require(lms_path)
            lms = [tuple(float(v) for v in line.split()) for line in Path(lms_path).read_text().splitlines()]
            xs = [p[0] for p in lms]
            cx = int((min(xs) + max(xs)) / 2.0)
            cy = int(lms[27][1])
            h_w = int((max(xs) - cx) * 1.5)
            h_h = int((lms[8][1] - cy) * 1.15)
            rect_x, rect_y = max(cx - h_w, 0), max(cy - h_h, 0)
            rect = [rect_x, rect_y, min(w - 1 - rect_x, 2 * h_w), min(h - 1 - rect_y, 2 * h_h)]
            pose = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.5], [0.0, 0.0, 0.0, 1.0]]
            frames.append({"img_id": i, "aud_id": i, "transform_matrix": pose, "face_rect": rect})
        meta = {"focal_len": focal, "cx": float(w / 2.0), "cy": float(h / 2.0), "frames": frames}
        Path(base_dir, f"transforms_{name}.json").write_text(gd.dumps(meta), encoding="utf-8")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--video_id", type=str, default="May", help="data/raw/<video_id>.mp4")
    parser.add_argument("--task", type=int, default=-1, help="-1 means all")
    opt = parser.parse_args()
    fakeupstream.start(__file__, 1, sys.argv, task=opt.task)

    video_path = os.path.join(f"data/raw/videos/{opt.video_id}.mp4")
    processed_dir = f"data/processed/videos/{opt.video_id}"
    wav_path = os.path.join(processed_dir, "aud.wav")
    ori_imgs_dir = os.path.join(processed_dir, "ori_imgs")
    for sub in ("", "ori_imgs", "parsing", "head_imgs", "gt_imgs", "torso_imgs"):
        os.makedirs(os.path.join(processed_dir, sub), exist_ok=True)

    task = opt.task
    if task in (-1, 1):
        extract_audio(video_path, wav_path)
    if task in (-1, 2):
        extract_audio_features(wav_path)
    if task in (-1, 3):
        extract_images(video_path, ori_imgs_dir)
    if task in (-1, 4):
        extract_semantics(ori_imgs_dir, os.path.join(processed_dir, "parsing"))
    if task in (-1, 5):
        extract_background(processed_dir, ori_imgs_dir)
    if task in (-1, 6):
        extract_head_torso_gt(processed_dir, ori_imgs_dir)
    if task in (-1, 7):
        extract_landmarks(ori_imgs_dir)
    if task in (-1, 8):
        face_tracking(opt.video_id, ori_imgs_dir)
    if task in (-1, 9):
        save_transforms(processed_dir, ori_imgs_dir)


if __name__ == "__main__":
    main()
