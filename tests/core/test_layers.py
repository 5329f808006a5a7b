"""The shared core stays a layer under the others: the host runs it with python3 alone, and the images with it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Iterable, List

from tests.conftest import REPO

CORE = REPO / "talkingface" / "core"
# The adapters describe each model's steps, and the weights manifest which files a run loads (both stdlib only):
# the core composes plans and checks requests from them, and imports nothing else of ours.
ALLOWED_OURS = ("talkingface.core", "talkingface.adapters", "talkingface.weights.manifest")


def imported(path: Path) -> List[str]:
    """Every module ``path`` imports, anywhere in it (function-level imports too), as an absolute name."""
    names: List[str] = []
    package = "talkingface.core"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                names.append(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                names.append(node.module)
    return names


def bad_imports(paths: Iterable[Path], root: Path = REPO) -> List[str]:
    """``path: module`` (path relative to ``root``) for each import in ``paths`` that is neither the standard library
    nor one of ALLOWED_OURS."""
    bad = []
    for path in paths:
        for name in imported(path):
            top = name.split(".")[0]
            if name.startswith(ALLOWED_OURS) or (top != "talkingface" and top in sys.stdlib_module_names):
                continue
            bad.append(f"{path.relative_to(root)}: {name}")
    return bad


def test_the_core_imports_only_the_standard_library_itself_the_adapters_and_the_manifest() -> None:
    bad = bad_imports(sorted(CORE.glob("*.py")))
    assert not bad, bad


def test_the_check_sees_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from ..container.runner import x\nimport numpy\nfrom . import errors\nfrom talkingface.core.errors import E\n"
        "import json\n",
        encoding="utf-8",
    )
    assert imported(module) == [
        "talkingface.container.runner",
        "numpy",
        "talkingface.core",
        "talkingface.core.errors",
        "json",
    ]
    assert bad_imports([module], tmp_path) == ["m.py: talkingface.container.runner", "m.py: numpy"]
