"""python3 -m talkingface.weights: the verify table and exit codes, fetch's summary, list; verify writes nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import pytest

from talkingface.weights.__main__ import main
from talkingface.weights.lock import LOCK_NAME
from tests.weights.helpers import entry, pinned, sha256
from tests.weights.server import WeightServer

DATA = os.urandom(50_000)


@pytest.fixture
def server() -> Iterator[WeightServer]:
    with WeightServer() as running:
        yield running


def write_manifest(path: Path, *entries: dict) -> str:
    path.write_text(json.dumps({"version": 1, "entries": list(entries)}))
    return str(path)


def test_verify_fetch_verify(server: WeightServer, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    man = write_manifest(
        tmp_path / "manifest.json",
        entry("pinned", server.add("a.pth", DATA), "ernerf/a.pth", **pinned(DATA)),
        entry("locked", server.add("b.pth", DATA[::-1]), "cache/torch/hub/checkpoints/b.pth"),
    )
    weights = tmp_path / "weights"
    weights.mkdir()
    args = ["--dir", str(weights), "--manifest", man, "--retries", "0"]

    assert main(["verify", *args]) == 1
    out = capsys.readouterr().out
    assert "missing   pinned" in out and "missing   locked" in out
    assert "error: ernerf/a.pth: missing -- fix: run 'make weights' (it resumes and verifies)" in out
    assert out.rstrip().endswith("0 of 2 ok, 2 to fix") and not (weights / LOCK_NAME).exists()

    assert main(["fetch", *args]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"all 2 in place and verified in {weights}")

    assert main(["verify", *args]) == 0
    out = capsys.readouterr().out
    assert "ok        pinned ernerf/a.pth" in out and f"sha256 {sha256(DATA)[:16]}... (published sha256)" in out
    assert "(lock)" in out and out.rstrip().endswith("2 of 2 ok")


def test_verify_names_a_tampered_file_both_hashes_and_the_fix(
    server: WeightServer, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    man = write_manifest(tmp_path / "m.json", entry("w", server.add("w.pth", DATA), "ernerf/w.pth"))
    weights = tmp_path / "weights"
    assert main(["fetch", "--dir", str(weights), "--manifest", man]) == 0
    lock_before = (weights / LOCK_NAME).read_text()
    tampered = bytes([DATA[0] ^ 0xFF]) + DATA[1:]  # a changed byte whatever the random data (b"x" + ... was not)
    (weights / "ernerf/w.pth").write_bytes(tampered)
    capsys.readouterr()
    assert main(["verify", "--dir", str(weights), "--manifest", man]) == 1
    out = capsys.readouterr().out
    recorded = json.loads(lock_before)["entries"]["w"]["recorded"]
    assert (
        f"error: checksum mismatch for ernerf/w.pth: sha256 {sha256(tampered)}, expected {sha256(DATA)} "
        f"(recorded in {LOCK_NAME} on {recorded}) -- fix: delete {weights}/ernerf/w.pth and run 'make weights' to "
        "download it again"
    ) in out
    assert (weights / LOCK_NAME).read_text() == lock_before


def test_an_unrecorded_file_fails_verify_until_fetch_records_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    man = write_manifest(tmp_path / "m.json", entry("w", "https://example.invalid/w.pth", "ernerf/w.pth"))
    weights = tmp_path / "weights"
    (weights / "ernerf").mkdir(parents=True)
    (weights / "ernerf/w.pth").write_bytes(DATA)
    assert main(["verify", "--dir", str(weights), "--manifest", man]) == 1
    assert "unlocked  w" in capsys.readouterr().out
    assert main(["fetch", "--dir", str(weights), "--manifest", man]) == 0  # nothing downloaded: it was there
    assert main(["verify", "--dir", str(weights), "--manifest", man]) == 0


def test_fetch_exits_1_and_counts_the_failures(
    server: WeightServer, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    man = write_manifest(
        tmp_path / "m.json",
        entry("good", server.add("a.pth", DATA), "ernerf/a.pth"),
        entry("gone", server.url("missing.pth"), "ernerf/b.pth"),
    )
    assert main(["fetch", "--dir", str(tmp_path / "w"), "--manifest", man]) == 1
    captured = capsys.readouterr()
    assert "1 of 2 in place; 1 failed" in captured.out
    assert "error: cannot download gone:" in captured.err and "HTTP 404" in captured.err


def test_image_selection_and_bad_names(server: WeightServer, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    man = write_manifest(
        tmp_path / "m.json",
        entry("e", server.add("e.pth", DATA), "eval/e.pth", images=["eval"]),
        entry("g", server.url("never-asked.pth"), "geneface/g.pth", images=["geneface"]),
    )
    assert main(["fetch", "--dir", str(tmp_path / "w"), "--manifest", man, "--image", "eval"]) == 0
    assert server.requests_for("never-asked.pth") == []
    assert main(["list", "--manifest", man, "--image", "geneface"]) == 0
    assert "geneface/g.pth" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["verify", "--image", "stylegan"])


def test_verify_of_a_folder_that_is_not_there(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["verify", "--dir", str(tmp_path / "nowhere")]) == 1
    assert "does not exist -- fix: run 'make weights'" in capsys.readouterr().err


def test_list_ends_with_every_path_the_run_scripts_check(capsys: pytest.CaptureFixture) -> None:
    from talkingface.adapters import ADAPTERS
    from talkingface.weights.manifest import load_manifest

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    listed = {line.strip() for line in out.splitlines() if line.startswith("  ")}
    for model in ADAPTERS:
        paths = load_manifest().paths([model])
        assert f"{model} needs {len(paths)} paths in the weights folder:" in out
        assert set(paths) <= listed
    # A folder's files, which the table shows only as the folder.
    assert "geneface/checkpoints/lrs3/syncnet/model_ckpt_steps_40000.ckpt" in listed
