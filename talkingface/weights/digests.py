"""One read of a file gives every hash the manifest may check: sha256, sha1 and git's blob id."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

CHUNK = 1 << 20


@dataclass(frozen=True)
class Digests:
    size: int
    sha256: str
    sha1: str
    git_blob_sha1: str  # what `git hash-object` prints: published for files committed to a repository

    def value(self, check: str) -> str:
        return {"sha256_prefix": self.sha256, "sha1": self.sha1, "git_blob_sha1": self.git_blob_sha1}[check]


def digests_of(path: str) -> Digests:
    size = os.path.getsize(path)
    sha256, sha1 = hashlib.sha256(), hashlib.sha1()  # noqa: S324 - sha1 is what upstream and git publish
    blob = hashlib.sha1(f"blob {size}\0".encode())  # noqa: S324
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            sha256.update(chunk)
            sha1.update(chunk)
            blob.update(chunk)
    return Digests(size=size, sha256=sha256.hexdigest(), sha1=sha1.hexdigest(), git_blob_sha1=blob.hexdigest())


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Mismatch:
    """A file that is not what it must be: which hash, the file's value, the expected one and where that comes from."""

    what: str
    actual: str
    expected: str
    source: str

    def text(self) -> str:
        return f"{self.what} {self.actual}, expected {self.expected} ({self.source})"
