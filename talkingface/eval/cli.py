"""``python -m talkingface.eval`` (also the eval image's entrypoint): score predicted videos against ground truth."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from typing import List, Optional

from ..core.errors import TalkingfaceError
from ..core.host_paths import to_host
from . import outputs, registry, report
from .frames import probe_video
from .labels import labels
from .options import build_parser, parse_metrics
from .scorer import score


def refuse_existing(paths: List[Optional[str]], *, force: bool) -> None:
    for path in paths:
        if path and os.path.exists(path) and not force:
            raise TalkingfaceError(f"{path} already exists", fix="pass --force to replace it, or choose another name")


def settings(args: argparse.Namespace, names: List[str]) -> str:
    chosen = [f"metrics {','.join(names)}", f"batch {args.batch}", f"lse_crop {args.lse_crop}"]
    chosen += [
        "resample" if args.resample else "no resampling",
        f"audio {to_host(args.audio) if args.audio else 'from each prediction'}",
    ]
    return "; ".join(chosen)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser(prog="python -m talkingface.eval", host=False).parse_args(argv)
    try:
        names = parse_metrics(args.metrics)
        refuse_existing([args.out_json, args.csv, args.report], force=args.force)
        if args.audio and not os.path.isfile(args.audio):
            raise TalkingfaceError(f"--audio {args.audio} does not exist", fix="pass an existing audio or video file")
        device = registry.resolve_device(args.device)
        metrics = registry.build(names, weights_dir=args.weights_dir, device=device, lse_crop=args.lse_crop)
        gt = probe_video(args.gt_video)
        preds = [probe_video(p) for p in args.pred_video]
        results = []
        for pred in preds:
            print(f"scoring {to_host(pred.path)} ({', '.join(names)}) on {device}", file=sys.stderr)
            results.append(score(gt, pred, metrics, resample=args.resample, batch=args.batch, audio=args.audio))
    except TalkingfaceError as exc:
        print(to_host(exc.one_line()), file=sys.stderr)
        return exc.exit_code
    # Every file and line from here on names the videos as the user knows them, not as mounted in the image.
    gt_video = to_host(args.gt_video)
    results = [dataclasses.replace(r, video=to_host(r.video), notes=[to_host(n) for n in r.notes]) for r in results]
    for label, r in zip(labels([r.video for r in results]), results):
        for note in r.notes:
            print(f"note: {label}: {note}")
    print(outputs.markdown(results))
    if args.out_json:
        outputs.write_json(args.out_json, outputs.report_json(gt_video, results, metrics, device))
    if args.csv:
        outputs.write_csv(args.csv, results)
    if args.report:
        header = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "device": device,
            "versions": ", ".join(f"{k} {v}" for k, v in outputs.versions().items()),
            "settings": settings(args, names),
        }
        try:
            samples = report.samples_for(gt, preds, results)
        except TalkingfaceError as exc:
            print(to_host(exc.one_line()), file=sys.stderr)
            return exc.exit_code
        report.write(args.report, gt_video, results, header=header, samples=samples)
    return 0
