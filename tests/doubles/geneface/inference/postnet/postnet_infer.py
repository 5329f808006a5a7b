#!/usr/bin/env python3
"""Test double for inference/postnet/postnet_infer.py @ 15ff4e5: same flags, fake outputs.

Command line = ``set_hparams()`` (``--config --exp_name -hp/--hparams --infer --validate
--reset --remove --debug``; unknown flags ignored). Upstream script passes
``--config=checkpoints/<id>/lm3d_postnet_sync/config.yaml`` (work_dir comes from it).
Loads ``<work_dir>/model_ckpt_steps_<infer_ckpt_steps>.ckpt`` (exact step; AssertionError if
missing), and, while building the task, the audio2motion/syncnet checkpoints named in the
config and ``deep_3drecon/BFM/BFM_model_front.mat``. Writes ``<audio>_16k.wav`` next to
``infer_audio_source_name`` (ffmpeg, return code unchecked) and ``infer_out_npy_name``:
float32 ``[1, T, 204]`` with T = ceil8((samples16k - 80) // 320) / 2 (about 25 per second).
"""

import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import _geneface_double as gd  # noqa: E402
import fakeupstream  # noqa: E402


def main():
    hp, _ = gd.set_hparams(__file__, 2, sys.argv)
    inp = {"audio_source_name": "data/raw/val_wavs/zozo.wav", "out_npy_name": "infer_out/May/pred_lm3d/zozo.npy"}
    if hp.get("infer_audio_source_name", "") != "":
        inp["audio_source_name"] = hp["infer_audio_source_name"]
    if hp.get("infer_out_npy_name", "") != "":
        inp["out_npy_name"] = hp["infer_out_npy_name"]
    os.makedirs(os.path.dirname(inp["out_npy_name"]), exist_ok=True)

    assert hp["task_cls"] != ""
    gd.require_ckpt(hp["audio2motion_work_dir"], hp["audio2motion_ckpt_steps"])
    gd.require_ckpt(hp["syncnet_work_dir"], hp["syncnet_ckpt_steps"])
    gd.require("deep_3drecon/BFM/BFM_model_front.mat")
    steps = hp.get("infer_ckpt_steps", 12000)
    gd.require_ckpt(hp["work_dir"], steps)

    source = inp["audio_source_name"]
    supported = (".wav", ".mp3", ".mp4", ".avi")
    assert source.endswith(supported), f"Now we only support {','.join(supported)} as audio source!"
    wav16k = source[:-4] + "_16k.wav"
    gd.run_ffmpeg("-i", source, "-f", "wav", "-ar", "16000", wav16k, "-y")
    print(f"Extracted wav file (16khz) from {source} to {wav16k}.")
    gd.require(wav16k)
    samples, _ = gd.wav_samples(wav16k)
    hubert_len = max(0, (samples - 80) // 320)
    frames = math.ceil(hubert_len / 8) * 8 // 2
    fakeupstream.write_npy(inp["out_npy_name"], (1, frames, 204))
    print(f"The predicted and refined 3D landmark sequence is saved at {inp['out_npy_name']}")


if __name__ == "__main__":
    main()
