"""`make stand-in-weights WEIGHTS=dir`: stand-in (placeholder) weights for the local line's test doubles.

Every path the run scripts check before a run (``python3 -m talkingface.weights list``) gets a file, in the format
the doubles read where they read one (GeneFace's released checkpoints), else a text that says it is a stand-in.
A file already there is never replaced: stand-ins only fill gaps, so real weights stay as they are. Files are
staged in a hidden folder first and linked into place, so a crash leaves no half-written file, and a rerun goes on.

python3 tests/doubles/stand_ins.py DIR
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Tuple

REPO = Path(__file__).resolve().parents[2]
DOUBLES = REPO / "tests" / "doubles"
sys.path.insert(0, str(REPO))

from talkingface.adapters import ADAPTERS  # noqa: E402
from talkingface.weights.manifest import load_manifest  # noqa: E402
from tests.doubles.install import SEED_GENEFACE_RELEASES  # noqa: E402

MODELS = tuple(ADAPTERS)
LABEL = (
    b"talkingface STAND-IN weight: a placeholder, not the published file. Only the local line's test doubles accept "
    b"it; 'make weights' fetches the real one.\n"
)
README = "STAND-INS.txt"
README_TEXT = (
    "The files in this folder that talkingface wrote are STAND-INS (placeholders), not the published weights.\n"
    "They let the local line (--line local: test doubles on the CPU) run; the real models can't use them, and\n"
    "'make verify-weights' names each one. Delete them (or this folder) and run 'make weights' for the real files.\n"
    "Files that were here before were kept as they were.\n"
)
STAGING_PREFIX = ".stand-ins-"


def stage(staging: Path) -> None:
    """Every stand-in, in ``staging``: GeneFace's releases as its double reads them, the rest labelled text."""
    # The doubles' own tree keeps egs/datasets/videos where the image moves it to videos.orig.
    seed = SEED_GENEFACE_RELEASES.replace("videos.orig", "videos")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(DOUBLES / "geneface"), str(DOUBLES)]))
    out = staging / "geneface" / "checkpoints"
    subprocess.run([sys.executable, "-c", seed, str(out)], cwd=DOUBLES / "geneface", env=env, check=True)
    for relative in load_manifest().paths(MODELS):
        target = staging / relative
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(LABEL)
    (staging / README).write_text(README_TEXT, encoding="utf-8")


def place(staging: Path, dest: Path) -> Tuple[List[str], List[str]]:
    """Link each staged file into ``dest`` where nothing is; returns (written, kept) relative paths."""
    written, kept = [], []
    for source in sorted(p for p in staging.rglob("*") if p.is_file()):
        relative = source.relative_to(staging)
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)  # fails if anything is there: an existing file is never replaced
        except FileExistsError:
            kept.append(str(relative))
            continue
        written.append(str(relative))
    return written, kept


def lay_out(dest: Path) -> Tuple[List[str], List[str]]:
    dest.mkdir(parents=True, exist_ok=True)
    for stale in dest.glob(STAGING_PREFIX + "*"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=dest))
    try:
        stage(staging)
        return place(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: List[str]) -> int:
    if len(argv) != 1:
        print("error: give the weights folder -- fix: make stand-in-weights WEIGHTS=dir", file=sys.stderr)
        return 2
    dest = Path(argv[0]).resolve()
    written, kept = lay_out(dest)
    print(
        f"wrote {len(written)} STAND-IN (placeholder) weight files into {dest}, for the local line only "
        f"(--line local); kept {len(kept)} files that were there. See {dest / README}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
