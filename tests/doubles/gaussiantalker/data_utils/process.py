#!/usr/bin/env python3
"""Test double for data_utils/process.py @ 8ec613b: same flags, fake outputs.

Tasks (all when --task -1): 1 aud.wav + aud_train.wav/aud_novel.wav (real ffmpeg, split by the
ffprobe duration at 10/11), 2 runs data_utils/deepspeech_features/extract_ds_features.py relative
to the cwd (like upstream) and copies aud.npy -> aud_ds.npy, 3 ori_imgs/%d.jpg (real ffmpeg),
4 parsing/<n>.png, 5 bc.jpg, 6 gt_imgs/<n>.jpg + torso_imgs/<n>.png, 7 ori_imgs/<n>.lms,
8 runs data_utils/face_tracking/face_tracker.py relative to the cwd (-> track_params.pt),
9 transforms_train.json/transforms_val.json. Like upstream, sub-commands run through the shell
and their exit codes are ignored; ffmpeg for task 1 never overwrites an existing wav (upstream
passes no -y and gets no "y" on a non-interactive stdin).
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

import fakeupstream


def run_ffmpeg_no_overwrite(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-n", *args], check=False, stdin=subprocess.DEVNULL)


def get_duration(file_path: str) -> float:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "default=noprint_wrappers=1:nokey=1",
            file_path,
        ],
        check=False,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return float(out)  # ValueError on a missing/unreadable input, as upstream


def image_size(path: str) -> tuple:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
            path,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    w, h = out.split(",")[:2]
    return int(w), int(h)


def jpgs(ori_imgs_dir: str) -> list:
    return glob.glob(os.path.join(ori_imgs_dir, "*.jpg"))


def first_size(ori_imgs_dir: str) -> tuple:
    paths = jpgs(ori_imgs_dir)
    return image_size(paths[0])  # IndexError with no frames, as upstream


def fill(template: str, targets: list) -> None:
    for target in targets:
        shutil.copyfile(template, target)


def extract_audio(path: str, out_path: str) -> None:
    run_ffmpeg_no_overwrite("-i", path, "-f", "wav", "-ar", "16000", out_path)
    total = get_duration(path)
    directory = os.path.dirname(out_path)
    run_ffmpeg_no_overwrite(
        "-i", path, "-f", "wav", "-ar", "16000", "-t", str(total * 10 / 11), os.path.join(directory, "aud_train.wav")
    )
    run_ffmpeg_no_overwrite(
        "-i",
        path,
        "-f",
        "wav",
        "-ar",
        "16000",
        "-ss",
        str(total - total / 11),
        "-t",
        str(total / 11),
        os.path.join(directory, "aud_novel.wav"),
    )


def extract_audio_features(path: str, mode: str) -> None:
    if mode == "wav2vec":
        os.system(f"python nerf/asr.py --wav {path} --save_feats")  # no such file upstream either
    else:
        os.system(f"{sys.executable} data_utils/deepspeech_features/extract_ds_features.py --input {path}")
    shutil.copy(path.replace(".wav", ".npy"), path.replace(".wav", "_ds.npy"))


def extract_semantics(ori_imgs_dir: str, parsing_dir: str) -> None:
    paths = jpgs(ori_imgs_dir)
    if not paths:
        return
    w, h = image_size(paths[0])
    # BiSeNet colours as upstream reads them (BGR): bg white, head (255,0,0), neck (0,255,0), torso (0,0,255).
    template = os.path.join(parsing_dir, ".template.png")
    fakeupstream.ffmpeg(
        "-f", "lavfi", "-i", f"color=c=white:s={w}x{h}", "-frames:v", "1",
        "-vf", (f"format=rgb24,drawbox=x={w // 4}:y={h // 8}:w={w // 2}:h={h // 2}:color=0x0000FF:t=fill,"
                f"drawbox=x={w * 3 // 8}:y={h * 5 // 8}:w={w // 4}:h={h // 8}:color=0x00FF00:t=fill,"
                f"drawbox=x=0:y={h * 3 // 4}:w={w}:h={h // 4}:color=0xFF0000:t=fill"),
        "-pix_fmt", "rgb24", template,
    )  # fmt: skip
    fill(template, [os.path.join(parsing_dir, os.path.basename(p)[:-4] + ".png") for p in paths])
    os.remove(template)


def extract_background(base_dir: str, ori_imgs_dir: str) -> None:
    paths = jpgs(ori_imgs_dir)
    w, h = image_size(paths[0])
    for p in paths[::20]:
        parsing = p.replace("ori_imgs", "parsing").replace(".jpg", ".png")
        if not os.path.isfile(parsing):
            raise TypeError("'NoneType' object is not subscriptable")  # cv2.imread of a missing parsing png
    fakeupstream.ffmpeg(
        "-f", "lavfi", "-i", f"color=c=gray:s={w}x{h}", "-frames:v", "1", os.path.join(base_dir, "bc.jpg")
    )


def extract_torso_and_gt(base_dir: str, ori_imgs_dir: str) -> None:
    if not os.path.isfile(os.path.join(base_dir, "bc.jpg")):
        raise TypeError("'NoneType' object is not subscriptable")
    paths = jpgs(ori_imgs_dir)
    if not paths:
        return
    for p in paths:
        if not os.path.isfile(p.replace("ori_imgs", "parsing").replace(".jpg", ".png")):
            raise TypeError("'NoneType' object is not subscriptable")
    w, h = image_size(paths[0])
    gt_tpl, torso_tpl = os.path.join(base_dir, ".gt.jpg"), os.path.join(base_dir, ".torso.png")
    fakeupstream.ffmpeg("-f", "lavfi", "-i", f"color=c=gray:s={w}x{h}", "-frames:v", "1", gt_tpl)
    fakeupstream.ffmpeg(
        "-f", "lavfi", "-i", f"color=c=black@0.0:s={w}x{h},format=rgba", "-frames:v", "1", "-pix_fmt", "rgba", torso_tpl
    )
    fill(gt_tpl, [p.replace("ori_imgs", "gt_imgs") for p in paths])
    fill(torso_tpl, [p.replace("ori_imgs", "torso_imgs").replace(".jpg", ".png") for p in paths])
    os.remove(gt_tpl)
    os.remove(torso_tpl)


def landmarks_text(w: int, h: int) -> str:
    """68 plausible 2D landmarks ("x y" per line, '%f' like np.savetxt) inside the frame."""
    pts = []
    for i in range(17):  # jaw
        pts.append((0.25 + 0.5 * i / 16, 0.45 + 0.3 * (1 - abs(i - 8) / 8)))
    for i in range(10):  # brows
        pts.append((0.3 + 0.4 * i / 9, 0.35))
    for i in range(9):  # nose
        pts.append((0.5 + (0.0 if i < 4 else 0.02 * (i - 6)), 0.4 + 0.03 * min(i, 4)))
    for i in range(12):  # eyes
        pts.append((0.35 + 0.3 * (i // 6) + 0.02 * (i % 6), 0.42 + 0.01 * (i % 2)))
    for i in range(20):  # lips: 12 outer + 8 inner
        pts.append((0.42 + 0.16 * (i % 12) / 11, 0.62 + 0.03 * (i % 2) + 0.01 * (i >= 12)))
    return "".join(f"{x * w:f} {y * h:f}\n" for x, y in pts)


def extract_landmarks(ori_imgs_dir: str) -> None:
    paths = jpgs(ori_imgs_dir)
    if not paths:
        return
    text = landmarks_text(*image_size(paths[0]))
    for p in paths:
        with open(p.replace("jpg", "lms"), "w") as fh:
            fh.write(text)


def face_tracking(ori_imgs_dir: str) -> None:
    paths = jpgs(ori_imgs_dir)
    w, h = image_size(paths[0])
    os.system(
        f"{sys.executable} data_utils/face_tracking/face_tracker.py --path={ori_imgs_dir} --img_h={h} --img_w={w} "
        f"--frame_num={len(paths)}"
    )


def save_transforms(base_dir: str, ori_imgs_dir: str) -> None:
    w, h = first_size(ori_imgs_dir)
    with open(os.path.join(base_dir, "track_params.pt"), "rb") as fh:  # FileNotFoundError as torch.load
        blob = fh.read()
    try:
        valid_num = int(json.loads(blob.decode().split("\n", 1)[1])["frames"])
    except (ValueError, IndexError, KeyError, UnicodeDecodeError):
        valid_num = len(jpgs(ori_imgs_dir))
    split = int(valid_num * 10 / 11)
    for name, ids in (("train", range(split)), ("val", range(split, valid_num))):
        frames = []
        for i in ids:
            pose = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.7], [0.0, 0.0, 0.0, 1.0]]
            frames.append({"img_id": i, "aud_id": i, "transform_matrix": pose})
        meta = {"focal_len": 1200.0, "cx": float(w / 2.0), "cy": float(h / 2.0), "frames": frames}
        with open(os.path.join(base_dir, "transforms_" + name + ".json"), "w") as fp:
            json.dump(meta, fp, indent=2, separators=(",", ": "))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", type=str, help="path to video file")
    parser.add_argument("--task", type=int, default=-1, help="-1 means all")
    parser.add_argument("--asr", type=str, default="deepspeech", help="wav2vec or deepspeech")
    opt = parser.parse_args()
    fakeupstream.start(__file__, 1, sys.argv, task=opt.task)

    base_dir = os.path.dirname(opt.path)
    wav_path = os.path.join(base_dir, "aud.wav")
    ori_imgs_dir = os.path.join(base_dir, "ori_imgs")
    parsing_dir = os.path.join(base_dir, "parsing")
    for folder in (ori_imgs_dir, parsing_dir, os.path.join(base_dir, "gt_imgs"), os.path.join(base_dir, "torso_imgs")):
        os.makedirs(folder, exist_ok=True)

    def want(task: int) -> bool:
        return opt.task in (-1, task)

    if want(1):
        extract_audio(opt.path, wav_path)
    if want(2):
        extract_audio_features(wav_path, opt.asr)
    if want(3):
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", opt.path, "-vf", "fps=25",
                        "-qmin", "1", "-q:v", "1", "-start_number", "0", os.path.join(ori_imgs_dir, "%d.jpg")],
                       check=False, stdin=subprocess.DEVNULL)  # fmt: skip
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
