"""The HTML report: self-contained, and it renders in headless Chromium (screenshot checked pixel by pixel)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from skimage import io

from talkingface.eval import report
from talkingface.eval.frames import probe_video
from talkingface.eval.labels import labels
from talkingface.eval.scorer import Scores
from tests.conftest import REPO, ffmpeg


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


def test_predictions_with_one_name_get_labels_that_tell_them_apart() -> None:
    assert labels(["/runs/ernerf/pred.mp4", "/runs/gaussiantalker/pred.mp4"]) == [
        "ernerf/pred.mp4",
        "gaussiantalker/pred.mp4",
    ]
    assert labels(["/a/x/out/pred.mp4", "/b/x/out/pred.mp4", "/c/q.mp4"]) == [
        "a/x/out/pred.mp4",
        "b/x/out/pred.mp4",
        "q.mp4",
    ]
    assert labels(["/a/p.mp4", "/a/p.mp4"]) == ["p.mp4 #1", "p.mp4 #2"]
    first, second = scores()
    first.video, second.video = "/runs/ernerf/pred.mp4", "/runs/gaussiantalker/pred.mp4"
    page = report.render("/gt.mp4", [first, second])
    assert "<td>ernerf/pred.mp4</td>" in page and "<td>gaussiantalker/pred.mp4</td>" in page


def test_every_per_frame_metric_is_plotted_with_its_better_direction() -> None:
    first, second = scores()
    first.per_frame["niqe"] = [5.0 + f / 100 for f in range(120)]
    first.per_frame["lmd"] = [2.0] * 120
    page = report.render("/gt.mp4", [first, second])
    assert page.count("<svg") == 6  # PSNR, SSIM, LPIPS, NIQE, LMD, LSE by offset
    for metric, better in (
        ("PSNR", "higher"),
        ("SSIM", "higher"),
        ("LPIPS", "lower"),
        ("NIQE", "lower"),
        ("LMD", "lower"),
    ):
        assert f"{metric} per frame ({better} is better)" in page


def test_header_names_date_device_versions_and_settings() -> None:
    header = {
        "date": "2025-01-02 03:04:05 UTC",
        "device": "cuda:0",
        "versions": "talkingface 9.9",
        "settings": "batch 8",
    }
    page = report.render("/gt.mp4", scores(), header=header)
    for key, value in header.items():
        assert f"<dt>{key}</dt><dd>{value}</dd>" in page
    assert "<dt>ground truth</dt><dd>/gt.mp4</dd>" in page


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report-clips")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "2", "-pix_fmt", "yuv420p", str(root / "gt.mp4"))
    for folder, blur in (("sharp", "0.5"), ("blurred", "3")):
        (root / folder).mkdir()
        ffmpeg("-i", str(root / "gt.mp4"), "-vf", f"gblur=sigma={blur}", str(root / folder / "pred.mp4"))
    return root


def test_cli_report_has_the_header_labels_and_best_and_worst_frames(clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    done = subprocess.run(
        [sys.executable, "-m", "talkingface.eval", "--device", "cpu", "--metrics", "psnr,ssim",
         "--gt_video", str(clips / "gt.mp4"), "--pred_video", str(clips / "sharp" / "pred.mp4"),
         "--pred_video", str(clips / "blurred" / "pred.mp4"), "--report", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "| sharp/pred.mp4 |" in done.stdout and "| blurred/pred.mp4 |" in done.stdout
    page = out.read_text()
    assert "<dt>device</dt><dd>cpu</dd>" in page and "numpy " in page and "metrics psnr,ssim" in page
    assert "<h2>Frames of sharp/pred.mp4</h2>" in page and "<h2>Frames of blurred/pred.mp4</h2>" in page
    assert page.count("<img") == 8 and page.count("<figcaption>best PSNR") == page.count("<figcaption>worst PSNR") == 4


def test_sample_frames_are_the_scored_frames(clips: Path) -> None:
    gt, pred = probe_video(str(clips / "gt.mp4")), probe_video(str(clips / "blurred" / "pred.mp4"))
    scored = Scores(video=pred.path, per_frame={"psnr": [30.0] * 50})
    scored.per_frame["psnr"][7], scored.per_frame["psnr"][42] = 35.0, 20.0
    samples = report.samples_for(gt, [pred], [scored])[pred.path]
    assert [s.caption for s in samples] == ["best PSNR 35, frame 7", "worst PSNR 20, frame 42"]
    frames = [f for batch in report.stream(gt, batch=64) for f in batch]
    shown = io.imread(BytesIO(samples[1].gt_png))
    assert np.array_equal(shown, report.thumbnail(frames[42])) and not np.array_equal(
        shown, report.thumbnail(frames[7])
    )


def test_the_full_page_renders_in_headless_chromium_without_an_empty_half(clips: Path, tmp_path: Path) -> None:
    """Header, table, charts and the frame strips, in a window as wide as a laptop's: nothing left blank."""
    gt, pred = probe_video(str(clips / "gt.mp4")), probe_video(str(clips / "blurred" / "pred.mp4"))
    first, second = scores()
    first.video, second.video = "/runs/a/pred.mp4", pred.path
    first.per_frame["niqe"] = [5.0 + f / 100 for f in range(120)]
    second.per_frame["psnr"] = second.per_frame["psnr"][:50]
    header = {"date": "2025-01-02 03:04:05 UTC", "device": "cpu", "versions": "talkingface 9.9", "settings": "batch 8"}
    page = tmp_path / "report.html"
    report.write(str(page), gt.path, [first, second], header=header, samples=report.samples_for(gt, [pred], [second]))
    shot = tmp_path / "shot.png"
    command = [chromium(), "--headless", "--disable-gpu", f"--screenshot={shot}", "--window-size=1600,1300"]
    if os.geteuid() == 0:
        command.append("--no-sandbox")
    done = subprocess.run(
        [*command, "--hide-scrollbars", page.as_uri()], capture_output=True, text=True, timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert shot.is_file(), done.stderr[-2000:]
    pixels = io.imread(shot)[:, :, :3].astype(int)
    drawn = (np.abs(pixels - 255).sum(axis=2) > 60).astype(float)
    rows = drawn.mean(axis=1)
    # Every band of 200 rows down to the frame strips holds something: no half page left empty.
    last = int(np.nonzero(rows)[0].max())
    assert last > 900, last
    bands = [rows[top : top + 200].sum() for top in range(0, last - 200, 200)]
    assert min(bands) > 0, bands
    # The frames are drawn: testsrc2's saturated colours appear, which no chart uses.
    saturated = (pixels.max(axis=2) - pixels.min(axis=2)) > 150
    assert saturated[last - 300 :].sum() > 2000
