"""``python3 -m talkingface.doctor``: is this machine ready to run the images? Exit 1 when a run would fail."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from .. import __version__
from ..adapters import get_adapter
from ..core.upstream import load_pins
from ..weights.manifest import load_manifest
from .checks import exit_code, run_checks
from .facts import MODEL_IMAGES, gather
from .lines import LINE_CHOICES
from .report import render, to_json

REPO = Path(__file__).resolve().parents[2]


def expected_weights() -> Tuple[str, ...]:
    """The files the weights folder must hold: the weights manifest's, for the three model images, on every line,
    as each run checks them before its first step. The eval image's are left out: a missing eval image only warns."""
    return load_manifest().paths(MODEL_IMAGES)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=os.environ.get("TALKINGFACE_PROG", "python3 -m talkingface.doctor"),
        description="Check this machine: docker, the NVIDIA runtime, the GPUs and which CUDA line each can run, "
        "disk, shared memory, the BFM, the weights and the images. Exits 1 when a run would fail.",
    )
    parser.add_argument(
        "--line",
        type=str.lower,
        choices=LINE_CHOICES,
        default=(os.environ.get("TALKINGFACE_LINE") or "auto").lower(),
        help="image line to check for (default: TALKINGFACE_LINE, else auto: what the run scripts pick)",
    )
    parser.add_argument("--workspace", default="workspace", help="where runs write (default: ./workspace)")
    parser.add_argument(
        "--bfm_dir",
        default=os.environ.get("TALKINGFACE_BFM_DIR") or str(REPO / "bfm_models"),
        help="folder holding 01_MorphableModel.mat (default: TALKINGFACE_BFM_DIR, else bfm_models/)",
    )
    parser.add_argument(
        "--weights_dir",
        default=os.environ.get("TALKINGFACE_WEIGHTS_DIR") or str(REPO / "weights"),
        help="folder of model weights (default: TALKINGFACE_WEIGHTS_DIR, else weights/)",
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON instead of a table")
    args = parser.parse_args(list(argv))
    if args.line not in LINE_CHOICES:
        parser.error(f"argument --line: invalid choice: {args.line!r} (choose from {', '.join(LINE_CHOICES)})")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    facts = gather(
        line=args.line,
        version=__version__,
        workspace=os.path.abspath(args.workspace),
        bfm_dir=os.path.abspath(args.bfm_dir),
        weights_dir=os.path.abspath(args.weights_dir),
    )
    shm_size = "/".join(sorted({get_adapter(name).shm_size() for name in MODEL_IMAGES}))
    rows = run_checks(facts, pins=load_pins(), shm_size=shm_size, expected_weights=expected_weights())
    print(json.dumps(to_json(rows, facts), indent=2) if args.json else render(rows, facts))
    return exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
