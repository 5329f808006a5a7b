#!/usr/bin/env python3
"""Test double for data_gen/nerf/extract_hubert_mel_f0.py @ 15ff4e5: same flags, fake outputs.

Reads ``data/processed/videos/<id>/aud.wav`` (16 kHz) and writes ``aud_hubert.npy``
(float32 ``[(samples - 80) // 320, 1024]``, 50 per second) and ``aud_mel_f0.npy`` (a pickled
dict with ``mel`` ``[T, 80]`` and ``f0`` ``[T]``; shapes only here). Upstream runs HuBERT on cuda:0.
"""

import sys
from argparse import ArgumentParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import _geneface_double as gd  # noqa: E402
import fakeupstream  # noqa: E402


def main():
    parser = ArgumentParser()
    parser.add_argument("--video_id", type=str, default="May", help="")
    args = parser.parse_args()
    fakeupstream.start(__file__, 2, sys.argv)

    person_id = args.video_id
    wav_16k_name = f"data/processed/videos/{person_id}/aud.wav"
    hubert_npy_name = f"data/processed/videos/{person_id}/aud_hubert.npy"
    mel_f0_npy_name = f"data/processed/videos/{person_id}/aud_mel_f0.npy"
    gd.require(wav_16k_name)
    samples, rate = gd.wav_samples(wav_16k_name)
    hubert_len = max(0, (samples - 80) // 320)
    fakeupstream.write_npy(hubert_npy_name, (hubert_len, 1024))
    print(f"Hubert extracted at {hubert_npy_name}")
    mel_len = max(0, (samples - 512) // 320 + 1)
    gd.write_pickle_npy(mel_f0_npy_name, {"double": "aud_mel_f0", "mel_shape": [mel_len, 80], "f0_shape": [mel_len]})
    print(f"Mel and F0 extracted at {mel_f0_npy_name}")


if __name__ == "__main__":
    main()
