"""``--report``: one self-contained HTML page (inline SVG and PNG, no scripts, nothing fetched) that plots the scores.

A header says when, on what and with which settings the scores were made; every per-frame metric gets a chart
that says which way is better; and a strip of frames (ground truth beside each prediction) shows the best and the
worst frame, so a number can be checked by eye.
"""

from __future__ import annotations

import base64
import html
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..core.atomic import replacing
from .frames import VideoInfo, stream
from .labels import labels
from .metric import BETTER
from .outputs import table
from .scorer import Scores

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
WIDTH, HEIGHT, PAD = 720, 240, 44


def _ticks(lo: float, hi: float) -> List[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / 4))
    for factor in (1, 2, 5, 10):
        if (hi - lo) / (step * factor) <= 6:
            step *= factor
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def line_chart(title: str, series: Sequence[Tuple[str, Sequence[float]]], *, x_label: str, x0: float = 0) -> str:
    """An SVG chart of one line per series; infinite values (identical frames' PSNR) are left out."""
    points = [(name, [(x0 + i, v) for i, v in enumerate(values) if math.isfinite(v)]) for name, values in series]
    xs = [x for _, pts in points for x, _ in pts]
    ys = [y for _, pts in points for _, y in pts]
    if not xs:
        return f"<p>{html.escape(title)}: no finite values</p>"
    x_lo, x_hi = min(xs), max(max(xs), min(xs) + 1)
    y_lo, y_hi = min(ys), max(ys)
    if y_hi - y_lo < 1e-9:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5
    margin = (y_hi - y_lo) * 0.05
    y_lo, y_hi = y_lo - margin, y_hi + margin

    def sx(x: float) -> float:
        return PAD + (x - x_lo) / (x_hi - x_lo) * (WIDTH - 2 * PAD)

    def sy(y: float) -> float:
        return HEIGHT - PAD + (y - y_lo) / (y_hi - y_lo) * (2 * PAD - HEIGHT)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">{html.escape(title)}</text>',
        f'<rect x="{PAD}" y="{PAD}" width="{WIDTH - 2 * PAD}" height="{HEIGHT - 2 * PAD}" fill="none" stroke="#999"/>',
    ]
    for y in _ticks(y_lo, y_hi):
        parts.append(f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{PAD - 4}" y="{sy(y) + 4:.1f}" text-anchor="end" font-size="11">{y:g}</text>')
    for x in _ticks(x_lo, x_hi):
        parts.append(f'<text x="{sx(x):.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle" font-size="11">{x:g}</text>')
    parts.append(
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle" font-size="12">{html.escape(x_label)}</text>'
    )
    for index, (name, pts) in enumerate(points):
        color = COLORS[index % len(COLORS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>')
        parts.append(
            f'<text x="{WIDTH - PAD - 4}" y="{PAD + 14 + 14 * index}" text-anchor="end" font-size="12" '
            f'fill="{color}">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def per_frame_metrics(results: Sequence[Scores]) -> List[str]:
    """Every per-frame column any prediction has, in the order they were computed."""
    seen: List[str] = []
    for r in results:
        seen += [name for name in r.per_frame if name not in seen]
    return seen


def direction(metric: str) -> str:
    better = BETTER.get(metric)
    return f"{better} is better" if better else "no better direction"


@dataclass(frozen=True)
class Sample:
    """One frame of the ground truth and of a prediction, for the strip; PNG bytes."""

    caption: str
    gt_png: bytes
    pred_png: bytes


def render(
    gt_video: str,
    results: Sequence[Scores],
    *,
    header: Optional[Dict[str, str]] = None,
    samples: Optional[Dict[str, List[Sample]]] = None,
) -> str:
    names = labels([r.video for r in results])
    charts = []
    for metric in per_frame_metrics(results):
        series = [(name, r.per_frame[metric]) for name, r in zip(names, results) if metric in r.per_frame]
        charts.append(line_chart(f"{metric.upper()} per frame ({direction(metric)})", series, x_label="frame"))
    # syncnet_python lists the distances from offset +vshift down to -vshift; the chart's axis ascends.
    lse = [
        (name, r.details["lse"]["distances_by_offset"][::-1])
        for name, r in zip(names, results)
        if isinstance(r.details.get("lse"), dict)
    ]
    if lse:
        vshift = (len(lse[0][1]) - 1) // 2
        title = "LSE: mean SyncNet distance by A/V offset (lower is better at the true offset)"
        charts.append(line_chart(title, lse, x_label="offset", x0=-vshift))
    notes = [f"{name}: {n}" for name, r in zip(names, results) for n in r.notes]
    facts = {"ground truth": gt_video, **(header or {})}
    strips = [_strip(name, samples[r.video]) for name, r in zip(names, results) if samples and samples.get(r.video)]
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8"><title>talkingface evaluation</title>',
            "<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
            "dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:bold}dd{margin:0}"
            # Charts and frames flow side by side as the window allows, so no half page stays empty.
            ".flow{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:flex-start}"
            "svg{display:block;max-width:100%;height:auto}figure{margin:0}img{display:block}"
            "figcaption{font-size:12px}@media print{.flow>*{break-inside:avoid}}</style>",
            "</head><body>",
            "<h1>talkingface evaluation</h1>",
            "<dl>" + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts.items()) + "</dl>",
            _table(results),
            "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>" if notes else "",
            '<div class="flow">',
            *charts,
            "</div>",
            *strips,
            "</body></html>",
        ]
    )


def _strip(name: str, samples: Sequence[Sample]) -> str:
    cells = [
        f'<figure><img alt="{html.escape(s.caption)}: {label}" src="{_data_uri(png)}">'
        f"<figcaption>{html.escape(s.caption)}: {label}</figcaption></figure>"
        for s in samples
        for label, png in (("ground truth", s.gt_png), (html.escape(name), s.pred_png))
    ]
    return f'<h2>Frames of {html.escape(name)}</h2>\n<div class="flow">{"".join(cells)}</div>'


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png(image: np.ndarray) -> bytes:
    """uint8 RGB (H, W, 3) as PNG: zlib and struct suffice, so the report needs neither OpenCV nor Pillow."""
    height, width = image.shape[:2]
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, width * 3)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


