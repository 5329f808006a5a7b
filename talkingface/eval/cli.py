"""``python -m talkingface.eval``: score predicted videos against a ground-truth video.

Frames are decoded in batches as a stream. A prediction with another frame count is compared over the shorter
length, and another resolution is resized (bicubic) to the ground truth's; both are reported. A different frame
rate is an error unless ``--resample`` is given.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np
import scipy

from .. import __version__
from ..atomic import replacing
from ..errors import TalkingfaceError
from . import assets
from .frames import VideoInfo, probe_video, stream
from .niqe import PristineModel, niqe
from .ssim import psnr, ssim

METRICS = ("psnr", "ssim", "niqe")
CONVENTIONS = {
    "psnr": "per frame on the full RGB frame in [0,1], then the mean (ER-NeRF PSNRMeter)",
    "ssim": "Gaussian window sigma 1.5 (11 taps), population covariance, data range 1, mean over RGB channels "
    "(skimage structural_similarity, Wang et al.)",
    "niqe": "MATLAB niqe_release computequality: rgb2gray, 96-px blocks, two scales, pristine model "
    "modelparameters.mat; on the prediction only",
}


@dataclass
class Scores:
    video: str
    notes: List[str] = field(default_factory=list)
    per_frame: Dict[str, List[float]] = field(default_factory=dict)
    gt_frames: int = 0
    pred_frames: int = 0

    def summary(self) -> Dict[str, Dict[str, Optional[float]]]:
        out = {}
        for name, values in self.per_frame.items():
            finite = np.array([v for v in values if math.isfinite(v)])
            out[name] = {
                "mean": float(finite.mean()) if len(finite) else None,
                "std": float(finite.std()) if len(finite) else None,
                "infinite_frames": len(values) - len(finite),
            }
        return out


def score(
    gt: VideoInfo, pred: VideoInfo, metrics: List[str], *, model: Optional[PristineModel], resample: bool, batch: int
) -> Scores:
    result = Scores(video=pred.path, per_frame={m: [] for m in metrics})
    if pred.fps != gt.fps and not resample:
        raise TalkingfaceError(
            f"{pred.path} runs at {float(pred.fps):g} fps but the ground truth at {float(gt.fps):g} fps",
            fix="re-render at the same rate, or pass --resample to convert the prediction",
        )
    if pred.fps != gt.fps:
        result.notes.append(f"resampled from {float(pred.fps):g} to {float(gt.fps):g} fps")
    size = (gt.width, gt.height)
    if (pred.width, pred.height) != size:
        result.notes.append(f"resized from {pred.width}x{pred.height} to {gt.width}x{gt.height} (bicubic)")
    # Both streams come in batches of exactly `batch` frames but the last, so they pair up one to one; scoring stops
    # with the shorter video, and nothing more is decoded.
    gt_batches = stream(gt, batch=batch)
    pred_batches = stream(pred, batch=batch, size=size, fps=gt.fps)
    scored = 0
    for a, b in zip(gt_batches, pred_batches):
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        scored += n
        if "psnr" in metrics:
            result.per_frame["psnr"] += [float(v) for v in psnr(a, b)]
        if "ssim" in metrics:
            result.per_frame["ssim"] += [float(v) for v in ssim(a, b)]
        if "niqe" in metrics and model is not None:
            result.per_frame["niqe"] += [niqe(frame, model) for frame in b]
    gt_batches.close()
    pred_batches.close()
    result.gt_frames, result.pred_frames = gt.frames or scored, pred.frames or scored
    if pred.fps == gt.fps and result.gt_frames != result.pred_frames:
        result.notes.append(
            f"frame counts differ (gt {result.gt_frames}, pred {result.pred_frames}): scored the first {scored}"
        )
    return result


def markdown(results: List[Scores], metrics: List[str]) -> str:
    head = "| video | frames | " + " | ".join(metrics) + " |"
    lines = [head, "|" + "---|" * (len(metrics) + 2)]
    for r in results:
        s = r.summary()
        cells = [f"{s[m]['mean']:.4f} ± {s[m]['std']:.4f}" if s[m]["mean"] is not None else "inf" for m in metrics]
        lines.append(
            f"| {os.path.basename(r.video)} | {len(next(iter(r.per_frame.values()), []))} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m talkingface.eval", description=__doc__.splitlines()[0])
    parser.add_argument("--gt_video", required=True)
    parser.add_argument("--pred_video", action="append", required=True, help="repeat for several predictions")
    parser.add_argument("--metrics", default=",".join(METRICS), help=f"comma list of {', '.join(METRICS)}")
    parser.add_argument("--out_json")
    parser.add_argument("--csv", help="per-frame values")
    parser.add_argument("--weights_dir", default=os.environ.get("TALKINGFACE_WEIGHTS", "weights"))
    parser.add_argument(
        "--resample", action="store_true", help="convert a prediction's frame rate to the ground truth's"
    )
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args(argv)
    try:
        metrics = [m.strip().lower() for m in args.metrics.split(",") if m.strip()]
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise TalkingfaceError(f"unknown metric {unknown[0]!r}", fix=f"use a comma list of {', '.join(METRICS)}")
        model = PristineModel.load(assets.locate(assets.NIQE_PARAMS, args.weights_dir)) if "niqe" in metrics else None
        gt = probe_video(args.gt_video)
        results = [
            score(gt, probe_video(p), metrics, model=model, resample=args.resample, batch=args.batch)
            for p in args.pred_video
        ]
    except TalkingfaceError as exc:
        print(exc.one_line(), file=sys.stderr)
        return exc.exit_code
    for r in results:
        for note in r.notes:
            print(f"note: {os.path.basename(r.video)}: {note}")
    print(markdown(results, metrics))
    if args.out_json:
        report = {
            "ground_truth": args.gt_video,
            "predictions": [
                {
                    "video": r.video,
                    "frames_scored": len(next(iter(r.per_frame.values()), [])),
                    "gt_frames": r.gt_frames,
                    "pred_frames": r.pred_frames,
                    "notes": r.notes,
                    "metrics": r.summary(),
                }
                for r in results
            ],
            "conventions": {m: CONVENTIONS[m] for m in metrics},
            "assets": {"niqe_pristine_model_sha256": assets.NIQE_PARAMS.sha256} if "niqe" in metrics else {},
            "versions": {
                "talkingface": __version__,
                "numpy": np.__version__,
                "scipy": scipy.__version__,
                "python": platform.python_version(),
            },
        }
        with replacing(args.out_json, suffix=".json") as tmp:
            tmp.write_text(json.dumps(report, indent=2), encoding="utf-8")
    if args.csv:
        with replacing(args.csv, suffix=".csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["video", "frame", *metrics])
            for r in results:
                for index, row in enumerate(zip(*(r.per_frame[m] for m in metrics))):
                    writer.writerow([r.video, index, *row])
    return 0
