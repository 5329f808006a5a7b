"""Files the metrics need, each pinned by sha256 and fetched from where it is published.

NIQE's pristine model is MATLAB's ``modelparameters.mat``; basicsr 1.4.2's source package on PyPI ships the same
numbers as ``basicsr/metrics/niqe_pris_params.npz`` (its md5 e329487e32cd463058c284f5327cb996 matches the
published one). ``python -m talkingface.eval.assets WEIGHTS_DIR`` fetches it; ``make eval-weights`` calls that.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from ..atomic import replacing
from ..errors import TalkingfaceError


@dataclass(frozen=True)
class Asset:
    name: str
    relative_path: str
    sha256: str
    package: str  # PyPI project whose source archive carries the file
    archive: str
    archive_sha256: str
    member: str
    license: str


NIQE_PARAMS = Asset(
    name="NIQE pristine model (MATLAB modelparameters.mat, as basicsr's npz)",
    relative_path="eval/niqe_pris_params.npz",
    sha256="2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296",
    package="basicsr",
    archive="basicsr-1.4.2.tar.gz",
    archive_sha256="b89b595a87ef964cda9913b4d99380ddb6554c965577c0c10cb7b78e31301e87",
    member="basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz",
    license="Apache-2.0 (basicsr); parameters from LIVE's niqe_release",
)
ASSETS = (NIQE_PARAMS,)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def locate(asset: Asset, weights_dir: str) -> str:
    """The verified file, or a one-line error naming it and how to get it."""
    path = os.path.join(weights_dir, asset.relative_path)
    if not os.path.isfile(path):
        raise TalkingfaceError(
            f"{asset.name} is missing: {path}", fix=f"run 'make eval-weights' (WEIGHTS={weights_dir})"
        )
    digest = sha256_of(Path(path).read_bytes())
    if digest != asset.sha256:
        raise TalkingfaceError(
            f"{path} has sha256 {digest}, expected {asset.sha256}",
            fix=f"delete it and run 'make eval-weights' (WEIGHTS={weights_dir})",
        )
    return path


def _archive_url(asset: Asset) -> str:
    request = urllib.request.Request(
        f"https://pypi.org/simple/{asset.package}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - a fixed https URL
        files = json.load(response)["files"]
    return next(f["url"] for f in files if f["filename"] == asset.archive)


def fetch(asset: Asset, weights_dir: str) -> str:
    path = os.path.join(weights_dir, asset.relative_path)
    if os.path.isfile(path) and sha256_of(Path(path).read_bytes()) == asset.sha256:
        return path
    with urllib.request.urlopen(_archive_url(asset), timeout=120) as response:  # noqa: S310 - PyPI's file URL
        archive = response.read()
    if sha256_of(archive) != asset.archive_sha256:
        raise TalkingfaceError(
            f"{asset.archive} has sha256 {sha256_of(archive)}", fix="retry; the download was altered"
        )
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = tar.extractfile(asset.member)
        data = member.read() if member else b""
    if sha256_of(data) != asset.sha256:
        raise TalkingfaceError(f"{asset.member} in {asset.archive} does not have the pinned sha256", fix="report this")
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return path


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    weights_dir = args[0] if args else "weights"
    for asset in ASSETS:
        print(f"{fetch(asset, weights_dir)}: {asset.name}, sha256 {asset.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
