"""Symlink read-only pretrained files into the workspace where upstream looks for them."""

from __future__ import annotations

import argparse
import os
from typing import List


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps link")
    parser.add_argument("--pair", nargs=2, action="append", default=[], metavar=("TARGET", "LINK"))
    args = parser.parse_args(argv)
    for target, link in args.pair:
        if not os.path.exists(target):
            print(f"skipped {link}: {target} is not there (see the weights manifest)")
            continue
        if os.path.islink(link):
            os.unlink(link)
        elif os.path.exists(link):
            print(f"kept {link}: a real folder is already there")
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(target, link)
        print(f"{link} -> {target}")
    return 0
