#!/usr/bin/env python3
"""Test double for inference/nerfs/lm3d_radnerf_infer.py @ 15ff4e5: same flags, fake outputs.

Command line = ``set_hparams()`` (``--config --exp_name -hp/--hparams --infer --validate
--reset --remove --debug``; unknown flags ignored). Upstream script passes
``--config=checkpoints/<id>/lm3d_radnerf_torso/config.yaml ... --infer``.
Inputs from hparams (defaults in brackets): ``infer_audio_source_name``
[data/raw/val_wavs/zozo.wav], ``infer_cond_name`` [infer_out/May/pred_lm3d/zozo.npy, must end
in .npy, rows = ``np.load(...)[0]``], ``infer_out_video_name`` [infer_out/May/pred_video/zozo.mp4].
``infer_c2w_name`` is read into the input dict but IGNORED: LM3d_RADNeRFInfer.get_pose_from_ds
indexes the binary dataset by frame, so a cond longer than the dataset (train+val frames)
crashes with IndexError after ``<audio>_16k.wav`` was written and before anything is rendered.
Needs ``<binary_data_dir>/<video_id>/trainval_dataset.npy``, the .lms files, a checkpoint in
work_dir (and in ``head_model_dir`` for the torso task) and ``deep_3drecon/BFM/BFM_model_front.mat``.
Frames go to ``<out_dir>/tmp_imgs/<name>/%05d.png``; the mp4 is muxed with the 16 kHz wav by
ffmpeg ``-shortest`` and its return code is NOT checked.
"""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import _geneface_double as gd  # noqa: E402
import fakeupstream  # noqa: E402


def _dataset(hp):
    binary = os.path.join(hp["binary_data_dir"], hp["video_id"], "trainval_dataset.npy")
    gd.require(binary)
    ds = gd.read_pickle_npy(binary)
    samples = ds.get("train_samples", []) + ds.get("val_samples", []) if isinstance(ds, dict) else []
    for sample in samples:
        gd.require(os.path.join(hp["processed_data_dir"], hp["video_id"], "ori_imgs", f"{sample['idx']}.lms"))
    return ds, samples


def main():
    hp, _ = gd.set_hparams(__file__, 2, sys.argv)
    inp = {
        "audio_source_name": "data/raw/val_wavs/zozo.wav",
        "cond_name": "infer_out/May/pred_lm3d/zozo.npy",
        "out_video_name": "infer_out/May/pred_video/zozo.mp4",
        "out_dir": "infer_out",
    }
    for key, name in (
        ("infer_cond_name", "cond_name"),
        ("infer_audio_source_name", "audio_source_name"),
        ("infer_out_video_name", "out_video_name"),
        ("infer_c2w_name", "c2w_name"),
    ):
        if hp.get(key, "") != "":
            inp[name] = hp[key]
    out_dir = os.path.dirname(inp["out_video_name"])
    tmp_imgs_dir = os.path.join(out_dir, "tmp_imgs", os.path.basename(inp["out_video_name"])[:-4])
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(tmp_imgs_dir, exist_ok=True)

    ds, samples = _dataset(hp)
    assert hp["task_cls"] != ""
    gd.require("deep_3drecon/BFM/BFM_model_front.mat")

    source = inp["audio_source_name"]
    supported = (".wav", ".mp3", ".mp4", ".avi")
    assert source.endswith(supported), f"Now we only support {','.join(supported)} as audio source!"
    wav16k = source[:-4] + "_16k.wav"
    gd.run_ffmpeg("-i", source, "-v", "quiet", "-f", "wav", "-ar", "16000", wav16k, "-y")
    print(f"Saved 16khz wav file to {wav16k}.")

    assert inp["cond_name"].endswith(".npy")
    gd.require(inp["cond_name"])
    shape = gd.npy_shape(inp["cond_name"])
    frames = shape[1] if len(shape) >= 3 else 1  # np.load(...)[0] reshaped to [-1, 68, 3]
    print(f"Loaded pre-extracted 3D landmark sequence from {inp['cond_name']}!")
    if frames > len(samples):
        raise IndexError(f"list index out of range (cond has {frames} frames, dataset has {len(samples)} poses)")

    if hp["task_cls"].endswith("RADNeRFTorsoTask"):
        gd.require_ckpt(hp["head_model_dir"])
    gd.require_ckpt(hp["work_dir"])

    # get_pose_from_ds: frame i takes trainval sample i's pose (and its torso and background).
    shown = [sample["ori_img_fname"] for sample in samples[:frames]]
    fakeupstream.render_frames(shown, Path(tmp_imgs_dir, "%05d.png"), video=False)

    out_name = inp["out_video_name"]
    gd.os_system(
        [
            shutil.which("ffmpeg") or "ffmpeg",
            "-i",
            f"{tmp_imgs_dir}/%5d.png",
            "-i",
            wav16k,
            "-shortest",
            "-v",
            "quiet",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-b:v",
            "2000k",
            "-r",
            "25",
            "-strict",
            "-2",
            "-y",
            out_name,
        ]
    )
    print(f"The synthesized video is saved at {out_name}")


if __name__ == "__main__":
    main()
