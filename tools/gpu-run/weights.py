"""Weight files for the GPU runs, in their published formats: real files where upstream's tree has them, random
values through upstream's own classes where they can't be had here. Each is recorded with how it was made."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from gpurun import Run

REPO = Path(__file__).resolve().parents[2]
HUB = Path("cache") / "torch" / "hub" / "checkpoints"
BFM_VERTICES = 53490  # Basel Face Model 2009
EXP_DIMS = 79


def env_python(run: Run, code: str, *args: str, cwd: Path | None = None, path: Iterable[Path] = ()) -> None:
    env = run.python_env()
    env["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in path), str(REPO), str(REPO / "tools" / "gpu-run")])
    env["TORCH_HOME"] = str(run.weights / "cache" / "torch")
    python = str(run.env / "opt" / "venv" / "bin" / "python")
    subprocess.run([python, "-c", code, *args], cwd=cwd, env=env, check=True)


TORCHVISION = """
import sys, torch, torchvision
torch.manual_seed(0)
net = getattr(torchvision.models, sys.argv[1])()
torch.save(net.state_dict(), sys.argv[2], _use_new_zipfile_serialization=False)
"""


def torchvision_net(run: Run, arch: str, name: str) -> None:
    """torchvision's ImageNet weights as torch.hub caches them: the architecture's state dict, random values."""
    target = run.weights / HUB / name
    target.parent.mkdir(parents=True, exist_ok=True)
    env_python(run, TORCHVISION, arch, str(target))
    run.weight(str(HUB / name), f"random torchvision {arch} state dict (published keys and shapes)")


EVAL_NETS = """
import shutil, sys
from pathlib import Path
from tests.eval.random_weights import write_all
from talkingface.eval import assets
tmp, hub = Path(sys.argv[1]), Path(sys.argv[2])
write_all(tmp, fetch_small=False)
for asset in (assets.ALEXNET, assets.FAN_2D, assets.FA_S3FD):
    shutil.copy(tmp / asset.relative_path, hub / Path(asset.relative_path).name)
"""


def lpips_and_fan(run: Run) -> None:
    """AlexNet (LPIPS, built by training) and face-alignment's 2DFAN4 and S3FD (LMDMeter, built even at infer)."""
    hub = run.weights / HUB
    hub.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env_python(run, EVAL_NETS, tmp, str(hub))
    for name in ("alexnet-owt-7be5be79.pth", "2DFAN4-cd938726ad.zip", "s3fd-619a316812.pth"):
        run.weight(str(HUB / name), "random values in the published format (tests/eval/random_weights.py)")


BISENET = """
import sys, torch
from model import BiSeNet
torch.manual_seed(0)
torch.save(BiSeNet(n_classes=19).state_dict(), sys.argv[1])
"""


def bisenet(run: Run, model: str) -> Path:
    """79999_iter.pth: upstream's own BiSeNet class (its ResNet-18 backbone loads the hub file first), random."""
    relative = Path(model) / "data_utils" / "face_parsing" / "79999_iter.pth"
    target = run.weights / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (run.upstream / "data_utils" / "face_parsing" / "model.py").exists():
        placeholder(run, str(relative), "this tree has no BiSeNet class (the doubles')")
        return target
    env_python(run, BISENET, str(target), path=[run.upstream / "data_utils" / "face_parsing"])
    run.weight(str(relative), "random BiSeNet(n_classes=19) state dict from upstream's model.py")
    return target


def tracking_helpers(run: Run, dest: Path, helpers: Path | None) -> None:
    """AD-NeRF's 3DMM helpers: the published files where upstream's tree or --helpers has them (GaussianTalker's
    tree commits them; ER-NeRF's README downloads them from AD-NeRF); exp_info.npy, over the snapshot's size limit,
    is random with the published keys and shapes."""
    import numpy as np

    tree = run.upstream / "data_utils" / "face_tracking" / "3DMM"
    dest.mkdir(parents=True, exist_ok=True)
    shown = dest.relative_to(run.root)
    for name in ("keys_info.npy", "topology_info.npy", "sub_mesh.obj"):
        source = next(
            (d / name for d in (helpers, tree) if d and (d / name).is_file() and not (d / name).is_symlink()), None
        )
        if source is not None:
            if source != dest / name:
                shutil.copy(source, dest / name)
            run.weight(f"{shown}/{name}", f"AD-NeRF's published file ({source.parent})")
        elif name == "sub_mesh.obj":
            (dest / name).write_bytes(b"stand-in: never read on this run\n")
            run.stand_in(f"{shown}/{name}", "no code on this path loads it")
        else:
            raise SystemExit(f"gpu-run: {name} is missing -- fix: pass --helpers DIR holding AD-NeRF's 3DMM files")
    sub = np.load(dest / "topology_info.npy", allow_pickle=True).item()["sub_inds"]
    n = 3 * len(sub)
    rng = np.random.default_rng(0)
    exp = {
        "mu_exp": (rng.standard_normal(n) * 100.0).astype(np.float32),
        "base_exp": (rng.standard_normal((EXP_DIMS, n)) * 1000.0).astype(np.float32),
        "sig_exp": np.abs(rng.standard_normal(EXP_DIMS)).astype(np.float32) + 1.0,
    }
    np.save(dest / "exp_info.npy", exp, allow_pickle=True)
    run.weight(f"{shown}/exp_info.npy", f"random mu_exp ({n},), base_exp (79, {n}), sig_exp (79,)")


def basel_face_model(run: Run) -> None:
    """01_MorphableModel.mat with the keys and shapes convert_BFM.py reads; random, as the real one needs a
    registration. A smooth mean face keeps the tracker's projections finite."""
    import numpy as np
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    v = BFM_VERTICES
    theta = rng.uniform(0, np.pi, v)
    phi = rng.uniform(-np.pi / 2, np.pi / 2, v)
    # A head-sized ellipsoid in BFM's units (micrometres), so focal search and projections stay in range.
    mean = np.stack([80000 * np.cos(theta) * np.cos(phi), 100000 * np.sin(phi), 90000 * np.sin(theta)], 1)
    run.bfm.mkdir(parents=True, exist_ok=True)
    savemat(
        run.bfm / "01_MorphableModel.mat",
        {
            "shapeMU": mean.reshape(-1, 1).astype(np.float32),
            "shapePC": (rng.standard_normal((3 * v, 199)) * 10.0).astype(np.float32),
            "shapeEV": (np.linspace(2000, 10, 199)).reshape(-1, 1).astype(np.float32),
            "texMU": rng.uniform(60, 200, (3 * v, 1)).astype(np.float32),
            "texPC": (rng.standard_normal((3 * v, 199)) * 0.01).astype(np.float32),
            "texEV": (np.linspace(100, 1, 199)).reshape(-1, 1).astype(np.float32),
        },
    )
    run.weight("bfm/01_MorphableModel.mat", f"random shapeMU/shapePC/shapeEV/texMU/texPC/texEV for {v} vertices")


def placeholder(run: Run, relative: str, why: str) -> None:
    target = run.weights / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"stand-in: never read on this run\n")
    run.stand_in(relative, why)


def deepspeech_graph(run: Run) -> None:
    placeholder(
        run,
        "cache/tensorflow/models/deepspeech-0_1_0-b90017e8.pb",
        "DeepSpeech 0.1.0's graph can't be had here; the extractor that reads it is a stand-in too",
    )
