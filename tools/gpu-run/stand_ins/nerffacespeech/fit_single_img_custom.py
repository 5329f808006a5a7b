"""talkingface gpu-run stand-in for NeRFFaceSpeech's 3DMM-Fitting-Pytorch/fit_single_img_custom.py @ 8f025a1.

Upstream's ``fit(args)`` finds the face in ``args.img_path`` (a 224 px render of the inverted StyleNeRF) with MTCNN,
its 68 landmarks with face-alignment's 3D FAN, then fits BFM09ReconModel to them (1000 rigid, 500 non-rigid Adam
steps, pytorch3d's renderer for the photometric loss) and returns the packed coefficients, (1, 257). With random
StyleNeRF weights the render holds no face, so MTCNN finds none and upstream raises "No faces detected in the image";
and pytorch3d is not built on the lent machine. This returns what the fit starts from -- BFM09ReconModel's
coefficients before its first step, all zero (mean shape and texture, neutral expression, no rotation or translation)
-- after reading the image and BFM09_model_info.mat as upstream does, so both are checked.
"""

import cv2
import numpy as np
import torch
from scipy.io import loadmat

MODEL_INFO = "pretrained_networks/BFM_for_3DMM-Fitting-Pytorch/BFM/BFM09_model_info.mat"  # core.get_recon_model's
DIMS = {"id": 80, "exp": 64, "tex": 80, "rot": 3, "gamma": 27, "trans": 3}  # BFM09ReconModel.merge_coeffs' order


def fit(args):
    print("talkingface gpu-run stand-in: 3DMM fit (no face to detect in a random StyleNeRF's render)")
    img = cv2.imread(args.img_path)
    if img is None:
        raise FileNotFoundError(args.img_path)
    model = loadmat(MODEL_INFO)
    vertices = model["meanshape"].size // 3
    for key, width in (("idBase", DIMS["id"]), ("exBase", DIMS["exp"]), ("texBase", DIMS["tex"])):
        if model[key].shape != (3 * vertices, width):
            raise ValueError(f"{MODEL_INFO}: {key} is {model[key].shape}, not {(3 * vertices, width)}")
    for key in ("keypoints", "tri", "point_buf", "skinmask"):
        np.asarray(model[key])
    print(f"image {img.shape[1]}x{img.shape[0]}; BFM09 with {vertices} vertices; returning the fit's starting point")
    return torch.zeros((1, sum(DIMS.values())), dtype=torch.float32, device=args.device)
