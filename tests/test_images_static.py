"""What can be checked of the Dockerfiles without building the CUDA lines: pins, arch lists, locks, lint."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from typing import Dict

import pytest

from talkingface.adapters import ADAPTERS
from talkingface.core.upstream import load_pins
from tests.conftest import REPO
from tests.test_lint import tool

MODELS = tuple(ADAPTERS)
IMAGES = (*MODELS, "eval")
LOCAL_WHEELS = REPO / "images" / "common" / "local-wheels.txt"
# Our preprocessing (talkingface.prep) needs these in every model image, on every line.
PREP_PACKAGES = ("numpy", "opencv-python-headless", "dlib-bin", "face-recognition-models")
HASHED_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.\-]*)==([^=\s]+) --hash=sha256:([0-9a-f]{64})")


def dockerfile(model: str) -> str:
    return (REPO / "images" / model / "Dockerfile").read_text()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> Dict[str, str]:
    """name -> version of a requirements file's `name==version` lines (comments and hashes aside)."""
    found = {}
    for line in path.read_text().splitlines():
        spec = line.split("#", 1)[0].split(" --hash", 1)[0].strip()
        if spec:
            name, version = spec.split("==")
            found[canonical(name)] = version
    return found


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
        assert re.findall(r"PYTORCH3D_COMMIT=([0-9a-f]{40}) ", dockerfile(model))

    def test_cuda_lines_pin_the_preprocessing_packages_of_the_local_line(self, model: str) -> None:
        # The locks follow the requirements (test_locks_pin_everything_and_match_the_requirements); numpy and
        # OpenCV stay at each model's own pins, which upstream's code needs.
        wanted, local = pins(REPO / "images" / model / "requirements.txt"), pins(LOCAL_WHEELS)
        for name in PREP_PACKAGES:
            assert name in wanted, f"images/{model}/requirements.txt does not pin {name}"
        for name in ("dlib-bin", "face-recognition-models"):
            assert wanted[name] == local[name], f"{name}: {model} pins {wanted[name]}, the local line {local[name]}"

    def test_local_line_installs_the_wheelhouse_offline(self, model: str) -> None:
        text = dockerfile(model)
        local = stage(text, "runtime-local")
        run = re.search(r"^RUN (?:.*\\\n)*.*$", local, re.M)
        assert run, "runtime-local has no RUN"
        command = run.group(0)
        assert "--mount=type=bind,source=.wheels,target=/wheels" in command
        assert "--mount=type=bind,source=images/common/local-wheels.txt,target=/tmp/local-wheels.txt" in command
        for flag in (
            "pip install",
            "--no-index",
            "--find-links /wheels",
            "--require-hashes",
            "-r /tmp/local-wheels.txt",
        ):
            assert flag in command, f"runtime-local's pip install lacks {flag}"
        # Bind-mounted, never copied: the host's wheelhouse must not end up in a layer (a cu130 runtime copies the
        # extension wheels its own builder compiled, --from a stage, which is meant).
        assert not re.search(r"^(COPY|ADD) (?!--from=).*wheels", text, re.M)


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
                sdist = re.fullmatch(r"(\S+) @ https://\S+/[^/]+-([^-/]+)\.(?:tar\.gz|zip)#sha256=[0-9a-f]{64}", entry)
                if sdist:  # an sdist, pinned by its file and sha256 (tools/lock_requirements.py)
                    pins[re.sub(r"[-_.]+", "-", sdist.group(1)).lower()] = sdist.group(2)
                    continue
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


@pytest.mark.parametrize("image", (*IMAGES, "web"))
def test_the_app_stage_runs_under_any_uid(image: str) -> None:
    """The host passes its own UID, which has no passwd entry in the image: HOME must be writable and USER set, as
    torch 2.x's import calls getpass.getuser(), which reads USER before the passwd database (the first cu130 image
    run under a foreign UID failed with KeyError: getpwuid)."""
    app = re.search(r"^FROM runtime-\$\{LINE\} AS app\n(.*?)(?=^FROM |\Z)", dockerfile(image), re.M | re.S)
    assert app, f"{image}: no app stage"
    env = dict(re.findall(r"^\s*(?:ENV )?([A-Z_]+)=(\S+?)(?: \\)?$", app.group(1), re.M))
    assert env.get("HOME") == "/tmp" and env.get("USER"), env
    assert re.search(r"^USER 65534:65534$", app.group(1), re.M)


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


