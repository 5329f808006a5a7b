#!/usr/bin/env python3
"""Test double for data_utils/face_tracking/convert_BFM.py @ 8ec613b: same flags, fake outputs.

Upstream has no argument parser (arguments are ignored) and uses paths relative to the cwd,
so it must run inside data_utils/face_tracking: reads 3DMM/01_MorphableModel.mat,
3DMM/topology_info.npy, 3DMM/exp_info.npy; writes 3DMM/3DMM_info.npy.
"""

import os
import sys

import fakeupstream


def main() -> None:
    fakeupstream.start(__file__, 2, sys.argv)
    for name in ("3DMM/01_MorphableModel.mat", "3DMM/topology_info.npy", "3DMM/exp_info.npy"):
        if not os.path.isfile(name):
            raise FileNotFoundError(f"[Errno 2] No such file or directory: '{name}'")
    fakeupstream.write_npy("3DMM/3DMM_info.npy", (1,))


if __name__ == "__main__":
    main()
