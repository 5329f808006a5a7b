"""Copy an input file to where upstream expects it; inputs are mounted read-only and never touched."""

from __future__ import annotations

import argparse
import glob
import os
from typing import List

from ...core.atomic import copy_file
from ...core.errors import TalkingfaceError


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps stage-input")
    parser.add_argument("--src", required=True, help="a file, or a glob whose newest match is used")
    parser.add_argument("--dst", required=True)
    args = parser.parse_args(argv)
    matches = [m for m in glob.glob(args.src) if os.path.isfile(m)]
    if not matches:
        raise TalkingfaceError(f"input file {args.src} does not exist", fix="check the path you passed", exit_code=1)
    args.src = max(matches, key=os.path.getmtime)
    if os.path.abspath(args.src) != os.path.abspath(args.dst):
        copy_file(args.src, args.dst)
    else:
        os.utime(args.dst)
    return 0