def test_wheelhouse_is_in_the_build_context_but_not_in_git() -> None:
    ignored = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()]
    assert not [p for p in ignored if p and not p.startswith("#") and "wheels" in p], ".wheels must reach the build"
    assert "/.wheels/" in (REPO / ".gitignore").read_text().split()


def test_local_wheels_are_exact_pins_with_one_hash_each() -> None:
    lines = [line for line in LOCAL_WHEELS.read_text().splitlines() if line.strip() and not line.startswith("#")]
    for line in lines:
        assert HASHED_PIN.fullmatch(line), f"local-wheels.txt: {line!r} is not `name==version --hash=sha256:...`"
    local = pins(LOCAL_WHEELS)
    assert sorted(local) == sorted(PREP_PACKAGES)
    # The host's tests run talkingface.prep with requirements-dev.txt's versions: the local images run the same.
    dev = pins(REPO / "requirements-dev.txt")
    for name, version in local.items():
        assert dev.get(name) == version, (
            f"{name}: local-wheels.txt pins {version}, requirements-dev.txt {dev.get(name)}"
        )


def test_local_base_brings_pip_for_the_wheelhouse() -> None:
    packages = (REPO / "images" / "base-local" / "packages.txt").read_text().split()
    assert "python3-pip" in packages


def test_build_local_fetches_the_wheelhouse_first() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^build-local: .*\bwheels\b", makefile, re.M)
    assert "tools/fetch-wheels.sh images/common/local-wheels.txt .wheels" in makefile


class TestFetchWheels:
    """tools/fetch-wheels.sh, with a stand-in for python that records how pip was called."""

    def run(self, tmp_path: Path, wheels: Dict[str, bytes], pinned: Dict[str, bytes]) -> tuple:
        house = tmp_path / "house"
        house.mkdir(exist_ok=True)
        for name, data in wheels.items():
            (house / name).write_bytes(data)
        requirements = tmp_path / "wheels.txt"
        lines = [f"{n}==1.0 --hash=sha256:{hashlib.sha256(d).hexdigest()}" for n, d in pinned.items()]
        requirements.write_text("# pins\n" + "\n".join(lines) + "\n")
        record = tmp_path / "pip-args"
        python = tmp_path / "python"
        python.write_text(
            f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\ncat "$(printf "%s\\n" "$@" | tail -n 1)" >> {record}\n'
        )
        python.chmod(0o755)
        done = subprocess.run(
            [str(REPO / "tools" / "fetch-wheels.sh"), str(requirements), str(house)],
            env={"PATH": "/usr/bin:/bin", "PYTHON": str(python)},
            capture_output=True,
            text=True,
        )
        return done, record.read_text() if record.exists() else None

    def test_nothing_is_fetched_when_every_wheel_verifies(self, tmp_path: Path) -> None:
        done, pip = self.run(
            tmp_path, {"a-1.0-py3-none-any.whl": b"a", "b-1.0-py3-none-any.whl": b"b"}, {"a": b"a", "b": b"b"}
        )
        assert done.returncode == 0, done.stderr
        assert pip is None and "all 2 wheels" in done.stdout

    def test_only_missing_or_damaged_wheels_are_fetched(self, tmp_path: Path) -> None:
        done, pip = self.run(
            tmp_path,
            {"a-1.0-py3-none-any.whl": b"a", "b-1.0-py3-none-any.whl": b"damaged"},
            {"a": b"a", "b": b"b", "c": b"c"},
        )
        assert done.returncode == 0, done.stderr
        assert "--require-hashes" in pip and "--no-deps" in pip and "--only-binary=:all:" in pip
        assert "b==1.0" in pip and "c==1.0" in pip and "a==1.0" not in pip

    def test_an_unhashed_pin_is_refused(self, tmp_path: Path) -> None:
        requirements = tmp_path / "wheels.txt"
        requirements.write_text("a==1.0\n")
        done = subprocess.run(
            [str(REPO / "tools" / "fetch-wheels.sh"), str(requirements), str(tmp_path / "house")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 1 and "has no --hash" in done.stderr


def test_eval_lines_install_the_torch_of_their_cuda() -> None:
    text = dockerfile("eval")
    cu113, cu118 = stage(text, "builder-cu113"), stage(text, "builder-cu118")
    assert "nvidia/cuda:11.3.1-base" in cu113 and "torch==1.12.1+cu113" in cu113 and "whl/cu113" in cu113
    assert "nvidia/cuda:11.8.0-base" in cu118 and "torch==2.0.1+cu118" in cu118 and "whl/cu118" in cu118
