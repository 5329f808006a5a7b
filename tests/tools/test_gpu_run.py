"""tools/gpu-run end to end on the test doubles (`--line local`): the harness the GPU runs use, checked in CI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO

SCRIPTS = REPO / "tools" / "gpu-run"


def helpers(root: Path) -> Path:
    """AD-NeRF's 3DMM helper files in their published keys and shapes (ER-NeRF's tree does not commit them)."""
    folder = root / "helpers"
    folder.mkdir()
    n = 34650
    np.save(folder / "topology_info.npy", {"sub_inds": np.arange(n), "tris": np.zeros((68746, 3), np.int64)})
    np.save(folder / "keys_info.npy", {"keyinds": np.arange(68), "rigid_ids": np.arange(464)})
    return folder


@pytest.mark.parametrize("model", ["ernerf", "gaussiantalker"])
def test_prepare_then_run_records_every_step_and_the_result(tmp_path: Path, model: str) -> None:
    root = tmp_path / "run" / model
    script = str(SCRIPTS / f"{model}.py")
    subprocess.run([sys.executable, script, "prepare", "--root", str(root)], check=True, capture_output=True)
    pack = tmp_path / "run" / f"gpu-run-{model}.tar"
    assert pack.exists()
    out = tmp_path / "record.json"
    argv = [sys.executable, script, "run", "--line", "local", "--root", str(root), "--out", str(out)]
    argv += ["--helpers", str(helpers(tmp_path))]  # the doubles' trees hold placeholders
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads(out.read_text())
    steps = {step["name"]: step for step in record["steps"]}
    for name in ("convert-bfm", "preprocess", "infer-wav"):
        assert steps[name]["returncode"] == 0
    assert [s for s in steps if s.startswith("train-")], "no training stage ran"
    assert all(steps[s]["returncode"] == 0 for s in steps if s.startswith("train-"))
    # Every stand-in is named with its reason, and the weights it wrote are listed with how they were made.
    assert any("extract_ds_features.py" in s["what"] for s in record["stand_ins"])
    assert all(s["why"] for s in record["stand_ins"])
    assert {Path(w["path"]).name for w in record["weights"]} >= {"01_MorphableModel.mat", "exp_info.npy"}
    wav = next(r for r in record["results"] if r["driving"].endswith(".wav"))
    assert wav["exists"] and abs(wav["video_s"] - wav["driving_audio_s"]) < 0.2
    assert abs(wav["audio_s"] - wav["driving_audio_s"]) < 0.2
    assert len(wav["frame10_sha256"]) == 64 and (tmp_path / wav["frame10_png"]).exists()
    pins = json.loads((REPO / "talkingface" / "upstream.json").read_text())
    assert record["upstream"]["commit"] == pins[model]["commit"]
