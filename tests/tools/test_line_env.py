"""tools/line-env.py and tools/native-env.sh: a native build gets the builder stage's settings with native paths."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest

from tests.conftest import REPO

CU130 = sorted(p.parent.name for p in REPO.glob("images/*/Dockerfile") if "AS builder-cu130\n" in p.read_text())
PY = f"{sys.version_info[0]}.{sys.version_info[1]}"


def assignments(text: str) -> Dict[str, str]:
    return {k: v for k, _, v in (shlex.split(line)[0].partition("=") for line in text.splitlines() if line)}


def line_env(model: str, stage: str, *args: str, env: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    argv = [sys.executable, str(REPO / "tools" / "line-env.py"), str(REPO / "images" / model / "Dockerfile"), stage]
    done = subprocess.run([*argv, *args], capture_output=True, text=True, check=True, env=env)
    return assignments(done.stdout)


def test_the_stage_settings_substitute_their_arg_defaults() -> None:
    settings = line_env("ernerf", "builder-cu130")
    assert settings["TORCH_CUDA_ARCH_LIST"] == settings["ARCHS"] == "7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX"
    # Without --native the image's own paths are printed as the Dockerfile has them.
    assert settings["CUDA_HOME"] == "/opt/venv/lib/python3.11/site-packages/nvidia/cu13"


@pytest.mark.parametrize("model", CU130)
def test_cu130_settings_map_under_the_prefix_or_the_checkout(tmp_path: Path, model: str) -> None:
    prefix = tmp_path / "env"
    settings = line_env(model, "builder-cu130", "--native", str(prefix), "--python", PY)
    for key, value in settings.items():
        assert "${" not in value and "$" not in value, (key, value)
        assert "/opt/" not in value.replace(f"{prefix}/opt/", ""), (key, value)
        if value.startswith("/"):
            assert value.startswith((f"{prefix}/", f"{REPO}/")), (key, value)
    assert settings["LOCK"] == str(REPO / "images" / model / "cu130.lock")
    assert settings["WHEELHOUSE"] == str(REPO / ".wheels-cu130")
    if "CUDA_HOME" in settings:
        assert settings["CUDA_HOME"] == f"{prefix}/opt/venv/lib/python{PY}/site-packages/nvidia/cu13"
        assert settings["EXT_KEEP"] == f"{prefix}/opt/ext-wheels"
        assert settings["EXT_WHEELS"] == f"{prefix}/.build/ext-wheels"
        assert settings["COMPAT"] == str(REPO / "images" / model / "compat.json")
    if model == "nerffacespeech":
        assert settings["COMPAT_NVDIFFRAST"] == str(REPO / "images" / model / "compat-nvdiffrast.json")


def test_an_arg_in_the_environment_wins_as_a_build_arg_does(tmp_path: Path) -> None:
    env = dict(os.environ, ARCHS="9.0")
    settings = line_env("ernerf", "builder-cu130", "--native", str(tmp_path), env=env)
    assert settings["TORCH_CUDA_ARCH_LIST"] == "9.0"


def stub_checkout(root: Path, model: str) -> Path:
    """tools/native-env.sh and line-env.py beside the model's Dockerfile, with a build-upstream.sh that only records
    the environment it was given."""
    repo = root / "repo"
    (repo / "tools").mkdir(parents=True)
    for name in ("native-env.sh", "line-env.py"):
        shutil.copy(REPO / "tools" / name, repo / "tools" / name)
    (repo / "talkingface").mkdir()
    shutil.copy(REPO / "talkingface" / "upstream.json", repo / "talkingface" / "upstream.json")
    (repo / "images" / model).mkdir(parents=True)
    shutil.copy(REPO / "images" / model / "Dockerfile", repo / "images" / model / "Dockerfile")
    script = repo / "images" / model / "build-upstream.sh"
    script.write_text('#!/bin/sh\nenv >"$PREFIX/build-env.txt"\nmkdir -p "$PREFIX/opt"\n: >"$PREFIX/opt/compat.env"\n')
    script.chmod(0o755)
    return repo


@pytest.mark.parametrize("model", ["ernerf", "nerffacespeech"])
def test_native_env_exports_the_cu130_settings_under_the_prefix(tmp_path: Path, model: str) -> None:
    repo, prefix = stub_checkout(tmp_path, model), tmp_path / "env"
    stage_keys = r"(CUDA_HOME|EXT_|WHEELHOUSE|TORCH_CUDA|ARCHS|COMPAT)"
    env = {k: v for k, v in os.environ.items() if not re.match(stage_keys, k)}
    env["CUDA_HOME" if model == "ernerf" else "UNRELATED"] = "/caller/cuda"
    subprocess.run([str(repo / "tools" / "native-env.sh"), model, "cu130", str(prefix)], env=env, check=True,
                   capture_output=True)  # fmt: skip
    built = dict(line.split("=", 1) for line in (prefix / "build-env.txt").read_text().splitlines() if "=" in line)
    native = {k: built[k] for k in ("EXT_KEEP", "EXT_WHEELS", "WHEELHOUSE", "TORCH_CUDA_ARCH_LIST", "LOCK", "COMPAT")}
    assert not any("/opt/" in v.replace(f"{prefix}/opt/", "") or "${" in v for v in native.values()), native
    assert built["EXT_KEEP"] == f"{prefix}/opt/ext-wheels"
    assert built["TORCH_CUDA_ARCH_LIST"] == "7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX"
    # The caller's own CUDA_HOME wins; otherwise it is the prefix venv's nvidia/cu13, for the venv's Python.
    py = subprocess.run(["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True,
                        text=True, check=True).stdout.strip()  # fmt: skip
    expected = "/caller/cuda" if model == "ernerf" else f"{prefix}/opt/venv/lib/python{py}/site-packages/nvidia/cu13"
    assert built["CUDA_HOME"] == expected
    if model == "nerffacespeech":
        assert built["COMPAT_NVDIFFRAST"] == str(repo / "images" / model / "compat-nvdiffrast.json")
