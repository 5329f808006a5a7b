"""``python3 -m talkingface.bundle make|verify|load``: the commands behind make bundle, make save and make load."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from .. import __version__
from ..core.errors import TalkingfaceError
from ..core.text import plural
from ..weights.__main__ import images_arg
from ..weights.manifest import DEFAULT_IMAGES, IMAGES, MANIFEST_FILE, load_manifest
from .load import check_bundle, load_bundle
from .make import make_bundle

DEFAULT_WEIGHTS = os.environ.get("TALKINGFACE_WEIGHTS_DIR") or "weights"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=os.environ.get("TALKINGFACE_PROG", "python3 -m talkingface.bundle"),
        description="Write an offline bundle (images, weights, SHA256SUMS, bundle.json), check one, or load one. "
        "docs/offline.md walks through carrying it to a cluster.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make", help="write a bundle folder (resumes an interrupted run)")
    make.add_argument("--out", type=Path, required=True, help="the bundle folder; must not exist yet")
    make.add_argument("--image", action="append", default=[], help="an image tag to save (repeat)")
    weights = make.add_mutually_exclusive_group()
    weights.add_argument(
        "--weights",
        type=Path,
        default=Path(DEFAULT_WEIGHTS),
        help="the weights folder to pack (default: TALKINGFACE_WEIGHTS_DIR, else ./weights)",
    )
    weights.add_argument("--no-weights", action="store_true", help="images only (make save)")
    make.add_argument(
        "--weights-for",
        type=images_arg,
        default=DEFAULT_IMAGES,
        help=f"only the weights these images need: {','.join(IMAGES)} (default: {','.join(DEFAULT_IMAGES)})",
    )
    make.add_argument("--manifest", type=Path, default=MANIFEST_FILE, help="the weights manifest (default: ours)")
    make.add_argument("--revision", default="unknown", help="the git revision of this checkout, for the record")
    for name, text in (("verify", "check a bundle, reading only"), ("load", "check a bundle, then load it")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("bundle", type=Path, help="the folder written by make bundle or make save")
        cmd.add_argument(
            "--weights",
            type=Path,
            default=Path(DEFAULT_WEIGHTS),
            help="where the weights go (default: TALKINGFACE_WEIGHTS_DIR, else ./weights)",
        )
    return parser.parse_args(list(argv))


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "make":
            make_bundle(
                out=args.out,
                tags=args.image,
                weights_dir=None if args.no_weights else args.weights,
                manifest=load_manifest(args.manifest),
                weights_for=args.weights_for,
                version=__version__,
                revision=args.revision,
            )
        elif args.command == "verify":
            record = check_bundle(args.bundle, weights_dest=args.weights).record
            print(
                f"{args.bundle}: every checksum and archive is good ({plural(len(record.images), 'image')}"
                f"{', weights' if record.weights else ''}); 'make load BUNDLE={args.bundle}' would load it"
            )
        else:
            load_bundle(args.bundle, weights_dest=args.weights)
    except TalkingfaceError as exc:
        print(exc.one_line(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted -- fix: run the same command again: it resumes", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
