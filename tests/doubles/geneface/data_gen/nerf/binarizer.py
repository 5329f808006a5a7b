#!/usr/bin/env python3
"""Test double for data_gen/nerf/binarizer.py @ 15ff4e5: same flags, fake outputs.

Command line = ``set_hparams()`` (``--config --exp_name -hp/--hparams --infer --validate
--reset --remove --debug``; unknown flags are printed and ignored). The video id comes
from the config's ``video_id``. Loads from ``data/processed/videos/<id>/``: aud_deepspeech.npy,
aud_esperanto.npy, aud_hubert.npy, aud_mel_f0.npy, vid_coeff.npy, transforms_{train,val}.json,
bc.jpg (and ``deep_3drecon/BFM/BFM_model_front.mat``), then writes
``data/binary/videos/<id>/trainval_dataset.npy`` (pickled dict; the samples keep upstream's
per-frame keys idx/face_rect/*_img_fname/c2w).
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import _geneface_double as gd  # noqa: E402


def main():
    hp, _ = gd.set_hparams(__file__, 2, sys.argv)
    gd.require("deep_3drecon/BFM/BFM_model_front.mat")
    video_id = hp["video_id"]
    processed_dir = os.path.join("data/", "processed/videos", video_id)
    binary_dir = os.path.join("data/", "binary/videos", video_id)
    os.makedirs(binary_dir, exist_ok=True)
    names = [
        "aud_deepspeech.npy",
        "aud_esperanto.npy",
        "aud_hubert.npy",
        "aud_mel_f0.npy",
        "vid_coeff.npy",
        "transforms_train.json",
        "transforms_val.json",
        "bc.jpg",
    ]
    gd.require(*[os.path.join(processed_dir, n) for n in names])
    coeff = gd.read_pickle_npy(os.path.join(processed_dir, "vid_coeff.npy"))
    coeff_rows = coeff.get("coeff_shape", [0])[0] if isinstance(coeff, dict) else 0
    h, w = gd.image_size(os.path.join(processed_dir, "bc.jpg"))
    metas = {}
    for split in ("train", "val"):
        metas[split] = json.loads(Path(processed_dir, f"transforms_{split}.json").read_text(encoding="utf-8"))
    out = {
        "double": "trainval_dataset",
        "H": h,
        "W": w,
        "focal": float(metas["train"]["focal_len"]),
        "cx": float(metas["train"]["cx"]),
        "cy": float(metas["train"]["cy"]),
    }
    for split in ("train", "val"):
        samples = []
        for frame in metas[split]["frames"]:
            assert frame["aud_id"] == frame["img_id"]
            idx = frame["aud_id"]
            if idx >= coeff_rows:
                raise IndexError(f"index {idx} is out of bounds for axis 0 with size {coeff_rows}")
            samples.append(
                {
                    "idx": idx,
                    "face_rect": frame["face_rect"],
                    "ori_img_fname": os.path.join(processed_dir, "ori_imgs", f"{idx}.jpg"),
                    "head_img_fname": os.path.join(processed_dir, "head_imgs", f"{idx}.jpg"),
                    "torso_img_fname": os.path.join(processed_dir, "torso_imgs", f"{idx}.png"),
                    "gt_img_fname": os.path.join(processed_dir, "gt_imgs", f"{idx}.jpg"),
                    "parsing_fname": os.path.join(processed_dir, "parsing", f"{idx}.png"),
                    "c2w": frame["transform_matrix"],
                }
            )
        out[f"{split}_samples"] = samples
    gd.write_pickle_npy(os.path.join(binary_dir, "trainval_dataset.npy"), out)
    print(f"Binarization for {video_id} Done!")


if __name__ == "__main__":
    main()
