"""Files the metrics need, each fetched from where it is published and checked before use.

Two kinds:

- small files inside a package on PyPI, pinned by the sha256 of the archive and of the file: NIQE's pristine model
  (MATLAB's ``modelparameters.mat``; basicsr 1.4.2's sdist ships the same numbers as ``niqe_pris_params.npz``, its
  md5 e329487e32cd463058c284f5327cb996 matches the published one) and LPIPS v0.1's linear heads (lpips 0.1.4);
- network weights from their authors' URLs. Where the file name carries torch hub's sha256 prefix, that prefix is
  checked; the full sha256 of whatever was used is written into every result.

``python -m talkingface.eval.assets WEIGHTS_DIR`` fetches them all; ``make eval-weights`` calls that.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from ..core.atomic import replacing
from ..core.errors import TalkingfaceError


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
LPIPS_HEADS = Asset(
    name="LPIPS v0.1 AlexNet linear heads",
    relative_path="eval/lpips_v0.1_alex.pth",
    sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
    package="lpips",
    archive="lpips-0.1.4-py3-none-any.whl",
    archive_sha256="fd537af5828b69d2e6ffc0a397bd506dbc28ca183543617690844c08e102ec5e",
    member="lpips/weights/v0.1/alex.pth",
    license="BSD-2-Clause (lpips)",
)
ASSETS = (NIQE_PARAMS, LPIPS_HEADS)


@dataclass(frozen=True)
class NetworkFile:
    """Weights published at a URL; ``relative_path``'s name is the published one."""

    name: str
    relative_path: str
    url: str

    def hub_prefix(self) -> Optional[str]:
        """torch hub names files ``<name>-<first 8+ hex of sha256>.<ext>``; such a name pins the content."""
        match = re.search(r"-([0-9a-f]{8,})\.[a-z]+$", os.path.basename(self.relative_path))
        return match.group(1) if match else None


UNVERIFIED_ENV = "TALKINGFACE_UNVERIFIED_WEIGHTS"

ALEXNET = NetworkFile(
    name="torchvision AlexNet (LPIPS backbone)",
    relative_path="eval/alexnet-owt-7be5be79.pth",
    url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
)
FID_INCEPTION = NetworkFile(
    name="FID Inception (pytorch-fid)",
    relative_path="eval/pt_inception-2015-12-05-6726825d.pth",
    url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
)
SYNCNET = NetworkFile(
    name="SyncNet v2 (syncnet_python)",
    relative_path="eval/syncnet_v2.model",
    url="http://www.robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model",
)
S3FD = NetworkFile(
    name="S3FD face detector (syncnet_python)",
    relative_path="eval/sfd_face.pth",
    url="https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth",
)
_FAN_SITE = "https://www.adrianbulat.com/downloads/python-fan/"
# face-alignment 1.3.5 (ER-NeRF's pin) loads the TorchScript archive on every torch but 1.5/1.6; the state-dict file
# of 1.2.0/1.5.0 holds the same network and is read when the archive is absent.
FAN_2D = NetworkFile(
    name="FAN 2D landmarks, 2DFAN4 (face-alignment 1.3.5, TorchScript)",
    relative_path="eval/2DFAN4-cd938726ad.zip",
    url=_FAN_SITE + "2DFAN4-cd938726ad.zip",
)
FAN_2D_STATE = NetworkFile(
    name="FAN 2D landmarks, 2DFAN4 (face-alignment 1.2.0 / 1.5.0, state dict)",
    relative_path="eval/2DFAN4-11f355bf06.pth.tar",
    url=_FAN_SITE + "2DFAN4-11f355bf06.pth.tar",
)
FA_S3FD = NetworkFile(
    name="S3FD face detector (face-alignment)",
    relative_path="eval/s3fd-619a316812.pth",
    url=_FAN_SITE + "s3fd-619a316812.pth",
)
NETWORKS = (ALEXNET, FID_INCEPTION, SYNCNET, S3FD, FAN_2D, FA_S3FD)


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


def locate_network(weights: NetworkFile, weights_dir: str, *, metric: str) -> str:
    path = os.path.join(weights_dir, weights.relative_path)
    if not os.path.isfile(path):
        raise TalkingfaceError(
            f"{metric} needs {weights.name}, missing: {path}",
            fix=f"run 'make eval-weights WEIGHTS={weights_dir}' (fetches {weights.url}), or leave {metric} out of "
            "--metrics",
        )
    prefix = weights.hub_prefix()
    if prefix and not file_sha256(path).startswith(prefix):
        if os.environ.get(UNVERIFIED_ENV) == "1":
            # Tests and benchmarks use random weights of the true shapes; the scores they give mean nothing.
            print(f"warning: {path} is not the published file ({UNVERIFIED_ENV}=1): scores are not comparable",
                  file=sys.stderr)  # fmt: skip
            return path
        raise TalkingfaceError(
            f"{path} does not match the sha256 prefix {prefix} its name promises",
            fix=f"delete it and run 'make eval-weights WEIGHTS={weights_dir}'",
        )
    return path


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_network(weights: NetworkFile, weights_dir: str) -> str:
    path = os.path.join(weights_dir, weights.relative_path)
    if os.path.isfile(path):
        return locate_network(weights, weights_dir, metric="the evaluation")
    try:
        with urllib.request.urlopen(weights.url, timeout=600) as response:  # noqa: S310 - a fixed, published URL
            data = response.read()
    except OSError as exc:
        raise TalkingfaceError(
            f"cannot download {weights.url}: {exc}",
            fix=f"download it on a machine with internet and copy it to {path}",
        ) from exc
    prefix = weights.hub_prefix()
    if prefix and not sha256_of(data).startswith(prefix):
        raise TalkingfaceError(f"{weights.url} did not match sha256 prefix {prefix}", fix="retry; it was altered")
    with replacing(path) as tmp:
        tmp.write_bytes(data)
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
    if asset.archive.endswith(".whl"):
        with zipfile.ZipFile(io.BytesIO(archive)) as wheel:
            data = wheel.read(asset.member)
    else:
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
    failed = 0
    for weights in NETWORKS:
        try:
            path = fetch_network(weights, weights_dir)
        except TalkingfaceError as exc:
            print(exc.one_line(), file=sys.stderr)
            failed += 1
            continue
        print(f"{path}: {weights.name}, sha256 {file_sha256(path)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
