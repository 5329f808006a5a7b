"""The weights manifest: load it, check its schema, and answer which paths each image needs."""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..adapters import ADAPTERS
from ..core.errors import TalkingfaceError

MANIFEST_FILE = Path(__file__).resolve().parents[1] / "weights_manifest.json"
IMAGES = (*ADAPTERS, "eval", "web")
# What "every image" means when none is named (make weights, verify-weights, bundle). "web" holds the TTS service's
# optional Piper voices: they are fetched, checked and bundled only when named (WEIGHTS_FOR=web), so that a site
# without them still verifies clean.
DEFAULT_IMAGES = (*ADAPTERS, "eval")
LOCK_SOURCE = "lock"
HUB_PREFIX_SOURCE = "torch hub filename prefix"
# Published hashes other than a full sha256, each checked whenever the file is.
CHECKS = ("sha256_prefix", "sha1", "git_blob_sha1")
ARCHIVE_FORMATS = ("zip", "tar.gz")
# transformers resolves a model offline through refs/main -> snapshots/<commit>/<file>.
HF_SNAPSHOT = re.compile(r"^(cache/huggingface/hub/models--[^/]+--[^/]+)/snapshots/([0-9a-f]{40})/")
# Without it, transformers (4.22+) takes the cache for an old one at import: it warns and tries to migrate it, and
# tries to write this file into the read-only mount.
HF_CACHE_VERSION = ("cache/huggingface/hub/version.txt", "1")
_HEX = re.compile(r"^[0-9a-f]+$")
_ENTRY_KEYS = {
    "id",
    "title",
    "url",
    "mirrors",
    "size",
    "approx_size",
    "license",
    "sha256",
    "sha256_source",
    "checks",
    "dest",
    "links",
    "images",
    "unpack",
    "manual",
    "contains",
    "used_by",
}


@dataclass(frozen=True)
class Link:
    """Another path under the weights folder where an image expects the same file (a relative symlink to dest)."""

    path: str
    images: Tuple[str, ...]


@dataclass(frozen=True)
class Unpack:
    """The URL is an archive: ``member`` is the one file to take out of it, or None for the whole of it (a folder)."""

    format: str
    member: Optional[str]
    sha256: Optional[str]  # the archive's, where published


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    url: str
    mirrors: Tuple[str, ...]
    size: Optional[int]
    approx_size: Optional[str]
    license: str
    sha256: Optional[str]
    sha256_source: str
    checks: Tuple[Tuple[str, str], ...]
    dest: str
    links: Tuple[Link, ...]
    images: Tuple[str, ...]
    unpack: Optional[Unpack]
    manual: bool  # no direct download (a Google Drive folder): the user saves the file at dest by hand
    contains: Tuple[str, ...]  # for a folder: the files in it that upstream reads
    used_by: str

    @property
    def urls(self) -> Tuple[str, ...]:
        return (self.url, *self.mirrors)

    @property
    def is_dir(self) -> bool:
        return self.unpack is not None and self.unpack.member is None

    @property
    def pinned(self) -> bool:
        return self.sha256 is not None

    def check(self, name: str) -> Optional[str]:
        return dict(self.checks).get(name)

    def links_for(self, images: Iterable[str]) -> Tuple[Link, ...]:
        wanted = set(images)
        return tuple(link for link in self.links if wanted & set(link.images))

    def hf_ref(self) -> Optional[Tuple[str, str]]:
        """For a Hugging Face snapshot file: (the refs/main path, the commit it must name)."""
        match = HF_SNAPSHOT.match(self.dest)
        return (f"{match.group(1)}/refs/main", match.group(2)) if match else None

    def generated(self) -> Tuple[Tuple[str, str], ...]:
        """Small files the caches need beside this one, as (path, content): fetch writes them, verify checks them."""
        ref = self.hf_ref()
        return (ref, HF_CACHE_VERSION) if ref else ()


