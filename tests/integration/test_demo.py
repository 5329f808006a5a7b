"""`make demo` (issue 14, item 9): the script it calls runs bin/run_<model>.sh train then infer against the local
image, on the base Python without the dev venv's packages, and leaves a video with the speech, as long as it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

from tests.conftest import REPO

# The interpreter the dev venv was made from, outside the venv: only the standard library, as on a fresh machine.
BASE_PYTHON = os.path.join(sys.base_prefix, "bin", "python3")


def seconds(path: Path, stream: str) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "stream=duration", "-of", "json"]
        + [str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out)["streams"][0]["duration"])


def test_make_demo_trains_and_renders_through_the_run_script_and_the_local_image(tmp_path: Path, media) -> None:
    root = tmp_path / "demo"
    argv = [BASE_PYTHON, "-I", str(REPO / "tests" / "demo.py"), "--dir", str(root), "--clip", str(media["clip"])]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    result = root / "workspace" / "results" / "demo" / "speech.mp4"
    assert f"demo result: {result}" in done.stdout
    assert "$ bin/run_gaussiantalker.sh train" in done.stdout and "--line local" in done.stdout
    with wave.open(str(root / "input" / "speech.wav"), "rb") as speech:
        length = speech.getnframes() / speech.getframerate()
    assert length > 2.0
    assert abs(seconds(result, "a:0") - length) <= 0.1
    assert abs(seconds(result, "v:0") - length) <= 0.1
    # Stand-in weights and the placeholder BFM are laid out as make stand-in-weights lays them out.
    assert (root / "weights" / "STAND-INS.txt").is_file()
    assert (root / "bfm_models" / "01_MorphableModel.mat").is_file()
