#!/usr/bin/env python3
"""Throughput of the torch PSNR, SSIM and NIQE (talkingface.eval.gpu_classic) at 512x512, against the NumPy ones.

    python benchmarks/gpu_classic_speed.py --weights_dir weights [--device cuda] [--batch 32] [--batches 8]

Frames are synthetic (astronaut with per-frame noise) and already on the device: this measures the metrics, not
decoding or the upload (timed once, apart). The NumPy versions run on a few frames, on one process, for the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Dict

import numpy as np
import torch
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkingface.eval import assets  # noqa: E402
from talkingface.eval.gpu_classic import niqe_t, psnr_t, ssim_t  # noqa: E402
from talkingface.eval.niqe import PristineModel, niqe  # noqa: E402
from talkingface.eval.ssim import psnr, ssim  # noqa: E402


def synthetic(frames: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.repeat(data.astronaut()[None], frames, axis=0)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Seconds per call, after one untimed call (allocator, cuBLAS and cuSOLVER set-up)."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return (time.perf_counter() - start) / repeats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights_dir", default="weights")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8, help="timed calls per metric")
    parser.add_argument("--numpy_frames", type=int, default=4)
    args = parser.parse_args()
    device = torch.device(args.device)
    model = PristineModel.load(assets.fetch(assets.NIQE_PARAMS, args.weights_dir))
    gt_np, pred_np = synthetic(args.batch, 0), synthetic(args.batch, 1)

    upload = timed(lambda: (torch.from_numpy(gt_np).to(device), torch.from_numpy(pred_np).to(device)), device, 3)
    gt, pred = torch.from_numpy(gt_np).to(device), torch.from_numpy(pred_np).to(device)
    torch_fns: Dict[str, Callable[[], object]] = {
        "psnr": lambda: psnr_t(gt, pred),
        "ssim": lambda: ssim_t(gt, pred),
        "niqe": lambda: niqe_t(pred, model),
    }
    torch_s = {name: timed(fn, device, args.batches) / args.batch for name, fn in torch_fns.items()}
    torch_s["all"] = timed(lambda: [fn() for fn in torch_fns.values()], device, args.batches) / args.batch

    few_gt, few_pred = gt_np[: args.numpy_frames], pred_np[: args.numpy_frames]
    numpy_fns: Dict[str, Callable[[], object]] = {
        "psnr": lambda: psnr(few_gt, few_pred),
        "ssim": lambda: ssim(few_gt, few_pred),
        "niqe": lambda: [niqe(frame, model) for frame in few_pred],
    }
    cpu = torch.device("cpu")
    numpy_s = {name: timed(fn, cpu, 2) / args.numpy_frames for name, fn in numpy_fns.items()}
    numpy_s["all"] = sum(numpy_s.values())

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; batches of {args.batch} frames at 512x512, float64")
    print(f"upload of one batch (gt + pred, uint8): {upload * 1e3:.2f} ms, not counted below")
    print(f"{'metric':6s} {'torch frames/s':>15s} {'numpy frames/s':>15s} {'ratio':>8s}")
    for key in ("psnr", "ssim", "niqe", "all"):
        print(f"{key:6s} {1 / torch_s[key]:15.1f} {1 / numpy_s[key]:15.1f} {numpy_s[key] / torch_s[key]:8.1f}")
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
