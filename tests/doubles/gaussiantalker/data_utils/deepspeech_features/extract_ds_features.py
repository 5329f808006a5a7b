#!/usr/bin/env python3
"""Test double for data_utils/deepspeech_features/extract_ds_features.py @ 8ec613b: same flags, fake outputs.

--input FILE writes --output or <input without extension>.npy; --input DIR writes <stem>.npy
next to every *.wav in it (--output ignored). Features are [N, 16, 29] with N = round(seconds*25).
Upstream always uses ~/.tensorflow/models/deepspeech-0_1_0-b90017e8.pb (downloads it if absent);
--deepspeech is parsed but overwritten.
"""

import argparse
import os
import sys

import fakeupstream


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Extract DeepSpeech features from audio file",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--input", type=str, required=True, help="path to input audio file or directory")
    parser.add_argument("--output", type=str, help="path to output file with DeepSpeech features")
    parser.add_argument("--deepspeech", type=str, help="path to DeepSpeech 0.1.0 frozen model")
    parser.add_argument("--metainfo", type=str, help="path to file with meta-information")
    return parser.parse_args()


def write_features(wav: str, out: str) -> None:
    frames = round(fakeupstream.wav_seconds(wav) * fakeupstream.FPS)
    fakeupstream.write_npy(out, (frames, 16, 29))
    print((frames, 16, 29))


def main() -> None:
    args = parse_args()
    fakeupstream.start(__file__, 2, sys.argv)
    in_audio = os.path.expanduser(args.input)
    if not os.path.exists(in_audio):
        raise Exception(f"Input file/directory doesn't exist: {in_audio}")  # noqa: TRY002 (as upstream)
    if args.metainfo is not None:
        sys.exit("[double] --metainfo is not supported by this double")
    if os.path.isfile(in_audio):
        write_features(in_audio, args.output or os.path.splitext(in_audio)[0] + ".npy")
        return
    for name in sorted(os.listdir(in_audio)):
        path = os.path.join(in_audio, name)
        if os.path.isfile(path) and os.path.splitext(name)[1].lower() == ".wav":
            write_features(path, os.path.splitext(path)[0] + ".npy")


if __name__ == "__main__":
    main()
