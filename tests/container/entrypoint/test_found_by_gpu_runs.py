"""Defects the real upstream runs on the GPU found (docs/gpu-run.md), each pinned on the doubles, which now fail
the way upstream did."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkingface.adapters.gaussiantalker import stage_iterations
from talkingface.adapters.geneface import GeneFace
from tests.conftest import make_container


@pytest.mark.parametrize(
    ("requested", "coarse", "fine"),
    [(500, 500, 500), (1000, 1000, 1000), (1200, 1000, 1500), (10000, 7999, 10000), (20000, 7999, 20000)],
)
def test_gaussiantalker_iterations_scale_both_stages_and_end_on_a_save(requested, coarse, fine) -> None:
    assert stage_iterations(requested) == (coarse, fine)


def test_gaussiantalker_short_training_is_short_and_saves_its_last_iteration(tmp_path: Path, media) -> None:
    container = make_container("gaussiantalker", tmp_path)
    video = container.put_input("video", media["clip"])
    container.run("train", "--video_path", video, "--task", "clip", "--iterations", "1200")
    saved = {p.name for p in (container.workspace / "models" / "clip" / "point_cloud").iterdir()}
    # Before: the coarse stage ran the config's 7999 iterations and fine iterations 1001-1200 were never saved.
    assert "iteration_1500" in saved
    assert "coarse_iteration_1000" in saved
    assert not {name for name in saved if name.startswith("coarse_iteration_") and int(name.rsplit("_", 1)[1]) > 1000}
    config = (container.workspace / "models" / "clip" / "talkingface_config.py").read_text()
    assert "'coarse_iterations': 1000" in config and "'iterations': 1500" in config


@pytest.mark.parametrize(
    ("requested", "hparams"),
    [
        (300, "max_updates=300,val_check_interval=300"),
        (2000, "max_updates=2000,val_check_interval=2000"),
        (2500, "max_updates=4000,val_check_interval=2000"),
        (250000, "max_updates=250000,val_check_interval=2000"),
    ],
)
def test_geneface_iterations_end_on_a_save(requested, hparams) -> None:
    assert GeneFace.iteration_hparams(requested) == hparams


def test_geneface_short_training_saves_a_checkpoint_per_stage(tmp_path: Path, media) -> None:
    container = make_container("geneface", tmp_path)
    video = container.put_input("video", media["clip"])
    # Before: only max_updates was set, and upstream's trainer saves at multiples of val_check_interval (2000), so a
    # 300-iteration run ended with no checkpoint and the step's output check failed.
    container.run("train", "--video_path", video, "--task", "clip", "--iterations", "300")
    for exp in ("lm3d_radnerf", "lm3d_radnerf_torso"):
        saved = sorted(p.name for p in (container.workspace / "checkpoints" / "clip" / exp).glob("model_ckpt_*"))
        assert "model_ckpt_steps_300.ckpt" in saved, saved
