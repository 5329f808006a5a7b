"""``make weights``: download what is missing, verify it, and only then give it its final name.

Each file is downloaded to ``<dest>.partial`` (an archive to ``<dest>.<ext>.partial``), checked against the
manifest's published hashes or the lock, and renamed onto ``dest``; a mismatch deletes the partial file. Files
whose sha256 is not published are recorded in the lock at their first download.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, TextIO, Tuple

from ..core.atomic import replacing
from ..core.errors import TalkingfaceError
from ..core.text import plural
from .digests import Digests, Mismatch, digests_of, sha256_of
from .download import Options, download, mb
from .lock import LOCK_NAME, LockRecord, load_lock, now_utc, save_lock
from .manifest import Entry, Manifest, Unpack
from .verify import content_problem, lock_source, mismatch_error


@dataclass(frozen=True)
class Context:
    """One run of fetch; ``lock`` is updated in place and saved after each new record."""

    root: str
    images: Tuple[str, ...]
    options: Options = field(default_factory=Options)
    out: TextIO = sys.stdout
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.monotonic
    lock: Dict[str, LockRecord] = field(default_factory=dict)

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def record(self, entry: Entry, record: LockRecord) -> None:
        self.lock[entry.id] = record
        save_lock(self.root, self.lock)


def _archive_path(dest: str, unpack: Unpack) -> str:
    return f"{dest}.{unpack.format}.partial"


def _refuse(path: str, url: str, problem: str) -> TalkingfaceError:
    return TalkingfaceError(
        f"checksum mismatch for {path} (downloaded from {url}): {problem}",
        fix="nothing was kept under that name; run 'make weights' again, and if the same sha256 comes back the file "
        "at the source has changed: report it",
        exit_code=1,
    )


def _fetch_to(entry: Entry, partial: str, ctx: Context) -> str:
    started = ctx.now()
    url = download(entry.urls, partial, label=entry.id, options=ctx.options, out=ctx.out, sleep=ctx.sleep, now=ctx.now)
    print(f"  {entry.id}: {mb(os.path.getsize(partial))} in {ctx.now() - started:.0f} s from {url}", file=ctx.out)
    return url


def _check_archive(entry: Entry, unpack: Unpack, archive: str, url: str, ctx: Context) -> str:
    """The archive's sha256, once it matches the published one or the lock's (a folder's lock holds its archive's)."""
    sha = sha256_of(archive)
    record = ctx.lock.get(entry.id)
    expected: Optional[Tuple[str, str]] = None
    if unpack.sha256:
        expected = (unpack.sha256, entry.sha256_source if entry.pinned else "the manifest")
    elif entry.is_dir and record and record.sha256:
        expected = (record.sha256, lock_source(record))
    if expected and sha != expected[0]:
        os.remove(archive)
        raise _refuse(archive, url, f"sha256 {sha}, expected {expected[0]} ({expected[1]})")
    return sha


def _safe_member(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return not name.startswith("/") and ".." not in parts


def _extract_member(unpack: Unpack, member: str, archive: str, out_path: str) -> None:
    try:
        if unpack.format == "zip":
            with zipfile.ZipFile(archive) as zf, zf.open(member) as src, open(out_path, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        else:
            with tarfile.open(archive, "r:gz") as tar:
                src = tar.extractfile(member)
                if src is None:
                    raise KeyError(member)
                with src, open(out_path, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except (KeyError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        os.remove(archive)
        raise TalkingfaceError(
            f"{archive} has no readable {member}: {exc}", fix="it was deleted: run 'make weights' again"
        ) from exc


def _extract_dir(entry: Entry, archive: str, out_dir: str) -> None:
    """The whole zip into ``out_dir``; a single top folder named like the destination is dropped (lrs3.zip: lrs3/)."""
    top = os.path.basename(entry.dest) + "/"
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [info for info in zf.infolist() if not info.is_dir()]
            strip = bool(names) and all(info.filename.startswith(top) for info in names)
            for info in names:
                rel = info.filename[len(top) :] if strip else info.filename
                if not _safe_member(rel):
                    raise zipfile.BadZipFile(f"unsafe member name {info.filename!r}")
                target = os.path.join(out_dir, rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        os.remove(archive)
        raise TalkingfaceError(
            f"cannot unpack {archive}: {exc}", fix="it was deleted: run 'make weights' again"
        ) from exc


def _tree(folder: str) -> Tuple[Tuple[str, str], ...]:
    files = []
    for base, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(base, name)
            files.append((os.path.relpath(path, folder).replace(os.sep, "/"), sha256_of(path)))
    return tuple(sorted(files))


def _fetch_dir(entry: Entry, unpack: Unpack, ctx: Context) -> str:
    dest = ctx.path(entry.dest)
    record = ctx.lock.get(entry.id)
    if os.path.isdir(dest):
        absent = [name for name in entry.contains if not os.path.isfile(os.path.join(dest, name))]
        if absent:
            raise TalkingfaceError(f"{dest} lacks {', '.join(absent)}", fix=f"delete {dest} and run 'make weights'")
        if record is None:
            tree = _tree(dest)
            ctx.record(entry, LockRecord(entry.dest, None, None, entry.url, now_utc(), tree))
            return f"recorded {plural(len(tree), 'file')} already there in {LOCK_NAME} (trust on first use)"
        for name, sha in record.files:
            path = os.path.join(dest, name)
            actual = sha256_of(path) if os.path.isfile(path) else "(missing)"
            if actual != sha:
                raise mismatch_error(path, Mismatch("sha256", actual, sha, lock_source(record)))
        return f"ok, {plural(len(record.files), 'file')} as recorded"
    archive = _archive_path(dest, unpack)
    url = _fetch_to(entry, archive, ctx)
    sha = _check_archive(entry, unpack, archive, url, ctx)
    unpacked = dest + ".partial"
    shutil.rmtree(unpacked, ignore_errors=True)
    _extract_dir(entry, archive, unpacked)
    absent = [name for name in entry.contains if not os.path.isfile(os.path.join(unpacked, name))]
    if absent:
        shutil.rmtree(unpacked)
        os.remove(archive)
        raise TalkingfaceError(
            f"{url} unpacked without {', '.join(absent)}, which upstream reads",
            fix="the release changed: report it (the manifest's 'contains' needs updating)",
        )
    tree = _tree(unpacked)
    if record and record.files and tree != record.files:
        shutil.rmtree(unpacked)
        os.remove(archive)
        changed = sorted(set(tree) ^ set(record.files))[0]
        raise _refuse(dest, url, f"{changed[0]} is not as {lock_source(record)} ({plural(len(tree), 'file')} unpacked)")
    size = os.path.getsize(archive)
    os.replace(unpacked, dest)
    os.remove(archive)
    if record is None or record.sha256 is None:
        ctx.record(entry, LockRecord(entry.dest, sha, size, url, now_utc(), tree))
    return f"unpacked {plural(len(tree), 'file')}"


def ensure_link(entry: Entry, link: str, ctx: Context, sha256: str) -> None:
    """``link`` as a relative symlink to dest, which resolves inside the read-only mount too; else a copy."""
    path, dest = ctx.path(link), ctx.path(entry.dest)
    target = os.path.relpath(dest, os.path.dirname(path))
    if os.path.islink(path) and os.readlink(path) == target:
        return
    if os.path.isfile(path) and not os.path.islink(path):
        actual = sha256_of(path)
        if actual != sha256:
            raise mismatch_error(path, Mismatch("sha256", actual, sha256, f"that of {entry.dest}"))
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.partial-link")
    if os.path.lexists(tmp):
        os.remove(tmp)
    try:
        os.symlink(target, tmp)
        os.replace(tmp, path)
    except OSError:  # no symlinks on this filesystem
        with replacing(path) as copy:
            shutil.copyfile(dest, copy)


def ensure_generated(entry: Entry, ctx: Context) -> None:
    for rel, content in entry.generated():
        path = ctx.path(rel)
        try:
            with open(path, encoding="utf-8") as fh:
                if fh.read().strip() == content:
                    continue
        except OSError:
            pass
        with replacing(path) as tmp:
            tmp.write_text(content, encoding="utf-8")


def _accept(entry: Entry, digests: Digests, url: str, ctx: Context) -> str:
    """Record an unpinned file in the lock the first time it is seen whole; pinned files need no record."""
    if entry.pinned or (entry.id in ctx.lock and ctx.lock[entry.id].sha256):
        return "ok"
    ctx.record(entry, LockRecord(entry.dest, digests.sha256, digests.size, url, now_utc()))
    return f"recorded sha256 {digests.sha256} in {LOCK_NAME}"


def _finish(entry: Entry, ctx: Context, sha256: str) -> None:
    for link in entry.links_for(ctx.images):
        ensure_link(entry, link.path, ctx, sha256)
    ensure_generated(entry, ctx)


def fetch_entry(entry: Entry, ctx: Context) -> str:
    """Make ``entry`` present and verified; returns what was done. Raises TalkingfaceError naming the fix."""
    if entry.unpack is not None and entry.unpack.member is None:
        return _fetch_dir(entry, entry.unpack, ctx)
    dest = ctx.path(entry.dest)
    record = ctx.lock.get(entry.id)
    if os.path.isfile(dest):
        digests = digests_of(dest)
        mismatch = content_problem(entry, digests, record)
        if mismatch:
            raise mismatch_error(dest, mismatch)
        done = _accept(entry, digests, entry.url, ctx)
        _finish(entry, ctx, digests.sha256)
        return done if done != "ok" else "ok, already there"
    if entry.manual:
        raise TalkingfaceError(
            f"{entry.title} is missing: {dest}",
            fix=f"download it by hand from {entry.url} (no direct link: a browser is needed), save it as {dest}, "
            "then run 'make weights' again, which records its sha256",
            exit_code=1,
        )
    partial = dest + ".partial"
    if entry.unpack is not None and entry.unpack.member is not None:
        archive = _archive_path(dest, entry.unpack)
        url = _fetch_to(entry, archive, ctx)
        _check_archive(entry, entry.unpack, archive, url, ctx)
        _extract_member(entry.unpack, entry.unpack.member, archive, partial)
        os.remove(archive)
    else:
        url = _fetch_to(entry, partial, ctx)
    digests = digests_of(partial)
    mismatch = content_problem(entry, digests, record)
    if mismatch:
        os.remove(partial)
        raise _refuse(dest, url, mismatch.text())
    os.replace(partial, dest)
    done = _accept(entry, digests, url, ctx)
    _finish(entry, ctx, digests.sha256)
    return "downloaded, verified" + ("" if done == "ok" else f", {done}")


def fetch_all(
    manifest: Manifest,
    weights_dir: str,
    images: Optional[Sequence[str]] = None,
    *,
    options: Optional[Options] = None,
    out: Optional[TextIO] = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.monotonic,
) -> List[TalkingfaceError]:
    """Fetch every entry ``images`` needs, going on past failures; returns them (each printed as one line)."""
    chosen = tuple(images) if images is not None else tuple(sorted({i for e in manifest.entries for i in e.images}))
    os.makedirs(weights_dir, exist_ok=True)
    ctx = Context(
        root=weights_dir,
        images=chosen,
        options=options or Options(),
        out=out if out is not None else sys.stdout,
        sleep=sleep,
        now=now,
        lock=load_lock(weights_dir),
    )
    errors = sys.stderr if out is None else ctx.out
    entries = manifest.select(images)
    failures: List[TalkingfaceError] = []
    for number, entry in enumerate(entries, 1):
        print(f"[{number}/{len(entries)}] {entry.id}: {entry.dest}", file=ctx.out, flush=True)
        try:
            print(f"  {entry.id}: {fetch_entry(entry, ctx)}", file=ctx.out, flush=True)
        except TalkingfaceError as exc:
            print(exc.one_line(), file=errors, flush=True)
            failures.append(exc)
        except OSError as exc:  # a read-only or full weights folder: the same for every entry, so stop here
            failure = TalkingfaceError(
                f"cannot write {entry.dest} into {weights_dir}: {exc}",
                fix=f"make {weights_dir} writable and give it space (the images mount it read-only, not this step)",
                exit_code=1,
            )
            print(failure.one_line(), file=errors, flush=True)
            return [*failures, failure]
    return failures
