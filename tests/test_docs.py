"""The README tells the truth about the pins and the scripts."""

from __future__ import annotations

from talkingface.core.upstream import load_pins
from tests.conftest import REPO


def test_readme_lists_every_pinned_commit() -> None:
    readme = (REPO / "README.md").read_text()
    for pin in load_pins().values():
        assert pin.commit in readme and pin.repo.removesuffix(".git") in readme


def test_every_model_has_a_shim_and_an_image_folder() -> None:
    for name in load_pins():
        assert (REPO / "bin" / f"run_{name}.sh").is_file()
        assert (REPO / "images" / name).is_dir()
