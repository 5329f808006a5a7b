#!/usr/bin/env python3
"""Test double for data_utils/hubert.py @ 0cf72d8: same flags, fake outputs.

Upstream: only ``--wav``; resamples to 16 kHz (librosa), HuBERT on cuda:0, keeps
T = (samples - 80) // 320 steps, drops one to make T even and saves [T/2, 2, 1024] to
``wav.replace('.wav', '_hu.npy')`` (np.save appends ``.npy`` if that name lacks it).
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
    parser.add_argument("--wav", type=str, help="")
    args = parser.parse_args()
    fu.start(__file__, 1, sys.argv)
    wav_name = args.wav
    if wav_name is None:
        dd.die("TypeError", "Invalid file: None")
    samples, rate = dd.wav_info(wav_name)
    print(f"SR: {rate} to 16000")
    rows = dd.hubert_rows(dd.resampled_len(samples, rate, "librosa"))
    fu.write_npy(dd.np_save_name(wav_name.replace(".wav", "_hu.npy")), [rows, 2, 1024])
    print((rows, 2, 1024))


if __name__ == "__main__":
    main()
