"""bundle.json: what a bundle holds, written last by ``make bundle`` and read first by ``make load``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from ..core.atomic import replacing
from ..core.errors import TalkingfaceError

FORMAT = 1
RECORD_NAME = "bundle.json"
SUMS_NAME = "SHA256SUMS"
WEIGHTS_ARCHIVE = "weights.tar.zst"
MANIFEST_COPY = "weights_manifest.json"
IMAGES_DIR = "images"


@dataclass(frozen=True)
class ImageRecord:
    tag: str
    id: str
    archive: str  # relative to the bundle
    model: str
    line: str
    upstream_commit: str
    revision: str


@dataclass(frozen=True)
class WeightsRecord:
    archive: str
    images: Tuple[str, ...]  # the images whose weights it holds
    files: Tuple[Tuple[str, int, str], ...]  # relative path, size, sha256
    links: Tuple[Tuple[str, str], ...]  # relative path, symlink target
    lock: Mapping[str, Any]  # weights.lock.json's entries, merged into the target's lock on load

    def file_map(self) -> Dict[str, Tuple[int, str]]:
        return {path: (size, sha) for path, size, sha in self.files}


@dataclass(frozen=True)
class BundleRecord:
    created: str
    version: str
    revision: str
    images: Tuple[ImageRecord, ...]
    weights: Optional[WeightsRecord]

    def archives(self) -> Tuple[str, ...]:
        names = [image.archive for image in self.images]
        if self.weights is not None:
            names += [self.weights.archive, MANIFEST_COPY]
        return tuple(names)


def to_json(record: BundleRecord) -> str:
    weights = None
    if record.weights is not None:
        w = record.weights
        weights = {
            "archive": w.archive,
            "images": list(w.images),
            "files": {path: {"size": size, "sha256": sha} for path, size, sha in w.files},
            "links": dict(w.links),
            "lock": dict(w.lock),
        }
    raw = {
        "comment": "Written by 'make bundle'; 'make load BUNDLE=<this folder>' checks SHA256SUMS, then this, "
        "before loading anything (docs/offline.md).",
        "format": FORMAT,
        "created": record.created,
        "talkingface": {"version": record.version, "revision": record.revision},
        "images": [image.__dict__ for image in record.images],
        "weights": weights,
    }
    return json.dumps(raw, indent=2) + "\n"


def write_record(folder: Path, record: BundleRecord) -> None:
    with replacing(folder / RECORD_NAME) as tmp:
        tmp.write_text(to_json(record), encoding="utf-8")


def _safe_relative(path: str, where: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or ".." in parts or "" in parts:
        raise ValueError(f"{where}: {path!r} is not a relative path inside the bundle")
    return path


def parse_record(text: str, where: str) -> BundleRecord:
    try:
        raw = json.loads(text)
        if raw.get("format") != FORMAT:
            raise ValueError(f"format {raw.get('format')!r}, this talkingface reads format {FORMAT}")
        images = tuple(
            ImageRecord(**{k: str(item[k]) for k in ImageRecord.__dataclass_fields__}) for item in raw["images"]
        )
        for image in images:
            _safe_relative(image.archive, where)
        weights = None
        if raw["weights"] is not None:
            w = raw["weights"]
            weights = WeightsRecord(
                archive=_safe_relative(str(w["archive"]), where),
                images=tuple(str(name) for name in w["images"]),
                files=tuple(
                    (_safe_relative(path, where), int(item["size"]), str(item["sha256"]))
                    for path, item in sorted(w["files"].items())
                ),
                links=tuple((_safe_relative(path, where), str(target)) for path, target in sorted(w["links"].items())),
                lock=dict(w["lock"]),
            )
        return BundleRecord(
            created=str(raw["created"]),
            version=str(raw["talkingface"]["version"]),
            revision=str(raw["talkingface"]["revision"]),
            images=images,
            weights=weights,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TalkingfaceError(
            f"{where} is not a bundle record: {type(exc).__name__}: {exc}",
            fix="copy the whole bundle folder again from the machine that made it",
            exit_code=1,
        ) from exc
