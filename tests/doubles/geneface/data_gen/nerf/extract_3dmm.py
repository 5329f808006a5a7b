#!/usr/bin/env python3
"""Test double for data_gen/nerf/extract_3dmm.py @ 15ff4e5: same flags, fake outputs.

Reads ``data/raw/videos/<id>.mp4`` with OpenCV at its NATIVE frame rate (no 25 fps
resampling) and writes ``data/processed/videos/<id>/vid_coeff.npy`` (pickled dict
``coeff [N, 257]``, ``lm68 [N, 68, 2]``, ``lm5 [N, 5, 2]``; shapes only here), touching
``vid_coeff.doi`` meanwhile. Deep3DFaceRecon needs ``deep_3drecon/reconstructor_opt.pkl``-
named assets: ``deep_3drecon/checkpoints/facerecon/epoch_20.pth`` and
``deep_3drecon/BFM/BFM_model_front.mat`` (built from ``01_MorphableModel.mat`` +
``Exp_Pca.bin`` when absent, as upstream's ParametricFaceModel does).
"""

import os
import sys
from argparse import ArgumentParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import _geneface_double as gd  # noqa: E402
import fakeupstream  # noqa: E402

BFM = "deep_3drecon/BFM"


def main():
    parser = ArgumentParser()
    parser.add_argument("--video_id", type=str, default="May", help="")
    args = parser.parse_args()
    fakeupstream.start(__file__, 2, sys.argv)

    front = os.path.join(BFM, "BFM_model_front.mat")
    if not os.path.isfile(front):
        gd.require(os.path.join(BFM, "01_MorphableModel.mat"), os.path.join(BFM, "Exp_Pca.bin"))
        Path(front).write_bytes(b"placeholder BFM_model_front.mat written by the extract_3dmm double\n")
    gd.require("deep_3drecon/checkpoints/facerecon/epoch_20.pth")

    video_fname = f"data/raw/videos/{args.video_id}.mp4"
    out_fname = f"data/processed/videos/{args.video_id}/vid_coeff.npy"
    assert video_fname.endswith(".mp4")
    tmp_name = out_fname[:-4] + ".doi"
    Path(tmp_name).touch()
    num_frames = gd.native_frame_count(video_fname) if os.path.exists(video_fname) else 0
    if num_frames == 0:
        raise ValueError("need at least one array to concatenate")
    gd.write_pickle_npy(
        out_fname,
        {
            "double": "vid_coeff",
            "coeff_shape": [num_frames, 257],
            "lm68_shape": [num_frames, 68, 2],
            "lm5_shape": [num_frames, 5, 2],
        },
    )
    os.remove(tmp_name)
    print(f"3DMM coeff extracted at {out_fname}")


if __name__ == "__main__":
    main()
