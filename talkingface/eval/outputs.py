"""The evaluation's outputs: a markdown table on stdout, a JSON summary and a CSV of per-frame values."""

from __future__ import annotations

import csv
import json
import platform
import sys
from typing import Any, Dict, List, Sequence, Tuple

from .. import __version__
from ..core.atomic import replacing
from .labels import labels
from .metric import Metric
from .scorer import Scores


def columns(results: Sequence[Scores]) -> List[str]:
    seen: List[str] = []
    for r in results:
        seen += [c for c in r.columns() if c not in seen]
    return seen


def table(results: Sequence[Scores]) -> Tuple[List[str], List[List[str]]]:
    """Header and formatted rows of the comparison table, for stdout (markdown) and the HTML report alike."""
    names = columns(results)
    rows = []
    for label, r in zip(labels([r.video for r in results]), results):
        summary = r.summary()
        cells = []
        for name in names:
            s = summary.get(name)
            if s is None:
                cells.append("")
            elif "value" in s:
                cells.append(f"{s['value']:.4f}")
            elif s["mean"] is None:
                cells.append("inf")
            else:
                cells.append(f"{s['mean']:.4f} ± {s['std']:.4f}")
        rows.append([label, str(r.frames_scored), *cells])
    return ["video", "frames", *names], rows


def markdown(results: Sequence[Scores]) -> str:
    header, rows = table(results)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def versions() -> Dict[str, str]:
    import numpy
    import scipy

    found = {
        "talkingface": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }
    for name in ("torch", "torchvision", "cv2"):
        module = sys.modules.get(name)
        if module is not None:
            found[name] = str(getattr(module, "__version__", "?"))
    return found


def report_json(gt_video: str, results: Sequence[Scores], metrics: Sequence[Metric], device: str) -> Dict[str, Any]:
    weights: Dict[str, str] = {}
    for metric in metrics:
        weights.update(metric.weights())
    return {
        "ground_truth": gt_video,
        "predictions": [
            {
                "video": r.video,
                "frames_scored": r.frames_scored,
                "gt_frames": r.gt_frames,
                "pred_frames": r.pred_frames,
                "notes": r.notes,
                "metrics": r.summary(),
                "details": r.details,
            }
            for r in results
        ],
        "conventions": {m.name: m.convention for m in metrics},
        "weights_sha256": weights,
        "device": device,
        "versions": versions(),
    }


def write_json(path: str, data: Dict[str, Any]) -> None:
    with replacing(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")


def write_csv(path: str, results: Sequence[Scores]) -> None:
    names = [c for c in columns(results) if any(c in r.per_frame for r in results)]
    with replacing(path, suffix=".csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["video", "frame", *names])
        for r in results:
            for index in range(max((len(v) for v in r.per_frame.values()), default=0)):
                row = [r.per_frame[n][index] if n in r.per_frame and index < len(r.per_frame[n]) else "" for n in names]
                writer.writerow([r.video, index, *row])
