#!/usr/bin/env python3
"""CPU throughput of PSNR + SSIM + NIQE at 512x512 (target: at least 15 frames/s on this 2-core machine).

    python benchmarks/eval_cpu.py --weights_dir weights [--frames 64]

Frames are synthetic (astronaut with per-frame noise), decoded already: this measures the metrics, not ffmpeg.
Each metric is timed alone on one core, then all three as the scorer runs them (batches split over the cores), in
the same run, so the ratios hold even when the machine is noisy.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkingface.eval import assets  # noqa: E402
from talkingface.eval.classic import Niqe, Psnr, Ssim  # noqa: E402
from talkingface.eval.niqe import PristineModel, niqe  # noqa: E402
from talkingface.eval.parallel import workers  # noqa: E402
from talkingface.eval.ssim import psnr, ssim  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights_dir", default="weights")
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    model = PristineModel.load(assets.fetch(assets.NIQE_PARAMS, args.weights_dir))
    # "One core" below means it: OpenCV and BLAS would otherwise use both.
    import cv2

    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    gt = np.repeat(data.astronaut()[None], args.frames, axis=0)
    pred = np.clip(gt + rng.normal(0, 8, gt.shape), 0, 255).astype(np.uint8)
    timings = {}
    for name, fn in (
        ("psnr", lambda a, b: psnr(a, b)),
        ("ssim", lambda a, b: ssim(a, b)),
        ("niqe", lambda a, b: [niqe(f, model) for f in b]),
    ):
        start = time.perf_counter()
        for i in range(0, args.frames, args.batch):
            fn(gt[i : i + args.batch], pred[i : i + args.batch])
        timings[name] = time.perf_counter() - start
    total = sum(timings.values())
    metrics = [Psnr(), Ssim(), Niqe(weights_dir=args.weights_dir)]
    for metric in metrics:
        metric.start(None)
    metrics[1].update(gt[:2], pred[:2])  # start the worker processes outside the timing
    metrics[1].finish()
    for metric in metrics:
        metric.start(None)
    start = time.perf_counter()
    for i in range(0, args.frames, args.batch):
        for metric in metrics:
            metric.update(gt[i : i + args.batch], pred[i : i + args.batch])
    outcomes = [metric.finish() for metric in metrics]
    engine = time.perf_counter() - start
    assert all(len(next(iter(o.per_frame.values()))) == args.frames for o in outcomes)  # noqa: S101
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}")
    print("one core, each metric alone:")
    for name, seconds in timings.items():
        print(f"  {name:5s} {args.frames / seconds:8.1f} frames/s  ({seconds / total:5.1%} of the time)")
    print(f"  all   {args.frames / total:8.1f} frames/s")
    print(f"the scorer's metrics, batches split over {workers()} worker processes:")
    print(f"  all   {args.frames / engine:8.1f} frames/s at 512x512 (target >= 15)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
