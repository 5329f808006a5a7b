#!/usr/bin/env python3
"""Peak host memory of ``python -m talkingface.eval`` (all its processes together), for short and long videos.

    python benchmarks/eval_memory.py --size 1920x1080 --frames 100,400 [--metrics psnr,ssim,lpips,niqe,fid,lse]

The target is at most 3 GB whatever the length: decoding is streamed in batches, so the peak must not grow with
the number of frames. The resident memory (RSS) of the scorer, its ffmpeg decoders and its worker processes is
summed from /proc every 50 ms. Network metrics use random weights of the true shapes (tests/eval/random_weights.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.proc_memory import measure  # noqa: E402
from talkingface.eval import assets  # noqa: E402
from tests.eval.random_weights import write_all  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--frames", default="100,400")
    parser.add_argument("--metrics", default="psnr,ssim,lpips,niqe,fid,lse")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    env = {**os.environ, assets.UNVERIFIED_ENV: "1", "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        weights = write_all(work / "weights")
        print(f"metrics {args.metrics} at {args.size} on {args.device}, {os.cpu_count()} cores")
        for count in [int(n) for n in args.frames.split(",")]:
            gt, pred = work / f"gt{count}.mp4", work / f"pred{count}.mp4"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={args.size}:rate=25",
                            "-f", "lavfi", "-i", "sine=frequency=300", "-frames:v", str(count), "-t", f"{count / 25}",
                            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(gt)],
                           check=True)  # fmt: skip
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(gt), "-vf", "gblur=sigma=2", "-c:v", "libx264",
                            "-preset", "ultrafast", "-c:a", "copy", str(pred)], check=True)  # fmt: skip
            result = measure(
                [sys.executable, "-m", "talkingface.eval", "--gt_video", str(gt), "--pred_video", str(pred),
                 "--metrics", args.metrics, "--lse_crop", "full", "--weights_dir", str(weights),
                 "--device", args.device],
                env,
                every_s=0.05,  # the method docs/eval.md records
            )  # fmt: skip
            print(f"{count:6d} frames: peak {result['peak_gb']:.2f} GB (target <= 3), {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
