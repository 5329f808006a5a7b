"""talkingface's own steps, run as the plans run them: python -m talkingface.container.steps NAME ..."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from talkingface.adapters import get_adapter
from talkingface.container.npy import npy_shape
from talkingface.container.steps.au_from_landmarks import eye_aspect_ratio, intensities
from talkingface.container.steps.extend_poses import ping_pong
from talkingface.container.steps.retarget_configs import retarget
from tests.conftest import REPO, ffmpeg
from tests.doubles.fakeupstream import write_npy


def step(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "talkingface.container.steps", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def face(eye_open: float) -> List[tuple]:
    points = [(0.0, 0.0)] * 68
    for start in (36, 42):
        x = 0.0 if start == 36 else 10.0
        points[start : start + 6] = [
            (x, 0.0), (x + 1, -eye_open), (x + 2, -eye_open), (x + 3, 0.0), (x + 2, eye_open), (x + 1, eye_open),
        ]  # fmt: skip
    return points


class TestBlinks:
    def test_ear_of_an_open_and_a_closed_eye(self) -> None:
        assert eye_aspect_ratio(face(0.5)) == pytest.approx(1.0 / 3.0)
        assert eye_aspect_ratio(face(0.0)) == 0.0

    def test_scale_is_openface_0_to_5(self) -> None:
        values = intensities([0.3] * 9 + [0.12, 0.21, 0.0, None])
        assert values[:9] == [0.0] * 9
        assert values[9] == pytest.approx(4.0)  # 40 % of the open EAR: closed
        assert values[10] == pytest.approx(2.0)  # half way
        assert values[11] == 5.0 and values[12] == 5.0  # clipped; a missing frame repeats the last value

    def test_au_csv_has_openface_header_and_one_row_per_frame(self, tmp_path: Path) -> None:
        (tmp_path / "ori_imgs").mkdir()
        for index, opening in enumerate([0.5, 0.5, 0.5, 0.05]):
            (tmp_path / "ori_imgs" / f"{index}.jpg").write_bytes(b"")
            (tmp_path / "ori_imgs" / f"{index}.lms").write_text("".join(f"{x} {y}\n" for x, y in face(opening)))
        done = step("au-from-landmarks", "--data_dir", str(tmp_path), "--out", str(tmp_path / "au.csv"))
        assert done.returncode == 0, done.stderr
        rows = list(csv.DictReader((tmp_path / "au.csv").open()))
        assert len(rows) == 4 and " AU45_r" in rows[0]
        assert float(rows[0][" AU45_r"]) == 0.0 and float(rows[3][" AU45_r"]) >= 4.0


class TestPoses:
    def test_ping_pong_never_repeats_an_end(self) -> None:
        assert ping_pong(3, 8) == [0, 1, 2, 1, 0, 1, 2, 1]
        assert ping_pong(1, 3) == [0, 0, 0]

    def test_extend_poses_makes_a_shadow_dataset(self, tmp_path: Path) -> None:
        data = tmp_path / "data"
        data.mkdir()
        frames = [{"img_id": i, "aud_id": i, "transform_matrix": [[1.0]]} for i in (40, 41, 42)]
        (data / "transforms_val.json").write_text(json.dumps({"focal_len": 1.0, "frames": frames}))
        (data / "au.csv").write_text("x")
        write_npy(tmp_path / "aud.npy", (7, 16, 29))
        out = tmp_path / "shadow"
        done = step("extend-poses", "--data_dir", str(data), "--features", str(tmp_path / "aud.npy"), "--out", str(out))
        assert done.returncode == 0, done.stderr
        extended = json.loads((out / "transforms_val.json").read_text())["frames"]
        assert [f["img_id"] for f in extended] == [40, 41, 42, 41, 40, 41, 42]
        assert (out / "au.csv").is_symlink()
        assert json.loads((data / "transforms_val.json").read_text())["frames"] == frames


class TestMux:
    def make(self, tmp_path: Path, seconds: float) -> tuple:
        video, audio = tmp_path / "r.mp4", tmp_path / "a.wav"
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=25", "-t", str(seconds), "-pix_fmt", "yuv420p", str(video))
        ffmpeg("-f", "lavfi", "-i", "sine=sample_rate=16000", "-t", "2", str(audio))
        return video, audio

    def test_mux_adds_the_audio(self, tmp_path: Path) -> None:
        video, audio = self.make(tmp_path, 2)
        out = tmp_path / "out.mp4"
        assert step("mux", "--video", str(video), "--audio", str(audio), "--out", str(out)).returncode == 0
        probe = ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", str(out)]
        streams = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.split()
        assert sorted(streams) == ["audio", "video"]

    def test_a_video_shorter_than_its_audio_is_an_error(self, tmp_path: Path) -> None:
        video, audio = self.make(tmp_path, 1)
        done = step("mux", "--video", str(video), "--audio", str(audio), "--out", str(tmp_path / "out.mp4"))
        assert done.returncode == 1 and "lasts 1.00 s but the audio 2.00 s" in done.stderr
        assert not (tmp_path / "out.mp4").exists()

    def test_a_short_video_gets_the_models_own_fix(self, tmp_path: Path) -> None:
        """The adapter's short_render_fix reaches the error: the shared step names no model itself."""
        video, audio = self.make(tmp_path, 1)
        out = str(tmp_path / "out.mp4")
        fix = get_adapter("gaussiantalker").short_render_fix
        done = step("mux", "--video", str(video), "--audio", str(audio), "--out", out, "--short_fix", fix)
        assert done.returncode == 1 and f"-- fix: {fix}" in done.stderr and "--render_batch 1" in fix

    def test_never_overwrites_without_force(self, tmp_path: Path) -> None:
        video, audio = self.make(tmp_path, 2)
        out = tmp_path / "out.mp4"
        out.write_bytes(b"mine")
        done = step("mux", "--video", str(video), "--audio", str(audio), "--out", str(out))
        assert done.returncode == 1 and "already exists" in done.stderr
        assert out.read_bytes() == b"mine"


