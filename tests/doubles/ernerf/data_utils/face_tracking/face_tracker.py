#!/usr/bin/env python3
"""Test double for data_utils/face_tracking/face_tracker.py @ 0cf72d8: same flags, fake outputs.

Upstream: loads ``<path>/<i>.lms`` for i in range(frame_num) (missing ones skipped, none
at all -> ValueError from np.stack) and the matching .jpg; loads 3DMM_info.npy and
keys_info.npy (facemodel.py) and topology_info.npy (render_3dmm.py) from the 3DMM folder
next to this script (not the CWD); needs CUDA + pytorch3d; saves
``os.path.dirname(path)/track_params.pt`` (a trailing slash on --path puts it inside
ori_imgs) with keys id, exp, euler, trans, focal.
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
    parser.add_argument("--path", type=str, default="obama/ori_imgs", help="idname of target person")
    parser.add_argument("--img_h", type=int, default=512, help="image height")
    parser.add_argument("--img_w", type=int, default=512, help="image width")
    parser.add_argument("--frame_num", type=int, default=11000, help="image number")
    args = parser.parse_args()
    fu.start(__file__, 2, sys.argv)

    frames = [i for i in range(args.frame_num) if os.path.isfile(os.path.join(args.path, f"{i}.lms"))]
    if not frames:
        dd.die("ValueError", "need at least one array to stack")
    model_dir = Path(__file__).resolve().parent / "3DMM"
    for need in ("3DMM_info.npy", "keys_info.npy", "topology_info.npy"):
        if not (model_dir / need).exists():
            dd.die("FileNotFoundError", f"[Errno 2] No such file or directory: '{model_dir / need}'")
    for i in frames[::40]:
        if not os.path.exists(os.path.join(args.path, f"{i}.jpg")):
            dd.die("TypeError", "'NoneType' object is not subscriptable")
    print("[INFO] fitting focal length...")
    focal = 1100.0
    print("[INFO] find best focal:", int(focal))
    out = os.path.join(os.path.dirname(args.path), "track_params.pt")
    if os.path.dirname(out) and not os.path.isdir(os.path.dirname(out)):
        dd.die("RuntimeError", f"Parent directory {os.path.dirname(out)} does not exist.")
    dd.torch_save(
        out,
        {
            "keys": ["id", "exp", "euler", "trans", "focal"],
            "frames": len(frames),
            "focal": focal,
            "img_h": args.img_h,
            "img_w": args.img_w,
        },
    )
    print("params saved")


if __name__ == "__main__":
    main()
