#!/usr/bin/env python3
"""A Dockerfile stage's ENV and ARG defaults as shell assignments: line-env.py DOCKERFILE STAGE [--native PREFIX].

`make native-env` builds outside Docker with the same settings the image's builder stage uses, read from the
Dockerfile itself, so the two can't drift apart. References to earlier settings (``${ARCHS}``) are substituted as
Docker substitutes them. With ``--native PREFIX`` (tools/native-env.sh) an ARG set in the environment wins over its
default, as ``--build-arg`` does, and every path of the image becomes the native one:

- a file or folder the stage COPYs in from the build context, or bind-mounts from it, is that file in the checkout
  (``/tmp/line.lock`` -> ``images/<model>/<line>.lock``, ``/wheels`` -> ``.wheels-<line>``);
- a cache mount's folder is a folder of the build's own, ``PREFIX/.build/<name>`` (``/ext-wheels``);
- anything under ``/opt`` (the venv, upstream, the kept wheels) is under ``PREFIX/opt``, as the build scripts lay it
  out (``${PREFIX}/opt/venv``); a path into the venv's ``lib/pythonX.Y`` names the native venv's Python
  (``--python X.Y``).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
REFERENCE = re.compile(r"\$\{(\w+)(?::([-+])([^}]*))?\}|\$(\w+)")


def stage_text(text: str, stage: str) -> Optional[str]:
    joined = re.sub(r"\\\n", " ", text)
    match = re.search(rf"^FROM \S+ AS {re.escape(stage)}\n(.*?)(?=^FROM |\Z)", joined, re.M | re.S)
    return match.group(1) if match else None


def substitute(value: str, known: Dict[str, str], environ: Dict[str, str]) -> str:
    """Docker's substitution: ${X}, $X, ${X:-word}, ${X:+word}; a name the stage does not set is the environment's
    (the base image's, for Docker), else empty."""

    def one(match: re.Match) -> str:
        name = match.group(1) or match.group(4)
        current = known.get(name, environ.get(name, ""))
        if match.group(2) == "-":
            return current or match.group(3)
        if match.group(2) == "+":
            return match.group(3) if current else ""
        return current

    return REFERENCE.sub(one, value)


def stage_settings(text: str, stage: str, environ: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The stage's ARG and ENV settings, references substituted. ``environ`` overrides ARG defaults (--build-arg)."""
    body = stage_text(text, stage)
    if body is None:
        # A line whose stage is not written yet: the caller's environment must give every setting.
        print(f"line-env: no stage {stage}; using the environment's settings", file=sys.stderr)
        return {}
    environ = environ or {}
    settings: Dict[str, str] = {}
    for line in body.splitlines():
        keyword, _, rest = line.strip().partition(" ")
        if keyword not in ("ENV", "ARG"):
            continue
        for token in shlex.split(rest):
            if "=" not in token:
                continue
            key, value = token.split("=", 1)
            if keyword == "ARG" and key in environ:
                settings[key] = environ[key]
            else:
                settings[key] = substitute(value, settings, environ)
    return settings


def image_paths(body: str) -> Tuple[List[Tuple[str, str]], List[str]]:
    """(image path, build-context path) for the stage's COPYs from the context and its bind mounts; cache mounts."""
    context: List[Tuple[str, str]] = []
    caches: List[str] = []
    for line in body.splitlines():
        keyword, _, rest = line.strip().partition(" ")
        words = shlex.split(rest) if keyword in ("COPY", "RUN") else []
        if keyword == "COPY" and not any(w.startswith("--from") for w in words):
            paths = [w for w in words if not w.startswith("--")]
            if len(paths) == 2:
                context.append((paths[1].rstrip("/"), paths[0].rstrip("/")))
        for word in words:
            if not word.startswith("--mount="):
                continue
            mount = dict(part.split("=", 1) for part in word[len("--mount=") :].split(",") if "=" in part)
            target = mount.get("target") or mount.get("dst") or mount.get("destination")
            if not target:
                continue
            if mount.get("type", "bind") == "bind":
                context.append((target.rstrip("/"), mount.get("source", mount.get("src", ".")).rstrip("/")))
            elif mount.get("type") == "cache":
                caches.append(target.rstrip("/"))
    return context, caches


def native_path(path: str, prefix: Path, context: List[Tuple[str, str]], caches: List[str], python: str) -> str:
    def under(root: str) -> Optional[str]:
        return path[len(root) :] if path == root or path.startswith(root + "/") else None

    for target, source in context:
        rest = under(target)
        if rest is not None:
            return str(REPO / source) + rest
    for target in caches:
        rest = under(target)
        if rest is not None:
            return str(prefix / ".build" / Path(target).name) + rest
    rest = under("/opt")
    if rest is not None:
        if python:
            rest = re.sub(r"^(/venv/lib/python)\d+\.\d+(?=/|$)", rf"\g<1>{python}", rest)
        return str(prefix / "opt") + rest
    return path


def native_settings(text: str, stage: str, prefix: Path, python: str, environ: Dict[str, str]) -> Dict[str, str]:
    settings = stage_settings(text, stage, environ)
    body = stage_text(text, stage) or ""
    context, caches = image_paths(body)
    native = {}
    for key, value in settings.items():
        # Whole paths and path lists (A:B); anything else is no path.
        parts = value.split(":") if value.startswith("/") else [value]
        mapped = [native_path(p, prefix, context, caches, python) if p.startswith("/") else p for p in parts]
        native[key] = ":".join(mapped)
        for before, after in zip(parts, mapped):
            if before.startswith("/") and before == after:
                note = f"{before} is a path of the image only; set {key} to override"
                print(f"line-env: {key}={value}: {note}", file=sys.stderr)
    return native


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dockerfile", type=Path)
    parser.add_argument("stage")
    parser.add_argument("--native", type=Path, metavar="PREFIX", help="the paths of a native environment in PREFIX")
    parser.add_argument("--python", default="", metavar="X.Y", help="the native venv's Python version")
    args = parser.parse_args()
    text = args.dockerfile.read_text(encoding="utf-8")
    if args.native is None:
        settings = stage_settings(text, args.stage)
    else:
        settings = native_settings(text, args.stage, Path(os.path.abspath(args.native)), args.python, dict(os.environ))
    for key, value in settings.items():
        print(f"{key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
