"""``--report``: one self-contained HTML page (inline SVG, no scripts, nothing fetched) that plots the scores."""

from __future__ import annotations

import html
import math
import os
from typing import List, Sequence, Tuple

from ..atomic import replacing
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


def render(gt_video: str, results: Sequence[Scores]) -> str:
    sections = []
    for metric in ("psnr", "ssim", "lpips"):
        series = [(os.path.basename(r.video), r.per_frame[metric]) for r in results if metric in r.per_frame]
        if series:
            sections.append(line_chart(f"{metric.upper()} per frame", series, x_label="frame"))
    # syncnet_python lists the distances from offset +vshift down to -vshift; the chart's axis ascends.
    lse = [
        (os.path.basename(r.video), r.details["lse"]["distances_by_offset"][::-1])
        for r in results
        if isinstance(r.details.get("lse"), dict)
    ]
    if lse:
        vshift = (len(lse[0][1]) - 1) // 2
        sections.append(line_chart("LSE: mean SyncNet distance by A/V offset", lse, x_label="offset", x0=-vshift))
    notes = [f"{os.path.basename(r.video)}: {n}" for r in results for n in r.notes]
    rows = _table(results)
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8"><title>talkingface evaluation</title>',
            "<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}svg{display:block;margin:12px 0}</style>",
            "</head><body>",
            "<h1>talkingface evaluation</h1>",
            f"<p>Ground truth: <code>{html.escape(gt_video)}</code></p>",
            rows,
            "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>" if notes else "",
            *sections,
            "</body></html>",
        ]
    )


def _table(results: Sequence[Scores]) -> str:
    head, body = table(results)
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body]
    return "\n".join([*out, "</table>"])


def write(path: str, gt_video: str, results: Sequence[Scores]) -> None:
    with replacing(path, suffix=".html") as tmp:
        tmp.write_text(render(gt_video, results), encoding="utf-8")
