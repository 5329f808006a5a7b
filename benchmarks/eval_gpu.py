#!/usr/bin/env python3
"""GPU throughput of the whole evaluation suite, and the reference tools run one after another, in one run.

    TALKINGFACE_UNVERIFIED_WEIGHTS=1 python benchmarks/eval_gpu.py --frames 1500 --size 512 [--out results.json]

A synthetic pair (ffmpeg's testsrc2 with a 300 Hz tone, and a blurred, noisier copy) is encoded as H.264, then:

- ours: ``talkingface.eval.scorer.score`` with every metric (PSNR, SSIM, LPIPS, NIQE, FID, LSE with the full-frame
  crop) on the GPU, end to end from the two video files (ffmpeg decoding included);
- reference: skimage's PSNR and SSIM per frame, lpips 0.1.4, pytorch-fid 0.3.0 (features and Fréchet distance),
  our NumPy NIQE (the MATLAB-exact one, one process), and syncnet_python's ``SyncNetInstance.evaluate`` on the
  224x224 clip it expects (its JPEG frames and wav extracted with ffmpeg, as its pipeline does), one after another.
  The reference networks run on the GPU; frames for skimage, lpips, pytorch-fid and NIQE are decoded once beforehand
  and not timed, which favours the reference.

Networks have their true shapes with seeded random weights (tests/eval/random_weights.py), so the speed is real and
the scores meaningless; ``TALKINGFACE_UNVERIFIED_WEIGHTS=1`` lets them load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Dict

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from talkingface.eval import assets, registry  # noqa: E402
from talkingface.eval.frames import VideoInfo, stream  # noqa: E402
from talkingface.eval.metric import Metric  # noqa: E402
from talkingface.eval.options import DEFAULT_METRICS  # noqa: E402
from talkingface.eval.scorer import score  # noqa: E402
from tests.eval.random_weights import write_all  # noqa: E402


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def synthesize(folder: Path, frames: int, size: int) -> Dict[str, VideoInfo]:
    seconds = f"{frames / 25:.2f}"
    gt, pred = folder / "gt.mp4", folder / "pred.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}x{size}:rate=25", "-f", "lavfi", "-i", "sine=frequency=300",
           "-t", seconds, "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           str(gt))  # fmt: skip
    ffmpeg("-i", str(gt), "-vf", "gblur=sigma=1.5,noise=alls=8:allf=t", "-c:v", "libx264", "-preset", "veryfast",
           "-pix_fmt", "yuv420p", "-c:a", "copy", str(pred))  # fmt: skip
    return {name: VideoInfo(str(path), size, size, Fraction(25), frames) for name, path in (("gt", gt), ("pred", pred))}


def timed(fn: Callable[[], object], sync: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def ours(videos: Dict[str, VideoInfo], weights: Path, device: str, batch: int, sync) -> Dict[str, float]:
    metrics = registry.build(list(DEFAULT_METRICS), weights_dir=str(weights), device=device, lse_crop="full")
    # A short warm-up (cuDNN autotuning, worker start) outside the timing.
    warm = {k: VideoInfo(v.path, v.width, v.height, v.fps, 64) for k, v in videos.items()}
    score(warm["gt"], warm["pred"], metrics, resample=False, batch=batch)
    sync()
    result = {}
    seconds = timed(lambda: result.update(s=score(videos["gt"], videos["pred"], metrics, resample=False, batch=batch)),
                    sync)  # fmt: skip
    scores = result["s"]
    # A second run with every metric timed on its own (synchronised after each call, so a bit slower in total):
    # what is left of the total is decoding and the scorer's own work.
    timers = [Timed(m, sync) for m in metrics]
    profiled = timed(lambda: score(videos["gt"], videos["pred"], timers, resample=False, batch=batch), sync)
    parts = {t.name: t.seconds for t in timers}
    parts["decode and the rest"] = profiled - sum(parts.values())
    # LMD is not in the default suite (it needs faces); timed on its own: two detectors and FAN per frame pair.
    lmd = registry.build(["lmd"], weights_dir=str(weights), device=device, lse_crop="full")
    score(warm["gt"], warm["pred"], lmd, resample=False, batch=batch)
    lmd_seconds = timed(lambda: score(videos["gt"], videos["pred"], lmd, resample=False, batch=batch), sync)
    return {"seconds": seconds, "frames": scores.frames_scored, "fps": scores.frames_scored / seconds,
            "profiled_seconds": profiled, "parts_seconds": parts, "summary": scores.summary(),
            "lmd_alone": {"seconds": lmd_seconds, "fps": scores.frames_scored / lmd_seconds}}  # fmt: skip


class Timed(Metric):
    def __init__(self, metric: Metric, sync) -> None:
        self.metric, self.sync, self.seconds = metric, sync, 0.0
        self.name = metric.name

    def _time(self, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        self.sync()
        self.seconds += time.perf_counter() - start
        return out

    def start(self, clip) -> None:
        self._time(self.metric.start, clip)

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        self._time(self.metric.update, gt, pred)

    def finish(self):
        return self._time(self.metric.finish)


def reference(videos: Dict[str, VideoInfo], weights: Path, device: str, work: Path, sync) -> Dict[str, float]:
    import lpips
    import torch
    from pytorch_fid import fid_score, inception
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from talkingface.eval.niqe import PristineModel, niqe

    gt = np.concatenate(list(stream(videos["gt"], batch=64)))
    pred = np.concatenate(list(stream(videos["pred"], batch=64)))
    n = len(gt)
    times: Dict[str, float] = {}

    def skimage_all() -> None:
        for a, b in zip(gt, pred):
            peak_signal_noise_ratio(a, b, data_range=255)
            structural_similarity(a / 255.0, b / 255.0, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False, data_range=1, channel_axis=-1)  # fmt: skip

    times["skimage psnr+ssim"] = timed(skimage_all, sync)

    net = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False,
                      model_path=str(weights / assets.LPIPS_HEADS.relative_path))  # fmt: skip
    alex = torch.load(str(weights / assets.ALEXNET.relative_path))
    trunk = {k.replace("features.", ""): v for k, v in alex.items() if k.startswith("features.")}
    layers = torch.nn.Sequential(*[m for s in (net.net.slice1, net.net.slice2, net.net.slice3, net.net.slice4,
                                               net.net.slice5) for m in s])  # fmt: skip
    layers.load_state_dict(trunk)
    net = net.to(device).eval()

    def lpips_all() -> None:
        with torch.no_grad():
            for i in range(0, n, 50):
                a = torch.from_numpy(gt[i : i + 50]).permute(0, 3, 1, 2).float().to(device) / 127.5 - 1
                b = torch.from_numpy(pred[i : i + 50]).permute(0, 3, 1, 2).float().to(device) / 127.5 - 1
                net(a, b).cpu()

    times["lpips"] = timed(lpips_all, sync)

    if "disp" not in __import__("inspect").signature(fid_score.linalg.sqrtm).parameters:
        # SciPy >= 1.18 dropped sqrtm's disp argument, which pytorch-fid 0.3.0 passes; same computation otherwise.
        sqrtm = fid_score.linalg.sqrtm
        fid_score.linalg = SimpleNamespace(sqrtm=lambda a, **kw: (sqrtm(a), 0.0) if "disp" in kw else sqrtm(a))
    fid_file = weights / assets.FID_INCEPTION.relative_path
    inception.load_state_dict_from_url = lambda *a, **k: torch.load(str(fid_file))
    model = inception.InceptionV3([3]).to(device).eval()

    def fid_all() -> None:
        acts = []
        with torch.no_grad():
            for frames in (gt, pred):
                out = []
                for i in range(0, n, 50):
                    x = torch.from_numpy(frames[i : i + 50]).permute(0, 3, 1, 2).float().to(device) / 255
                    out.append(model(x)[0].squeeze(3).squeeze(2).cpu().numpy())
                acts.append(np.concatenate(out))
        m1, s1 = acts[0].mean(0), np.cov(acts[0], rowvar=False)
        m2, s2 = acts[1].mean(0), np.cov(acts[1], rowvar=False)
        fid_score.calculate_frechet_distance(m1, s1, m2, s2)

    times["pytorch-fid"] = timed(fid_all, sync)

    params = PristineModel.load(str(weights / assets.NIQE_PARAMS.relative_path))
    times["numpy niqe"] = timed(lambda: [niqe(f, params) for f in pred], sync)

    times["syncnet_python"] = timed(lambda: syncnet(videos["pred"], weights, device, work), sync)
    total = sum(times.values())
    return {"seconds": total, "frames": n, "fps": n / total, "parts_seconds": times}


def syncnet(pred: VideoInfo, weights: Path, device: str, work: Path) -> None:
    import importlib.util

    spec = importlib.util.find_spec("syncnet_python")
    folder = Path(spec.submodule_search_locations[0])
    sys.path.insert(0, str(folder))
    from SyncNetInstance import SyncNetInstance  # the reference's own module
    from SyncNetModel import S

    tmp = work / "syncnet"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    # What its pipeline hands evaluate(): the crop clip's frames as JPEG and its audio as 16 kHz wav.
    ffmpeg("-i", pred.path, "-vf", "scale=224:224", "-threads", "1", "-f", "image2", str(tmp / "%06d.jpg"))
    ffmpeg("-i", pred.path, "-async", "1", "-ac", "1", "-vn", "-acodec", "pcm_s16le", "-ar", "16000",
           str(tmp / "audio.wav"))  # fmt: skip
    instance = SyncNetInstance(S(num_layers_in_fc_layers=1024), device=device)
    instance.loadParameters(str(weights / assets.SYNCNET.relative_path))
    instance.evaluate(SimpleNamespace(tmp_dir=str(tmp), batch_size=20, vshift=15, reference="bench"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1500)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--skip_reference", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    os.environ.setdefault(assets.UNVERIFIED_ENV, "1")
    import torch

    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        weights = write_all(work / "weights", fetch_small=False)
        for asset in assets.ASSETS:
            source = REPO / ".bench" / os.path.basename(asset.relative_path)
            target = weights / asset.relative_path
            if source.is_file():
                shutil.copy(source, target)
            else:
                assets.fetch(asset, str(weights))
        videos = synthesize(work, args.frames, args.size)
        result = {
            "machine": {
                "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "torch": torch.__version__,
            },
            "frames": args.frames,
            "size": args.size,
            "ours": ours(videos, weights, args.device, args.batch, sync),
        }
        print(json.dumps(result["ours"], indent=1, default=float), flush=True)
        if not args.skip_reference:
            result["reference"] = reference(videos, weights, args.device, work, sync)
            result["speedup"] = result["reference"]["seconds"] / result["ours"]["seconds"]
    text = json.dumps(result, indent=1, default=float)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
