#!/usr/bin/env python3
"""Test double for data_utils/process.py @ 0cf72d8: same flags, fake outputs.

Like upstream: outputs go next to the video (base_dir = dirname(path)); tasks 2, 4 and
8 shell out with ``os.system("python data_utils/...")`` relative to the CWD and their
exit status is ignored; task 1 does not overwrite an existing aud.wav (upstream's
ffmpeg has no ``-y``); task 2 with ``--asr wav2vec`` calls the missing ``nerf/asr.py``.
"""

import argparse
import glob
import importlib
import json
import os
import sys
from pathlib import Path

import fakeupstream as fu

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
dd = importlib.import_module("_ernerf_double")


def extract_audio(path: str, out_path: str) -> None:
    print(f"[INFO] ===== extract audio from {path} to {out_path} =====")
    if os.path.exists(out_path):
        print(f"File '{out_path}' already exists. Overwrite? [y/N] Not overwriting - exiting", file=sys.stderr)
    else:
        fu.ffmpeg("-i", path, "-f", "wav", "-ar", "16000", out_path)
    print("[INFO] ===== extracted audio =====")


def extract_audio_features(path: str, mode: str) -> None:
    print(f"[INFO] ===== extract audio labels for {path} =====")
    if mode == "wav2vec":
        cmd = f"python nerf/asr.py --wav {path} --save_feats"
    else:
        cmd = f"python data_utils/deepspeech_features/extract_ds_features.py --input {path}"
    os.system(cmd)
    print("[INFO] ===== extracted audio labels =====")


def extract_images(path: str, out_path: str) -> None:
    print(f"[INFO] ===== extract images from {path} to {out_path} =====")
    fu.ffmpeg(
        "-i", path, "-vf", "fps=25", "-qmin", "1", "-q:v", "1", "-start_number", "0", os.path.join(out_path, "%d.jpg")
    )
    print("[INFO] ===== extracted images =====")


def extract_semantics(ori_imgs_dir: str, parsing_dir: str) -> None:
    print(f"[INFO] ===== extract semantics from {ori_imgs_dir} to {parsing_dir} =====")
    os.system(f"python data_utils/face_parsing/test.py --respath={parsing_dir} --imgpath={ori_imgs_dir}")
    print("[INFO] ===== extracted semantics =====")


def _images(ori_imgs_dir: str) -> list:
    paths = glob.glob(os.path.join(ori_imgs_dir, "*.jpg"))
    if not paths:
        dd.die("IndexError", "list index out of range")
    return paths


def _parsing_of(image_path: str) -> str:
    return image_path.replace("ori_imgs", "parsing").replace(".jpg", ".png")


def extract_background(base_dir: str, ori_imgs_dir: str) -> None:
    print(f"[INFO] ===== extract background image from {ori_imgs_dir} =====")
    paths = _images(ori_imgs_dir)[::20]
    for path in paths:
        if not os.path.exists(_parsing_of(path)):
            dd.die("TypeError", "'NoneType' object is not subscriptable")
    h, w = dd.image_size(paths[0])
    dd.write_color_image(os.path.join(base_dir, "bc.jpg"), h, w)
    print("[INFO] ===== extracted background image =====")


def extract_torso_and_gt(base_dir: str, ori_imgs_dir: str) -> None:
    print(f"[INFO] ===== extract torso and gt images for {base_dir} =====")
    paths = glob.glob(os.path.join(ori_imgs_dir, "*.jpg"))
    if paths and not os.path.exists(os.path.join(base_dir, "bc.jpg")):
        dd.die("TypeError", "'NoneType' object is not subscriptable")
    template = None
    for path in paths:
        if not os.path.exists(_parsing_of(path)):
            dd.die("TypeError", "'NoneType' object is not subscriptable")
        dd.fill_copies(path, [path.replace("ori_imgs", "gt_imgs")])
        torso = path.replace("ori_imgs", "torso_imgs").replace(".jpg", ".png")
        if template is None:
            h, w = dd.image_size(path)
            dd.write_color_image(torso, h, w, color="black@0.0", rgba=True)
            template = torso
        else:
            dd.fill_copies(template, [torso])
    print("[INFO] ===== extracted torso and gt images =====")