THUMB = 192  # pixels, the longer side of a sample frame


def thumbnail(frame: np.ndarray) -> np.ndarray:
    step = max(1, math.ceil(max(frame.shape[:2]) / THUMB))
    return np.ascontiguousarray(frame[::step, ::step])


def extremes(scores: Scores) -> List[Tuple[str, int]]:
    """(caption, frame) of the best and the worst frame by the first per-frame metric with a better direction."""
    for metric, values in scores.per_frame.items():
        better = BETTER.get(metric)
        finite = [(v, i) for i, v in enumerate(values) if math.isfinite(v)]
        if better is None or not finite:
            continue
        high, low = max(finite), min(finite)
        best, worst = (high, low) if better == "higher" else (low, high)
        return [
            (f"best {metric.upper()} {best[0]:.4g}, frame {best[1]}", best[1]),
            (f"worst {metric.upper()} {worst[0]:.4g}, frame {worst[1]}", worst[1]),
        ]
    return []


def grab(info: VideoInfo, wanted: Iterable[int], **resize: object) -> Dict[int, np.ndarray]:
    """The wanted frames of a video, decoded only as far as the last of them."""
    wanted = set(wanted)
    found: Dict[int, np.ndarray] = {}
    index = 0
    for batch in stream(info, batch=16, **resize):  # type: ignore[arg-type]
        for frame in batch:
            if index in wanted:
                found[index] = thumbnail(frame)
            index += 1
        if index > max(wanted, default=-1):
            break
    return found


def samples_for(gt: VideoInfo, preds: Sequence[VideoInfo], results: Sequence[Scores]) -> Dict[str, List[Sample]]:
    """The best and worst frame of each prediction beside the ground truth's, aligned as they were scored."""
    out: Dict[str, List[Sample]] = {}
    for pred, scores in zip(preds, results):
        picks = extremes(scores)
        if not picks:
            continue
        frames = [i for _, i in picks]
        truth = grab(gt, frames)
        made = grab(pred, frames, size=(gt.width, gt.height), fps=gt.fps)
        out[scores.video] = [
            Sample(caption, png(truth[i]), png(made[i])) for caption, i in picks if i in truth and i in made
        ]
    return out


def _table(results: Sequence[Scores]) -> str:
    head, body = table(results)
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body]
    return "\n".join([*out, "</table>"])


def write(
    path: str,
    gt_video: str,
    results: Sequence[Scores],
    *,
    header: Optional[Dict[str, str]] = None,
    samples: Optional[Dict[str, List[Sample]]] = None,
) -> None:
    with replacing(path, suffix=".html") as tmp:
        tmp.write_text(render(gt_video, results, header=header, samples=samples), encoding="utf-8")