class TestOtherSteps:
    def test_to_wav_refuses_a_file_without_audio(self, tmp_path: Path) -> None:
        video = tmp_path / "silent.mp4"
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=25", "-t", "1", "-pix_fmt", "yuv420p", str(video))
        done = step("to-wav", "--src", str(video), "--dst", str(tmp_path / "a.wav"))
        assert done.returncode == 1 and "has no audio stream" in done.stderr

    def test_to_wav_names_a_corrupt_file(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.mp3"
        bad.write_bytes(b"\x00" * 100)
        done = step("to-wav", "--src", str(bad), "--dst", str(tmp_path / "a.wav"))
        assert done.returncode == 2 and "cannot read media file" in done.stderr
        assert not (tmp_path / "a.wav").exists()

    def test_retarget_changes_only_the_named_keys(self) -> None:
        text = (
            "base_config:\n  - egs/egs_bases/radnerf/lm3d_radnerf.yaml\n"
            "video_id: May\nhead_model_dir: checkpoints/May/lm3d_radnerf\nnote: Mayday\n"
        )
        out = retarget(text, old="May", new="obama", keys=["video_id", "head_model_dir"])
        assert "video_id: obama" in out and "checkpoints/obama/lm3d_radnerf" in out and "note: Mayday" in out

    def test_derive_config_overrides_a_section(self, tmp_path: Path) -> None:
        base = tmp_path / "base.py"
        base.write_text("OptimizationParams = dict(iterations=10000, batch_size=32)\nModelParams = dict(a=1)\n")
        out = tmp_path / "derived.py"
        done = step(
            "derive-config", "--base", str(base), "--out", str(out), "--set", "OptimizationParams.iterations=500"
        )
        assert done.returncode == 0, done.stderr
        namespace: dict = {}
        exec(out.read_text(), namespace)  # noqa: S102
        assert namespace["OptimizationParams"] == {"iterations": 500, "batch_size": 32}
        assert namespace["ModelParams"] == {"a": 1}

    def test_npy_shape(self, tmp_path: Path) -> None:
        write_npy(tmp_path / "x.npy", (5, 16, 29))
        assert npy_shape(str(tmp_path / "x.npy")) == (5, 16, 29)
