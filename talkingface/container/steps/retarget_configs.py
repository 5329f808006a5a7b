"""Copy a folder of per-video YAML configs to a new video id, rewriting the keys that name the old one.

GeneFace ships configs for its sample video "May" only and tells users to copy and edit them by hand.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import List

from ...core.atomic import replacing
from ...core.errors import TalkingfaceError


def retarget(text: str, *, old: str, new: str, keys: List[str]) -> str:
    word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(old)}(?![A-Za-z0-9_])")
    lines = []
    for line in text.splitlines(keepends=True):
        key = line.split(":", 1)[0].strip()
        lines.append(word.sub(new, line) if ":" in line and key in keys else line)
    return "".join(lines)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps retarget-configs")
    parser.add_argument("--src", required=True)
    parser.add_argument("--dst", required=True)
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", required=True)
    parser.add_argument("--keys", required=True, help="comma-separated keys whose values name the video")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.src):
        raise TalkingfaceError(
            f"config template {args.src} does not exist", fix="rebuild the image (make build)", exit_code=1
        )
    keys = args.keys.split(",")
    for name in sorted(os.listdir(args.src)):
        if not name.endswith(".yaml"):
            continue
        with open(os.path.join(args.src, name), encoding="utf-8") as fh:
            text = retarget(fh.read(), old=args.old, new=args.new, keys=keys)
        with replacing(os.path.join(args.dst, name), suffix=".yaml") as tmp:
            tmp.write_text(text, encoding="utf-8")
    return 0
