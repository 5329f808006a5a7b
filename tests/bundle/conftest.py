"""A weights folder in the manifest's layout, and docker replaced by a recorder: bundles made and loaded for real."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

import pytest

from talkingface.bundle import docker_images
from talkingface.bundle.docker_images import ImageInfo
from talkingface.weights.lock import LockRecord, save_lock
from tests.weights.helpers import entry, pinned

PARSING = b"bisenet state dict stand-in\x00" * 500
HELPER = b"exp_info.npy stand-in" * 40
LOCKED = os.urandom(50_000)


@dataclass(frozen=True)
class Site:
    root: Path
    weights: Path
    manifest: Path
    dest: Path
    out: Path


def write_site(root: Path) -> Site:
    weights = root / "weights"
    files = {
        "ernerf/data_utils/face_parsing/79999_iter.pth": PARSING,
        "ernerf/data_utils/face_tracking/3DMM/exp_info.npy": HELPER,
        "eval/locked.bin": LOCKED,
    }
    for rel, data in files.items():
        (weights / rel).parent.mkdir(parents=True, exist_ok=True)
        (weights / rel).write_bytes(data)
    link = weights / "gaussiantalker/data_utils/face_parsing/79999_iter.pth"
    link.parent.mkdir(parents=True)
    link.symlink_to(os.path.relpath(weights / "ernerf/data_utils/face_parsing/79999_iter.pth", link.parent))
    save_lock(
        str(weights),
        {
            "locked": LockRecord(
                path="eval/locked.bin",
                sha256=_sha(LOCKED),
                size=len(LOCKED),
                url="https://example.invalid/locked.bin",
                recorded="2026-11-22T00:00:00Z",
            )
        },
    )
    raw = {
        "version": 1,
        "entries": [
            entry(
                "face-parsing",
                "https://example.invalid/p.pth",
                "ernerf/data_utils/face_parsing/79999_iter.pth",
                images=["ernerf", "gaussiantalker"],
                **pinned(PARSING),
                links=[{"path": "gaussiantalker/data_utils/face_parsing/79999_iter.pth", "images": ["gaussiantalker"]}],
            ),
            entry(
                "exp-info",
                "https://example.invalid/e.npy",
                "ernerf/data_utils/face_tracking/3DMM/exp_info.npy",
                **pinned(HELPER),
            ),
            entry("locked", "https://example.invalid/locked.bin", "eval/locked.bin", images=["eval"]),
        ],
    }
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps(raw))
    return Site(root=root, weights=weights, manifest=manifest, dest=root / "target weights", out=root / "my bundle")


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return write_site(tmp_path)


@dataclass
class FakeDocker:
    """Images as byte strings: what docker save writes and docker load reads back, with every call recorded."""

    images: Dict[str, bytes] = field(default_factory=dict)
    ids: Dict[str, str] = field(default_factory=dict)
    calls: List[str] = field(default_factory=list)
    fail_save: str = ""

    def inspect(self, tag: str) -> ImageInfo | None:
        if tag not in self.ids:
            return None
        labels = {
            "io.talkingface.model": tag.split("/")[1].split(":")[0],
            "io.talkingface.line": "local",
            "io.talkingface.upstream.commit": "c0ffee",
            "org.opencontainers.image.revision": "abc1234",
        }
        return ImageInfo(tag=tag, id=self.ids[tag], labels=labels)

    def save(self, tag: str, dst: Path) -> None:
        self.calls.append(f"save {tag}")
        if tag == self.fail_save:
            raise KeyboardInterrupt  # the user pressed Ctrl-C in the middle of a long save
        from talkingface.bundle import zstd

        with zstd.compressing(dst) as pipe:
            pipe.write(tag.encode() + b"\n" + self.images[tag])

    def load(self, src: Path) -> str:
        from talkingface.bundle import zstd

        with zstd.decompressing(src) as pipe:
            tag, _, data = pipe.read().partition(b"\n")
        self.calls.append(f"load {tag.decode()}")
        self.images[tag.decode()] = data
        self.ids[tag.decode()] = "sha256:" + _sha(data)
        return f"Loaded image: {tag.decode()}"


@pytest.fixture
def fake_docker(monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    fake = FakeDocker()
    for name in ("ernerf", "eval"):
        tag = f"talkingface/{name}:9.9.9-local"
        fake.images[tag] = os.urandom(200_000)
        fake.ids[tag] = "sha256:" + _sha(fake.images[tag])
    monkeypatch.setattr(docker_images, "inspect", fake.inspect)
    monkeypatch.setattr(docker_images, "save", fake.save)
    monkeypatch.setattr(docker_images, "load", fake.load)
    monkeypatch.setattr(docker_images, "require_docker", lambda: None)
    return fake
