#!/usr/bin/env python3
"""Apply the compatibility edits a line needs to an upstream tree: apply-compat COMPAT_JSON ROOT LINE [--env-out F].

The edits are data (images/<model>/compat.json), so every one is listed, with its reason, in one place. Each edit
names the lines that need it and must match: an upstream that changed fails the build instead of being left
half-edited. Running it twice changes nothing the second time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional


def apply(compat: dict, root: Path, line: str) -> List[str]:
    done = []
    for edit in compat.get("edits", []):
        if line not in edit["lines"]:
            continue
        for relative in edit["files"]:
            path = root / relative
            text = path.read_text(encoding="utf-8")
            if edit["replace"] in text and (edit["find"] in edit["replace"] or edit["find"] not in text):
                continue  # applied by an earlier run
            if edit["find"] not in text:
                raise SystemExit(f"error: compat edit {edit['id']!r}: {edit['find']!r} is not in {path}")
            path.write_text(text.replace(edit["find"], edit["replace"]), encoding="utf-8")
            done.append(f"{edit['id']}: {relative}")
    return done


def env_for(compat: dict, line: str) -> List[str]:
    return [f"{var['name']}={var['value']}" for var in compat.get("env", []) if line in var["lines"]]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="apply-compat")
    parser.add_argument("compat")
    parser.add_argument("root")
    parser.add_argument("line")
    parser.add_argument("--env-out", help="write the line's environment variables here, one NAME=VALUE a line")
    args = parser.parse_args(argv)
    compat = json.loads(Path(args.compat).read_text(encoding="utf-8"))
    for item in apply(compat, Path(args.root), args.line):
        print(f"apply-compat: {item}")
    if args.env_out:
        Path(args.env_out).write_text("".join(f"{v}\n" for v in env_for(compat, args.line)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
