#!/usr/bin/env python3
"""Test double for train.py @ 8ec613b: same flags, fake outputs.

Runs the two upstream stages instantly: coarse (``coarse_iterations``, batch 1) then fine
(``iterations``, ``batch_size``). Upstream saves a checkpoint at iteration 1 and at every
multiple of 500 of each stage; this double writes the first and the last of those per
stage. Values from ``--configs`` overwrite CLI values (upstream merge_hparams).
"""

import os
import shutil
import sys
from argparse import ArgumentParser, Namespace

import fakeupstream
from _fake_scene import Dataset
from arguments import ModelHiddenParams, ModelParams, OptimizationParams, PipelineParams, load_config, merge_hparams


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(description="Training script parameters")
    ModelParams(parser)
    OptimizationParams(parser)
    PipelineParams(parser)
    ModelHiddenParams(parser)
    parser.add_argument("--ip", type=str, default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6009)
    parser.add_argument("--debug_from", type=int, default=-1)
    parser.add_argument("--detect_anomaly", action="store_true", default=False)
    parser.add_argument("--test_iterations", nargs="+", type=int, default=[500 * i for i in range(100)])
    parser.add_argument(
        "--save_iterations",
        nargs="+",
        type=int,
        default=[1000, 3000, 4000, 5000, 6000, 7000, 9000, 10000, 12000, 14000, 20000, 30000, 45000, 60000],
    )
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--checkpoint_iterations", nargs="+", type=int, default=[])
    parser.add_argument("--start_checkpoint", type=str, default=None)
    parser.add_argument("--expname", type=str, default="")
    parser.add_argument("--use_wandb", action="store_true")
    parser.add_argument("--configs", type=str, default="")
    return parser


def saved_iterations(total: int) -> list:
    """Iterations upstream saves at in a stage of ``total`` steps: 1 and multiples of 500."""
    saves = [i for i in range(1, total + 1) if i == 1 or i % 500 == 0]
    return sorted({saves[0], saves[-1]}) if saves else []


def save(model_path: str, folder: str, preview: str) -> None:
    out = os.path.join(model_path, "point_cloud", folder)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "point_cloud.ply"), "w") as fh:
        fh.write("ply\nformat binary_little_endian 1.0\ncomment fake gaussians\nelement vertex 0\nend_header\n")
    for name in ("deformation.pth", "deformation_table.pth", "deformation_accum.pth"):
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(b"FAKE torch.save " + name.encode() + b"\n")
    shutil.copyfile(preview, os.path.join(out, "0.png"))  # upstream: <uid of a random batch frame>.png


def main() -> None:
    args = build_parser().parse_args(sys.argv[1:])
    fakeupstream.start(__file__, 0, sys.argv)
    args.save_iterations.append(args.iterations)
    if args.configs:
        args = merge_hparams(args, load_config(args.configs))
    print("Optimizing " + args.model_path)
    print(f"[double] not binding {args.ip}:{args.port}")
    if args.use_wandb:
        print("[double] --use_wandb: upstream would call wandb.init(project='TalkingGaussians') (network)")

    if not args.model_path:
        args.model_path = os.path.join("./output/", args.expname)
    print(f"Output folder: {args.model_path}")
    os.makedirs(args.model_path, exist_ok=True)
    with open(os.path.join(args.model_path, "cfg_args"), "w") as fh:
        fh.write(str(Namespace(**vars(args))))

    data = Dataset(os.path.abspath(args.source_path))
    data.check_images(data.train)
    preview = os.path.join(args.model_path, ".preview.png")
    fakeupstream.write_image(preview, size=max(data.width, 16))
    try:
        for it in saved_iterations(args.coarse_iterations):
            print(f"\n[ITER {it}] Saving Gaussians")
            save(args.model_path, f"coarse_iteration_{it}", preview)
        if args.iterations >= 1 and args.dataloader and len(data.train) < args.batch_size:
            # DataLoader(drop_last=True) yields nothing; upstream then hits an unset variable.
            raise UnboundLocalError("local variable 'viewpoint_cams' referenced before assignment")
        for it in saved_iterations(args.iterations):
            print(f"\n[ITER {it}] Saving Gaussians")
            save(args.model_path, f"iteration_{it}", preview)
        for it in args.checkpoint_iterations:
            if 1 <= it <= max(args.coarse_iterations, args.iterations):
                with open(os.path.join(args.model_path, f"chkpnt{it}.pth"), "wb") as fh:
                    fh.write(b"FAKE checkpoint\n")
    finally:
        os.remove(preview)
    print("\nTraining complete.")


if __name__ == "__main__":
    main()
