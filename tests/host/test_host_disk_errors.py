"""Issue 14, item 3, from the host: bin/run_<model>.sh with a workspace that is read-only, not writable or full
says so in one line naming the host path and the fix, before any container starts (docker) and in the native
runtime, and the same command resumes once the disk is fixed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Dict

import pytest

from talkingface.core.errors import DISK_FULL_FIX
from tests.conftest import REPO
from tests.disk_faults import fill, one_line, remount, tmpfs, unprivileged
from tests.doubles.install import install

MODEL = "gaussiantalker"


@pytest.fixture(scope="module")
def native_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prefix = tmp_path_factory.mktemp("native") / MODEL
    subprocess.run(
        [str(REPO / "tools" / "native-env.sh"), MODEL, "local", str(prefix)], check=True, capture_output=True
    )
    return prefix


class User:
    def __init__(self, root: Path, native_env: Path, media: Dict[str, Path]) -> None:
        self.root, self.prefix = root, native_env
        install(MODEL, root / "support")
        self.workspace = root / "my-workspace"
        self.workspace.mkdir()
        self.video = root / "clip.mp4"
        self.video.write_bytes(media["clip"].read_bytes())

    def run(self, verb: str, *args: str, runtime: str = "native", fail: str = "", privileged: bool = True):
        argv = [str(REPO / "bin" / f"run_{MODEL}.sh"), verb, *args, "--task", "talk", "--line", "local"]
        argv += ["--workspace", str(self.workspace), "--runtime", runtime]
        argv += ["--bfm_dir", str(self.root / "support" / "bfm_models")]
        argv += ["--weights_dir", str(self.root / "support" / "weights")]
        argv += ["--native_env", str(self.prefix)] if runtime == "native" else []
        env = dict(os.environ, TEST_MODE="", TALKINGFACE_HEARTBEAT="3600", FAKE_UPSTREAM_FAIL=fail)
        return subprocess.run(
            argv if privileged else unprivileged(argv),
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def train(self, **kw):
        return self.run("train", "--video_path", str(self.video), "--iterations", "2000", **kw)


@pytest.fixture
def user(tmp_path: Path, native_env: Path, media) -> User:
    return User(tmp_path, native_env, media)


def test_a_read_only_workspace_stops_before_docker_and_natively_then_resumes(user: User) -> None:
    with tmpfs(user.workspace, read_only=True):
        for runtime in ("docker", "native"):
            done = user.train(runtime=runtime)
            assert done.returncode == 1
            line = one_line(done.stderr)
            assert f"error: {user.workspace}" in line and "read-only file system" in line
            assert "-- fix: mount it read-write" in line
            assert "docker" not in done.stdout
        remount(user.workspace, "rw")
        again = user.train()
        assert again.returncode == 0, again.stderr


def test_a_workspace_the_user_cant_write_is_one_line_then_resumes(user: User) -> None:
    user.workspace.chmod(0o555)
    for runtime in ("docker", "native"):
        done = user.train(runtime=runtime, privileged=False)
        assert done.returncode == 1
        line = one_line(done.stderr)
        assert f"no permission to write {user.workspace}" in line and "-- fix: make the workspace writable" in line
    assert not any(user.workspace.iterdir())
    user.workspace.chmod(0o755)
    again = user.train(privileged=False)
    assert again.returncode == 0, again.stderr


def test_a_full_disk_is_one_line_and_its_probe_leaves_nothing_then_resumes(user: User) -> None:
    with tmpfs(user.workspace):
        ballast = fill(user.workspace)
        for runtime in ("docker", "native"):
            done = user.train(runtime=runtime)
            assert done.returncode == 1
            line = one_line(done.stderr)
            assert "the disk is full writing" in line and str(user.workspace) in line
            assert f"-- fix: {DISK_FULL_FIX}" in line
        assert [p.name for p in user.workspace.iterdir()] == ["ballast"]
        ballast.unlink()
        again = user.train()
        assert again.returncode == 0, again.stderr


def test_a_disk_that_fills_during_training_natively_is_one_line_then_resumes(user: User) -> None:
    with tmpfs(user.workspace):
        done = user.train(fail="train.py:fill")
        assert done.returncode == 1
        line = one_line(done.stderr)
        assert "step train (" in line and "No space left on device" in line and f"-- fix: {DISK_FULL_FIX}" in line
        assert str(user.workspace / "logs" / "talk") in line
        (user.workspace / ".fake-upstream-ballast").unlink()
        again = user.train()
        assert again.returncode == 0, again.stderr
        assert "done before, skipped" in again.stdout
