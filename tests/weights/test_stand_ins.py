"""make stand-in-weights: every path a run checks gets a labelled stand-in; nothing that is there is replaced."""

from __future__ import annotations

import subprocess
from pathlib import Path

from talkingface.adapters import ADAPTERS
from talkingface.core.cli_args import check_weights
from talkingface.weights.manifest import load_manifest
from tests.conftest import REPO

MODELS = tuple(ADAPTERS)


def make_stand_ins(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "stand-in-weights", f"WEIGHTS={folder}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_every_checked_path_gets_a_labelled_stand_in_and_real_files_are_kept(tmp_path: Path) -> None:
    weights = tmp_path / "my weights"
    real = weights / "cache" / "torch" / "hub" / "checkpoints" / "resnet18-5c106cde.pth"
    real.parent.mkdir(parents=True)
    real.write_bytes(b"the real resnet")
    done = make_stand_ins(weights)
    assert "STAND-IN" in done.stdout and "kept 1 files" in done.stdout
    assert real.read_bytes() == b"the real resnet"
    for model in MODELS:
        check_weights(model, str(weights))  # raises on a missing path
    placeholder = weights / load_manifest().paths(["ernerf"])[0]
    assert placeholder.read_bytes().startswith(b"talkingface STAND-IN weight")
    ckpt = weights / "geneface" / "checkpoints" / "lrs3" / "syncnet" / "model_ckpt_steps_40000.ckpt"
    assert ckpt.read_text().startswith("geneface-double checkpoint")  # the format the local line's double reads
    assert "STAND-INS" in (weights / "STAND-INS.txt").read_text()
    assert not list(weights.glob(".stand-ins-*"))


def test_a_second_run_writes_nothing_and_a_killed_runs_staging_is_cleared(tmp_path: Path) -> None:
    weights = tmp_path / "w"
    make_stand_ins(weights)
    before = {p: p.stat().st_mtime_ns for p in weights.rglob("*") if p.is_file()}
    (weights / ".stand-ins-left").mkdir()
    (weights / ".stand-ins-left" / "half").write_bytes(b"x")
    again = make_stand_ins(weights)
    assert "\nwrote 0 STAND-IN" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in weights.rglob("*") if p.is_file()} == before
