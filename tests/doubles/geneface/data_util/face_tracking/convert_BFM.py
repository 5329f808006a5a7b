#!/usr/bin/env python3
"""Test double for data_util/face_tracking/convert_BFM.py @ 15ff4e5: same flags, fake outputs.

Upstream has no argument parser (extra arguments are ignored) and uses paths relative to
the current directory, so it must run inside ``data_util/face_tracking``: it reads
``../../deep_3drecon/BFM/01_MorphableModel.mat``, ``3DMM/topology_info.npy`` and
``3DMM/exp_info.npy`` and writes ``3DMM/3DMM_info.npy``.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import _geneface_double as gd  # noqa: E402
import fakeupstream  # noqa: E402


def main():
    fakeupstream.start(__file__, 2, sys.argv)
    gd.require("../../deep_3drecon/BFM/01_MorphableModel.mat", "3DMM/topology_info.npy", "3DMM/exp_info.npy")
    gd.write_pickle_npy(
        "3DMM/3DMM_info.npy",
        {
            "double": "3DMM_info",
            "keys": ["mu_shape", "b_shape", "sig_shape", "mu_exp", "b_exp", "sig_exp", "mu_tex", "b_tex", "sig_tex"],
        },
    )


if __name__ == "__main__":
    main()
