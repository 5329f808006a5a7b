"""``make load``: check everything in a bundle first, then load the images and put the weights in place."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, TextIO

from ..core.errors import TalkingfaceError
from ..core.text import plural
from ..weights.lock import load_lock
from ..weights.manifest import load_manifest
from ..weights.verify import verify
from . import docker_images, zstd
from .record import MANIFEST_COPY, RECORD_NAME, SUMS_NAME, BundleRecord, parse_record
from .sums import check_sums, read_sums
from .weights_archive import Install, extract_archive, plan_install, scan_archive

COPY_AGAIN = "copy the whole bundle folder again from the machine that made it, then run 'make load' again"


@dataclass(frozen=True)
class Checked:
    record: BundleRecord
    install: Optional[Install]


def _refuse(folder: Path, problems: List[str], fix: str = COPY_AGAIN) -> TalkingfaceError:
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    return TalkingfaceError(f"bundle {folder} failed its checks ({shown}); nothing was loaded", fix=fix, exit_code=1)


def require_folder(folder: Path) -> None:
    """A bundle folder that is not there is named as such, with the bundles that are there beside it.

    make's default BUNDLE is dist/<LINE>, and LINE defaults to cu113: 'make verify-bundle' after 'make bundle
    LINE=cu118' looked for dist/cu113 and reported its SHA256SUMS missing, as if a bundle there were damaged.
    """
    if folder.is_dir():
        return
    where = folder.resolve()
    parent = where.parent
    found = sorted(str(p.parent) for p in parent.glob(f"*/{SUMS_NAME}")) if parent.is_dir() else []
    beside = f"; bundles in {parent}: {', '.join(found)}" if found else ""
    use = (
        f"pass one with BUNDLE=<folder> (e.g. make verify-bundle BUNDLE={found[0]})"
        if found
        else ("pass the bundle you have with BUNDLE=<folder>")
    )
    raise TalkingfaceError(
        f"no bundle folder at {where}{beside}",
        fix=f"{use}, or write one there with 'make bundle' (LINE=cu113|cu118 picks dist/<LINE>)",
        exit_code=1,
    )


def check_bundle(folder: Path, *, weights_dest: Path, stream: TextIO = sys.stdout) -> Checked:
    """Every check, reading only: checksums, archives whole, weights member by member, no clash at the target."""
    require_folder(folder)
    zstd.require()
    sums = read_sums(folder)
    if RECORD_NAME not in sums:
        raise _refuse(folder, [f"SHA256SUMS does not cover {RECORD_NAME}"])
    problems = check_sums(folder, sums, out=stream)
    if problems:
        raise _refuse(folder, problems)
    record = parse_record((folder / RECORD_NAME).read_text(encoding="utf-8"), str(folder / RECORD_NAME))
    unlisted = [name for name in record.archives() if name not in sums]
    if unlisted:
        raise _refuse(folder, [f"{name} is not in SHA256SUMS" for name in unlisted])
    if record.images:
        docker_images.require_docker()
    for image in record.images:
        print(f"testing {image.archive}", file=stream, flush=True)
        zstd.check_frames(folder / image.archive)
    install = None
    if record.weights is not None:
        print(f"checking each file in {record.weights.archive}", file=stream, flush=True)
        problems = scan_archive(folder / record.weights.archive, record.weights)
        if problems:
            raise _refuse(folder, problems)
        install = plan_install(weights_dest, record.weights)
        if install.conflicts:
            raise _refuse(
                folder,
                list(install.conflicts),
                fix=f"load into another folder (make load WEIGHTS=dir) or move those files away; "
                f"nothing in {weights_dest} was changed",
            )
    return Checked(record=record, install=install)


def load_bundle(folder: Path, *, weights_dest: Path, stream: TextIO = sys.stdout) -> BundleRecord:
    checked = check_bundle(folder, weights_dest=weights_dest, stream=stream)
    record = checked.record
    for number, image in enumerate(record.images, 1):
        before = docker_images.inspect(image.tag)
        print(f"[{number}/{len(record.images)}] loading {image.tag}", file=stream, flush=True)
        docker_images.load(folder / image.archive)
        loaded = docker_images.inspect(image.tag)
        if loaded is None or loaded.id != image.id:
            raise TalkingfaceError(
                f"{image.tag} loaded as {loaded.id if loaded else 'nothing'}, the bundle recorded {image.id}",
                fix=COPY_AGAIN,
                exit_code=1,
            )
        if before is not None and before.id != image.id:
            print(f"  {image.tag} pointed at {before.id[:19]} before; it now names the bundle's image", file=stream)
    if record.weights is not None and checked.install is not None:
        written = extract_archive(folder / record.weights.archive, weights_dest, record.weights, checked.install)
        manifest = load_manifest(folder / MANIFEST_COPY)
        failed = [
            f
            for f in verify(manifest, str(weights_dest), load_lock(str(weights_dest)), record.weights.images)
            if f.failed
        ]
        if failed:
            raise TalkingfaceError(
                f"failing verification after loading into {weights_dest}: {plural(len(failed), 'weight file')} "
                f"(first: {failed[0].path} {failed[0].state})",
                fix=f"run 'make verify-weights WEIGHTS={weights_dest}' for every row",
                exit_code=1,
            )
        print(
            f"weights: {plural(written, 'file')} written, {len(checked.install.skip)} already in place, all verified "
            f"in {weights_dest}",
            file=stream,
        )
    print(
        f"loaded {plural(len(record.images), 'image')} from {folder} (talkingface {record.version}, {record.revision})",
        file=stream,
    )
    return record
