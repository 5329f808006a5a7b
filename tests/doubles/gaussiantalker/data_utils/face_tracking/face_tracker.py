#!/usr/bin/env python3
"""Test double for data_utils/face_tracking/face_tracker.py @ 8ec613b: same flags, fake outputs.

Needs 3DMM/3DMM_info.npy and 3DMM/keys_info.npy next to this script (convert_BFM.py output and a
committed file). Reads <path>/<i>.lms for i in range(frame_num) (missing ones skipped, none -> error)
and writes <dirname(path)>/track_params.pt (placeholder: a header line, then JSON with the frame count;
upstream: torch.save of id/exp/euler/trans/focal/vertices).
"""

import argparse
import json
import os
import sys

import fakeupstream


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", type=str, default="obama/ori_imgs", help="idname of target person")
    parser.add_argument("--img_h", type=int, default=512, help="image height")
    parser.add_argument("--img_w", type=int, default=512, help="image width")
    parser.add_argument("--frame_num", type=int, default=11000, help="image number")
    args = parser.parse_args()
    fakeupstream.start(__file__, 2, sys.argv)

    frames = sum(os.path.isfile(os.path.join(args.path, f"{i}.lms")) for i in range(args.frame_num))
    if frames == 0:
        raise ValueError("need at least one array to stack")
    here = os.path.dirname(os.path.realpath(__file__))
    for name in ("3DMM_info.npy", "keys_info.npy"):
        if not os.path.isfile(os.path.join(here, "3DMM", name)):
            raise FileNotFoundError(f"No such file or directory: '{os.path.join(here, '3DMM', name)}'")
    keys = ["id", "exp", "euler", "trans", "focal", "vertices"]
    with open(os.path.join(os.path.dirname(args.path), "track_params.pt"), "w") as fh:
        fh.write("FAKE torch.save track_params\n" + json.dumps({"frames": frames, "keys": keys}) + "\n")
    print("params saved")


if __name__ == "__main__":
    main()
