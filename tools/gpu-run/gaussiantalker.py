#!/usr/bin/env python3
"""GaussianTalker at its pinned commit on a GPU, through our entrypoint: tools/gpu-run/gaussiantalker.py prepare|run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import weights  # noqa: E402
from gpurun import (  # noqa: E402
    AD_NERF_OUTPUTS,
    REPO,
    Model,
    Run,
    deepspeech_stand_in,
    doubles_on_path,
    main,
    replace_with_double,
    stub_module,
    tracker_fallback,
)

DOUBLES = REPO / "tests" / "doubles"
ITERATIONS = 500  # fine; our adapter scales the coarse stage to 500 too (upstream: 7999 coarse, 10000 fine)

MMCV_CONFIG = '''import runpy


class Config(dict):
    """The one call upstream makes on our path: mmcv.Config.fromfile, a Python file's top-level names."""

    @staticmethod
    def fromfile(path):
        return Config({k: v for k, v in runpy.run_path(path).items() if not k.startswith("_")})

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None
'''


def write_weights(run: Run) -> None:
    weights.torchvision_net(run, "resnet18", "resnet18-5c106cde.pth")
    weights.torchvision_net(run, "vgg16", "vgg16-397923af.pth")  # loaded at import of train.py (loss_utils)
    parsing = weights.bisenet(run, "gaussiantalker")
    # The manifest also lists ER-NeRF's copy of the same file for this image.
    (run.weights / "ernerf" / "data_utils" / "face_parsing").mkdir(parents=True, exist_ok=True)
    shutil.copy(parsing, run.weights / "ernerf" / "data_utils" / "face_parsing" / "79999_iter.pth")
    # Its tree commits AD-NeRF's helpers; exp_info.npy (over the snapshot's size limit) is written into the tree.
    weights.tracking_helpers(run, run.upstream / "data_utils" / "face_tracking" / "3DMM", run.helpers)
    weights.basel_face_model(run)
    weights.deepspeech_graph(run)


def install_stand_ins(run: Run) -> None:
    doubles_on_path(run)
    deepspeech_stand_in(run)
    # Random BiSeNet weights give random classes; the dataset gets the doubles' parsing maps (as for ER-NeRF).
    shutil.copy(DOUBLES / "ernerf" / "_ernerf_double.py", run.upstream / "_ernerf_double.py")
    replace_with_double(
        run,
        "data_utils/face_parsing/test.py",
        "parsing maps: random BiSeNet weights give no usable classes",
        double=DOUBLES / "ernerf" / "data_utils" / "face_parsing" / "test.py",
    )
    stub_module(run, "mmcv", MMCV_CONFIG, "no mmcv wheel for Python 3.12; upstream calls only Config.fromfile")
    stub_module(run, "open3d", "", "448 MB wheel; imported by gaussian_model.py, called only with add_point")
    stub_module(run, "wandb", "", "imported by train.py, called only with --use_wandb")


MODEL = Model(
    name="gaussiantalker",
    first_upstream_step="process-task2",
    lock=Path(__file__).resolve().parent / "gaussiantalker-py312.txt",
    ext_names=("gaussiantalker-rasterizer", "gaussiantalker-simple-knn"),
    write_weights=write_weights,
    install_stand_ins=install_stand_ins,
    train_runs=[("coarse+fine", "--iterations", str(ITERATIONS))],
    infer_runs=lambda run: [("wav", run.input / "speech.wav")],
    iterations={"coarse+fine": 2 * ITERATIONS},
    fallbacks={"process-task8": tracker_fallback},
    upstream_outputs=AD_NERF_OUTPUTS,
)  # fmt: skip

if __name__ == "__main__":
    sys.exit(main(MODEL))
