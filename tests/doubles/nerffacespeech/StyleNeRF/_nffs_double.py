"""What NeRFFaceSpeech's four StyleNeRF/main_NeRFFaceSpeech_*.py scripts @ 8f025a1 do that callers see.

Flags: upstream parses them with click; the local image has no click, so argparse takes the same names, types,
defaults and choices (``--name value`` and ``--name=value`` alike, as click does). Each script's options, as declared
at the pinned commit:

    all four   --network (required), --trunc (float, 1), --noise-mode (const|random|none, const),
               --outdir (required), --test_data (".")
    from_image --test_img (".")
    from_z     --seeds (int, 0)
    w_given_poses, video_driven   --test_img ("."), --motion_guide_img_folder (".")

Behaviour:

* ``<outdir>/output_NeRFFaceSpeech.mp4`` exists: prints "The video already exist. Please check that." and exits 0
  having done nothing.
* Opens, relative to the working directory, ``pretrained_networks/{ffhq_1024.pkl, seg.pth, LipaintNet.pt}``, the
  SadTalker safetensors, ``pretrained_networks/BFM/BFM_model_front.mat`` (Deep3DFaceRecon converts the BFM into that
  folder when it is missing), the Deep3DFaceRecon checkpoint and 3DMM-Fitting's ``BFM09_model_info.mat``.
* The PTI inversion: ``G_PTI.pt``, ``w_PTI.pt``, ``bg_PTI.pt`` in the outdir are used when there, else computed and
  saved (the photo scripts: needs ``vgg16.pt``, which dnnlib downloads from NVIDIA's CDN into
  ``$DNNLIB_CACHE_DIR/downloads/<md5 of the URL>_vgg16.pt`` unless it is there; no network here, so a missing one
  fails). ``fitted_coeffs.pt`` likewise.
* Frames: one per 1/25 s of ``--test_data`` (SadTalker's mel frames) -- video_driven: one per image of the motion
  folder -- each with the "fake video" caption, then ``out_refine.mp4`` at 25 fps and ``ffmpeg -y -i AUDIO -i
  out_refine.mp4 -c:v copy -c:a aac output_NeRFFaceSpeech.mp4`` (no -shortest, return code ignored);
  video_driven writes output_NeRFFaceSpeech.mp4 silent. The frames folder and out_refine.mp4 are deleted.
  The real frames also carry an invisible DWT-DCT watermark ("fake"); the double has no imwatermark and skips it.

The doubles' frames are the face image (the aligned photo, or a colour from the seed) at 256 px, so tests can tell
which face was rendered.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path
from typing import List, Optional

import fakeupstream as fu

VGG16_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt"
WEIGHTS = (
    "pretrained_networks/seg.pth",
    "pretrained_networks/Deep3DFaceRecon_pytorch/face_recon/epoch_20.pth",
    "pretrained_networks/BFM/BFM_model_front.mat",
    "pretrained_networks/sad_talker_pretrained/SadTalker_V0.0.2_256.safetensors",
    "pretrained_networks/BFM_for_3DMM-Fitting-Pytorch/BFM/BFM09_model_info.mat",
    "pretrained_networks/LipaintNet.pt",
)
SIZE = 256


def build_parser(script: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=script)
    p.add_argument("--network", dest="network_pkl", required=True)
    p.add_argument("--trunc", dest="truncation_psi", type=float, default=1)
    p.add_argument("--noise-mode", dest="noise_mode", choices=["const", "random", "none"], default="const")
    p.add_argument("--outdir", type=str, required=True, metavar="DIR")
    p.add_argument("--test_data", default=".", type=str)
    if script == "from_z":
        p.add_argument("--seeds", default=0, type=int)
    else:
        p.add_argument("--test_img", default=".", type=str)
    if script in ("w_given_poses", "video_driven"):
        p.add_argument("--motion_guide_img_folder", default=".", type=str)
    return p


def opened(path: str) -> bytes:
    """Open a file as upstream does: a missing one is a traceback and exit 1."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        sys.exit(f"Traceback (most recent call last):\nFileNotFoundError: {exc}")


