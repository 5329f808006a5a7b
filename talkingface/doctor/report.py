"""The doctor's table, and the same findings as JSON."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Sequence

from .checks import FAIL, WARN, Row, exit_code
from .facts import Facts

SHOWN = {"ok": "ok", WARN: "warn", FAIL: "FAIL"}


def line_note(facts: Facts) -> str:
    if facts.line_requested == "auto":
        return f"line {facts.line} (auto: what the run scripts would pick here)"
    return f"line {facts.line}"


def summary(rows: Sequence[Row], facts: Facts) -> str:
    failed = sum(row.status == FAIL for row in rows)
    warned = sum(row.status == WARN for row in rows)
    counts = f"{failed} failed, {warned} warning{'s' if warned != 1 else ''}"
    if failed:
        local = (
            "; the local line is built: --line local runs its test doubles here"
            if any(image.state == "present" for image in facts.local_images)
            else ""
        )
        return f"{counts}: a run on line {facts.line} would fail; each FAIL row says how to fix it{local}"
    return f"{counts}: ready to run line {facts.line}"


def render(rows: Sequence[Row], facts: Facts) -> str:
    """Aligned columns; a failing (or warning) row's fix goes on the line under its detail."""
    width = max(len("check"), *(len(row.check) for row in rows))
    status_width = max(len("status"), *(len(text) for text in SHOWN.values()))
    indent = " " * (width + status_width + 4)
    out = [f"talkingface {facts.version} doctor: {line_note(facts)}", ""]
    out.append(f"{'check':<{width}}  {'status':<{status_width}}  detail")
    for row in rows:
        out.append(f"{row.check:<{width}}  {SHOWN[row.status]:<{status_width}}  {row.detail}")
        if row.fix and row.status != "ok":
            out.append(f"{indent}fix: {row.fix}")
    out += ["", summary(rows, facts)]
    return "\n".join(out)


def to_json(rows: Sequence[Row], facts: Facts) -> Dict[str, Any]:
    gpus: List[Dict[str, Any]] = [dataclasses.asdict(gpu) for gpu in facts.gpus.gpus]
    return {
        "version": facts.version,
        "line_requested": facts.line_requested,
        "line": facts.line,
        "exit_code": exit_code(rows),
        "summary": summary(rows, facts),
        "rows": [dataclasses.asdict(row) for row in rows],
        "gpus": gpus,
        "images": {image.ref: image.state for image in facts.images},
    }
