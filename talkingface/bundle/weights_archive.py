"""The weights folder as one tar.zst: written with every file's sha256, checked member by member before extraction."""

from __future__ import annotations

import hashlib
import os
import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Dict, List, Optional, Sequence, Set, Tuple

from ..core.errors import TalkingfaceError
from ..core.text import plural
from ..weights.digests import sha256_of
from ..weights.lock import LockRecord, entries_json, load_lock, parse_entries, save_lock
from ..weights.manifest import Manifest
from ..weights.verify import verify
from . import zstd
from .record import WEIGHTS_ARCHIVE, WeightsRecord

CHUNK = 1 << 20


class _Hashing:
    """A reader that hashes what tarfile copies, so each file is read once."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        return data


def wanted_paths(manifest: Manifest, weights_dir: Path, images: Sequence[str]) -> List[str]:
    """Every path the images read under the weights folder; a folder entry brings all it holds, not only the
    files the manifest names."""
    paths = set(manifest.paths(images))
    for entry in manifest.select(images):
        if entry.is_dir:
            root = weights_dir / entry.dest
            for dirpath, _, names in os.walk(root):
                rel = Path(dirpath).relative_to(weights_dir).as_posix()
                paths.update(posixpath.join(rel, name) for name in names)
    return sorted(paths)


def check_source(manifest: Manifest, weights_dir: Path, images: Sequence[str]) -> None:
    """The same checks as ``make verify-weights``: a bundle never carries a file that failed them."""
    if not weights_dir.is_dir():
        raise TalkingfaceError(
            f"the weights folder {weights_dir} does not exist",
            fix=f"run 'make weights WEIGHTS={weights_dir}' first, or leave weights out with 'make save'",
            exit_code=1,
        )
    failed = [f for f in verify(manifest, str(weights_dir), load_lock(str(weights_dir)), images) if f.failed]
    if failed:
        shown = "; ".join(f"{f.path} {f.state}" for f in failed[:3]) + (" ..." if len(failed) > 3 else "")
        raise TalkingfaceError(
            f"not ready in {weights_dir}: {plural(len(failed), 'weight file')} ({shown}), so no bundle was written",
            fix=f"run 'make weights WEIGHTS={weights_dir} WEIGHTS_FOR={','.join(images)}', then "
            "'make verify-weights' to see every row",
            exit_code=1,
        )


def write_archive(weights_dir: Path, paths: Sequence[str], dst: Path, *, images: Sequence[str]) -> WeightsRecord:
    files: List[Tuple[str, int, str]] = []
    links: List[Tuple[str, str]] = []
    with zstd.compressing(dst) as pipe, tarfile.open(fileobj=pipe, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for rel in paths:
            path = weights_dir / rel
            info = tarfile.TarInfo(rel)
            info.mtime = int(path.lstat().st_mtime)
            if path.is_symlink():
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, os.readlink(path), 0o777
                tar.addfile(info)
                links.append((rel, info.linkname))
                continue
            info.size, info.mode = path.stat().st_size, 0o644
            with open(path, "rb") as fh:
                reader = _Hashing(fh)
                tar.addfile(info, reader)  # type: ignore[arg-type]
            files.append((rel, info.size, reader.digest.hexdigest()))
    lock = entries_json(load_lock(str(weights_dir)))
    return WeightsRecord(
        archive=WEIGHTS_ARCHIVE, images=tuple(images), files=tuple(files), links=tuple(links), lock=lock
    )


def _member_problem(
    member: tarfile.TarInfo, tar: tarfile.TarFile, files: Dict[str, Tuple[int, str]], links: Dict[str, str]
) -> Optional[str]:
    name = member.name
    if member.issym():
        inside = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
        if member.linkname.startswith("/") or inside.startswith(".."):
            return f"{name} is a link that points outside the weights folder"
        if links.get(name) != member.linkname:
            return f"{name} is a link the bundle record does not list"
        return None
    if not member.isfile() or name not in files:
        return f"{name} is not a file the bundle record lists"
    size, sha = files[name]
    fh = tar.extractfile(member)
    digest = hashlib.sha256()
    for chunk in iter(lambda: fh.read(CHUNK), b""):  # type: ignore[union-attr]
        digest.update(chunk)
    if member.size != size or digest.hexdigest() != sha:
        return f"{name} has sha256 {digest.hexdigest()}, the bundle record says {sha}"
    return None


def scan_archive(src: Path, record: WeightsRecord) -> List[str]:
    """Read the whole archive and compare each member with the record: what is extracted later was checked."""
    files, links = record.file_map(), dict(record.links)
    problems: List[str] = []
    seen: Set[str] = set()
    try:
        with zstd.decompressing(src) as pipe, tarfile.open(fileobj=pipe, mode="r|") as tar:
            for member in tar:
                seen.add(member.name)
                problem = _member_problem(member, tar, files, links)
                if problem:
                    problems.append(problem)
    except (tarfile.TarError, TalkingfaceError) as exc:
        problems.append(f"{src.name} can't be read whole: {getattr(exc, 'problem', exc)}")
    problems += [f"{name} is listed but not in {src.name}" for name in sorted({*files, *links} - seen)]
    return problems


@dataclass(frozen=True)
class Install:
    """What loading the weights will do to the target folder, worked out before anything is loaded."""

    skip: frozenset  # paths already there with the same content
    conflicts: Tuple[str, ...]
    lock: Dict[str, LockRecord]


def plan_install(dest: Path, record: WeightsRecord) -> Install:
    skip, conflicts, files = set(), [], record.file_map()
    for rel, _, sha in record.files:
        path = dest / rel
        if path.is_symlink() or path.exists():
            if path.is_file() and sha256_of(str(path)) == sha:
                skip.add(rel)
            else:
                conflicts.append(f"{path} exists with other content")
    for rel, target in record.links:
        path = dest / rel
        if path.is_symlink() and os.readlink(path) == target:
            skip.add(rel)
        elif path.is_symlink() or path.exists():
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
            if path.is_file() and files.get(resolved, (0, ""))[1] == sha256_of(str(path)):
                skip.add(rel)  # a copy where the filesystem had no symlinks
            else:
                conflicts.append(f"{path} exists and is not the link the bundle holds")
    lock = load_lock(str(dest)) if dest.is_dir() else {}
    for entry_id, incoming in parse_entries(record.lock).items():
        mine = lock.get(entry_id)
        if mine is not None and mine.sha256 != incoming.sha256:
            conflicts.append(
                f"{dest}/weights.lock.json records {entry_id} as {mine.sha256}, the bundle {incoming.sha256}"
            )
        lock[entry_id] = mine or incoming
    return Install(skip=frozenset(skip), conflicts=tuple(conflicts), lock=lock)


def _place(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, expected: Optional[str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        if member.issym():
            os.symlink(member.linkname, tmp)
        else:
            digest = hashlib.sha256()
            with tar.extractfile(member) as src, open(tmp, "wb") as out:  # type: ignore[union-attr]
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != expected:
                raise TalkingfaceError(
                    f"{member.name} changed in the archive while it was being loaded",
                    fix="copy the bundle again and run 'make load' again",
                    exit_code=1,
                )
            os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()


def extract_archive(src: Path, dest: Path, record: WeightsRecord, install: Install) -> int:
    """Put each member in place under a temporary name, then rename; returns how many were written."""
    files, written = record.file_map(), 0
    dest.mkdir(parents=True, exist_ok=True)
    with zstd.decompressing(src) as pipe, tarfile.open(fileobj=pipe, mode="r|") as tar:
        for member in tar:
            if member.name in install.skip:
                continue
            _place(tar, member, dest / member.name, files.get(member.name, (0, None))[1])
            written += 1
    save_lock(str(dest), install.lock)
    return written
