#!/usr/bin/env python3
"""Test double for data_util/face_tracking/face_tracker.py @ 15ff4e5: same flags, fake outputs.

Loads ``data/processed/videos/<idname>/ori_imgs/<i>.lms`` for i in [0, frame_num) (frames
without .lms are skipped; none at all crashes), needs ``3DMM/3DMM_info.npy`` next to this
script (made by convert_BFM.py), and writes ``data/processed/videos/<idname>/track_params.pt``
(a placeholder: JSON with the frame count and focal instead of torch tensors),
``debug/debug_render/<i>.jpg`` for every 40th frame, and appends to ``./log.txt``.
``--id_dir`` is accepted and ignored, as upstream.
"""

import argparse
import json
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
    parser.add_argument("--idname", type=str, default="obama", help="idname of target person")
    parser.add_argument("--id_dir", type=str, default=None)
    parser.add_argument("--img_h", type=int, default=512, help="image height")
    parser.add_argument("--img_w", type=int, default=512, help="image width")
    parser.add_argument("--frame_num", type=int, default=11000, help="image number")
    args = parser.parse_args()
    fakeupstream.start(__file__, 2, sys.argv)

    id_dir = os.path.join("data/processed/videos", args.idname)
    ori = os.path.join(id_dir, "ori_imgs")
    frames = [i for i in range(0, args.frame_num) if os.path.isfile(os.path.join(ori, f"{i}.lms"))]
    if not frames:
        raise ValueError("need at least one array to stack")
    info_dir = Path(__file__).resolve().parent / "3DMM"
    gd.require(
        str(info_dir / "3DMM_info.npy"),
        str(info_dir / "keys_info.npy"),
        str(info_dir / "topology_info.npy"),
        why="run convert_BFM.py inside data_util/face_tracking first",
    )
    debug_dir = os.path.join(id_dir, "debug", "debug_render")
    Path(debug_dir).mkdir(parents=True, exist_ok=True)
    for n in range(0, len(frames), 40):
        src = os.path.join(ori, f"{frames[n]}.jpg")
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(debug_dir, f"{n}.jpg"))
    with open("log.txt", "a", encoding="utf-8") as fh:
        fh.write(f"\n[double] face_tracker {args.idname}: {len(frames)} frames")
    payload = {
        "double": "track_params.pt",
        "keys": ["id", "exp", "euler", "trans", "focal"],
        "frames": len(frames),
        "focal": 1100.0,
    }
    Path(id_dir, "track_params.pt").write_text(json.dumps(payload), encoding="utf-8")
    print("params saved")


if __name__ == "__main__":
    main()
