"""What each CUDA image line needs from a GPU and its driver (the lines themselves: talkingface/core/cuda_lines.py).

CUDA 11.x programs may also start on drivers from 450.80.02 on ("minor version compatibility"), with features
missing (no PTX JIT compilation: NVIDIA's CUDA Compatibility guide). Nobody ran these models that way, so the doctor
holds each line to its toolkit's own minimum and fails below it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ..core.cuda_lines import CUDA_LINES, LINE_CHOICES, LOCAL, NEWEST, Cap
from ..host.gpu import GpuSelection, pick_line

__all__ = ["CUDA_LINES", "LINE_CHOICES", "LOCAL", "NEWEST", "Cap", "line_problems", "resolve_line", "runnable_lines"]


@dataclass(frozen=True)
class Problem:
    what: str
    fix: str


def sm(cap: Cap) -> str:
    return f"sm_{cap[0]}{cap[1]}"


def driver_tuple(text: str) -> Optional[Tuple[int, ...]]:
    """``"535.104.05"`` -> ``(535, 104, 5)``; None when nvidia-smi gave something else (``[N/A]``)."""
    if not re.fullmatch(r"\d+(\.\d+)*", text.strip()):
        return None
    return tuple(int(part) for part in text.strip().split("."))


def line_problems(*, line: str, cap: Optional[Cap], driver: str) -> List[Problem]:
    """Why a GPU with ``cap`` on ``driver`` can't run ``line``; an unknown ``cap`` is not a problem by itself."""
    spec = CUDA_LINES[line]
    problems = []
    if cap is not None and cap < spec.oldest:
        problems.append(
            Problem(
                f"{sm(cap)} is older than {sm(spec.oldest)}, the oldest architecture the {line} images are built for",
                "use --line cu118 or cu113 for Volta (sm_70)" if line == "cu130" else "use a Volta or newer GPU",
            )
        )
    elif cap is not None and cap > NEWEST:
        problems.append(
            Problem(
                f"{sm(cap)} is newer than {sm(NEWEST)}, the newest architecture any line is built for (CUDA 13.0)",
                "no image line supports this GPU yet: pick another GPU with --gpu",
            )
        )
    elif cap is not None and cap > spec.newest and cap > CUDA_LINES["cu118"].newest:
        problems.append(
            Problem(
                f"{sm(cap)} needs cu130 (CUDA {spec.cuda} builds only up to {sm(spec.newest)})",
                "use --line cu130, after make build LINE=cu130",
            )
        )
    elif cap is not None and cap > spec.newest:
        problems.append(
            Problem(
                f"{sm(cap)} needs cu118 (CUDA {spec.cuda} builds only up to {sm(spec.newest)})",
                "use --line cu118 (or auto), after make build LINE=cu118",
            )
        )
    found, needed = driver_tuple(driver), driver_tuple(spec.min_driver)
    if found is None or (needed is not None and found < needed):
        problems.append(
            Problem(
                f"driver {driver} is older than {spec.min_driver}, the minimum for CUDA {spec.cuda} ({line})",
                f"upgrade the NVIDIA driver to {spec.min_driver} or newer",
            )
        )
    return problems


def runnable_lines(*, cap: Optional[Cap], driver: str) -> List[str]:
    return [name for name in CUDA_LINES if not line_problems(line=name, cap=cap, driver=driver)]


def resolve_line(requested: str, caps: Sequence[Cap]) -> str:
    """What ``--line auto`` becomes: the same rule as the run scripts, over every GPU of the host."""
    if requested != "auto":
        return requested
    return pick_line(GpuSelection(all_gpus=True), dict(enumerate(caps)))
