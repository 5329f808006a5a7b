"""``make bundle``: save the images and pack the weights into one folder, resumable, renamed into place at the end."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, TextIO

from ..core.atomic import replacing
from ..core.errors import TalkingfaceError
from ..core.progress import clock
from ..core.text import plural
from ..weights.lock import now_utc
from ..weights.manifest import Manifest
from . import docker_images, zstd
from .docker_images import COMMIT_LABEL, LINE_LABEL, MODEL_LABEL, REVISION_LABEL, ImageInfo
from .record import IMAGES_DIR, MANIFEST_COPY, RECORD_NAME, WEIGHTS_ARCHIVE, BundleRecord, ImageRecord, write_record
from .sums import hash_file, write_sums
from .weights_archive import check_source, wanted_paths, write_archive

PROGRESS_NAME = ".progress.json"


def archive_name(tag: str) -> str:
    return f"{IMAGES_DIR}/{tag.replace('/', '_').replace(':', '_')}.tar.zst"


def _image_record(info: ImageInfo) -> ImageRecord:
    labels = info.labels
    return ImageRecord(
        tag=info.tag,
        id=info.id,
        archive=archive_name(info.tag),
        model=labels.get(MODEL_LABEL, ""),
        line=labels.get(LINE_LABEL, ""),
        upstream_commit=labels.get(COMMIT_LABEL, ""),
        revision=labels.get(REVISION_LABEL, ""),
    )


def _check_target(out: Path) -> Path:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise TalkingfaceError(
            f"{out} already exists and is not empty, so nothing was written",
            fix="give another folder (make bundle BUNDLE=dir) or move that one away",
            exit_code=1,
        )
    return out.with_name(out.name + ".partial")


def _inspect_all(tags: Sequence[str]) -> List[ImageInfo]:
    docker_images.require_docker()
    infos = []
    for tag in tags:
        info = docker_images.inspect(tag)
        if info is None:
            raise TalkingfaceError(
                f"image {tag} does not exist, so no bundle was written",
                fix="build it first: make build LINE=<line> (make build-local for the local line)",
                exit_code=1,
            )
        infos.append(info)
    return infos


class _Progress:
    """Archives finished by an earlier, interrupted run, by image ID: a rerun saves only what is left."""

    def __init__(self, work: Path) -> None:
        self.path = work / PROGRESS_NAME
        self.done: Dict[str, Dict[str, str]] = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def kept(self, work: Path, archive: str, image_id: str) -> Optional[str]:
        item = self.done.get(archive)
        if item and item["id"] == image_id and (work / archive).is_file():
            return item["sha256"]
        return None

    def record(self, archive: str, image_id: str, sha256: str) -> None:
        self.done[archive] = {"id": image_id, "sha256": sha256}
        with replacing(self.path) as tmp:
            tmp.write_text(json.dumps(self.done, indent=1))


def make_bundle(
    *,
    out: Path,
    tags: Sequence[str],
    weights_dir: Optional[Path],
    manifest: Manifest,
    weights_for: Sequence[str],
    version: str,
    revision: str,
    stream: TextIO = sys.stdout,
) -> BundleRecord:
    zstd.require()
    work = _check_target(out)
    infos = _inspect_all(tags) if tags else []
    if weights_dir is not None:
        print(f"checking the weights in {weights_dir} against the manifest", file=stream, flush=True)
        check_source(manifest, weights_dir, weights_for)
    (work / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    progress, known = _Progress(work), {}
    images = []
    for number, info in enumerate(infos, 1):
        image = _image_record(info)
        images.append(image)
        kept = progress.kept(work, image.archive, image.id)
        if kept:
            print(f"[{number}/{len(infos)}] {image.tag}: kept from the interrupted run", file=stream, flush=True)
            known[image.archive] = kept
            continue
        print(f"[{number}/{len(infos)}] saving {image.tag} ({image.id[:19]})", file=stream, flush=True)
        started = time.monotonic()
        with replacing(work / image.archive) as tmp:
            docker_images.save(image.tag, tmp)
        known[image.archive] = hash_file(work / image.archive, label=image.archive, out=stream)
        progress.record(image.archive, image.id, known[image.archive])
        size = (work / image.archive).stat().st_size / 1e9
        print(f"  {image.archive}: {size:.2f} GB in {clock(time.monotonic() - started)}", file=stream, flush=True)
    weights = None
    if weights_dir is not None:
        paths = wanted_paths(manifest, weights_dir, weights_for)
        print(f"packing {plural(len(paths), 'weight file')} into {WEIGHTS_ARCHIVE}", file=stream, flush=True)
        with replacing(work / WEIGHTS_ARCHIVE) as tmp:
            weights = write_archive(weights_dir, paths, tmp, images=weights_for)
        with replacing(work / MANIFEST_COPY) as tmp:
            shutil.copyfile(manifest.path, tmp)
    record = BundleRecord(created=now_utc(), version=version, revision=revision, images=tuple(images), weights=weights)
    write_record(work, record)
    write_sums(work, [RECORD_NAME, *record.archives()], known)
    (work / PROGRESS_NAME).unlink(missing_ok=True)
    if out.exists():
        _move_into(work, out)
    else:
        work.rename(out)
    print(
        f"wrote {out}: {plural(len(images), 'image')}, {plural(len(weights.files) if weights else 0, 'weight file')}; "
        f"carry the whole folder, then: make load BUNDLE={out}",
        file=stream,
    )
    return record


def _move_into(work: Path, out: Path) -> None:
    """``out`` exists but is empty (e.g. a mount point): move the finished contents in, then drop ``work``."""
    for child in work.iterdir():
        child.rename(out / child.name)
    work.rmdir()
