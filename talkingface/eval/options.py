"""The evaluation's command line, shared by ``python -m talkingface.eval``, the eval image and ``bin/run_eval.sh``.

Standard library only: the host side builds its parser from here without numpy or torch.
"""

from __future__ import annotations

import argparse
import os
from typing import List

METRICS = ("psnr", "ssim", "lpips", "niqe", "fid", "lse", "lmd")
# LMD needs a face in both videos and two more networks; it is asked for by name.
DEFAULT_METRICS = ("psnr", "ssim", "lpips", "niqe", "fid", "lse")
LSE_CROPS = ("s3fd", "full")

DESCRIPTION = """Score predicted talking-head videos against a ground-truth video.

Frames are decoded as a stream in batches. A prediction with another frame count is scored over the shorter length,
another resolution is resized (bicubic) to the ground truth's; both are reported. Another frame rate is an error
unless --resample. NIQE and LSE look at the prediction only; LSE takes the audio from the prediction or --audio.
"""


def parse_metrics(text: str) -> List[str]:
    metrics = []
    for item in text.split(","):
        name = item.strip().lower()
        if name and name not in metrics:
            metrics.append(name)
    return metrics


def add_arguments(parser: argparse.ArgumentParser, *, host: bool) -> None:
    """Arguments with the same meaning on the host and in the container; the host adds GPU and image choice."""
    parser.add_argument("--gt_video", required=True, help="ground-truth video (any container or codec)")
    parser.add_argument(
        "--pred_video", action="append", required=True, help="a predicted video; repeat to compare several"
    )
    parser.add_argument(
        "--metrics",
        default=",".join(DEFAULT_METRICS),
        help=f"comma list of {', '.join(METRICS)} (default: all but lmd)",
    )
    parser.add_argument("--out_json", help="summary per prediction: means, std, frames, conventions, weights sha256")
    parser.add_argument("--csv", help="per-frame values of every prediction")
    parser.add_argument("--report", help="HTML page with per-frame plots and the LSE distance against the offset")
    parser.add_argument("--audio", help="audio for LSE instead of each prediction's own audio track")
    parser.add_argument(
        "--resample", action="store_true", help="convert a prediction's frame rate to the ground truth's"
    )
    parser.add_argument(
        "--lse_crop",
        choices=LSE_CROPS,
        default="s3fd",
        help="face crop for LSE: s3fd (syncnet_python's pipeline, needs sfd_face.pth) or full (whole frame resized "
        "to 224x224, as Wav2Lip's LRS scoring; no detector)",
    )
    parser.add_argument("--batch", type=int, default=32, help="frames decoded and scored per batch")
    parser.add_argument("--force", action="store_true", help="replace existing output files")
    if host:
        parser.add_argument("--weights_dir", help="folder with eval/<weight files> (default: ./weights)")
        parser.add_argument("--gpu", help="GPU0, GPU1 or CPU (default: GPU0 when the host has one, else CPU)")
        parser.add_argument("--line", help="image line: auto (default), cu113, cu118 or local")
        parser.add_argument("--image", help="run this image instead of talkingface/eval:<version>-<line>")
        parser.add_argument("--dry-run", action="store_true", help="print the docker command; run nothing")
    else:
        parser.add_argument(
            "--weights_dir",
            default=os.environ.get("TALKINGFACE_WEIGHTS", "weights"),
            help="folder with eval/<weight files> (default: $TALKINGFACE_WEIGHTS or ./weights)",
        )
        parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")


def build_parser(*, prog: str, host: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser, host=host)
    return parser
