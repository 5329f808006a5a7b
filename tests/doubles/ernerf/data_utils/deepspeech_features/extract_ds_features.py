#!/usr/bin/env python3
"""Test double for data_utils/deepspeech_features/extract_ds_features.py @ 0cf72d8: same flags, fake outputs.

Upstream semantics kept: ``--input`` may be a wav file or a folder (every ``*.wav``,
case-insensitive, sorted); a file's output is ``--output`` or ``<input stem>.npy``; for
a folder ``--output`` is ignored and each wav gets ``<stem>.npy`` beside it; np.save
appends ``.npy`` to an ``--output`` lacking it; ``--deepspeech`` is ignored. Rows:
M = round(seconds * 50) (or the ``Count`` column of ``--metainfo``), output [M // 2, 16, 29]
(upstream writes float64; the double writes float32).
"""

import argparse
import csv
import importlib
import os
import sys
from pathlib import Path

import fakeupstream as fu

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
dd = importlib.import_module("_ernerf_double")


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


def extract(in_audios: list, out_files: list, metainfo: str) -> None:
    counts = [None] * len(in_audios)
    if metainfo is not None:
        with open(metainfo, newline="") as fh:
            counts = [int(row["Count"]) for row in csv.DictReader(fh, delimiter="\t")]
        if len(counts) != len(in_audios):
            dd.die("AssertionError", "")
    for i, in_audio in enumerate(in_audios):
        if not out_files[i]:
            out_files[i] = os.path.splitext(in_audio)[0] + ".npy"
    for in_audio, out_file, count in zip(in_audios, out_files, counts):
        print(in_audio)
        print(out_file)
        samples, rate = dd.wav_info(in_audio)
        rows = dd.ds_rows(samples, rate, count)
        print((rows, 16, 29))
        fu.write_npy(dd.np_save_name(out_file), [rows, 16, 29])


def main() -> None:
    args = parse_args()
    fu.start(__file__, 2, sys.argv)
    in_audio = os.path.expanduser(args.input)
    if not os.path.exists(in_audio):
        dd.die("Exception", f"Input file/directory doesn't exist: {in_audio}")
    if os.path.isfile(in_audio):
        extract([in_audio], [args.output], args.metainfo)
    else:
        paths = []
        for name in os.listdir(in_audio):
            full = os.path.join(in_audio, name)
            if os.path.isfile(full) and os.path.splitext(name)[1].lower() == ".wav":
                paths.append(full)
        paths = sorted(paths)
        extract(paths, [""] * len(paths), args.metainfo)


if __name__ == "__main__":
    main()
