"""PSNR, SSIM and NIQE on a CUDA device: the same numbers as the NumPy versions (see gpu_classic), much faster."""

from __future__ import annotations

from typing import Dict, List

import numpy as np

from . import assets
from .metric import GPU_PIXELS, Clip, Metric, Outcome, sub_batches
from .niqe import PristineModel
from .uploads import upload


class TorchPerFrame(Metric):
    def __init__(self, *, device: str) -> None:
        self.device = device
        self.values: List[float] = []

    def start(self, clip: Clip) -> None:
        self.values = []

    def finish(self) -> Outcome:
        return Outcome(per_frame={self.name: self.values})

    def tensor(self, frames: np.ndarray):
        return upload(frames, self.device)


class TorchPsnr(TorchPerFrame):
    name = "psnr"
    convention = "per frame on the full RGB frame in [0,1], then the mean (ER-NeRF PSNRMeter); float64 on the GPU"

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        from .gpu_classic import psnr_t

        for part in sub_batches(gt, budget=GPU_PIXELS):
            self.values += psnr_t(self.tensor(gt)[part], self.tensor(pred)[part]).cpu().tolist()


class TorchSsim(TorchPerFrame):
    name = "ssim"
    convention = (
        "Gaussian window sigma 1.5 (11 taps), population covariance, data range 1, mean over RGB channels "
        "(skimage structural_similarity, Wang et al.); float64 on the GPU"
    )

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        from .gpu_classic import ssim_t

        for part in sub_batches(gt, budget=GPU_PIXELS):
            self.values += ssim_t(self.tensor(gt)[part], self.tensor(pred)[part]).cpu().tolist()


class TorchNiqe(TorchPerFrame):
    name = "niqe"
    convention = (
        "MATLAB niqe_release computequality: rgb2gray, 96-px blocks, two scales, pristine model "
        "modelparameters.mat; on the prediction only; float64 on the GPU"
    )

    def __init__(self, *, weights_dir: str, device: str) -> None:
        super().__init__(device=device)
        self.model = PristineModel.load(assets.locate(assets.NIQE_PARAMS, weights_dir))

    def weights(self) -> Dict[str, str]:
        return {"niqe_pris_params.npz": assets.NIQE_PARAMS.sha256}

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        from .gpu_classic import niqe_t

        for part in sub_batches(pred, budget=GPU_PIXELS):
            self.values += niqe_t(self.tensor(pred)[part], self.model).cpu().tolist()
