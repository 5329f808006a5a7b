#!/usr/bin/env python3
"""NeRFFaceSpeech at its pinned commit on a GPU, through our entrypoint: tools/gpu-run/nerffacespeech.py prepare|run.

One-shot and inference-only: ``prepare`` runs ``infer`` from a photo (the sample clip's first frame) and the driving
speech on the doubles, so our own steps (FFHQ alignment, the second of silence, the 16 kHz wav) are done and kept;
``run`` runs the same ``infer`` through real upstream, where the PTI inversion, the 3DMM fit and both renders are
left to do.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import weights  # noqa: E402
from gpurun import (  # noqa: E402
    HERE,
    TASK,
    Model,
    Run,
    edit_upstream,
    finished_loops,
    main,
    replace_with_double,
    stub_module,
)

STAND_INS = HERE / "stand_ins" / "nerffacespeech"
# PTI's W projection (1000 steps, hard-coded in project()) and pivotal tuning (2000, in the entry script): each step
# is a StyleNeRF render at 1024 px and its backward; the run keeps the code and shortens the loops.
PROJECTION_STEPS = 50
TUNING_STEPS = 50
NETWORKS = "nerffacespeech/pretrained_networks"
# Files the manifest keeps under another image's dest, linked into NeRFFaceSpeech's folder as fetch.py links them.
BFM_FRONT = "geneface/deep_3drecon/BFM/BFM_model_front.mat"
FACERECON = "geneface/deep_3drecon/checkpoints/facerecon/epoch_20.pth"

# StyleNeRF's FFHQ 1024 model as its training loop builds it: conf/model/stylenerf_ffhq.yaml with spec paper1024
# (map 8, fmaps 1, mbstd 4) and num_fp16_res 4, facebookresearch/StyleNeRF@03d3800, the config the released
# ffhq_1024.pkl was trained with (its G has 21 ws, as NeRFFaceSpeech's w_PTI expects).
UPSTREAM_WEIGHTS = r"""
import copy, os, pickle, sys
from pathlib import Path
import torch

root, weights = Path(sys.argv[1]), Path(sys.argv[2])
nets = weights / "nerffacespeech" / "pretrained_networks"
nets.mkdir(parents=True, exist_ok=True)
sys.path.insert(0, str(root / "StyleNeRF"))
import dnnlib

camera = dict(range_v=[1.4157963267948965, 1.7257963267948966], range_u=[-0.3, 0.3], range_radius=[1.0, 1.0],
              depth_range=[0.88, 1.12], fov=12, gaussian_camera=True, angular_camera=True, depth_transform=None,
              dists_normalized=False, ray_align_corner=False, bg_start=0.5)
synthesis = dict(
    num_fp16_res=4, channel_base=1, channel_max=1024, conv_clamp=256, kernel_size=1, architecture="skip",
    upsample_mode="nn_cat", z_dim_bg=32, z_dim=0, resolution_vol=32, resolution_start=32, rgb_out_dim=256,
    use_noise=False, module_name="training.stylenerf.NeRFSynthesisNetwork", no_bbox=True, margin=0,
    magnitude_ema_beta=0.999, camera_kwargs=camera,
    renderer_kwargs=dict(n_bg_samples=4, n_ray_samples=14, abs_sigma=False, hierarchical=True, no_background=False),
    foreground_kwargs=dict(positional_encoding="normal", downscale_p_by=1, use_style="StyleGAN2", predict_rgb=True,
                           use_viewdirs=False),
    background_kwargs=dict(positional_encoding="normal", hidden_size=64, n_blocks=4, downscale_p_by=1, skips=[],
                           inverse_sphere=True, use_style="StyleGAN2", predict_rgb=True, use_viewdirs=False),
    upsampler_kwargs=dict(channel_base=1, channel_max=1024, no_2d_renderer=False, no_residual_img=False,
                          block_reses=None, shared_rgb_style=False, upsample_type="bilinear"),
    progressive=True, n_reg_samples=16, reg_full=True)
G_kwargs = dict(class_name="training.networks.Generator", z_dim=512, w_dim=512, mapping_kwargs=dict(num_layers=8),
                synthesis_kwargs=synthesis)
