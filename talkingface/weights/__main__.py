"""``python3 -m talkingface.weights fetch|verify|list [--dir weights] [--image ernerf,eval]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from ..core.errors import TalkingfaceError
from .download import Options
from .fetch import fetch_all
from .lock import load_lock
from .manifest import DEFAULT_IMAGES, IMAGES, MANIFEST_FILE, Manifest, load_manifest
from .verify import how_checked, render, verify


def images_arg(value: str) -> Tuple[str, ...]:
    names = tuple(name.strip().lower() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in IMAGES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{value!r}: choose among {', '.join(IMAGES)}, comma-separated")
    return names


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=os.environ.get("TALKINGFACE_PROG", "python3 -m talkingface.weights"),
        description="Download (fetch), check (verify) or list the weight files the images need, as the manifest "
        "talkingface/weights_manifest.json lists them.",
    )
    parser.add_argument("command", choices=("fetch", "verify", "list"))
    parser.add_argument(
        "--dir",
        default=os.environ.get("TALKINGFACE_WEIGHTS_DIR") or "weights",
        help="the weights folder (default: TALKINGFACE_WEIGHTS_DIR, else ./weights)",
    )
    parser.add_argument(
        "--image",
        type=images_arg,
        help=f"only what these need: {','.join(IMAGES)} (default: {','.join(DEFAULT_IMAGES)}; web's voices are opt-in)",
    )
    parser.add_argument("--retries", type=int, default=Options.retries, help="retries per URL (default: %(default)s)")
    parser.add_argument("--manifest", type=Path, default=MANIFEST_FILE, help="the manifest (default: the package's)")
    return parser.parse_args(list(argv))


def size_text(size: Optional[int], approx: Optional[str]) -> str:
    if size is not None:
        return f"{size:,} B"
    return f"~{approx}" if approx else "?"


def listing(manifest: Manifest, images: Optional[Sequence[str]]) -> str:
    rows = [("id", "images", "size", "checked by", "dest")]
    for entry in manifest.select(images):
        rows.append((entry.id, ",".join(entry.images), size_text(entry.size, entry.approx_size), how_checked(entry),
                     entry.dest + ("/" if entry.is_dir else "")))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    table = "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4] for row in rows)
    return table + "\n\n" + required_paths(manifest, images)


def required_paths(manifest: Manifest, images: Optional[Sequence[str]]) -> str:
    """Every path each image needs in the weights folder: a folder's files, links and generated files too, the
    list the run scripts check before a run (and `make stand-in-weights` fills for the local line)."""
    out = []
    for image in images or DEFAULT_IMAGES:
        paths = manifest.paths([image])
        out.append(f"{image} needs {len(paths)} paths in the weights folder:")
        out += [f"  {path}" for path in paths]
    return "\n".join(out)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        manifest = load_manifest(args.manifest)
        if args.command == "list":
            print(listing(manifest, args.image))
            return 0
        if args.command == "verify":
            if not os.path.isdir(args.dir):
                raise TalkingfaceError(
                    f"{args.dir} does not exist", fix="run 'make weights' (WEIGHTS=dir)", exit_code=1
                )
            findings = verify(manifest, args.dir, load_lock(args.dir), args.image)
            print(render(findings))
            return 1 if any(f.failed for f in findings) else 0
        failures = fetch_all(manifest, args.dir, args.image, options=Options(retries=max(0, args.retries)))
    except TalkingfaceError as exc:
        print(exc.one_line(), file=sys.stderr)
        return exc.exit_code
    count = len(manifest.select(args.image))
    if failures:
        print(f"{count - len(failures)} of {count} in place; {len(failures)} failed (each error above has its fix)")
        return 1
    print(f"all {count} in place and verified in {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
