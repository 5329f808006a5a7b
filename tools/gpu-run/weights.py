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


def bisenet(run: Run, model: str, in_tree: bool = False) -> Path:
    """79999_iter.pth: upstream's own BiSeNet class (its ResNet-18 backbone loads the hub file first), random.
    ``in_tree``: written into the upstream tree, where upstream commits it (GeneFace; the snapshot's blob is
    missing), not into the weights folder."""
    tree = run.model.data_tree
    parsing = run.upstream / tree / "face_parsing"
    relative = Path(model) / tree / "face_parsing" / "79999_iter.pth"
    target = parsing / "79999_iter.pth" if in_tree else run.weights / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (parsing / "model.py").exists():
        placeholder(run, str(relative), "this tree has no BiSeNet class (the doubles')")
        return target
    env_python(run, BISENET, str(target), path=[parsing])
    run.weight(str(relative), "random BiSeNet(n_classes=19) state dict from upstream's model.py")
    return target


def tracking_helpers(run: Run, dest: Path, helpers: Path | None) -> None:
    """AD-NeRF's 3DMM helpers: the published files where upstream's tree or --helpers has them (GaussianTalker's
    tree commits them; ER-NeRF's README downloads them from AD-NeRF); exp_info.npy, over the snapshot's size limit,
    is random with the published keys and shapes."""
    import numpy as np

    trees = [run.upstream / run.model.data_tree / "face_tracking" / "3DMM"]
    dest.mkdir(parents=True, exist_ok=True)
    shown = dest.relative_to(run.root)
    for name in ("keys_info.npy", "topology_info.npy", "sub_mesh.obj"):
        source = next(
            (d / name for d in (helpers, *trees) if d and (d / name).is_file() and not (d / name).is_symlink()),
            None,
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


BFM_FRONT_VERTICES = 35709  # Deep3DFaceRecon's BFM_model_front.mat: 3 * 35709 = 107127 rows
BFM_FRONT_FACES = 70789


def bfm_front(run: Run, relative: str) -> None:
    """Deep3DFaceRecon's BFM_model_front.mat (3DMM-Fitting-Pytorch's BFM09_model_info.mat has the same keys): what
    transferBFM09 saves, with the keys and shapes ParametricFaceModel, Face3DHelper and BFM09ReconModel read -- random
    bases around a head-sized ellipsoid, 1-based triangle and point_buf indices, 68 keypoints, the photometric and
    skin regions."""
    import numpy as np
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    n, f = BFM_FRONT_VERTICES, BFM_FRONT_FACES
    theta, phi = rng.uniform(0, np.pi, n), rng.uniform(-np.pi / 2, np.pi / 2, n)
    mean = np.stack([0.8 * np.cos(theta) * np.cos(phi), np.sin(phi), 0.9 * np.sin(theta)], 1)
    target = run.weights / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    tri = rng.integers(1, n + 1, (f, 3)).astype(np.float64)
    savemat(
        target,
        {
            "meanshape": mean.reshape(1, -1).astype(np.float32),
            "idBase": (rng.standard_normal((3 * n, 80)) * 1e-3).astype(np.float32),
            "exBase": (rng.standard_normal((3 * n, 64)) * 1e-3).astype(np.float32),
            "meantex": rng.uniform(60, 200, (1, 3 * n)).astype(np.float32),
            "texBase": (rng.standard_normal((3 * n, 80)) * 0.01).astype(np.float32),
            "point_buf": rng.integers(1, f + 1, (n, 8)).astype(np.float64),
            "tri": tri,
            "keypoints": rng.choice(np.arange(1, n + 1), 68, replace=False).reshape(1, 68).astype(np.float64),
            "frontmask2_idx": np.arange(1, n + 1, 2, dtype=np.float64).reshape(-1, 1),
            "tri_mask2": tri[::2],
            "skinmask": (rng.uniform(0, 1, (1, n)) > 0.3).astype(np.float64),
        },
    )
    run.weight(relative, f"random meanshape (1, {3 * n}), idBase/exBase/texBase, meantex, point_buf ({n}, 8), tri, ...")


def link(run: Run, relative: str, dest: str) -> None:
    """Another path where an image expects the same file, as talkingface/weights/fetch.py makes it: a relative
    symlink to the manifest's dest."""
    path = run.weights / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    path.symlink_to(os.path.relpath(run.weights / dest, path.parent))
    run.weight(relative, f"link to {dest}")


DNNLIB_VGG16 = "cache/dnnlib/downloads/5982b9427714baaab6e0a48ef3b1dbfd_vgg16.pt"  # dnnlib's cache: md5 of the URL
STYLEGAN_VGG16 = """
import sys
from typing import List
import torch, torchvision
import torch.nn.functional as F


class VGG16(torch.nn.Module):
    # The call StyleGAN2-ADA's metrics/vgg16.pt answers (PTI's projector: return_lpips=True on [0, 255] images):
    # VGG16's five LPIPS stages, each unit-normalised over channels, flattened and concatenated.
    def __init__(self):
        super().__init__()
        layers = torchvision.models.vgg16().features
        self.stages = torch.nn.ModuleList([layers[:4], layers[4:9], layers[9:16], layers[16:23], layers[23:30]])
        self.register_buffer("mean", torch.tensor([123.68, 116.779, 103.939]).view(1, 3, 1, 1))

    def forward(self, img: torch.Tensor, resize_images: bool = True, return_features: bool = False,
                return_lpips: bool = False) -> torch.Tensor:
        x = img.to(torch.float32)
        if resize_images:
            x = F.interpolate(x, size=(224, 224), mode="area")
        x = x - self.mean
        parts: List[torch.Tensor] = []
        for stage in self.stages:
            x = stage(x)
            unit = x / (x.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            parts.append(unit.flatten(1) / float(x.shape[2] * x.shape[3]) ** 0.5)
        if return_features:
            raise RuntimeError("talkingface gpu-run: this random vgg16.pt holds the convolutions only")
        return torch.cat(parts, dim=1)


torch.manual_seed(0)
torch.jit.script(VGG16().eval()).save(sys.argv[1])
"""


RUN_FILE = "import runpy, sys; sys.argv[:] = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"


def stylegan_vgg16(run: Run) -> None:
    """StyleGAN2-ADA's metrics/vgg16.pt where dnnlib's download cache finds it: a TorchScript archive answering the
    published call (img, resize_images, return_features, return_lpips) with VGG16's convolutions, random; the fully
    connected layers, which the LPIPS call never reaches, are left out (58 MB instead of 528)."""
    target = run.weights / DNNLIB_VGG16
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # TorchScript reads the module's source back: a file, not ``python -c``.
        script = Path(tmp) / "stylegan_vgg16.py"
        script.write_text(STYLEGAN_VGG16, encoding="utf-8")
        env_python(run, RUN_FILE, str(script), str(target))
    run.weight(DNNLIB_VGG16, "random VGG16 convolutions as TorchScript, StyleGAN2-ADA's vgg16.pt call (LPIPS features)")


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


def manifest_rest(run: Run, why: str) -> None:
    """Whatever else the manifest lists for this image (the entrypoint checks each is there): a named placeholder."""
    import sys

    sys.path.insert(0, str(REPO))
    from talkingface.weights.manifest import load_manifest

    for relative in load_manifest().paths([run.model.name]):
        if not (run.weights / relative).exists():
            placeholder(run, relative, why)