D_kwargs = dict(class_name="training.stylenerf.Discriminator", epilogue_kwargs=dict(mbstd_group_size=4),
                num_fp16_res=4, channel_base=1, channel_max=512, conv_clamp=256, architecture="skip",
                progressive=True, lowres_head=32, upsample_type="bilinear", resize_real_early=True)
common = dict(c_dim=0, img_resolution=1024, img_channels=3)

# ffhq_1024.pkl as training_loop.py snapshots it: persistent classes (their source travels in the pickle), which
# legacy.load_network_pkl reads back; G and G_ema alike, as at step 0.
torch.manual_seed(0)
G = dnnlib.util.construct_class_by_name(**copy.deepcopy(G_kwargs), **common).eval().requires_grad_(False)
D = dnnlib.util.construct_class_by_name(**copy.deepcopy(D_kwargs), **common).eval().requires_grad_(False)
assert G.num_ws == 21, G.num_ws
snapshot = dict(training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset", path="ffhq",
                                         resolution=1024, use_labels=False, max_size=70000, xflip=True),
                G=G, D=D, G_ema=copy.deepcopy(G), augment_pipe=None)
with open(nets / "ffhq_1024.pkl", "wb") as f:
    pickle.dump(snapshot, f)
print("wrote ffhq_1024.pkl: G", sum(p.numel() for p in G.parameters()), "D", sum(p.numel() for p in D.parameters()))

# LipaintNet.pt: the entry script reads checkpoint['model_state_dict'] into transfer_decoder().
from audio2NeRF_network import transfer_decoder
torch.save({"model_state_dict": transfer_decoder().state_dict()}, nets / "LipaintNet.pt")

# seg.pth: BiSeNet(n_classes=16)'s state dict (its ResNet-18 loads torchvision's from the hub cache first).
from audio2NeRF_segNet import BiSeNet
torch.save(BiSeNet(n_classes=16).state_dict(), nets / "seg.pth")

# SadTalker's safetensors: load_audio2exp_model keeps the keys under "audio2exp." for SimpleWrapperV2.
import safetensors.torch
sys.path.insert(0, str(root / "SadTalker"))
from src.audio2exp_models.networks import SimpleWrapperV2
target = nets / "sad_talker_pretrained" / "SadTalker_V0.0.2_256.safetensors"
target.parent.mkdir(parents=True, exist_ok=True)
tensors = {"audio2exp." + k: v.contiguous() for k, v in SimpleWrapperV2().state_dict().items()}
safetensors.torch.save_file(tensors, str(target))

# Deep3DFaceRecon's epoch_20.pth: BaseModel.load_networks reads state_dict['net_recon'].
sys.path.insert(0, str(root / "Deep3DFaceRecon_pytorch"))
from Deep3Dmodels.networks import define_net_recon
recon = weights / sys.argv[3]
recon.parent.mkdir(parents=True, exist_ok=True)
torch.save({"net_recon": define_net_recon(net_recon="resnet50", use_last_fc=False, init_path=None).state_dict()}, recon)
print("wrote LipaintNet.pt, seg.pth, the audio2exp safetensors and epoch_20.pth")
"""


def real_tree(run: Run) -> bool:
    """The real upstream tree (cu130 line), not the doubles' (local line, which CI runs)."""
    return (run.upstream / "PTI").is_dir()


def python312_numpy2(run: Run) -> None:
    """What the lent machine's Python 3.12 and numpy 2 took away from code on every path (the images have Python 3.11
    and numpy 1.23): done before the weights, which are built through the same modules."""
    stub_module(run, "imp", "", "removed in Python 3.12; StyleNeRF's training/stylenerf.py imports it, unused")
    stub_module(
        run, "distutils", "",
        "removed in Python 3.12; StyleNeRF's dnnlib/util.py imports distutils.util.strtobool for a prompt it never "
        "shows here (setuptools swaps its own distutils in once torch's cpp_extension imports it)",
    )  # fmt: skip
    (run.env / "opt" / "upstream" / "lib" / "distutils" / "util.py").write_text(
        "def strtobool(value):\n"
        "    value = value.lower()\n"
        "    if value in ('y', 'yes', 't', 'true', 'on', '1'):\n        return 1\n"
        "    if value in ('n', 'no', 'f', 'false', 'off', '0'):\n        return 0\n"
        "    raise ValueError(f'invalid truth value {value!r}')\n",
        encoding="utf-8",
    )
    if not real_tree(run):
        return
    numpy2 = "numpy 2 (the lent machine's) made these modules private; the imported names are not used"
    edit_upstream(
        run, "StyleNeRF/training/networks.py", "from numpy import core\nfrom numpy.lib.arraysetops import isin\n",
        "\n\n", numpy2,
    )  # fmt: skip
    edit_upstream(run, "StyleNeRF/dnnlib/camera.py", "from numpy.lib.function_base import angle\n", "\n", numpy2)
    edit_upstream(
        run, "Deep3DFaceRecon_pytorch/util/preprocess.py", "category=np.VisibleDeprecationWarning",
        "category=np.exceptions.VisibleDeprecationWarning",
        "numpy 2 keeps its warning classes in numpy.exceptions only (since numpy 1.25 there too)",
    )  # fmt: skip