def extract_landmarks(ori_imgs_dir: str) -> None:
    print(f"[INFO] ===== extract face landmarks from {ori_imgs_dir} =====")
    paths = glob.glob(os.path.join(ori_imgs_dir, "*.jpg"))
    if paths:
        text = dd.landmarks_text(*dd.image_size(paths[0]))
        for path in paths:
            Path(path.replace("jpg", "lms")).write_text(text, encoding="utf-8")
    print("[INFO] ===== extracted face landmarks =====")


def face_tracking(ori_imgs_dir: str) -> None:
    print("[INFO] ===== perform face tracking =====")
    paths = _images(ori_imgs_dir)
    h, w = dd.image_size(paths[0])
    os.system(
        f"python data_utils/face_tracking/face_tracker.py --path={ori_imgs_dir} --img_h={h} --img_w={w} "
        f"--frame_num={len(paths)}"
    )
    print("[INFO] ===== finished face tracking =====")


def save_transforms(base_dir: str, ori_imgs_dir: str) -> None:
    print("[INFO] ===== save transforms =====")
    paths = _images(ori_imgs_dir)
    h, w = dd.image_size(paths[0])
    params = dd.torch_load(os.path.join(base_dir, "track_params.pt")) or {}
    valid_num = int(params.get("frames", len(paths)))
    focal = float(params.get("focal", 1100.0))
    split = int(valid_num * 10 / 11)
    for name, ids in (("train", range(split)), ("val", range(split, valid_num))):
        frames = []
        for i in ids:
            dz = 0.001 * (i % 7)
            matrix = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.7 + dz], [0.0, 0.0, 0.0, 1.0]]
            frames.append({"img_id": i, "aud_id": i, "transform_matrix": matrix})
        transform = {"focal_len": focal, "cx": float(w / 2.0), "cy": float(h / 2.0), "frames": frames}
        with open(os.path.join(base_dir, f"transforms_{name}.json"), "w") as fp:
            json.dump(transform, fp, indent=2, separators=(",", ": "))
    print("[INFO] ===== finished saving transforms =====")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=str, help="path to video file")
    parser.add_argument("--task", type=int, default=-1, help="-1 means all")
    parser.add_argument("--asr", type=str, default="deepspeech", help="wav2vec or deepspeech")
    opt = parser.parse_args()
    fu.start(__file__, 1, sys.argv, task=opt.task)

    base_dir = os.path.dirname(opt.path)
    wav_path = os.path.join(base_dir, "aud.wav")
    ori_imgs_dir = os.path.join(base_dir, "ori_imgs")
    parsing_dir = os.path.join(base_dir, "parsing")
    for folder in (ori_imgs_dir, parsing_dir, os.path.join(base_dir, "gt_imgs"), os.path.join(base_dir, "torso_imgs")):
        os.makedirs(folder, exist_ok=True)

    def want(n: int) -> bool:
        return opt.task == -1 or opt.task == n

    if want(1):
        extract_audio(opt.path, wav_path)
    if want(2):
        extract_audio_features(wav_path, opt.asr)
    if want(3):
        extract_images(opt.path, ori_imgs_dir)
    if want(4):
        extract_semantics(ori_imgs_dir, parsing_dir)
    if want(5):
        extract_background(base_dir, ori_imgs_dir)
    if want(6):
        extract_torso_and_gt(base_dir, ori_imgs_dir)
    if want(7):
        extract_landmarks(ori_imgs_dir)
    if want(8):
        face_tracking(ori_imgs_dir)
    if want(9):
        save_transforms(base_dir, ori_imgs_dir)


if __name__ == "__main__":
    main()
