"""talkingface gpu-run stand-in around data_gen/nerf/extract_3dmm.py (GeneFace @ 15ff4e5): upstream's own script
runs (kept beside this file as extract_3dmm.py.upstream), with face_alignment's detector and FAN built from their
files as upstream builds them, but the 68 landmarks of each frame come from our own preprocessing
(data/processed/videos/<id>/ori_imgs/<n>.lms): random FAN weights give landmarks no face fits.
"""

import glob
import os
import runpy
import sys

import face_alignment
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = face_alignment.FaceAlignment


def _video_id():
    for arg in sys.argv[1:]:
        if arg.startswith("--video_id="):
            return arg.split("=", 1)[1]
    return sys.argv[sys.argv.index("--video_id") + 1] if "--video_id" in sys.argv else "May"


class OurLandmarks(REAL):
    """The real constructor (S3FD and 2DFAN4 loaded), then our landmarks, frame by frame, in upstream's order."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        found = glob.glob(f"data/processed/videos/{_video_id()}/ori_imgs/*.lms")
        self.files = sorted(found, key=lambda p: int(os.path.basename(p)[:-4]))
        if not self.files:
            raise SystemExit("stand-in: no ori_imgs/*.lms from our own landmark step")
        self.frame = 0

    def get_landmarks(self, image, *args, **kwargs):
        path = self.files[min(self.frame, len(self.files) - 1)]
        self.frame += 1
        return [np.loadtxt(path, dtype=np.float32).reshape(68, 2)]


face_alignment.FaceAlignment = OurLandmarks
runpy.run_path(os.path.join(HERE, "extract_3dmm.py.upstream"), run_name="__main__")
