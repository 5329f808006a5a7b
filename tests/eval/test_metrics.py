"""The metrics equal their references: skimage for PSNR/SSIM, MATLAB's published NIQE value."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from talkingface.core.errors import TalkingfaceError
from talkingface.eval import assets
from talkingface.eval import ssim as ssim_module
from talkingface.eval.imresize import imresize_half
from talkingface.eval.niqe import PristineModel, niqe
from talkingface.eval.ssim import psnr, ssim
from tests.conftest import REPO, ffmpeg


@pytest.fixture(scope="session")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real NIQE parameters, fetched from PyPI and checked against the pinned sha256."""
    folder = tmp_path_factory.mktemp("weights")
    assets.fetch(assets.NIQE_PARAMS, str(folder))
    return folder


def variants() -> list:
    rng = np.random.default_rng(7)
    ref = data.astronaut()
    noisy = np.clip(ref + rng.normal(0, 12, ref.shape), 0, 255).astype(np.uint8)
    return [
        (ref, (ref // 16) * 16 + 8),
        (ref, np.roll(ref, 1, axis=1)),
        (ref, noisy),
        (ref[:97, :131], noisy[:97, :131]),
    ]


class TestSsimAndPsnr:
    @pytest.mark.parametrize("index", range(4))
    def test_ssim_equals_skimage_wang(self, index: int) -> None:
        a, b = variants()[index]
        expected = structural_similarity(
            a / 255.0,
            b / 255.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1,
            channel_axis=-1,
        )
        assert abs(ssim(a[None], b[None])[0] - expected) < 1e-5

    @pytest.mark.parametrize("engine", ["opencv", "scipy"])
    @pytest.mark.parametrize("image", ["bright_flat", "camera_plus_one", "coffee_posterised", "half_black_minus_one"])
    def test_ssim_holds_where_rounding_hurts_most(
        self, image: str, engine: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Nearly flat, bright regions: variances there are differences of nearly equal numbers."""
        if engine == "scipy":  # the fallback where OpenCV is not installed
            monkeypatch.setattr(ssim_module, "_opencv", lambda: None)
        half = np.concatenate([np.zeros((50, 90, 3), np.uint8), np.full((50, 90, 3), 255, np.uint8)])
        a = {
            "bright_flat": np.full((64, 80, 3), 250, np.uint8),
            "camera_plus_one": np.stack([data.camera()] * 3, axis=-1),
            "coffee_posterised": data.coffee(),
            "half_black_minus_one": half,
        }[image]
        step = -1 if image == "half_black_minus_one" else 1
        b = np.clip(a.astype(int) + step, 0, 255).astype(np.uint8) if image != "coffee_posterised" else (a // 32) * 32
        expected = structural_similarity(
            a / 255.0, b / 255.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1,
            channel_axis=-1,
        )  # fmt: skip
        assert abs(ssim(a[None], b[None])[0] - expected) < 1e-5

    @pytest.mark.parametrize("index", range(4))
    def test_psnr_equals_skimage(self, index: int) -> None:
        a, b = variants()[index]
        assert psnr(a[None], b[None])[0] == pytest.approx(peak_signal_noise_ratio(a, b), abs=1e-9)

    def test_batches_score_frame_by_frame(self) -> None:
        pairs = variants()[:3]
        a, b = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
        assert np.allclose(ssim(a, b), [ssim(x[None], y[None])[0] for x, y in zip(a, b)], atol=1e-12)

    def test_identical_frames(self) -> None:
        ref = data.astronaut()[None]
        assert psnr(ref, ref)[0] == np.inf and ssim(ref, ref)[0] == pytest.approx(1.0)


class TestNiqe:
    def test_matlab_value_on_camera(self, weights: Path) -> None:
        model = PristineModel.load(str(weights / assets.NIQE_PARAMS.relative_path))
        assert abs(niqe(data.camera(), model) - 3.096202) < 1e-4

    def test_color_goes_through_matlab_rgb2gray(self, weights: Path) -> None:
        model = PristineModel.load(str(weights / assets.NIQE_PARAMS.relative_path))
        rgb = data.astronaut()
        gray = np.floor(rgb @ np.array([0.298936021293775, 0.587043074451121, 0.114020904255103]) + 0.5).astype(
            np.uint8
        )
        assert niqe(rgb, model) == niqe(gray, model)

    def test_imresize_half_keeps_a_constant_and_averages_a_ramp(self) -> None:
        assert np.allclose(imresize_half(np.full((96, 96), 7.0)), 7.0)
        ramp = np.tile(np.arange(96, dtype=np.float64), (96, 1))
        assert np.allclose(imresize_half(ramp)[:, 10:-10], (ramp[:, ::2] + 0.5)[:48, 10:-10])

    def test_missing_params_name_the_file_and_the_command(self, tmp_path: Path) -> None:
        with pytest.raises(TalkingfaceError) as err:
            assets.locate(assets.NIQE_PARAMS, str(tmp_path))
        assert "niqe_pris_params.npz" in err.value.problem and "make eval-weights" in err.value.fix

    def test_tampered_params_are_refused(self, tmp_path: Path, weights: Path) -> None:
        target = tmp_path / assets.NIQE_PARAMS.relative_path
        target.parent.mkdir(parents=True)
        target.write_bytes((weights / assets.NIQE_PARAMS.relative_path).read_bytes() + b"x")
        with pytest.raises(TalkingfaceError, match="sha256"):
            assets.locate(assets.NIQE_PARAMS, str(tmp_path))


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """NIQE needs several 96-px blocks, hence 256x256."""
    folder = tmp_path_factory.mktemp("clips")
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=256x256:rate=25", "-t", "2", "-pix_fmt", "yuv420p", str(folder / "gt.mp4")
    )
    ffmpeg("-i", str(folder / "gt.mp4"), "-vf", "gblur=sigma=2", "-pix_fmt", "yuv420p", str(folder / "blur.mp4"))
    ffmpeg(
        "-i",
        str(folder / "gt.mp4"),
        "-t",
        "1.6",
        "-vf",
        "scale=128:128",
        "-pix_fmt",
        "yuv420p",
        str(folder / "small.mkv"),
    )
    ffmpeg("-i", str(folder / "gt.mp4"), "-r", "30", "-pix_fmt", "yuv420p", str(folder / "fps30.mp4"))
    return folder


class TestCommandLine:
    def run(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "talkingface.eval", *argv], cwd=REPO, capture_output=True, text=True, timeout=300
        )

    def test_table_json_and_csv(self, clips: Path, weights: Path, tmp_path: Path) -> None:
        done = self.run(
            "--gt_video", str(clips / "gt.mp4"),
            "--pred_video", str(clips / "blur.mp4"),
            "--pred_video", str(clips / "small.mkv"),
            "--weights_dir", str(weights),
            "--metrics", "psnr,ssim,niqe",
            "--out_json", str(tmp_path / "m.json"),
            "--csv", str(tmp_path / "f.csv"),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "| blur.mp4 | 50 |" in done.stdout and "| small.mkv | 40 |" in done.stdout
        assert "resized from 128x128 to 256x256" in done.stdout and "scored the first 40" in done.stdout
        report = json.loads((tmp_path / "m.json").read_text())
        blur = report["predictions"][0]["metrics"]
        assert 0 < blur["ssim"]["mean"] < 1 and blur["psnr"]["mean"] > 10 and blur["niqe"]["mean"] > 0
        assert report["weights_sha256"]["niqe_pris_params.npz"] == assets.NIQE_PARAMS.sha256
        assert blur["psnr"]["frames"] == 50 and set(report["conventions"]) == {"psnr", "ssim", "niqe"}
        rows = (tmp_path / "f.csv").read_text().splitlines()
        assert rows[0] == "video,frame,psnr,ssim,niqe" and len(rows) == 1 + 50 + 40

    def test_fps_mismatch_is_an_error_unless_resampled(self, clips: Path) -> None:
        args = ["--gt_video", str(clips / "gt.mp4"), "--pred_video", str(clips / "fps30.mp4"), "--metrics", "psnr,ssim"]
        done = self.run(*args)
        assert done.returncode == 2 and "30 fps but the ground truth at 25 fps" in done.stderr
        resampled = self.run(*args, "--resample")
        assert resampled.returncode == 0 and "resampled from 30 to 25 fps" in resampled.stdout

    def test_unreadable_video(self, clips: Path, tmp_path: Path) -> None:
        bad = tmp_path / "bad.mp4"
        bad.write_bytes(b"\x00" * 1000)
        done = self.run("--gt_video", str(clips / "gt.mp4"), "--pred_video", str(bad), "--metrics", "psnr")
        assert done.returncode == 2 and "cannot read a video stream" in done.stderr

    def test_an_existing_output_is_kept_unless_forced(self, clips: Path, tmp_path: Path) -> None:
        out = tmp_path / "m.json"
        out.write_text("mine")
        args = ["--gt_video", str(clips / "gt.mp4"), "--pred_video", str(clips / "blur.mp4"), "--metrics", "psnr"]
        done = self.run(*args, "--out_json", str(out))
        assert done.returncode == 2 and "already exists" in done.stderr and out.read_text() == "mine"
        forced = self.run(*args, "--out_json", str(out), "--force")
        assert forced.returncode == 0 and json.loads(out.read_text())["predictions"][0]["frames_scored"] == 50

    def test_missing_network_weights_name_the_file_and_the_command(self, clips: Path, tmp_path: Path) -> None:
        pytest.importorskip("torch")
        args = ["--gt_video", str(clips / "gt.mp4"), "--pred_video", str(clips / "blur.mp4")]
        done = self.run(*args, "--metrics", "psnr,fid", "--weights_dir", str(tmp_path))
        assert done.returncode == 2
        assert "pt_inception-2015-12-05-6726825d.pth" in done.stderr and "make eval-weights" in done.stderr
        assert "leave fid out of --metrics" in done.stderr

    def test_unknown_metric(self, clips: Path) -> None:
        done = self.run(
            "--gt_video", str(clips / "gt.mp4"), "--pred_video", str(clips / "blur.mp4"), "--metrics", "vmaf"
        )
        assert done.returncode == 2 and "unknown metric 'vmaf'" in done.stderr