def write_weights(run: Run) -> None:
    python312_numpy2(run)
    weights.torchvision_net(run, "resnet18", "resnet18-5c106cde.pth")  # BiSeNet's backbone, loaded first
    weights.bfm_front(run, BFM_FRONT)  # Deep3DFaceRecon's face model
    weights.link(run, f"{NETWORKS}/BFM/BFM_model_front.mat", BFM_FRONT)
    # 3DMM-Fitting-Pytorch's converted BFM09: the same keys (its transferBFM09 saves what Deep3DFaceRecon's does).
    weights.bfm_front(run, f"{NETWORKS}/BFM_for_3DMM-Fitting-Pytorch/BFM/BFM09_model_info.mat")
    weights.stylegan_vgg16(run)  # PTI's W projector
    built = (
        (f"{NETWORKS}/ffhq_1024.pkl", "StyleNeRF's FFHQ 1024 G, D and G_ema (stylenerf_ffhq.yaml, paper1024) "
         "pickled as training_loop.py snapshots them, read back by legacy.load_network_pkl"),
        (f"{NETWORKS}/LipaintNet.pt", "{'model_state_dict': transfer_decoder()}"),
        (f"{NETWORKS}/seg.pth", "BiSeNet(n_classes=16) state dict"),
        (f"{NETWORKS}/sad_talker_pretrained/SadTalker_V0.0.2_256.safetensors",
         "audio2exp.* (SimpleWrapperV2), the only group NeRFFaceSpeech reads of SadTalker's file"),
        (FACERECON, "{'net_recon': ReconNetWrapper resnet50}"),
    )  # fmt: skip
    if real_tree(run):
        weights.torchvision_net(run, "alexnet", "alexnet-owt-7be5be79.pth")  # LPIPS(net='alex'), PTI's losses
        weights.env_python(
            run, UPSTREAM_WEIGHTS, str(run.upstream), str(run.weights), FACERECON, cwd=run.upstream,
            path=[run.upstream / "StyleNeRF", run.upstream.parent / "lib"],
        )  # fmt: skip
        for path, how in built:
            run.weight(path, f"random, through upstream's own classes: {how}")
    else:
        for path, _ in built:
            weights.placeholder(run, path, "the doubles' tree has no upstream classes to build it through")
    weights.link(run, f"{NETWORKS}/Deep3DFaceRecon_pytorch/face_recon/epoch_20.pth", FACERECON)
    weights.manifest_rest(
        run,
        "not read on this path: face-alignment's S3FD, 3D FAN and depth models serve 3DMM-Fitting's landmarks, whose "
        "fit is a stand-in" + ("" if real_tree(run) else "; AlexNet (LPIPS): the doubles' PTI has no loss"),
    )


