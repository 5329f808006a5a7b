"""tools/lock_requirements.py's sdists, offline: a stand-in wheel resolves, the lock pins the sdist's sha256."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("lock_requirements", REPO / "tools" / "lock_requirements.py")
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)

SHA = "f224469b4168294902bb1efa80a8bf7855f24c99aef99cbefc1bcd3cce77881b"
URL = "https://files.pythonhosted.org/packages/3e/38/7859ff46/antlr4-python3-runtime-4.9.3.tar.gz"
# The shape of PyPI's PEP 691 page of antlr4-python3-runtime: sdists of several versions, a wheel, a yanked file.
PAGE = {
    "files": [
        {"filename": "antlr4-python3-runtime-4.9.2.tar.gz", "hashes": {"sha256": "0" * 64}, "url": URL + "x"},
        {"filename": "antlr4-python3-runtime-4.9.3.tar.gz", "hashes": {"sha256": SHA}, "url": URL},
        {"filename": "antlr4_python3_runtime-4.13.0-py3-none-any.whl", "hashes": {"sha256": "1" * 64}, "url": URL},
        {"filename": "antlr4-python3-runtime-4.10.tar.gz", "hashes": {"sha256": "2" * 64}, "url": URL, "yanked": True},
    ]
}


def test_the_lock_pins_the_sdist_of_that_version_by_url_and_sha256() -> None:
    assert lock.sdist_pin(PAGE, "antlr4-python3-runtime", "4.9.3") == f"antlr4-python3-runtime @ {URL}#sha256={SHA}"


def test_no_sdist_of_that_version_is_an_error_naming_it() -> None:
    with pytest.raises(SystemExit, match=r"no sdist of antlr4-python3-runtime==4\.13\.0"):
        lock.sdist_pin(PAGE, "antlr4-python3-runtime", "4.13.0")  # a wheel only
    with pytest.raises(SystemExit, match=r"no sdist of antlr4-python3-runtime==4\.10 "):
        lock.sdist_pin(PAGE, "antlr4-python3-runtime", "4.10")  # yanked


def test_a_package_that_needs_an_sdist_resolves_for_another_python_and_platform(tmp_path: Path) -> None:
    """pip's cross-platform resolution allows wheels only: the stand-in wheel satisfies omegaconf's dependency."""
    links = tmp_path / "links"
    links.mkdir()
    lock.stub_wheel(links, "antlr4-python3-runtime", "4.9.3")
    # A wheel that depends on it, as omegaconf 2.3.0 does ("antlr4-python3-runtime==4.9.*").
    with zipfile.ZipFile(links / "needs_antlr-1.0-py3-none-any.whl", "w") as wheel:
        info = "needs_antlr-1.0.dist-info"
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: needs-antlr\nVersion: 1.0\n"
                       "Requires-Dist: antlr4-python3-runtime==4.9.*\n")  # fmt: skip
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed", "--no-index"]
    command += ["--find-links", str(links), "--report", str(report), "--target", str(tmp_path / "t")]
    command += ["--python-version", "3.8", "--only-binary=:all:"]
    for platform in lock.platforms("2.31"):
        command += ["--platform", platform]
    subprocess.run([*command, "needs-antlr==1.0"], check=True, capture_output=True, text=True)
    resolved = {i["metadata"]["name"]: i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    assert resolved == {"needs-antlr": "1.0", "antlr4-python3-runtime": "4.9.3"}


def test_the_committed_locks_pin_every_sdist_by_sha256() -> None:
    for path in sorted(REPO.glob("images/*/cu1*.lock")):
        for entry in path.read_text().splitlines():
            if " @ " in entry:
                assert re.fullmatch(r"\S+ @ https://\S+\.(tar\.gz|zip)#sha256=[0-9a-f]{64}", entry), f"{path}: {entry}"
