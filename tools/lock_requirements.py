#!/usr/bin/env python3
"""Resolve an image's requirements.txt into a full lock for one image line, with PyPI's resolver.

    python3 tools/lock_requirements.py images/ernerf cu113     # writes images/ernerf/cu113.lock

pip resolves under a Python of the line's version (``python3.8``, ``python3.10`` on PATH, or ``--python``): pip
evaluates dependencies' markers (opencv's ``numpy>=1.23.5; python_version >= "3.11"``) and, in pip 23, Requires-Python
against the interpreter that runs it, whatever ``--python-version`` says.

The line's facts come from the Dockerfile's ``builder-<line>`` stage, the one place they are written: its base
image (Ubuntu 20.04 -> Python 3.8, glibc 2.31; 22.04 -> Python 3.10, glibc 2.35) and its ``TORCH_PINS``.

The images install the lock with ``--no-deps``, so no version floats. On cu113/cu118 torch comes from PyTorch's own
index in the image, so torch, its CUDA wheels (``nvidia-*``) and torchvision/torchaudio are left out of the lock; the
PyPI build of the same torch version stands in for it during resolution.

A line whose builder is the local Debian base (cu130: Debian 12, Python 3.11, glibc 2.36) has no TORCH_PINS: torch,
its NVIDIA wheels and the CUDA toolkit's wheels come from PyPI, listed in ``images/common/<line>-torch.txt``, so they
are locked too; ``images/common/<line>-overrides.txt`` replaces pins that have no wheel for its Python, and
``images/<image>/<line>-overrides.txt`` one image's pins that conflict only there. Such a
lock carries every file's sha256 (sdists included): its builds install from a host wheelhouse with pip's
hash-checking mode, since they cannot reach PyPI.

Lines marked ``# sdist`` have no wheel for the target (antlr4-python3-runtime, which omegaconf needs; fvcore). pip
can't resolve for another Python and platform with sdists allowed (``--python-version`` demands
``--only-binary=:all:``), so each one is stood in for by an empty wheel of the same name and version, which satisfies
whatever depends on it without building anything. On cu113/cu118 the lock then pins the sdist itself, by its index
URL with its sha256 as the fragment (``name @ URL#sha256=...``), which pip checks when it downloads the file; the
sha256 comes from the index's JSON simple API (PEP 691). An sdist's own runtime dependencies are not read (its
metadata can only be had by building it): they must be listed in the requirements file too. A cu130 lock pins it as
``name==version --hash=sha256:...  # sdist``, which tools/fetch-wheels.sh fetches into the wheelhouse.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

TORCH_FAMILY = {"torch", "torchvision", "torchaudio", "triton"}
LEGACY = ("manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64")


def platforms(glibc: str) -> list:
    """Every manylinux tag a system with this glibc accepts (Ubuntu 20.04: 2.31, 22.04: 2.35)."""
    newest = int(glibc.split(".")[1])
    return list(LEGACY) + [f"manylinux_2_{minor}_x86_64" for minor in range(5, newest + 1)]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def stub_wheel(folder: Path, name: str, version: str) -> Path:
    """An empty ``py3-none-any`` wheel of name==version in ``folder``: it stands in for an sdist while resolving."""
    dist = f"{re.sub(r'[-_.]+', '_', name)}-{version}"
    info = f"{dist}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tools/lock_requirements.py\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
    return path


def sdist_pin(index_page: dict, name: str, version: str) -> str:
    """``name @ URL#sha256=HEX`` for name==version's sdist, from the index's PEP 691 page of that project."""
    for entry in index_page.get("files", []):
        filename = entry["filename"]
        stem = re.sub(r"\.(tar\.gz|zip)$", "", filename)
        if stem == filename or "-" not in stem:
            continue  # a wheel or another kind of file
        project, found = stem.rsplit("-", 1)
        sha256 = entry.get("hashes", {}).get("sha256")
        if canonical(project) == canonical(name) and found == version and sha256 and not entry.get("yanked"):
            return f"{name} @ {entry['url'].split('#', 1)[0]}#sha256={sha256}"
    raise SystemExit(f"error: the index has no sdist of {name}=={version} with a sha256 -- fix: check the pin")


def index_page(index: str, name: str) -> dict:
    """The index's JSON simple page (PEP 691) of one project."""
    if not index.startswith(("https://", "http://")):
        raise SystemExit(f"error: the index {index} is not an http(s) URL -- fix: set PIP_INDEX_URL to one")
    url = f"{index.rstrip('/')}/{canonical(name)}/"
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})  # noqa: S310 - http(s), checked above
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - http(s), checked above
        return json.load(response)


def line_python(name: str, version: str) -> str:
    """The path of ``name``, checked to be Python ``version``: pip resolves as the interpreter that runs it."""
    path = shutil.which(name)
    found = (
        path
        and subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        ).stdout.strip()
    )
    if found != version:
        raise SystemExit(
            f"error: the lock needs a Python {version} to resolve with ({name}: {found or 'not found'})"
            f" -- fix: install one (e.g. pyenv install {version}) or pass --python PATH"
        )
    return path


UBUNTU = {"ubuntu20.04": ("3.8", "2.31"), "ubuntu22.04": ("3.10", "2.35"), "${LOCAL_BASE}": ("3.11", "2.36")}
COMMON = Path(__file__).resolve().parent.parent / "images" / "common"


def specs(path: Path) -> list:
    """The requirement lines of a file, comments dropped."""
    return [s for s in (raw.split("#", 1)[0].strip() for raw in path.read_text().splitlines()) if s]


