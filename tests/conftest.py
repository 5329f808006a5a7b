"""Fixtures: generated media, and upstream doubles installed the way the image installs upstream."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from talkingface.adapters import ADAPTERS
from tests.doubles.install import install

REPO = Path(__file__).resolve().parents[1]
# The person-specific models, which train on a video and then infer: what the `container` fixture's tests cover.
# One-shot models have tests of their own (tests/container/entrypoint/test_nerffacespeech.py).
MODELS = tuple(name for name, adapter in ADAPTERS.items() if adapter.trainable)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """The bundled sample clip (a real face that talks and blinks, 12 s) and a 3 s driving speech file."""
    from talkingface.demo.sample_clip import generate

    root = tmp_path_factory.mktemp("media")
    clip, speech = root / "clip.mp4", root / "speech.wav"
    generate(clip, seconds=12.0, size=512)
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=500:sample_rate=22050", "-t", "3", str(speech))
    return {"clip": clip, "speech": speech}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Container:
    """The folders an image has, in a temporary directory, with the doubles as the upstream tree."""

    model: str
    root: Path
    env: Dict[str, str]

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    def data_dir(self, task: str) -> Path:
        from talkingface.adapters import get_adapter

        return Path(get_adapter(self.model).task_paths(str(self.workspace), task).data_dir)

    @property
    def inputs(self) -> Path:
        return self.root / "input"

    def put_input(self, kind: str, source: Path, name: Optional[str] = None) -> str:
        target = self.inputs / kind / (name or source.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(0o444)
        return str(target)

    def run(self, *argv: str, fail: str = "", check: bool = True) -> subprocess.CompletedProcess:
        env = dict(self.env, FAKE_UPSTREAM_FAIL=fail)
        done = subprocess.run(
            [sys.executable, str(REPO / "entrypoints" / "talkingface-entrypoint"), *argv],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"entrypoint {argv} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def start(self, *argv: str, fail: str = "", **popen: Any) -> subprocess.Popen:
        """The entrypoint in a session of its own, so a test can kill it with every process it started."""
        env = dict(self.env, FAKE_UPSTREAM_FAIL=fail)
        return subprocess.Popen(
            [sys.executable, str(REPO / "entrypoints" / "talkingface-entrypoint"), *argv],
            cwd=self.workspace,
            env=env,
            start_new_session=True,
            **popen,
        )

    def calls(self) -> List[dict]:
        import json

        log = Path(self.env["FAKE_UPSTREAM_LOG"])
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def clear_calls(self) -> None:
        Path(self.env["FAKE_UPSTREAM_LOG"]).unlink(missing_ok=True)


def make_container(model: str, root: Path) -> Container:
    env = install(model, root)
    env["TALKINGFACE_HEARTBEAT"] = "3600"
    return Container(model=model, root=root, env=env)


@pytest.fixture(params=MODELS)
def container(request: pytest.FixtureRequest, tmp_path: Path) -> Container:
    return make_container(request.param, tmp_path)
