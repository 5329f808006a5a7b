"""Metric names to metric objects. The network metrics import torch only when asked for."""

from __future__ import annotations

from typing import Callable, Dict, List, Sequence

from ..core.errors import TalkingfaceError
from .metric import Metric
from .options import METRICS


def resolve_device(text: str) -> str:
    """The torch device to use; without torch installed, the CPU (the NumPy metrics need no torch)."""
    try:
        import torch
    except ImportError:
        if text.startswith("cuda"):
            raise TalkingfaceError(
                f"--device {text} needs torch, which is not installed", fix="use --device cpu"
            ) from None
        return "cpu"
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if text.startswith("cuda") and not torch.cuda.is_available():
        raise TalkingfaceError(f"--device {text} was asked for, but torch sees no CUDA GPU", fix="use --device cpu")
    return text


def _psnr(*, device: str, **_: str) -> Metric:
    if device.startswith("cuda"):
        from .gpu_metrics import TorchPsnr

        return TorchPsnr(device=device)
    from .classic import Psnr

    return Psnr()


def _ssim(*, device: str, **_: str) -> Metric:
    if device.startswith("cuda"):
        from .gpu_metrics import TorchSsim

        return TorchSsim(device=device)
    from .classic import Ssim

    return Ssim()


def _niqe(*, weights_dir: str, device: str, **_: str) -> Metric:
    if device.startswith("cuda"):
        from .gpu_metrics import TorchNiqe

        return TorchNiqe(weights_dir=weights_dir, device=device)
    from .classic import Niqe

    return Niqe(weights_dir=weights_dir)


def _lpips(*, weights_dir: str, device: str, **_: str) -> Metric:
    from .deep import Lpips

    return Lpips(weights_dir=weights_dir, device=device)


def _fid(*, weights_dir: str, device: str, **_: str) -> Metric:
    from .deep import Fid

    return Fid(weights_dir=weights_dir, device=device)


def _lse(*, weights_dir: str, device: str, lse_crop: str) -> Metric:
    from .sync import Lse

    return Lse(weights_dir=weights_dir, device=device, crop=lse_crop)


def _lmd(*, weights_dir: str, device: str, **_: str) -> Metric:
    from .lmd import Lmd

    return Lmd(weights_dir=weights_dir, device=device)


FACTORIES: Dict[str, Callable[..., Metric]] = {
    "psnr": _psnr,
    "ssim": _ssim,
    "lpips": _lpips,
    "niqe": _niqe,
    "fid": _fid,
    "lse": _lse,
    "lmd": _lmd,
}
assert set(FACTORIES) == set(METRICS)  # noqa: S101 - a programming error, caught by any test that imports this


def build(names: Sequence[str], *, weights_dir: str, device: str, lse_crop: str) -> List[Metric]:
    unknown = [n for n in names if n not in FACTORIES]
    if unknown or not names:
        problem = f"unknown metric {unknown[0]!r}" if unknown else "--metrics is empty"
        raise TalkingfaceError(problem, fix=f"use a comma list of {', '.join(METRICS)}")
    return [FACTORIES[n](weights_dir=weights_dir, device=device, lse_crop=lse_crop) for n in names]
