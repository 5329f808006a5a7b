"""Fixtures: generated media, and upstream doubles installed the way the image installs upstream."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[1]
DOUBLES = REPO / "tests" / "doubles"
MODELS = ("ernerf", "gaussiantalker", "geneface")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """A 2 s talking clip (video + audio) and a 3 s driving speech file, made with ffmpeg."""
    root = tmp_path_factory.mktemp("media")
    clip, speech = root / "clip.mp4", root / "speech.wav"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=64x64:rate=25", "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000",
        "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(clip),
    )  # fmt: skip
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

    def calls(self) -> List[dict]:
        import json

        log = Path(self.env["FAKE_UPSTREAM_LOG"])
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def clear_calls(self) -> None:
        Path(self.env["FAKE_UPSTREAM_LOG"]).unlink(missing_ok=True)


def make_container(model: str, root: Path) -> Container:
    upstream = root / "upstream" / model
    shutil.copytree(DOUBLES / model, upstream, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("workspace", "input", "bfm_models", "weights"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "bfm_models" / "01_MorphableModel.mat").write_bytes(b"MATLAB 5.0 MAT-file placeholder")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    # Upstream shells out to `python`; point it at this interpreter.
    (bin_dir / "python").symlink_to(sys.executable)
    env = dict(os.environ)
    env.update(
        TALKINGFACE_MODEL=model,
        TALKINGFACE_WORKSPACE=str(root / "workspace"),
        TALKINGFACE_INPUTS=str(root / "input"),
        TALKINGFACE_BFM=str(root / "bfm_models"),
        TALKINGFACE_WEIGHTS=str(root / "weights"),
        TALKINGFACE_UPSTREAM=str(root / "upstream"),
        TALKINGFACE_HEARTBEAT="3600",
        PYTHONPATH=os.pathsep.join([str(REPO), str(DOUBLES)]),
        PATH=os.pathsep.join([str(bin_dir), env.get("PATH", "")]),
        FAKE_UPSTREAM_LOG=str(root / "calls.jsonl"),
        TEST_MODE="",
    )
    subprocess.run([sys.executable, "-m", "talkingface.image_setup", model, str(upstream)], env=env, check=True)
    from talkingface.adapters import get_adapter

    for relative in get_adapter(model).weight_files:
        target = root / "weights" / model / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"placeholder weight")
    if model == "geneface":
        seed_geneface_releases(upstream, root / "weights" / "geneface" / "checkpoints", env)
    return Container(model=model, root=root, env=env)


SEED_RELEASES = """
import sys
from pathlib import Path
import _geneface_double as gd
out = Path(sys.argv[1])
for name in ("lm3d_vae_sync", "syncnet"):
    gd.write_ckpt(str(out / "lrs3" / name / "model_ckpt_steps_40000.ckpt"), 40000)
hp = gd.load_config_chain("egs/datasets/videos.orig/May/lm3d_postnet_sync.yaml")
hp["work_dir"] = "checkpoints/May/lm3d_postnet_sync"
postnet = out / "May" / "lm3d_postnet_sync"
gd.write_ckpt(str(postnet / "model_ckpt_steps_4000.ckpt"), 4000)
(postnet / "config.yaml").write_text(gd.dump_yaml(hp))
"""


def seed_geneface_releases(upstream: Path, out: Path, env: Dict[str, str]) -> None:
    """The released LRS3 and May checkpoints, as the double reads them (the real files come from the weights)."""
    child_env = dict(env, PYTHONPATH=os.pathsep.join([str(upstream), env["PYTHONPATH"]]))
    subprocess.run([sys.executable, "-c", SEED_RELEASES, str(out)], cwd=upstream, env=child_env, check=True)


@pytest.fixture(params=MODELS)
def container(request: pytest.FixtureRequest, tmp_path: Path) -> Container:
    return make_container(request.param, tmp_path)