def vgg16() -> None:
    cache = os.environ.get("DNNLIB_CACHE_DIR") or os.path.join(os.environ.get("HOME", "/tmp"), ".cache", "dnnlib")
    md5 = hashlib.md5(VGG16_URL.encode("utf-8")).hexdigest()  # noqa: S324 - dnnlib's cache key
    hits = glob.glob(os.path.join(cache, "downloads", md5 + "_*"))
    if len(hits) != 1:
        print(f"Downloading {VGG16_URL} ...", end="", flush=True)
        sys.exit("\nrequests.exceptions.ConnectionError: no network (the double never downloads)")
    opened(hits[0])


def wav_frames(path: str) -> int:
    """SadTalker's get_data_mel: one frame per 1/25 s of the audio (librosa reads the file at 16 kHz)."""
    try:
        with wave.open(path, "rb") as wav:
            seconds = wav.getnframes() / float(wav.getframerate())
    except (OSError, wave.Error) as exc:
        sys.exit(f"Traceback (most recent call last):\naudioread.exceptions.NoBackendError: {path}: {exc}")
    return int(seconds * fu.FPS)


def face_image(args: argparse.Namespace, script: str, outdir: str):  # type: ignore[no-untyped-def]
    import cv2
    import numpy as np

    if script == "from_z":
        rng = np.random.RandomState(args.seeds)
        img = np.zeros((SIZE, SIZE, 3), np.uint8) + rng.randint(0, 255, 3).astype(np.uint8)
    else:
        img = cv2.imread(args.test_img, cv2.IMREAD_COLOR)
        if img is None:
            sys.exit(f"Traceback (most recent call last):\nFileNotFoundError: {args.test_img}")
        img = cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    cv2.imwrite(os.path.join(outdir, "input_img.png"), img)
    return img


def inversion(outdir: str, face: bytes, script: str) -> None:
    names = ("G_PTI.pt", "w_PTI.pt", "bg_PTI.pt")
    if os.path.isfile(os.path.join(outdir, "G_PTI.pt")):
        for name in names:
            opened(os.path.join(outdir, name))
        print("[double] reusing the PTI inversion in the output folder")
    else:
        if script != "from_z":
            vgg16()  # the W projector's perceptual loss
        digest = hashlib.sha256(face).hexdigest()
        for name in names:
            Path(outdir, name).write_text(f"inversion of {digest}\n")
        print(f"[double] PTI inversion of {digest[:12]}")
    fitted = os.path.join(outdir, "fitted_coeffs.pt")
    if not os.path.isfile(fitted):
        Path(fitted).write_text("3dmm fit\n")


def main(script_file: str, script: str, argv: Optional[List[str]] = None) -> None:
    import cv2

    args = build_parser(script).parse_args(argv)
    fu.start(script_file, 1, sys.argv[1:] if argv is None else argv)
    os.makedirs(args.outdir, exist_ok=True)
    final = os.path.join(args.outdir, "output_NeRFFaceSpeech.mp4")
    if os.path.isfile(final):
        print("The video already exist. Please check that.")
        return
    network = args.network_pkl
    if os.path.isdir(network):
        network = sorted(glob.glob(network + "/*.pkl"))[-1]
    print(f'Loading networks from "{network}"...')
    opened(network)
    img = face_image(args, script, args.outdir)
    for path in WEIGHTS:
        opened(path)
    inversion(args.outdir, cv2.imencode(".png", img)[1].tobytes(), script)
    count = wav_frames(args.test_data)
    if script in ("w_given_poses", "video_driven"):
        motion = sorted(os.listdir(args.motion_guide_img_folder))
        if script == "video_driven":
            count = len(motion)
    frames = os.path.join(args.outdir, "epoch_0_final")
    os.makedirs(frames, exist_ok=True)
    for i in range(count):
        frame = img.copy()
        cv2.putText(frame, "fake video", (12, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.75, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imwrite(os.path.join(frames, f"epoch_0_frame_{i}.png"), frame)
    video = final if script == "video_driven" else os.path.join(args.outdir, "out_refine.mp4")
    pattern = os.path.join(frames, "epoch_0_frame_%d.png")
    fu.ffmpeg("-framerate", str(fu.FPS), "-i", pattern, "-pix_fmt", "yuv420p", "-c:v", "libx264", video)
    if script != "video_driven":
        # Upstream's own mux: no -shortest, and whatever ffmpeg returns is ignored.
        cmd = f"ffmpeg -y -loglevel error -i {args.test_data} -i {video} -c:v copy -c:a aac {final}"
        subprocess.call(cmd, shell=True)  # noqa: S602 - upstream's call, as it is
        os.remove(video)
    shutil.rmtree(frames)
