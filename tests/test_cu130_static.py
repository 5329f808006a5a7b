"""The cu130 line's files, read statically (CI never builds it: the full build takes hours on CI's cores)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from talkingface.adapters import ADAPTERS
from tests.conftest import REPO

MODELS = tuple(ADAPTERS)


@pytest.fixture(scope="module")
def lock_tool() -> ModuleType:
    """tools/lock_requirements.py, which writes the locks (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("lock_requirements", REPO / "tools" / "lock_requirements.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.mark.parametrize("image", [*MODELS, "eval"])
def test_cu130_stages_build_from_the_local_base_only(image: str) -> None:
    text = (REPO / "images" / image / "Dockerfile").read_text()
    assert "FROM ${LOCAL_BASE} AS builder-cu130" in text
    assert "FROM ${LOCAL_BASE} AS runtime-cu130" in text
    assert 'NVIDIA_REQUIRE_CUDA="cuda>=13.0"' in text
    assert "source=.wheels-cu130,target=/wheels" in text


@pytest.mark.parametrize("model", MODELS)
def test_model_stage_arch_list_and_shared_ext_cache(model: str) -> None:
    text = (REPO / "images" / model / "Dockerfile").read_text()
    assert 'ARG ARCHS="7.5;8.0;8.6;8.9;9.0;10.0;12.0+PTX"' in text
    assert 'TORCH_CUDA_ARCH_LIST="${ARCHS}"' in text
    assert "id=talkingface-ext-cu130" in text and "EXT_KEEP=/opt/ext-wheels" in text
    assert "PYTORCH3D_COMMIT=33824be3cbc87a7dd1db0f6a9a9de9ac81b2d0ba" in text  # v0.7.9, builds on torch 2.11


def test_cu130_torch_requirements_pin_the_gpu_machines_torch() -> None:
    reqs = (REPO / "images" / "common" / "cu130-torch.txt").read_text()
    assert re.search(r"^torch==2\.11\.0$", reqs, re.M)
    assert re.search(r"^cuda-toolkit\[.*nvcc.*\]==13\.0\.2$", reqs, re.M)


def test_existing_cu130_locks_pin_every_line_with_a_hash() -> None:
    locks = sorted(REPO.glob("images/*/cu130.lock"))
    assert locks, "no cu130 lock: make lock"
    for lock in locks:
        for line in lock.read_text().splitlines():
            if line and not line.startswith("#"):
                assert re.fullmatch(r"\S+==\S+ --hash=sha256:[0-9a-f]{64}(  # sdist)?", line), (lock, line)
        assert "torch==2.11.0 " in lock.read_text()


def test_every_image_has_a_cu130_lock_and_its_runtime_an_import_check() -> None:
    for image in (*MODELS, "eval"):
        assert (REPO / "images" / image / "cu130.lock").is_file(), f"{image}: make lock"
        runtime = (REPO / "images" / image / "Dockerfile").read_text().split("AS runtime-cu130", 1)[1]
        runtime = runtime.split("\nFROM ", 1)[0]
        assert re.search(r"^RUN python -c \"import torch, .*_cuda_getArchFlags\(\)", runtime, re.M), image
    for model, module in (
        ("ernerf", "_gridencoder"),
        ("gaussiantalker", "simple_knn._C"),
        ("geneface", "_raymarching_face"),
        ("nerffacespeech", "nvdiffrast_plugin"),
    ):
        runtime = (REPO / "images" / model / "Dockerfile").read_text().split("AS runtime-cu130", 1)[1]
        assert "pytorch3d._C" in runtime.split("\nFROM ", 1)[0] and module in runtime.split("\nFROM ", 1)[0]


def test_lock_overrides_replace_only_what_an_image_pins(lock_tool: ModuleType) -> None:
    got = lock_tool.override(["numpy==1.23.5", "tensorflow==2.8.4"], ["tensorflow==2.14.1", "open3d==0.18.0"])
    assert got == ["numpy==1.23.5", "tensorflow==2.14.1"]


def test_make_builds_only_the_images_that_have_the_line(tmp_path: Path) -> None:
    """A model new to the tree may lack a line's stage: make build, bundle and export-wheels take the images that have
    one and say which they skip, instead of failing on a missing stage after the others built."""
    # The Makefile over a copy of the images' Dockerfiles in which one model has no cu130 stage (the web image, no
    # image of a line, has none either); talkingface/ is the repository's, for the models, version and pins.
    lacking = MODELS[-1]
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    (tmp_path / "talkingface").symlink_to(REPO / "talkingface")
    for dockerfile in REPO.glob("images/*/Dockerfile"):
        copy = tmp_path / dockerfile.relative_to(REPO)
        copy.parent.mkdir(parents=True)
        text = dockerfile.read_text()
        if copy.parent.name == lacking:
            assert "AS builder-cu130\n" in text
            text = text.replace("AS builder-cu130\n", "AS builder-cu130-someday\n")
        copy.write_text(text)
    assert "AS builder-cu130\n" not in (tmp_path / "images" / "web" / "Dockerfile").read_text()
    # Under `make test` this is a sub-make: none of the outer make's flags.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "build", "LINE=cu130"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    built = set(re.findall(r"-t talkingface/([a-z0-9]+):\S+-cu130", dry.stdout))
    assert built == {*MODELS, "eval"} - {lacking}, dry.stdout
    # The recipe names them (make -n prints the recipe; make build prints "note: not built, ...: NAMES").
    assert re.search(r'skipped="([^"]*)"', dry.stdout).group(1).split() == [lacking], dry.stdout


def test_make_build_refuses_a_line_no_image_has() -> None:
    out = subprocess.run(["make", "-s", "build", "LINE=cu999"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[0] == (
        "error: no image has a cu999 line -- fix: LINE=cu113, cu118, cu130 or local"
    )
    assert "note:" not in out.stdout


def test_cu130_locks_hold_the_requirements_as_overridden(lock_tool: ModuleType) -> None:
    """Each cu130 lock pins what its requirements pin, after the shared cu130 overrides and the image's own: the lock is
    what the image installs (--no-deps), so one left behind by a change to either would go unnoticed."""
    tool = lock_tool
    for lock in sorted(REPO.glob("images/*/cu130.lock")):
        folder = lock.parent
        wanted = tool.specs(folder / "requirements.txt")
        for overrides in (REPO / "images" / "common" / "cu130-overrides.txt", folder / "cu130-overrides.txt"):
            if overrides.exists():
                wanted = tool.override(wanted, tool.specs(overrides))
        locked = {}
        for line in lock.read_text().splitlines():
            if line and not line.startswith("#"):
                name, version = line.split(" ", 1)[0].split("==")
                locked[tool.canonical(name)] = version
        for pin in wanted:
            name, version = pin.split("==")
            assert locked.get(tool.canonical(name)) == version, (lock, pin, locked.get(tool.canonical(name)))


def test_nerffacespeech_cu130_imports_its_prebuilt_ops_and_checks_them_all() -> None:
    """Upstream and nvdiffrast JIT-compile their ops at first use unless the compat edits make them import the wheels
    the image built; the runtime has no compiler, so those edits must cover every CUDA line, and the runtime's import
    check must name every op build-upstream.sh builds."""
    import json

    folder = REPO / "images" / "nerffacespeech"
    text = (folder / "Dockerfile").read_text()
    cuda_lines = set(re.findall(r"^FROM \S+ AS builder-(cu\d+)$", text, re.M))
    assert "cu130" in cuda_lines
    for name, edit_id in (("compat.json", "prebuilt-ops"), ("compat-nvdiffrast.json", "prebuilt-plugin")):
        edits = {e["id"]: e for e in json.loads((folder / name).read_text())["edits"]}
        assert set(edits[edit_id]["lines"]) == cuda_lines, name
    builder = text.split("AS builder-cu130\n", 1)[1].split("\nFROM ", 1)[0]
    assert "NVDIFFRAST_COMMIT=c5caf7bdb8a2448acc491a9faa47753972edd380" in builder
    assert "COMPAT_NVDIFFRAST=/tmp/compat-nvdiffrast.json" in builder
    runtime = text.split("AS runtime-cu130\n", 1)[1].split("\nFROM ", 1)[0]
    ops = re.findall(r"^op (\w+) ", (folder / "build-upstream.sh").read_text(), re.M)
    assert len(ops) == 6
    for module in (*ops, "nvdiffrast.torch"):
        assert module in runtime, module


def test_a_wrong_archives_folder_is_refused_before_the_base_and_the_wheelhouse(tmp_path) -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "build-ernerf", "LINE=cu130", f"UPSTREAM_ARCHIVES={tmp_path / 'nowhere'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stdout == "", done.stdout
    assert f"error: UPSTREAM_ARCHIVES={tmp_path / 'nowhere'} is no folder -- fix: " in done.stderr
    dry = subprocess.run(["make", "-n", "build-ernerf", "LINE=cu130"], cwd=REPO, capture_output=True, text=True)
    assert dry.stdout.index("upstream-archives") < dry.stdout.index("bootstrap-base")
