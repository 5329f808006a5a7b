"""Every metric through ``python -m talkingface.eval``, with network files in their true formats (random values)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from talkingface.eval import assets
from tests.conftest import REPO, ffmpeg

torch = pytest.importorskip("torch")
pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.eval.random_weights import write_all

    root = tmp_path_factory.mktemp("eval-site")
    write_all(root / "weights")
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=256x256:rate=25", "-f", "lavfi", "-i", "sine=frequency=300",
        "-t", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", str(root / "gt.mp4"),
    )  # fmt: skip
    ffmpeg("-i", str(root / "gt.mp4"), "-vf", "gblur=sigma=2", "-c:a", "copy", str(root / "pred.mp4"))
    return root


def run(*argv: str, verified: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != assets.UNVERIFIED_ENV}
    if not verified:
        env[assets.UNVERIFIED_ENV] = "1"
    return subprocess.run(
        [sys.executable, "-m", "talkingface.eval", "--device", "cpu", *argv],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip


def test_weights_not_matching_their_published_hash_are_refused(site: Path) -> None:
    done = run(
        "--gt_video", str(site / "gt.mp4"), "--pred_video", str(site / "pred.mp4"), "--metrics", "lpips",
        "--weights_dir", str(site / "weights"), verified=True,
    )  # fmt: skip
    assert done.returncode == 2 and "does not match the sha256 prefix 7be5be79" in done.stderr


def test_all_metrics_json_csv_and_report(site: Path, tmp_path: Path) -> None:
    done = run(
        "--gt_video", str(site / "gt.mp4"), "--pred_video", str(site / "pred.mp4"),
        "--weights_dir", str(site / "weights"), "--lse_crop", "full",
        "--out_json", str(tmp_path / "m.json"), "--csv", str(tmp_path / "f.csv"), "--report", str(tmp_path / "r.html"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header = next(line for line in done.stdout.splitlines() if line.startswith("| video |"))
    assert "FID from 50 frames (< 2048)" in done.stdout
    for column in ("psnr", "ssim", "lpips", "niqe", "fid", "lse_c", "lse_d"):
        assert f" {column} |" in header
    summary = json.loads((tmp_path / "m.json").read_text())
    scores = summary["predictions"][0]
    assert scores["metrics"]["lpips"]["frames"] == 50 and scores["metrics"]["lpips"]["mean"] > 0
    assert scores["metrics"]["fid"]["value"] > 0
    lse = scores["details"]["lse"]
    assert lse["crop"] == "full" and len(lse["distances_by_offset"]) == 31 and lse["offsets"][0] == 15
    assert abs(scores["metrics"]["lse_d"]["value"] - min(lse["distances_by_offset"])) < 1e-6
    assert "whole frame resized to 224x224" in summary["conventions"]["lse"]
    assert set(summary["weights_sha256"]) == {
        "alexnet-owt-7be5be79.pth", "lpips_v0.1_alex.pth", "pt_inception-2015-12-05-6726825d.pth",
        "syncnet_v2.model", "niqe_pris_params.npz",
    }  # fmt: skip
    assert summary["versions"]["torch"] == torch.__version__
    assert (tmp_path / "f.csv").read_text().splitlines()[0] == "video,frame,psnr,ssim,lpips,niqe"
    page = (tmp_path / "r.html").read_text()
    assert page.count("<svg") == 5  # every per-frame metric (PSNR, SSIM, LPIPS, NIQE) and LSE by offset
    assert "NIQE per frame (lower is better)" in page and "LPIPS per frame (lower is better)" in page
    assert f"torch {torch.__version__}" in page and "<dt>device</dt><dd>cpu</dd>" in page


def test_identical_video_has_zero_lpips(site: Path) -> None:
    done = run(
        "--gt_video", str(site / "gt.mp4"), "--pred_video", str(site / "gt.mp4"), "--metrics", "lpips,psnr",
        "--weights_dir", str(site / "weights"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "| 0.0000 ± 0.0000 | inf |" in done.stdout


def test_s3fd_crop_is_named_and_a_clip_without_a_face_track_says_so(site: Path, tmp_path: Path) -> None:
    done = run(
        "--gt_video", str(site / "gt.mp4"), "--pred_video", str(site / "pred.mp4"), "--metrics", "lse",
        "--weights_dir", str(site / "weights"), "--out_json", str(tmp_path / "m.json"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "LSE not computed: no face track of more than 100 frames" in done.stdout
    summary = json.loads((tmp_path / "m.json").read_text())
    assert "S3FD (scale 0.25, conf 0.9)" in summary["conventions"]["lse"]
    assert "sfd_face.pth" in summary["weights_sha256"]


def test_missing_audio_names_the_fix(site: Path, tmp_path: Path) -> None:
    silent = tmp_path / "silent.mp4"
    ffmpeg("-i", str(site / "pred.mp4"), "-an", "-c:v", "copy", str(silent))
    done = run(
        "--gt_video", str(site / "gt.mp4"), "--pred_video", str(silent), "--metrics", "lse", "--lse_crop", "full",
        "--weights_dir", str(site / "weights"),
    )  # fmt: skip
    assert done.returncode == 2 and "--audio" in done.stderr
    with_audio = run(
        "--gt_video", str(site / "gt.mp4"), "--pred_video", str(silent), "--metrics", "lse", "--lse_crop", "full",
        "--weights_dir", str(site / "weights"), "--audio", str(site / "gt.mp4"),
    )  # fmt: skip
    assert with_audio.returncode == 0, with_audio.stderr


def test_lse_is_the_same_fed_from_the_scorer_or_decoded_again(site: Path, tmp_path: Path) -> None:
    """Same-size, same-length ground truth: LSE reads the scorer's frames; a shorter one makes it decode again."""
    short = tmp_path / "short.mp4"
    ffmpeg("-i", str(site / "gt.mp4"), "-t", "1.2", str(short))
    values = []
    for gt in (site / "gt.mp4", short):
        out = tmp_path / f"{gt.stem}.json"
        done = run(
            "--gt_video", str(gt), "--pred_video", str(site / "pred.mp4"), "--metrics", "lse", "--lse_crop", "full",
            "--weights_dir", str(site / "weights"), "--out_json", str(out),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        values.append(json.loads(out.read_text())["predictions"][0]["details"]["lse"]["distances_by_offset"])
    assert values[0] == pytest.approx(values[1], abs=1e-5)


def test_lmd_by_name(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    done = run(
        "--gt_video", str(site / "gt.mp4"), "--pred_video", str(site / "pred.mp4"), "--metrics", "lmd,psnr",
        "--weights_dir", str(site / "weights"), "--out_json", str(out), "--batch", "8",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.read_text())
    lmd = summary["predictions"][0]["metrics"]["lmd"]
    assert lmd["frames"] == 50 and (lmd["mean"] is None or lmd["mean"] >= 0)
    assert "2DFAN4-cd938726ad.zip" in summary["weights_sha256"] and "48" in summary["conventions"]["lmd"]
