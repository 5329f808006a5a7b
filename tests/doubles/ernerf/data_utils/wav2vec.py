#!/usr/bin/env python3
"""Test double for data_utils/wav2vec.py @ 0cf72d8: same flags, fake outputs.

Upstream: streams ``--wav`` (resampled to 16 kHz with resampy) through a CTC model in
chunks of 16000 // fps samples; only with ``--save_feats`` it saves [M // 2 + 1, 16, C]
(C = 44 for an ``esperanto`` model, else 32) to ``wav.replace('.wav', '_eo.npy')`` for
esperanto models, else ``wav.replace('.wav', '.npy')``. An empty ``--wav`` means live
microphone input (fails here: no audio device). A model name containing ``deepspeech``
raises ValueError.
"""

import argparse
import importlib
import sys
from pathlib import Path

import fakeupstream as fu

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
dd = importlib.import_module("_ernerf_double")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wav", type=str, default="")
    parser.add_argument("--play", action="store_true", help="play out the audio")
    parser.add_argument("--model", type=str, default="cpierse/wav2vec2-large-xlsr-53-esperanto")
    parser.add_argument("--save_feats", action="store_true")
    parser.add_argument("--fps", type=int, default=50)
    parser.add_argument("-l", type=int, default=10)
    parser.add_argument("-m", type=int, default=50)
    parser.add_argument("-r", type=int, default=10)
    opt = parser.parse_args()
    fu.start(__file__, 1, sys.argv)

    if "deepspeech" in opt.model:
        dd.die("ValueError", "DeepSpeech features should not use this code to extract...")
    if opt.wav == "" or opt.play:
        dd.die("OSError", "[Errno -9996] Invalid output device (no default output device)")
    samples, rate = dd.wav_info(opt.wav)
    samples16k = dd.resampled_len(samples, rate, "resampy")
    print(f"[INFO] loaded audio stream {opt.wav}: ({samples16k},)")
    if opt.save_feats:
        esperanto = "esperanto" in opt.model
        rows = dd.wav2vec_rows(samples16k, opt.fps, opt.l, opt.m, opt.r)
        out = opt.wav.replace(".wav", "_eo.npy") if esperanto else opt.wav.replace(".wav", ".npy")
        fu.write_npy(dd.np_save_name(out), [rows, 16, 44 if esperanto else 32])
        print(f"[INFO] saved logits to {out}")


if __name__ == "__main__":
    main()
