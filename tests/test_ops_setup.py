"""images/nerffacespeech/ops-setup.py: the sources of one op get object names of their own, and upstream's relative
includes still resolve through the wrappers (bias_act.cpp beside bias_act.cu made setuptools' ninja build stop with
"multiple rules generate bias_act.o" in the first real cu130 build)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("ops_setup", REPO / "images" / "nerffacespeech" / "ops-setup.py")
ops_setup = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ops_setup)


def test_same_named_sources_get_distinct_wrappers(tmp_path: Path) -> None:
    up = tmp_path / "upstream" / "ops"
    up.mkdir(parents=True)
    sources = [str(up / "bias_act.cpp"), str(up / "bias_act.cu"), str(up / ".." / "common" / "texture.cpp")]
    wrapped = ops_setup.unique_sources(sources, tmp_path / "op" / "sources")
    stems = [Path(w).stem for w in wrapped]
    assert len(set(stems)) == len(stems) == 3
    assert [Path(w).suffix for w in wrapped] == [".cpp", ".cu", ".cpp"]  # the compiler is still picked by suffix
    assert [Path(w).read_text() for w in wrapped] == [f'#include "{s}"\n' for s in sources]


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_a_wrapped_source_still_finds_its_relative_include(tmp_path: Path) -> None:
    up = tmp_path / "upstream"
    up.mkdir()
    (up / "answer.h").write_text("inline int answer() { return 42; }\n")
    (up / "answer.cpp").write_text('#include "answer.h"\nint call() { return answer(); }\n')
    (wrapped,) = ops_setup.unique_sources([str(up / "answer.cpp")], tmp_path / "op" / "sources")
    done = subprocess.run(["g++", "-c", wrapped, "-o", str(tmp_path / "answer.o")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
