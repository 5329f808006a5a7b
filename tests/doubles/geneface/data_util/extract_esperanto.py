#!/usr/bin/env python3
"""Test double for data_util/extract_esperanto.py @ 15ff4e5: same flags, fake outputs.

With ``--save_feats`` it writes the wav2vec logits windows ``[T, 16, 44]`` (esperanto model)
to ``<wav>_esperanto.npy`` (or ``--out_name``); a non-esperanto ``--model`` gives ``[T, 16, 32]``
in ``<wav>.npy`` (``--out_name`` ignored), a model name containing ``deepspeech`` raises.
"""

import argparse
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import _geneface_double as gd  # noqa: E402
import fakeupstream  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--wav", type=str, default="data/raw/val_wavs/intro.wav")
    parser.add_argument("--play", action="store_true", help="play out the audio")
    parser.add_argument("--out_name", type=str, default="")
    parser.add_argument("--model", type=str, default="cpierse/wav2vec2-large-xlsr-53-esperanto")
    parser.add_argument("--save_feats", action="store_true")
    parser.add_argument("--fps", type=int, default=50)
    parser.add_argument("-l", type=int, default=10)
    parser.add_argument("-m", type=int, default=50)
    parser.add_argument("-r", type=int, default=10)
    opt = parser.parse_args()
    fakeupstream.start(__file__, 1, sys.argv)

    if "deepspeech" in opt.model:
        raise ValueError("DeepSpeech features should not use this code to extract...")
    gd.require(opt.wav)
    samples, rate = gd.wav_samples(opt.wav)
    chunks = math.ceil(samples * 16000 / rate / (16000 // opt.fps))  # 20 ms logit frames
    frames = chunks // 2 + 1  # unfold with stride 2 and padding 8
    if not opt.save_feats:
        return
    if "esperanto" in opt.model:
        out = opt.out_name if opt.out_name != "" else opt.wav.replace(".wav", "_esperanto.npy")
        dim = 44
    else:
        out, dim = opt.wav.replace(".wav", ".npy"), 32
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    fakeupstream.write_npy(out, (frames, 16, dim))
    print(f"[INFO] saved logits to {out}")


if __name__ == "__main__":
    main()
