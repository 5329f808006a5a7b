"""The HTML report: self-contained, and it renders in headless Chromium (screenshot checked pixel by pixel)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from skimage import io

from talkingface.eval import report
from talkingface.eval.scorer import Scores


def scores() -> list:
    frames = np.arange(120)
    a = Scores(video="/x/ernerf.mp4", frames_scored=120)
    a.per_frame = {
        "psnr": [30 + 2 * math.sin(f / 9) for f in frames],
        "ssim": [0.9 + 0.05 * math.cos(f / 7) for f in frames],
        "lpips": [0.05 + 0.01 * math.sin(f / 5) for f in frames],
    }
    a.values = {"fid": 12.5, "lse_c": 6.1, "lse_d": 7.9}
    a.details = {
        "lse": {"offset": 1, "distances_by_offset": [10 - 3 * math.exp(-((k - 14) ** 2) / 8) for k in range(31)]}
    }
    b = Scores(video="/x/gaussian<talker>.mp4", frames_scored=120, notes=["resized from 256x256 to 512x512 (bicubic)"])
    b.per_frame = {"psnr": [float("inf")] + [28 + f / 60 for f in frames[1:]], "ssim": [0.85] * 120}
    b.values = {"fid": 20.25}
    return [a, b]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    pytest.fail("headless Chromium is needed for this test: run 'make media-tools' (installs Debian's chromium)")


def test_page_is_self_contained_and_escaped() -> None:
    page = report.render("/gt.mp4", scores())
    assert page.count("<svg") == 4  # PSNR, SSIM, LPIPS, LSE by offset
    assert "gaussian&lt;talker&gt;.mp4" in page and "<talker>" not in page
    assert "<script" not in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "resized from 256x256" in page and "12.5000" in page
    piped = Scores(video="/x/a|b.mp4", frames_scored=3, per_frame={"psnr": [30.0, 31.0, 32.0]})
    assert "<td>a|b.mp4</td><td>3</td><td>31.0000 ± 0.8165</td>" in report.render("/gt.mp4", [piped])


def test_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    report.write(str(page), "/gt.mp4", scores())
    shot = tmp_path / "shot.png"
    command = [chromium(), "--headless", "--disable-gpu", f"--screenshot={shot}", "--window-size=900,1400"]
    if os.geteuid() == 0:
        command.append("--no-sandbox")
    done = subprocess.run(
        [*command, "--hide-scrollbars", page.as_uri()], capture_output=True, text=True, timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert shot.is_file(), done.stderr[-2000:]
    pixels = io.imread(shot)[:, :, :3].astype(int)
    assert pixels.shape[:2] == (1400, 900)

    def count(hex_color: str) -> int:
        rgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])
        return int((np.abs(pixels - rgb).sum(axis=2) < 60).sum())

    # Both series' lines were drawn (anti-aliased, so "near the colour"), and the page is not blank.
    assert count(report.COLORS[0]) > 500 and count(report.COLORS[1]) > 300
    assert (pixels.sum(axis=2) < 200).sum() > 2000  # black text and axes
