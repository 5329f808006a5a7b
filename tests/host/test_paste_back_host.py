"""paste-back from the host: what is mounted, and how the container sees the result and the background."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.host.test_cli import Host, docker_argv, mounts


@pytest.fixture
def host(tmp_path: Path, media) -> Host:
    return Host(tmp_path, media["clip"])


def prepared(host: Host) -> Path:
    """A task preprocessed from host.video, with a result, as train and infer leave them."""
    data = host.workspace("ernerf") / "data" / "clip"
    data.mkdir(parents=True)
    (data / "crop_boxes.csv").write_text("frame,x,y,size,source_width,source_height\n0,0,0,512,512,512\n")
    (data / "input.json").write_text(json.dumps({"given": str(host.video), "sha256": "0" * 64}))
    result = host.workspace("ernerf") / "results" / "clip" / "speech.mp4"
    result.parent.mkdir(parents=True)
    result.write_bytes(b"mp4")
    return result


def test_the_training_video_is_mounted_as_the_background_and_the_result_stays_in_the_workspace(host: Host) -> None:
    prepared(host)
    done = host.run("ernerf", "paste-back", "--task", "clip", "--result", "results/clip/speech.mp4")
    assert done.returncode == 0, done.stderr
    argv = docker_argv(done.stdout)
    background = {"type": "bind", "source": str(host.video), "target": "/input/background/clip.mp4"}
    assert any(all(m.get(k) == v for k, v in background.items()) and "readonly" in m for m in mounts(argv))
    assert argv[argv.index("--result") + 1] == "/workspace/results/clip/speech.mp4"
    plan = done.stdout.split("\n\n", 1)[1]
    assert "--background /input/background/clip.mp4" in plan
    assert "--out /workspace/results/clip/speech_full.mp4" in plan


def test_a_result_outside_the_workspace_is_mounted_read_only(host: Host) -> None:
    result = prepared(host)
    elsewhere = host.root / "copies" / "speech.mp4"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(result.read_bytes())
    done = host.run("ernerf", "paste-back", "--task", "clip", "--result", str(elsewhere))
    assert done.returncode == 0, done.stderr
    argv = docker_argv(done.stdout)
    assert argv[argv.index("--result") + 1] == "/input/result/speech.mp4"
    assert any(m.get("source") == str(elsewhere) and "readonly" in m for m in mounts(argv))


def test_no_training_video_and_no_background_is_one_line(host: Host) -> None:
    prepared(host)
    host.video.unlink()
    done = host.run("ernerf", "paste-back", "--task", "clip", "--result", "results/clip/speech.mp4")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "is not there to paste into" in done.stderr
    assert "--background VIDEO" in done.stderr