@dataclass(frozen=True)
class Manifest:
    entries: Tuple[Entry, ...]
    path: str

    def select(self, images: Optional[Sequence[str]] = None) -> Tuple[Entry, ...]:
        """The entries any of ``images`` needs (DEFAULT_IMAGES' for None), in manifest order."""
        wanted = set(DEFAULT_IMAGES if images is None else images)
        return tuple(entry for entry in self.entries if wanted & set(entry.images))

    def paths(self, images: Optional[Sequence[str]] = None) -> Tuple[str, ...]:
        """Every file ``images`` needs in the weights folder, relative, with ``/`` separators."""
        chosen = DEFAULT_IMAGES if images is None else tuple(images)
        out: List[str] = []
        for entry in self.select(chosen):
            out += [posixpath.join(entry.dest, name) for name in entry.contains] if entry.is_dir else [entry.dest]
            out += [link.path for link in entry.links_for(chosen)]
            out += [path for path, _ in entry.generated() if path not in out]
        return tuple(out)

    def get(self, entry_id: str) -> Entry:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(entry_id)


def _fail(where: str, problem: str) -> TalkingfaceError:
    return TalkingfaceError(f"weights manifest {where}: {problem}", fix="correct the manifest (docs/weights.md)")


def _hex(value: Any, where: str, *, length: Optional[int] = None) -> str:
    if not isinstance(value, str) or not _HEX.match(value) or (length is not None and len(value) != length):
        size = f"{length} " if length else ""
        raise _fail(where, f"{value!r} is not {size}lowercase hex")
    return value


def _relative(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or value.startswith("/") or "\\" in value:
        raise _fail(where, f"{value!r} is not a relative path")
    if posixpath.normpath(value) != value or value.split("/")[0] == "..":
        raise _fail(where, f"{value!r} is not a normalised path inside the weights folder")
    return value


def _images(value: Any, where: str) -> Tuple[str, ...]:
    if not isinstance(value, list) or not value or any(image not in IMAGES for image in value):
        raise _fail(where, f"images must be a non-empty list of {', '.join(IMAGES)}, not {value!r}")
    return tuple(value)


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"{key} must be a non-empty string")
    return value


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s]+$", value):
        raise _fail(where, f"{value!r} is not an http(s) URL")
    return value


def _unpack(value: Any, where: str) -> Optional[Unpack]:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"format", "member", "sha256"}:
        raise _fail(where, "unpack needs exactly format, member and sha256")
    if value["format"] not in ARCHIVE_FORMATS:
        raise _fail(where, f"unpack format {value['format']!r} is not one of {', '.join(ARCHIVE_FORMATS)}")
    member = value["member"]
    if member is not None:
        member = _relative(member, where)
    sha = None if value["sha256"] is None else _hex(value["sha256"], f"{where} unpack.sha256", length=64)
    return Unpack(format=value["format"], member=member, sha256=sha)


def _checks(value: Any, where: str) -> Tuple[Tuple[str, str], ...]:
    if not isinstance(value, dict) or any(name not in CHECKS for name in value):
        raise _fail(where, f"checks must be an object with keys among {', '.join(CHECKS)}")
    lengths = {"sha256_prefix": None, "sha1": 40, "git_blob_sha1": 40}
    return tuple((name, _hex(value[name], f"{where} checks.{name}", length=lengths[name])) for name in sorted(value))


