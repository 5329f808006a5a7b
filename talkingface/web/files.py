"""What the browser may name: files under the inputs folder and results in the workspace, never a path outside them.

Uploads are written under a temporary name, checked (size while copying, then ffprobe for the streams they must
have), and renamed to a name that exists nowhere yet: nothing half-written or unchecked stays, and no user file is
replaced.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, List, Optional, Tuple

from ..core.names import safe_stem
from .errors import WebError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
AUDIO_SUFFIXES = (".wav", ".mp3", ".m4a", ".ogg", ".flac", ".webm", ".opus", ".aac")
CHUNK = 1 << 20


def inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def resolve_under(root: Path, name: str, *, what: str) -> Path:
    """``name`` relative to ``root``, with every link followed; anything that lands outside ``root`` is refused."""
    if not name or "\x00" in name or os.path.isabs(name):
        raise WebError(
            f"the {what} {name!r} is not a name inside the allowed folder",
            fix="pick a file from the list (names are relative to the inputs folder)",
        )
    real_root = root.resolve()
    path = (real_root / name).resolve()
    if not inside(path, real_root):
        raise WebError(
            f"the {what} {name!r} is outside the allowed folder {real_root}",
            fix="pick a file from the list, or upload it",
            status=403,
        )
    if not path.is_file():
        raise WebError(f"the {what} {name!r} does not exist in {real_root}", fix="pick a file from the list")
    return path


def owner_dir(session: str) -> str:
    return f"uploads/{session[:16]}"


def visible(root: Path, name: str, session: str) -> bool:
    """Shared files (outside uploads/) are everyone's; an upload is its uploader's only."""
    parts = Path(name).parts
    return not parts or parts[0] != "uploads" or name.startswith(owner_dir(session) + "/")


def pick(root: Path, name: str, session: str, *, what: str) -> Path:
    path = resolve_under(root, name, what=what)
    rel = str(path.relative_to(root.resolve()))
    if not visible(root, rel, session):
        raise WebError(f"the {what} {name!r} belongs to another user", fix="upload your own file", status=403)
    return path


def listing(root: Path, session: str, suffixes: Tuple[str, ...]) -> List[str]:
    """Files the page offers: shared inputs, and this session's own uploads."""
    if not root.is_dir():
        return []
    names = []
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if (
            path.is_file()
            and path.suffix.lower() in suffixes
            and not path.name.startswith(".")
            and visible(root, rel, session)
        ):
            names.append(rel)
    return names


@dataclass(frozen=True)
class Streams:
    video: bool
    audio: bool
    duration: Optional[float]


def probe(path: Path) -> Streams:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type:format=duration", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        return Streams(video=False, audio=False, duration=None)
    info = json.loads(done.stdout or "{}")
    kinds = {s.get("codec_type") for s in info.get("streams", [])}
    try:
        duration: Optional[float] = float(info.get("format", {}).get("duration"))
    except (TypeError, ValueError):
        duration = None
    return Streams(video="video" in kinds, audio="audio" in kinds, duration=duration)


def unique(folder: Path, stem: str, suffix: str) -> Path:
    path = folder / f"{stem}{suffix}"
    while path.exists():
        path = folder / f"{stem}-{secrets.token_hex(3)}{suffix}"
    return path


class Upload:
    """An upload held under a temporary name until ``keep`` renames it; ``discard`` (or an error) removes it."""

    def __init__(self, folder: Path, filename: str, *, kind: str) -> None:
        suffixes = VIDEO_SUFFIXES if kind == "video" else AUDIO_SUFFIXES
        suffix = Path(filename or "").suffix.lower()
        if suffix not in suffixes:
            raise WebError(
                f"{filename or 'the upload'!r} is not a{'n' if kind == 'audio' else ''} {kind} file "
                f"(its name ends in {suffix or 'nothing'})",
                fix=f"upload a {kind} file: {', '.join(suffixes)}",
                status=415,
            )
        self.folder = folder
        self.kind = kind
        self.stem = safe_stem(Path(filename).stem, kind=kind)
        self.suffix = suffix
        folder.mkdir(parents=True, exist_ok=True)
        self.tmp = folder / f".{self.stem}.partial-{secrets.token_hex(4)}{suffix}"
        self.streams: Optional[Streams] = None

    def write(self, source: BinaryIO, *, limit: int) -> None:
        size = 0
        try:
            with open(self.tmp, "xb") as out:
                for block in iter(lambda: source.read(CHUNK), b""):
                    size += len(block)
                    if size > limit:
                        raise WebError(
                            f"the upload is over the limit of {limit // (1024 * 1024)} MB",
                            fix="upload a shorter or smaller file, or start the site with a larger --max_upload_mb",
                            status=413,
                        )
                    out.write(block)
            streams = probe(self.tmp)
            if not (streams.video if self.kind == "video" else streams.audio):
                raise WebError(
                    f"the upload is not a {self.kind} (ffprobe finds no {self.kind} stream in it)",
                    fix=f"upload a {self.kind} file ffmpeg can read",
                    status=415,
                )
            self.streams = streams
        except BaseException:
            self.discard()
            raise

    def keep(self, stem: Optional[str] = None) -> Path:
        final = unique(self.folder, stem or self.stem, self.suffix)
        os.link(self.tmp, final)  # fails rather than replace a file that appeared meanwhile
        self.tmp.unlink()
        return final

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)