def install_stand_ins(run: Run) -> None:
    stub_module(run, "wandb", "", "imported by PTI's coaches and projector, called only with use_wandb (off)")
    stub_module(
        run, "ipdb", "def set_trace(*args, **kwargs):\n    pass\n",
        "Deep3DFaceRecon's renderer imports it and names ipdb.set_trace without calling it; IPython is not here",
    )  # fmt: skip
    replace_with_double(
        run,
        "3DMM-Fitting-Pytorch/fit_single_img_custom.py",
        "the 3DMM fit finds the face with MTCNN and 68 landmarks with face-alignment's 3D FAN, which find no face in "
        "a random StyleNeRF's render, and renders with pytorch3d, not built here: the fit's own starting point "
        "(BFM09ReconModel's zero coefficients, (1, 257)) stands in, after reading BFM09_model_info.mat",
        double=STAND_INS / "fit_single_img_custom.py",
    )
    replace_with_double(
        run,
        "3DMM-Fitting-Pytorch/core/__init__.py",
        "imports BFM09ReconModel, whose module imports pytorch3d (not built here); fit_3dmm imports core.options "
        "through it, and the fit that would build the model is the stand-in above",
        double=STAND_INS / "core" / "__init__.py",
    )
    if not real_tree(run):
        return
    edit_upstream(
        run, "PTI/training_pti/projectors/w_projector.py", "    num_steps = 1000\n",
        f"    num_steps = {PROJECTION_STEPS}\n", "PTI's W projection shortened to fit the lent time", count=2,
    )  # fmt: skip
    edit_upstream(
        run, "StyleNeRF/main_NeRFFaceSpeech_audio_driven_from_image.py", "tun_iter= 2000)",
        f"tun_iter= {TUNING_STEPS})", "PTI's pivotal tuning shortened to fit the lent time",
    )  # fmt: skip


def upstream_logs(run: Run) -> None:
    """What upstream's two runs printed (the workspace's step logs): each finished tqdm loop with its rate (the
    inversion's two unnamed loops are PTI's W projection, then its pivotal tuning), and whether Deep3DFaceRecon's
    renderer made its CUDA context (nvdiffrast's rasterizer)."""
    record = run.record.setdefault("upstream_logs", {})
    for log in sorted((run.workspace / "logs" / TASK).glob("*.log")):
        if not log.name.endswith(("-invert.log", "-render.log")):
            continue
        text = log.read_text(encoding="utf-8", errors="replace")
        loops = finished_loops(text)
        step = log.stem.split("-", 1)[1]
        record[step] = {"log": str(log), "loops": loops, "nvdiffrast_cuda": "create cuda ctx" in text}
        if step == "invert" and len([loop for loop in loops if loop["loop"] is None]) >= 2:
            projection, tuning = [loop for loop in loops if loop["loop"] is None][:2]
            run.real(f"PTI: W projection {projection['iterations']} steps ({projection['it_per_s']} it/s), pivotal "
                     f"tuning {tuning['iterations']} steps ({tuning['it_per_s']} it/s)")  # fmt: skip
        for loop in loops:
            if loop["loop"] == "Processing frames":
                run.real(f"{step}: {loop['iterations']} frames rendered ({loop['it_per_s']} frames/s)")


def prepare_infer(run: Run):
    """The photo: the sample clip's first frame (one face, 512 px), as
    tests/container/entrypoint/test_nerffacespeech.py uses."""
    face = run.input / "face.png"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(run.input / "clip.mp4"), "-frames:v", "1", str(face)],
        check=True,
    )
    return ("infer", "--image_path", str(face), "--audio_path", str(run.input / "speech.wav"))


MODEL = Model(
    name="nerffacespeech",
    first_upstream_step=None,
    lock=HERE / "nerffacespeech-py312.txt",
    ext_names=(
        "nffs-bias-act", "nffs-upfirdn2d", "nffs-filtered-lrelu", "nffs-hash-sample", "nffs-nerf-utils",
        "nffs-nvdiffrast",
    ),
    write_weights=write_weights,
    install_stand_ins=install_stand_ins,
    train_runs=[],
    infer_runs=lambda run: [("wav", run.input / "speech.wav", "--image_path", run.input / "face.png")],
    prepare_verb=prepare_infer,
    after_infer=upstream_logs,
    convert_bfm=False,
    # What the doubles' upstream steps wrote in prepare: the inversion, each render and its result.
    left_out=(f"ws/models/{TASK}/inversion/*", f"ws/models/{TASK}/render-*", f"ws/results/{TASK}/*"),
    # filtered_lrelu's three large .cu files set the build's length: more compiler jobs than build-ext's share.
    build_env={"MAX_JOBS": "4"},
)  # fmt: skip

if __name__ == "__main__":
    sys.exit(main(MODEL))
