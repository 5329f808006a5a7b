#!/usr/bin/env python3
"""Test double for data_utils/face_tracking/convert_BFM.py @ 0cf72d8: same flags, fake outputs.

Upstream has no argument parser (extra arguments are ignored) and uses paths relative
to the CWD, so it must run from data_utils/face_tracking: reads
3DMM/01_MorphableModel.mat, 3DMM/topology_info.npy, 3DMM/exp_info.npy (in that order;
the first missing one raises FileNotFoundError) and writes 3DMM/3DMM_info.npy.
"""

import importlib
import os
import sys
from pathlib import Path

import fakeupstream as fu

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
dd = importlib.import_module("_ernerf_double")


def main() -> None:
    fu.start(__file__, 2, sys.argv)
    for need in ("3DMM/01_MorphableModel.mat", "3DMM/topology_info.npy", "3DMM/exp_info.npy"):
        if not os.path.exists(need):
            dd.die("FileNotFoundError", f"[Errno 2] No such file or directory: '{need}'")
    fu.write_npy("3DMM/3DMM_info.npy", [1])


if __name__ == "__main__":
    main()