def line_facts(dockerfile: Path, line: str) -> tuple:
    """(python, glibc, torch requirements, whether the lock holds torch) of the ``builder-<line>`` stage."""
    text = dockerfile.read_text()
    stage = re.search(rf"^FROM (\S+) AS builder-{line}\n(.*?)(?=^FROM )", text, re.M | re.S)
    if not stage:
        raise SystemExit(f"error: {dockerfile} has no builder-{line} stage")
    python, glibc = next(v for k, v in UBUNTU.items() if k in stage.group(1))
    pins = re.search(r'TORCH_PINS="([^"]+)"', stage.group(2))
    if pins is None:
        return python, glibc, specs(COMMON / f"{line}-torch.txt"), True
    return python, glibc, [re.sub(r"\+cu\d+$", "", p) for p in pins.group(1).split()], False


def override(requirements: list, overrides: list) -> list:
    """Replace each requirement whose name an override names (the override's line wins). An override that names
    nothing in the image's requirements is not added: the shared file speaks for every image, and e.g. open3d's
    replacement must not put open3d into an image that never asked for it."""
    by_name = {canonical(re.split(r"[=<>!~\[ ]", o, maxsplit=1)[0]): o for o in overrides}
    return [by_name.get(canonical(re.split(r"[=<>!~\[ ]", r, maxsplit=1)[0]), r) for r in requirements]


# pip prepares an sdist's metadata even to download it, in an isolated build environment that takes the newest
# setuptools; 82 dropped pkg_resources, which old setup.py files (mmcv 1.6.0) import. The images build these sdists
# against the lock's own setuptools (torch 2.11 keeps it below 82), so the lock tool reads them the same way.
BUILD_CONSTRAINT = "setuptools<82\n"


def sdist_hash(spec: str, tmp: str) -> str:
    """sha256 of the sdist pip downloads for SPEC (name==version)."""
    folder = Path(tmp) / "sdist" / canonical(spec.split("==")[0])
    constraint = Path(tmp) / "build-constraint.txt"
    constraint.write_text(BUILD_CONSTRAINT)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary=:all:", "-d", str(folder), spec],
        check=True,
        env={**os.environ, "PIP_CONSTRAINT": str(constraint)},
    )
    (archive,) = list(folder.iterdir())
    return hashlib.sha256(archive.read_bytes()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image_dir", help="images/<model>")
    parser.add_argument("line", help="cu113, cu118 or cu130")
    parser.add_argument("--python", dest="interpreter", help="a Python of the line's version (default: python3.X)")
    args = parser.parse_args()
    folder = Path(args.image_dir)
    args.python, args.glibc, args.torch, torch_in_lock = line_facts(folder / "Dockerfile", args.line)
    interpreter = line_python(args.interpreter or f"python{args.python}", args.python)
    overrides = COMMON / f"{args.line}-overrides.txt"
    args.requirements, args.out = str(folder / "requirements.txt"), str(folder / f"{args.line}.lock")
    binary, sdist = [], []
    for line in Path(args.requirements).read_text().splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec:
            (sdist if "# sdist" in line else binary).append(spec)
    sdist_names = {canonical(spec.split("==")[0]) for spec in sdist}
    # The line's shared overrides, then the image's own (images/<image>/<line>-overrides.txt), which win.
    for path in (overrides, folder / f"{args.line}-overrides.txt"):
        if path.exists():
            binary = override(binary, specs(path))
    with tempfile.TemporaryDirectory() as tmp:
        stubs = Path(tmp) / "stubs"
        stubs.mkdir()
        for spec in sdist:
            stub_wheel(stubs, *spec.split("=="))
        reqs = Path(tmp) / "requirements.txt"
        reqs.write_text("\n".join(binary + sdist + args.torch) + "\n")
        report = Path(tmp) / "report.json"
        command = [
            interpreter,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--ignore-installed",
            "--report",
            str(report),
        ]
        command += ["--python-version", args.python, "--only-binary=:all:", "--target", str(Path(tmp) / "t")]
        command += ["--find-links", str(stubs)]
        for platform in platforms(args.glibc):
            command += ["--platform", platform]
        subprocess.run([*command, "-r", str(reqs)], check=True)
        resolved = json.loads(report.read_text())["install"]
        pins = {}
        for item in resolved:
            name = canonical(item["metadata"]["name"])
            if name in sdist_names or not torch_in_lock and (name in TORCH_FAMILY or name.startswith("nvidia-")):
                continue
            pins[name] = f"{item['metadata']['name']}=={item['metadata']['version']}"
            if torch_in_lock:
                pins[name] += f" --hash=sha256:{item['download_info']['archive_info']['hashes']['sha256']}"
        if torch_in_lock:
            # "# sdist" tells tools/fetch-wheels.sh to fetch the source archive (no wheel exists for it).
            sdist_pins = [f"{s} --hash=sha256:{sdist_hash(s, tmp)}  # sdist" for s in sdist]
    lines = [
        f"# Generated by tools/lock_requirements.py from {args.requirements}"
        f" for Python {args.python}, glibc {args.glibc}."
    ]
    lines += ["# Do not edit: change the requirements file and regenerate (make lock)."]
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple")
    if not torch_in_lock:
        sdist_pins = [sdist_pin(index_page(index, spec.split("==")[0]), *spec.split("==")) for spec in sdist]
    lines += sorted(pins.values(), key=str.lower) + sorted(sdist_pins, key=str.lower)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"{args.out}: {len(pins) + len(sdist)} pins")
    return 0


if __name__ == "__main__":
    sys.exit(main())
