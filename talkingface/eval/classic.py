"""PSNR, SSIM and NIQE as metrics of the scorer (NumPy and SciPy only)."""

from __future__ import annotations

from functools import partial
from typing import Dict, List

import numpy as np

from . import assets
from .metric import CPU_PIXELS, Clip, Metric, Outcome, sub_batches
from .niqe import PristineModel, niqe
from .parallel import Pending
from .ssim import psnr, ssim


def niqe_frames(frames: np.ndarray, *, model: PristineModel) -> List[float]:
    return [niqe(frame, model) for frame in frames]


class PerFrame(Metric):
    def __init__(self) -> None:
        self.values: List[float] = []

    def start(self, clip: Clip) -> None:
        self.values = []

    def finish(self) -> Outcome:
        return Outcome(per_frame={self.name: self.values})


class Psnr(PerFrame):
    name = "psnr"
    convention = "per frame on the full RGB frame in [0,1], then the mean (ER-NeRF PSNRMeter)"

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        for part in sub_batches(gt, budget=CPU_PIXELS):
            self.values += [float(v) for v in psnr(gt[part], pred[part])]


class Pooled(PerFrame):
    """Per-frame work done in the worker processes while the main process goes on."""

    def __init__(self) -> None:
        super().__init__()
        self.pending = Pending()

    def start(self, clip: Clip) -> None:
        self.pending = Pending()

    def finish(self) -> Outcome:
        return Outcome(per_frame={self.name: self.pending.collect()})


class Ssim(Pooled):
    name = "ssim"
    convention = (
        "Gaussian window sigma 1.5 (11 taps), population covariance, data range 1, mean over RGB channels "
        "(skimage structural_similarity, Wang et al.)"
    )

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        for part in sub_batches(gt, budget=CPU_PIXELS):
            self.pending.submit(ssim, gt[part], pred[part])


class Niqe(Pooled):
    name = "niqe"
    convention = (
        "MATLAB niqe_release computequality: rgb2gray, 96-px blocks, two scales, pristine model "
        "modelparameters.mat; on the prediction only"
    )

    def __init__(self, *, weights_dir: str) -> None:
        super().__init__()
        self.model = PristineModel.load(assets.locate(assets.NIQE_PARAMS, weights_dir))

    def weights(self) -> Dict[str, str]:
        return {"niqe_pris_params.npz": assets.NIQE_PARAMS.sha256}

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        for part in sub_batches(pred, budget=CPU_PIXELS * 4):
            self.pending.submit(partial(niqe_frames, model=self.model), pred[part])
