"""talkingface gpu-run stand-in for NeRFFaceSpeech's 3DMM-Fitting-Pytorch/core/__init__.py @ 8f025a1.

Upstream's imports BFM09ReconModel, whose module imports pytorch3d's renderer at import time; pytorch3d is not built
on the lent machine. StyleNeRF/audio2NeRF_utils.py's fit_3dmm imports core.options through this package before it
calls fit(), which is a stand-in too (fit_single_img_custom.py) and never builds the model.
"""


def get_recon_model(model="bfm09", **kargs):
    raise NotImplementedError("talkingface gpu-run stand-in: BFM09ReconModel needs pytorch3d, not built here")
