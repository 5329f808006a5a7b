#!/usr/bin/env python3
"""ER-NeRF at its pinned commit on a GPU, through our entrypoint: python3 tools/gpu-run/ernerf.py prepare|run."""

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
    prove_face_parsing,
    tracker_fallback,
)
from gpurun import replace_with_double as replace  # noqa: E402

DOUBLES = REPO / "tests" / "doubles"
ITERATIONS = 1000  # head; lips go to 1250 and torso to 2000, as our adapter derives them (upstream: 100k)


def write_weights(run: Run) -> None:
    weights.torchvision_net(run, "resnet18", "resnet18-5c106cde.pth")
    weights.bisenet(run, "ernerf")
    weights.tracking_helpers(run, run.weights / "ernerf" / "data_utils" / "face_tracking" / "3DMM", run.helpers)
    weights.lpips_and_fan(run)
    weights.basel_face_model(run)
    weights.deepspeech_graph(run)


def install_stand_ins(run: Run) -> None:
    # The doubles' modules, which the replaced files import.
    shutil.copy(DOUBLES / "ernerf" / "_ernerf_double.py", run.upstream / "_ernerf_double.py")
    doubles_on_path(run)
    deepspeech_stand_in(run)
    # Random BiSeNet weights give random classes, which leave task 5 no background to sample: the real network
    # runs once on the frames (below), and the dataset gets the doubles' parsing, as the first device run did.
    prove_face_parsing(run, run.weights / "ernerf" / "data_utils" / "face_parsing" / "79999_iter.pth")
    replace(run, "data_utils/face_parsing/test.py", "parsing maps: random BiSeNet weights give no usable classes")


def infer_runs(run: Run):
    speech = run.input / "speech.wav"
    # The second run renders from the features the first one extracted, as ER-NeRF's own container allowed.
    return [("wav", speech), ("features", run.workspace / "audio" / "speech" / "speech_ds.npy")]


MODEL = Model(
    name="ernerf",
    first_upstream_step="process-task2",
    lock=Path(__file__).resolve().parent / "ernerf-py312.txt",
    ext_names=("ernerf-raymarching", "ernerf-gridencoder", "ernerf-shencoder", "ernerf-freqencoder"),
    write_weights=write_weights,
    install_stand_ins=install_stand_ins,
    train_runs=[
        ("head", "--stage", "head", "--iterations", str(ITERATIONS)),
        ("lips", "--stage", "lips", "--iterations", str(ITERATIONS)),
        ("torso", "--stage", "torso", "--iterations", str(ITERATIONS)),
    ],
    infer_runs=infer_runs,
    iterations={"head": ITERATIONS, "lips": ITERATIONS // 4, "torso": 2 * ITERATIONS},
    fallbacks={"process-task8": tracker_fallback},
    upstream_outputs=AD_NERF_OUTPUTS,
)

if __name__ == "__main__":
    sys.exit(main(MODEL))
