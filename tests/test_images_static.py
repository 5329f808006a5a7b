"""What can be checked of the Dockerfiles without building the CUDA lines: pins, arch lists, locks, lint."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from talkingface.adapters import ADAPTERS
from talkingface.upstream import load_pins
from tests.conftest import REPO
from tests.test_lint import tool

MODELS = tuple(ADAPTERS)
IMAGES = (*MODELS, "eval")


def dockerfile(model: str) -> str:
    return (REPO / "images" / model / "Dockerfile").read_text()


def stage(text: str, name: str) -> str:
    match = re.search(rf"^FROM \S+ AS {name}\n(.*?)(?=^FROM |\Z)", text, re.M | re.S)
    assert match, f"no stage {name}"
    return match.group(0)


@pytest.mark.parametrize("model", MODELS)
class TestDockerfile:
    def test_upstream_pin_is_the_one_in_upstream_json(self, model: str) -> None:
        pin = load_pins()[model]
        text = dockerfile(model)
        assert pin.repo in text
        assert set(re.findall(r"UPSTREAM_COMMIT=([0-9a-f]{40})", text)) == {pin.commit}
        script = (REPO / "images" / model / "build-upstream.sh").read_text()
        for commit in pin.submodules.values():
            assert commit in script

    def test_lines_have_explicit_arch_lists_and_cuda_bases(self, model: str) -> None:
        text = dockerfile(model)
        cu113, cu118 = stage(text, "builder-cu113"), stage(text, "builder-cu118")
        assert "nvidia/cuda:11.3.1-cudnn8-devel" in cu113 and 'TORCH_CUDA_ARCH_LIST="7.0;7.5;8.0;8.6+PTX"' in cu113
        assert "nvidia/cuda:11.8.0-cudnn8-devel" in cu118 and "8.9;9.0+PTX" in cu118
        assert "+cu113" in cu113 and "+cu118" in cu118

    def test_pytorch3d_is_pinned(self, model: str) -> None:
        assert re.findall(r"PYTORCH3D_REF=(v[\d.]+)", dockerfile(model))


@pytest.mark.parametrize("model", IMAGES)
class TestEveryImage:
    def test_nothing_floats(self, model: str) -> None:
        text = dockerfile(model)
        assert ":latest" not in text
        stages = set(re.findall(r" AS (\S+)$", text, re.M))
        for base in re.findall(r"^FROM (\S+)", text, re.M):
            local = base.startswith("${") or base.replace("${LINE}", "local") in stages
            assert local or re.search(r":\d", base), f"{base} is neither a stage nor a versioned image"
        for pins in re.findall(r'TORCH_PINS="([^"]+)"', text):
            assert all(re.fullmatch(r"[a-z]+==[\d.]+(\+cu1\d\d)?", pin) for pin in pins.split()), pins

    def test_locks_pin_everything_and_match_the_requirements(self, model: str) -> None:
        wanted = {}
        for line in (REPO / "images" / model / "requirements.txt").read_text().splitlines():
            spec = line.split("#", 1)[0].strip()
            if spec:
                name, version = spec.split("==")
                wanted[re.sub(r"[-_.]+", "-", name).lower()] = version
        for line_name in ("cu113", "cu118"):
            lock = (REPO / "images" / model / f"{line_name}.lock").read_text().splitlines()
            pins = {}
            for entry in lock:
                spec = entry.split("#", 1)[0].strip()
                if spec:
                    assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^=\s]+", spec), (
                        f"{line_name}.lock: {spec} is not pinned"
                    )
                    name, version = spec.split("==")
                    pins[re.sub(r"[-_.]+", "-", name).lower()] = version
            for name, version in wanted.items():
                assert pins.get(name) == version, (
                    f"{line_name}.lock has {name}=={pins.get(name)}, requirements say {version}"
                )

    def test_app_stage_is_shared_by_every_line(self, model: str) -> None:
        text = dockerfile(model)
        assert text.count(" AS app") == 1 and "FROM runtime-${LINE} AS app" in text
        for line_name in ("cu113", "cu118", "local"):
            assert f" AS runtime-{line_name}" in text


def test_hadolint() -> None:
    files = sorted(str(p) for p in REPO.glob("images/*/Dockerfile"))
    done = subprocess.run([tool("hadolint"), *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_shellcheck_the_build_scripts() -> None:
    files = sorted(str(p) for p in [*REPO.glob("tools/*.sh"), *REPO.glob("images/*/*.sh")])
    done = subprocess.run([tool("shellcheck"), *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_dockerignore_keeps_user_data_out_of_the_build_context() -> None:
    ignored = Path(REPO / ".dockerignore").read_text().split()
    for folder in ("workspace", "weights", "bfm_models", ".venv", ".git"):
        assert folder in ignored


def test_eval_lines_install_the_torch_of_their_cuda() -> None:
    text = dockerfile("eval")
    cu113, cu118 = stage(text, "builder-cu113"), stage(text, "builder-cu118")
    assert "nvidia/cuda:11.3.1-base" in cu113 and "torch==1.12.1+cu113" in cu113 and "whl/cu113" in cu113
    assert "nvidia/cuda:11.8.0-base" in cu118 and "torch==2.0.1+cu118" in cu118 and "whl/cu118" in cu118
