#!/usr/bin/env python3
"""Test double for data_utils/face_parsing/test.py @ 0cf72d8: same flags, fake outputs.

Upstream (configargparse, no config-file option): loads BiSeNet weights from
``--modelpath`` (relative to the CWD, default data_utils/face_parsing/79999_iter.pth; a
missing file fails in torch.load), then writes ``<respath>/<int(stem)>.png`` for every
``.jpg``/``.png`` in ``--imgpath`` (a non-integer stem raises ValueError). Needs CUDA.
"""

import argparse
import importlib
import os
import sys
from pathlib import Path

import fakeupstream as fu

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
dd = importlib.import_module("_ernerf_double")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--respath", type=str, default="./result/", help="result path for label")
    parser.add_argument("--imgpath", type=str, default="./imgs/", help="path for input images")
    parser.add_argument("--modelpath", type=str, default="data_utils/face_parsing/79999_iter.pth")
    args = parser.parse_args()
    fu.start(__file__, 2, sys.argv)

    Path(args.respath).mkdir(parents=True, exist_ok=True)
    print("[INFO] loading model...")
    if not os.path.exists(args.modelpath):
        dd.die("FileNotFoundError", f"[Errno 2] No such file or directory: '{args.modelpath}'")
    template = None
    for name in os.listdir(args.imgpath):
        if not name.endswith((".jpg", ".png")):
            continue
        try:
            out = os.path.join(args.respath, str(int(name[:-4])) + ".png")
        except ValueError:
            dd.die("ValueError", f"invalid literal for int() with base 10: '{name[:-4]}'")
        if template is None:
            h, w = dd.image_size(os.path.join(args.imgpath, name))
            fu.write_parsing(out, w, h)
            template = out
        else:
            dd.fill_copies(template, [out])


if __name__ == "__main__":
    main()
