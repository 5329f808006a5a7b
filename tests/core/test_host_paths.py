"""Every path a user reads names the host file, not the container's mount point (TALKINGFACE_HOST_PATHS)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

from talkingface.core import host_paths
from tests.conftest import REPO, Container, ffmpeg

HOME = "/home/me/my work"


def mapping_for(container: Container) -> Dict[str, str]:
    root = container.root
    return {
        str(root / "workspace"): f"{HOME}/ws",
        str(root / "input" / "video" / "clip.mp4"): f"{HOME}/videos/clip.mp4",
        str(root / "input" / "audio" / "speech.wav"): f"{HOME}/speech.wav",
        str(root / "weights"): f"{HOME}/weights",
        str(root / "bfm_models"): f"{HOME}/bfm",
    }


def mapped(container: Container) -> Container:
    env = dict(container.env, **{host_paths.ENV: host_paths.encode(mapping_for(container))})
    return Container(model=container.model, root=container.root, env=env)


def assert_host_only(container: Container, text: str) -> None:
    for inside in mapping_for(container):
        assert inside not in text, text
    assert str(container.root / "input") not in text, text


class TestToHost:
    def test_identity_without_a_mapping(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(host_paths.ENV, raising=False)
        assert host_paths.to_host("wrote /workspace/results/a.mp4") == "wrote /workspace/results/a.mp4"

    def test_whole_components_only_and_the_longest_root_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(
            host_paths.ENV,
            host_paths.encode({"/workspace": "/srv/ws", "/input/video/a.mp4": "/home/u/a b.mp4", "/input": "/x"}),
        )
        text = "'/workspace/logs/1.log' /workspace2/x /data/workspace/y (/input/video/a.mp4) /workspace"
        expected = "'/srv/ws/logs/1.log' /workspace2/x /data/workspace/y (/home/u/a b.mp4) /srv/ws"
        assert host_paths.to_host(text) == expected

    def test_a_host_path_under_a_container_root_is_mapped_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(host_paths.ENV, host_paths.encode({"/workspace": "/workspace/me/ws"}))
        assert host_paths.to_host("its log is /workspace/logs/a.log") == "its log is /workspace/me/ws/logs/a.log"

    def test_a_broken_mapping_is_the_identity(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(host_paths.ENV, "{not json")
        assert host_paths.to_host("/workspace/a") == "/workspace/a"


class TestEntrypoint:
    def test_success_names_host_paths_only(self, container: Container, media) -> None:
        box = mapped(container)
        video = box.put_input("video", media["clip"])
        trained = box.run("train", "--video_path", video, "--task", "clip", "--iterations", "6000")
        speech = box.put_input("audio", media["speech"])
        done = box.run("infer", "--task", "clip", "--audio_path", speech)
        out = trained.stdout + trained.stderr + done.stdout + done.stderr
        assert_host_only(box, out)
        result = Path(f"{HOME}/ws").joinpath(
            (box.workspace / "results" / "clip" / "speech.mp4").relative_to(box.workspace)
        )
        assert f"[talkingface] result: {result}\n" in done.stdout
        assert f"wrote {HOME}/ws/" in trained.stdout  # our own steps' lines
        assert (box.workspace / "results" / "clip" / "speech.mp4").is_file()

    def test_a_failed_step_names_its_host_log(self, container: Container, media) -> None:
        box = mapped(container)
        video = box.put_input("video", media["clip"])
        process = {"geneface": "data_util/process.py"}.get(box.model, "data_utils/process.py")
        failed = box.run("train", "--video_path", video, "--task", "clip", fail=f"{process}#8:exit", check=False)
        assert failed.returncode == 1
        assert_host_only(box, failed.stdout + failed.stderr)
        log = next((box.workspace / "logs" / "clip").glob("*-process-task8.log"))
        assert f"its log is {HOME}/ws/{log.relative_to(box.workspace)} -- fix:" in failed.stderr

    def test_a_refused_input_names_the_host_weights_folder(self, container: Container, media) -> None:
        box = mapped(container)
        for weight in (box.root / "weights").rglob("*"):
            if weight.is_file():
                weight.unlink()
                break
        video = box.put_input("video", media["clip"])
        refused = box.run("train", "--video_path", video, "--task", "clip", check=False)
        assert refused.returncode == 2 and refused.stderr.startswith(f"error: missing from {HOME}/weights:")
        assert_host_only(box, refused.stdout + refused.stderr)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mapped-clips")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x96:rate=25", "-t", "1", "-pix_fmt", "yuv420p", str(root / "gt.mp4"))
    ffmpeg("-i", str(root / "gt.mp4"), "-vf", "gblur=sigma=2", "-pix_fmt", "yuv420p", str(root / "pred.mp4"))
    return root


def run_eval(clips: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    mapping = {str(clips): "/home/me/videos", str(out): "/home/me/scores"}
    env = {"PATH": "/usr/bin:/bin", host_paths.ENV: host_paths.encode(mapping), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "talkingface.eval", "--device", "cpu", "--gt_video", str(clips / "gt.mp4")]
        + ["--pred_video", str(clips / "pred.mp4"), *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


class TestEval:
    def test_json_csv_and_report_name_the_host_videos(self, clips: Path, tmp_path: Path) -> None:
        done = run_eval(
            clips,
            tmp_path,
            "--metrics", "psnr,ssim",
            "--out_json", str(tmp_path / "m.json"),
            "--csv", str(tmp_path / "f.csv"),
            "--report", str(tmp_path / "r.html"),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        report = json.loads((tmp_path / "m.json").read_text())
        assert report["ground_truth"] == "/home/me/videos/gt.mp4"
        assert report["predictions"][0]["video"] == "/home/me/videos/pred.mp4"
        assert (tmp_path / "f.csv").read_text().splitlines()[1].startswith("/home/me/videos/pred.mp4,0,")
        page = (tmp_path / "r.html").read_text()
        assert "/home/me/videos/gt.mp4" in page
        for text in (done.stdout, done.stderr, json.dumps(report), (tmp_path / "f.csv").read_text(), page):
            assert str(clips) not in text

    def test_the_missing_weights_fix_names_the_host_folder(self, clips: Path, tmp_path: Path) -> None:
        pytest.importorskip("torch")
        weights = tmp_path / "w"
        weights.mkdir()
        env_map = {str(weights): "/home/me/weights"}
        done = subprocess.run(
            [sys.executable, "-m", "talkingface.eval", "--device", "cpu", "--metrics", "fid"]
            + ["--gt_video", str(clips / "gt.mp4"), "--pred_video", str(clips / "pred.mp4")]
            + ["--weights_dir", str(weights)],
            cwd=REPO,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), host_paths.ENV: host_paths.encode(env_map)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 2 and "WEIGHTS=/home/me/weights" in done.stderr, done.stderr
        assert str(weights) not in done.stderr
