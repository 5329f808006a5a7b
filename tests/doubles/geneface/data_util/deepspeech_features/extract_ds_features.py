#!/usr/bin/env python3
"""Test double for data_util/deepspeech_features/extract_ds_features.py @ 15ff4e5: same flags, fake outputs.

``--input`` is a wav file (output ``--output`` or ``<stem>.npy``) or a directory (one
``<stem>.npy`` per ``*.wav``, ``--output`` ignored). Features are ``[N, 16, 29]``,
N = round(seconds * 25). ``--deepspeech`` only names the 0.1.0 graph (auto-download if absent).
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import fakeupstream  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(
        description="Extract DeepSpeech features from audio file",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--input", type=str, required=True, help="path to input audio file or directory")
    parser.add_argument("--output", type=str, help="path to output file with DeepSpeech features")
    parser.add_argument("--deepspeech", type=str, help="path to DeepSpeech 0.1.0 frozen model")
    parser.add_argument("--metainfo", type=str, help="path to file with meta-information")
    return parser.parse_args()


def _one(in_audio, out_file):
    if not out_file:
        out_file = os.path.splitext(in_audio)[0] + ".npy"
    frames = max(1, int(round(fakeupstream.wav_seconds(in_audio) * fakeupstream.FPS)))
    fakeupstream.write_npy(out_file, (frames, 16, 29))
    print("The target is: ", out_file)


def main():
    args = parse_args()
    fakeupstream.start(__file__, 2, sys.argv)
    in_audio = os.path.expanduser(args.input)
    if not os.path.exists(in_audio):
        raise Exception(f"Input file/directory doesn't exist: {in_audio}")
    if os.path.isfile(in_audio):
        _one(in_audio, args.output)
    else:
        for name in sorted(os.listdir(in_audio)):
            path = os.path.join(in_audio, name)
            if os.path.isfile(path) and os.path.splitext(name)[1].lower() == ".wav":
                _one(path, "")


if __name__ == "__main__":
    main()
