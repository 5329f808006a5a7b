"""images/common/build-ext.sh: a cached wheel is reused for the same torch and arch list only, and its shared objects
lose their debug info (the compilers' -g) with RECORD kept true, so the images don't carry it."""

from __future__ import annotations

import base64
import csv
import ctypes
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "images" / "common" / "build-ext.sh"
# build-ext asks python3 for torch's version; everything else goes to the real interpreter.
FAKE_PYTHON = f"""#!/bin/sh
case "$2" in *"import torch"*) echo 2.11.0+cu130; exit 0 ;; esac
exec {sys.executable} "$@"
"""

pytestmark = pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("strip")), reason="needs gcc and strip")


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_with_debug_info(tmp: Path) -> Path:
    src = tmp / "answer.c"
    src.write_text("int answer(void) { return 42; }\n")
    so = tmp / "_answer.so"
    subprocess.run(["gcc", "-g", "-O0", "-shared", "-fPIC", "-o", str(so), str(src)], check=True)
    files = {"_answer.so": so.read_bytes(), "answer-1.0.dist-info/METADATA": b"Name: answer\nVersion: 1.0\n"}
    record = "".join(f"{name},{record_hash(data)},{len(data)}\n" for name, data in files.items())
    wheel = tmp / "answer-1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr("answer-1.0.dist-info/RECORD", record + "answer-1.0.dist-info/RECORD,,\n")
    return wheel


def has_debug_info(so: Path) -> bool:
    sections = subprocess.run(["readelf", "-S", str(so)], check=True, capture_output=True, text=True).stdout
    return ".debug_info" in sections


def build_env(tmp_path: Path) -> dict:
    """build-ext's environment: torch 2.11.0+cu130 (FAKE_PYTHON), arch list 9.0, cache tmp_path/cache, no install."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text(FAKE_PYTHON)
    (fake / "python3").chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}", TORCH_CUDA_ARCH_LIST="9.0", EXT_INSTALL="0")
    env["EXT_WHEELS"] = str(tmp_path / "cache")
    return env


def test_a_reused_wheel_loses_its_debug_info_and_keeps_its_code_and_record(tmp_path: Path) -> None:
    built = wheel_with_debug_info(tmp_path)
    with zipfile.ZipFile(built) as z:
        (tmp_path / "before.so").write_bytes(z.read("_answer.so"))
    assert has_debug_info(tmp_path / "before.so")
    cache = tmp_path / "cache" / "answer"
    cache.mkdir(parents=True)
    shutil.copy(built, cache)
    (cache / "BUILT_FOR").write_text("2.11.0+cu130 9.0\n")
    env = build_env(tmp_path)
    done = subprocess.run(
        ["bash", str(SCRIPT), f"answer={tmp_path / 'nowhere'}"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "reusing answer-1.0" in done.stdout and "debug info stripped" in done.stdout

    wheel = cache / built.name
    with zipfile.ZipFile(wheel) as z:
        so = z.read("_answer.so")
        rows = list(csv.reader(io.StringIO(z.read("answer-1.0.dist-info/RECORD").decode())))
    (tmp_path / "after.so").write_bytes(so)
    assert not has_debug_info(tmp_path / "after.so") and len(so) < (tmp_path / "before.so").stat().st_size
    assert ctypes.CDLL(str(tmp_path / "after.so")).answer() == 42
    with zipfile.ZipFile(wheel) as z:
        assert all(z.read(name) and record_hash(z.read(name)) == digest for name, digest, _ in rows if digest)

    again = subprocess.run(
        ["bash", str(SCRIPT), f"answer={tmp_path / 'nowhere'}"], env=env, capture_output=True, text=True
    )
    assert again.returncode == 0 and "stripped" not in again.stdout  # already stripped: the wheel is left as it is


@pytest.mark.parametrize(
    "record",
    ["2.10.0+cu130 9.0", "2.11.0+cu130 8.0;9.0", "2.11.0+cu128 9.0"],
    ids=["other-torch", "other-archs", "other-cuda"],
)
def test_a_wheel_cached_for_another_torch_or_arch_list_is_built_again(tmp_path: Path, record: str) -> None:
    cache = tmp_path / "cache" / "answer"
    cache.mkdir(parents=True)
    stale = cache / "answer-1.0-cp311-cp311-linux_x86_64.whl"
    stale.write_bytes(b"a wheel built for another torch")
    (cache / "BUILT_FOR").write_text(record + "\n")
    env = build_env(tmp_path)
    done = subprocess.run(
        ["bash", str(SCRIPT), f"answer={tmp_path / 'nowhere'}"], env=env, capture_output=True, text=True
    )
    assert "reusing" not in done.stdout
    assert f"build-ext: answer: compiling {tmp_path / 'nowhere'} for 9.0" in done.stdout
    # The stale wheel is gone, and the build of the missing source fails instead of installing it.
    assert done.returncode != 0 and "error: building answer failed" in done.stderr
    assert not stale.exists() and not (cache / "BUILT_FOR").exists()
