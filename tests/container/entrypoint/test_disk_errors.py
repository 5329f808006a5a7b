"""Issue 14, item 3: a workspace that is read-only, not writable or full gives one line through the real
entrypoint (doubles as upstream), naming the problem, the path and the fix; nothing is lost, and the same command
resumes once the disk is fixed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from talkingface.core.errors import DISK_FULL_FIX
from tests.conftest import REPO, Container, make_container
from tests.disk_faults import fill, one_line, remount, tmpfs, unprivileged

MODEL = "gaussiantalker"


def entrypoint(container: Container, *argv: str, fail: str = "", privileged: bool = True):
    command = [sys.executable, str(REPO / "entrypoints" / "talkingface-entrypoint"), *argv]
    return subprocess.run(
        command if privileged else unprivileged(command),
        cwd=container.root,
        env=dict(container.env, FAKE_UPSTREAM_FAIL=fail),
        capture_output=True,
        text=True,
        timeout=600,
    )


def train(container: Container, media, verb: str = "train", **kw):
    video = container.put_input("video", media["clip"])
    args = ["--video_path", video] if verb != "train_only" else []
    return entrypoint(container, verb, *args, "--task", "clip", "--iterations", "6000", **kw)


def trained(container: Container) -> bool:
    return any((container.workspace / "models" / "clip").rglob("*.pth")) or any(
        (container.workspace / "models" / "clip").rglob("*.ply")
    )


def test_a_read_only_workspace_is_one_line_then_resumes(tmp_path: Path, media) -> None:
    container = make_container(MODEL, tmp_path)
    with tmpfs(container.workspace, read_only=True):
        done = train(container, media)
        assert done.returncode == 1
        line = one_line(done.stderr)
        assert line.startswith("error: ") and "read-only file system" in line
        assert str(container.workspace) in line and "-- fix: mount it read-write" in line
        remount(container.workspace, "rw")
        again = train(container, media)
        assert again.returncode == 0, again.stderr
        assert "train clip: all" in again.stdout


def test_a_workspace_the_user_cant_write_is_one_line_then_resumes(tmp_path: Path, media) -> None:
    container = make_container(MODEL, tmp_path)
    container.workspace.chmod(0o555)
    done = train(container, media, privileged=False)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "no permission to write" in line and str(container.workspace) in line
    assert "-- fix: make the workspace writable" in line
    container.workspace.chmod(0o755)
    again = train(container, media, privileged=False)
    assert again.returncode == 0, again.stderr


def test_a_disk_already_full_is_one_line_then_resumes(tmp_path: Path, media) -> None:
    container = make_container(MODEL, tmp_path)
    with tmpfs(container.workspace):
        ballast = fill(container.workspace)
        done = train(container, media)
        assert done.returncode == 1
        line = one_line(done.stderr)
        assert f"the disk is full writing {container.workspace}" in line and f"-- fix: {DISK_FULL_FIX}" in line
        ballast.unlink()
        again = train(container, media)
        assert again.returncode == 0, again.stderr


def test_a_disk_that_fills_during_training_is_one_line_keeps_the_dataset_and_resumes(tmp_path: Path, media) -> None:
    container = make_container(MODEL, tmp_path)
    with tmpfs(container.workspace):
        prep = train(container, media, "preprocess")
        assert prep.returncode == 0, prep.stderr
        dataset = sorted(p.relative_to(container.workspace) for p in (container.workspace / "data").rglob("*"))
        # The double's training writes until the disk is full and dies of it, as a checkpoint write would.
        done = train(container, media, "train_only", fail="train.py:fill")
        assert done.returncode == 1
        line = one_line(done.stderr)
        assert "step train (" in line and "No space left on device" in line
        assert str(container.workspace / "logs" / "clip") in line and f"-- fix: {DISK_FULL_FIX}" in line
        # The step's own traceback is its output (shown, as upstream's are); none of ours follows it.
        assert done.stdout.count("Traceback") == 1 and "talkingface/container/runner.py" not in done.stdout
        (container.workspace / ".fake-upstream-ballast").unlink()
        after = sorted(p.relative_to(container.workspace) for p in (container.workspace / "data").rglob("*"))
        assert after == dataset
        container.clear_calls()
        again = train(container, media, "train_only")
        assert again.returncode == 0, again.stderr
        assert "validate" in again.stdout and [c["script"] for c in container.calls()] == ["train.py"]
        assert trained(container)