def parse_entry(raw: Any, index: int) -> Entry:
    where = f"entry {index}"
    if not isinstance(raw, dict):
        raise _fail(where, "is not an object")
    where = f"entry {raw.get('id', index)!r}"
    unknown, missing = set(raw) - _ENTRY_KEYS, _ENTRY_KEYS - set(raw)
    if unknown or missing:
        raise _fail(where, f"unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    if not re.match(r"^[a-z0-9][a-z0-9.-]*$", str(raw["id"])):
        raise _fail(where, "id must be lowercase letters, digits, '.' and '-'")
    size = raw["size"]
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
        raise _fail(where, f"size must be a positive number of bytes or null, not {size!r}")
    sha = None if raw["sha256"] is None else _hex(raw["sha256"], f"{where} sha256", length=64)
    source = _text(raw, "sha256_source", where)
    if (sha is None) != (source in (LOCK_SOURCE, HUB_PREFIX_SOURCE)) or (sha and not source.startswith("published: ")):
        raise _fail(where, f"sha256_source {source!r} does not fit sha256 {sha!r} (published: ... / lock / hub)")
    checks = _checks(raw["checks"], where)
    if source == HUB_PREFIX_SOURCE and "sha256_prefix" not in dict(checks):
        raise _fail(where, "a torch hub prefix source needs checks.sha256_prefix")
    images = _images(raw["images"], where)
    links = []
    if not isinstance(raw["links"], list):
        raise _fail(where, "links must be a list")
    for link in raw["links"]:
        if not isinstance(link, dict) or set(link) != {"path", "images"}:
            raise _fail(where, "each link needs exactly path and images")
        link_images = _images(link["images"], f"{where} link")
        if not set(link_images) <= set(images):
            raise _fail(where, f"link {link['path']!r} is for images the entry is not for")
        links.append(Link(path=_relative(link["path"], f"{where} link"), images=link_images))
    unpack = _unpack(raw["unpack"], where)
    contains = raw["contains"]
    if not isinstance(contains, list) or any(not isinstance(name, str) for name in contains):
        raise _fail(where, "contains must be a list of paths")
    is_dir = unpack is not None and unpack.member is None
    if is_dir != bool(contains) or (is_dir and links):
        raise _fail(where, "a folder entry (unpack with no member) lists what it contains and has no links")
    if not isinstance(raw["manual"], bool) or (raw["manual"] and unpack is not None):
        raise _fail(where, "manual must be true or false (and a manual entry is not unpacked)")
    mirrors = raw["mirrors"]
    if not isinstance(mirrors, list):
        raise _fail(where, "mirrors must be a list")
    approx = raw["approx_size"]
    if approx is not None and not isinstance(approx, str):
        raise _fail(where, "approx_size must be a string or null")
    return Entry(
        id=raw["id"],
        title=_text(raw, "title", where),
        url=_url(raw["url"], where),
        mirrors=tuple(_url(url, where) for url in mirrors),
        size=size,
        approx_size=approx,
        license=_text(raw, "license", where),
        sha256=sha,
        sha256_source=source,
        checks=checks,
        dest=_relative(raw["dest"], where),
        links=tuple(links),
        images=images,
        unpack=unpack,
        manual=raw["manual"],
        contains=tuple(_relative(name, f"{where} contains") for name in contains),
        used_by=_text(raw, "used_by", where),
    )


def parse_manifest(raw: Any, path: str = "<manifest>") -> Manifest:
    if not isinstance(raw, dict) or raw.get("version") != 1 or not isinstance(raw.get("entries"), list):
        raise _fail(path, "must be an object with version 1 and a list of entries")
    entries = tuple(parse_entry(item, index) for index, item in enumerate(raw["entries"]))
    seen: Dict[str, str] = {}
    for entry in entries:
        for key in (f"id {entry.id}", *(f"path {p}" for p in (entry.dest, *(link.path for link in entry.links)))):
            if key in seen:
                raise _fail(path, f"{key} appears twice ({seen[key]} and {entry.id})")
            seen[key] = entry.id
    dests = sorted(entry.dest for entry in entries)
    for first, second in zip(dests, dests[1:]):
        if second.startswith(first + "/"):
            raise _fail(path, f"{second} lies inside {first}")
    return Manifest(entries=entries, path=path)


def load_manifest(path: Path = MANIFEST_FILE) -> Manifest:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TalkingfaceError(f"cannot read the weights manifest {path}: {exc}", fix="restore it from git") from exc
    return parse_manifest(raw, str(path))
