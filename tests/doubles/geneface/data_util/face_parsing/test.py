#!/usr/bin/env python3
"""Test double for data_util/face_parsing/test.py @ 15ff4e5: same flags, fake outputs.

Upstream uses configargparse without config-file options, i.e. plain argparse behaviour.
For every ``<n>.jpg``/``<n>.png`` in ``--imgpath`` it writes ``--respath/<n>.png`` (colour-coded
parsing: white background, head, neck and torso in the lineage's colours) at the image size.
``--modelpath`` must exist (upstream torch.load's it first).
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import _geneface_double as gd  # noqa: E402
import fakeupstream  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--respath", type=str, default="./result/", help="result path for label")
    parser.add_argument("--imgpath", type=str, default="./imgs/", help="path for input images")
    parser.add_argument("--modelpath", type=str, default="data_util/face_parsing/79999_iter.pth")
    args = parser.parse_args()
    fakeupstream.start(__file__, 2, sys.argv)

    Path(args.respath).mkdir(parents=True, exist_ok=True)
    gd.require(args.modelpath)
    names = [n for n in os.listdir(args.imgpath) if n.endswith(".jpg") or n.endswith(".png")]
    template = None
    for name in names:
        out = os.path.join(args.respath, f"{int(name[:-4])}.png")
        if template is None:
            h, w = gd.image_size(os.path.join(args.imgpath, name))
            fakeupstream.write_parsing(out, w, h)
            template = out
        else:
            shutil.copyfile(template, out)


if __name__ == "__main__":
    main()
