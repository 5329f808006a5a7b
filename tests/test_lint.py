"""ruff and shellcheck are part of the tests: a lint failure fails the build."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed: run make test, which installs it into .venv"
    return found


def test_ruff_check() -> None:
    done = subprocess.run([tool("ruff"), "check", "."], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_ruff_format() -> None:
    done = subprocess.run([tool("ruff"), "format", "--check", "."], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_shellcheck() -> None:
    scripts = sorted(str(p) for p in REPO.glob("bin/*.sh")) + [str(REPO / ".ci" / "run")]
    done = subprocess.run([tool("shellcheck"), "--severity=style", *scripts], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
