"""Check the weights folder against the manifest and the lock, reading only: one row per file, exit 1 on any problem."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.errors import TalkingfaceError
from ..core.text import plural
from .digests import Digests, Mismatch, digests_of, sha256_of
from .lock import LOCK_NAME, LockRecord
from .manifest import Entry, Manifest

OK, MISSING, MISMATCH, UNLOCKED = "ok", "missing", "MISMATCH", "unlocked"
_CHECK_SOURCES = {
    "sha256_prefix": "the sha256 prefix its published file name carries",
    "sha1": "the sha1 upstream publishes",
    "git_blob_sha1": "the git blob id of the file in upstream's repository",
}


@dataclass(frozen=True)
class Finding:
    entry: str
    path: str  # relative to the weights folder
    state: str
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.state != OK


def lock_source(record: LockRecord) -> str:
    return f"recorded in {LOCK_NAME} on {record.recorded}"


def content_problem(entry: Entry, digests: Digests, locked: Optional[LockRecord]) -> Optional[Mismatch]:
    """Why a file is not ``entry``'s, or None: the published sha256, the lock's, the published checks, the size."""
    if entry.sha256 and digests.sha256 != entry.sha256:
        return Mismatch("sha256", digests.sha256, entry.sha256, entry.sha256_source)
    if not entry.sha256 and locked and locked.sha256 and digests.sha256 != locked.sha256:
        return Mismatch("sha256", digests.sha256, locked.sha256, lock_source(locked))
    for name, value in entry.checks:
        actual = digests.value(name)
        if name == "sha256_prefix" and not actual.startswith(value):
            return Mismatch("sha256", actual, f"{value}...", _CHECK_SOURCES[name])
        if name != "sha256_prefix" and actual != value:
            return Mismatch(name.replace("_", " "), actual, value, _CHECK_SOURCES[name])
    if entry.size is not None and digests.size != entry.size:
        return Mismatch("size", f"{digests.size} bytes", f"{entry.size} bytes", "the manifest's size")
    return None


def mismatch_error(path: str, mismatch: Mismatch) -> TalkingfaceError:
    return TalkingfaceError(
        f"checksum mismatch for {path}: {mismatch.text()}",
        fix=f"delete {path} and run 'make weights' to download it again",
        exit_code=1,
    )


def _missing_fix(entry: Entry, path: str) -> str:
    if entry.manual:
        return f"download it by hand from {entry.url}, save it as {path}, then run 'make weights' (records its sha256)"
    return "run 'make weights' (it resumes and verifies)"


def how_checked(entry: Entry) -> str:
    if entry.pinned:
        return "published sha256"
    checks = [name.replace("_", " ") for name, _ in entry.checks]
    return " + ".join([*checks, "lock"])


def _verify_dir(entry: Entry, root: str, record: Optional[LockRecord]) -> List[Finding]:
    path = os.path.join(root, entry.dest)
    if not os.path.isdir(path):
        return [Finding(entry.id, entry.dest, MISSING, "missing (a folder)", _missing_fix(entry, path))]
    absent = [name for name in entry.contains if not os.path.isfile(os.path.join(path, name))]
    if absent:
        detail = f"lacks {', '.join(absent)}"
        return [Finding(entry.id, entry.dest, MISSING, detail, f"delete {path} and run 'make weights'")]
    if record is None:
        fix = "run 'make weights': it records the sha256 of every file there (trust on first use)"
        return [Finding(entry.id, entry.dest, UNLOCKED, f"not recorded in {LOCK_NAME}", fix)]
    findings = []
    for name, sha in record.files:
        file_path = os.path.join(path, name)
        rel = f"{entry.dest}/{name}"
        if not os.path.isfile(file_path):
            findings.append(Finding(entry.id, rel, MISSING, "missing", f"delete {path} and run 'make weights'"))
            continue
        actual = sha256_of(file_path)
        if actual != sha:
            mismatch = Mismatch("sha256", actual, sha, lock_source(record))
            findings.append(Finding(entry.id, rel, MISMATCH, mismatch.text(), f"delete {path} and run 'make weights'"))
    if not findings:
        findings.append(
            Finding(entry.id, entry.dest, OK, f"{plural(len(record.files), 'file')} as recorded in {LOCK_NAME}")
        )
    return findings


def verify_entry(entry: Entry, root: str, lock: Mapping[str, LockRecord], images: Sequence[str]) -> List[Finding]:
    record = lock.get(entry.id)
    if entry.is_dir:
        return _verify_dir(entry, root, record)
    path = os.path.join(root, entry.dest)
    if not os.path.isfile(path):
        return [Finding(entry.id, entry.dest, MISSING, "missing", _missing_fix(entry, path))]
    digests = digests_of(path)
    mismatch = content_problem(entry, digests, record)
    if mismatch:
        return [Finding(entry.id, entry.dest, MISMATCH, mismatch.text(), mismatch_error(path, mismatch).fix)]
    if not entry.pinned and (record is None or not record.sha256):
        fix = "run 'make weights': it records the sha256 of the file there (trust on first use)"
        detail = f"sha256 {digests.sha256} is not in {LOCK_NAME}"
        return [Finding(entry.id, entry.dest, UNLOCKED, detail, fix)]
    findings = [Finding(entry.id, entry.dest, OK, f"sha256 {digests.sha256[:16]}... ({how_checked(entry)})")]
    for link in entry.links_for(images):
        findings.append(verify_link(entry, root, link.path, digests.sha256))
    return findings


def verify_link(entry: Entry, root: str, link: str, sha256: str) -> Finding:
    path, dest = os.path.join(root, link), os.path.join(root, entry.dest)
    if not os.path.isfile(path):
        return Finding(entry.id, link, MISSING, f"missing (the same file as {entry.dest})", "run 'make weights'")
    if os.path.samefile(path, dest):
        return Finding(entry.id, link, OK, f"-> {entry.dest}")
    actual = sha256_of(path)
    if actual != sha256:
        mismatch = Mismatch("sha256", actual, sha256, f"that of {entry.dest}")
        return Finding(entry.id, link, MISMATCH, mismatch.text(), f"delete {path} and run 'make weights'")
    return Finding(entry.id, link, OK, f"a copy of {entry.dest}")


def verify_generated(entries: Sequence[Entry], root: str) -> List[Finding]:
    """The cache files made beside the weights (Hugging Face's refs/main, its cache version), each checked once."""
    wanted: Dict[str, Tuple[str, str]] = {}
    for entry in entries:
        for rel, content in entry.generated():
            wanted.setdefault(rel, (content, entry.id))
    findings = []
    for rel, (content, owner) in wanted.items():
        path = os.path.join(root, rel)
        try:
            with open(path, encoding="utf-8") as fh:
                actual = fh.read().strip()
        except OSError:
            findings.append(Finding(owner, rel, MISSING, "missing", "run 'make weights'"))
            continue
        if actual != content:
            detail = f"holds {actual!r}, not {content!r}: transformers would not find the files"
            findings.append(Finding(owner, rel, MISMATCH, detail, f"delete {path} and run 'make weights'"))
        else:
            findings.append(Finding(owner, rel, OK, f"holds {content[:12]}"))
    return findings


def verify(
    manifest: Manifest, weights_dir: str, lock: Mapping[str, LockRecord], images: Optional[Sequence[str]] = None
) -> List[Finding]:
    chosen = manifest.select(images)
    wanted = tuple(images) if images is not None else tuple({i for e in manifest.entries for i in e.images})
    findings: List[Finding] = []
    for entry in chosen:
        findings += verify_entry(entry, weights_dir, lock, wanted)
    return findings + verify_generated(chosen, weights_dir)


def render(findings: Sequence[Finding]) -> str:
    """A row per file (the detail for the good ones), then one error line per problem, then the count."""
    entry_w = max([len(f.entry) for f in findings] + [5])
    path_w = min(100, max([len(f.path) for f in findings] + [4]))
    lines = [f"{'state':9} {'entry':{entry_w}} {'path':{path_w}} detail"]
    lines += [
        f"{f.state:9} {f.entry:{entry_w}} {f.path:{path_w}} {'' if f.failed else f.detail}".rstrip() for f in findings
    ]
    for finding in findings:
        if finding.failed:
            what = "checksum mismatch for " if finding.state == MISMATCH else ""
            lines.append(TalkingfaceError(f"{what}{finding.path}: {finding.detail}", fix=finding.fix).one_line())
    failed = sum(f.failed for f in findings)
    lines.append(f"{len(findings) - failed} of {len(findings)} ok" + (f", {failed} to fix" if failed else ""))
    return "\n".join(lines)
