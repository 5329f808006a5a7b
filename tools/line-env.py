#!/usr/bin/env python3
"""Print a Dockerfile stage's ENV and ARG defaults as shell assignments: line-env.py DOCKERFILE STAGE.

`make native-env` builds outside Docker with the same settings the image's builder stage uses, read from the
Dockerfile itself, so the two can't drift apart.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path


def stage_settings(text: str, stage: str) -> dict:
    joined = re.sub(r"\\\n", " ", text)
    match = re.search(rf"^FROM \S+ AS {re.escape(stage)}\n(.*?)(?=^FROM |\Z)", joined, re.M | re.S)
    if not match:
        # A line whose stage is not written yet: the caller's environment must give every setting.
        print(f"line-env: no stage {stage}; using the environment's settings", file=sys.stderr)
        return {}
    settings = {}
    for line in match.group(1).splitlines():
        keyword, _, rest = line.strip().partition(" ")
        if keyword not in ("ENV", "ARG"):
            continue
        for token in shlex.split(rest):
            if "=" in token:
                key, value = token.split("=", 1)
                settings[key] = value
    return settings


def main() -> int:
    dockerfile, stage = sys.argv[1], sys.argv[2]
    for key, value in stage_settings(Path(dockerfile).read_text(encoding="utf-8"), stage).items():
        print(f"{key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
