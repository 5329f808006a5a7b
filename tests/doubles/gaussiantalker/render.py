#!/usr/bin/env python3
"""Test double for render.py @ 8ec613b: same flags, fake outputs.

Sets rendered in upstream order: custom (when --custom_aud), train (unless --skip_train),
test (unless --skip_test). Each writes <model_path>/<set>/ours_<iter>/renders/<X>_<set>_<iter>iter_*.mov
with X = model_path.split("/")[-2]; videos are muxed with the same shell ffmpeg command upstream
runs through os.system (so a missing wav or a path with spaces silently gives no .mov).
"""

import os
import shutil
import sys
from argparse import ArgumentParser

import fakeupstream
from _fake_scene import Dataset, window_rows
from arguments import (
    ModelHiddenParams,
    ModelParams,
    PipelineParams,
    get_combined_args,
    load_config,
    merge_hparams,
)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(description="Testing script parameters")
    ModelParams(parser, sentinel=True)
    PipelineParams(parser)
    ModelHiddenParams(parser)
    parser.add_argument("--iteration", default=-1, type=int)
    parser.add_argument("--skip_train", action="store_true")
    parser.add_argument("--skip_test", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--skip_video", action="store_true")
    parser.add_argument("--configs", type=str)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--custom_aud", type=str, default="")
    parser.add_argument("--custom_wav", type=str, default="")
    return parser


def search_max_iteration(folder: str) -> int:
    return max(int(name.split("_")[-1]) for name in os.listdir(folder))


def rendered_frames(name: str, frames: int, batch: int, n_custom) -> int:
    """Frames upstream ends up with for one set (render_set's batch loop)."""
    until = 1000 if name == "train" else frames
    steps = until // batch + (1 if until % batch else 0)
    done = 0
    for step in range(steps):
        lo = step * batch
        if lo >= frames:  # next(loader) on an exhausted DataLoader, outside the try
            raise StopIteration(f"[double] DataLoader exhausted at batch {step} of {steps} ({frames} frames)")
        batch_ids = range(lo, min(lo + batch, frames))
        if n_custom is not None and any(window_rows(i, n_custom) != 8 for i in batch_ids):
            break  # upstream: render error swallowed by `except: break`
        done = batch_ids[-1] + 1
    if done == 0:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    return min(done, until)


def render_set(model_path: str, name: str, iteration, poses: list, source: str, batch: int, wav: str, n_custom=None):
    base = os.path.join(model_path, name, f"ours_{iteration}")
    render_path, gts_path = os.path.join(base, "renders"), os.path.join(base, "gt")
    os.makedirs(render_path, exist_ok=True)
    if name != "custom":
        os.makedirs(gts_path, exist_ok=True)
    count = rendered_frames(name, len(poses), batch, n_custom)
    print(f"[double] {name}: rendering {count} frames")
    # The set's poses in order, each over its own frame's torso and background (bg_w_torso).
    shown = [os.path.join(source, "ori_imgs", f"{pose['img_id']}.jpg") for pose in poses[:count]]
    fakeupstream.render_frames(shown, os.path.join(render_path, "renders.mp4"))
    videos = [(render_path, "renders")] + [(render_path, k) for k in ("audio", "eye", "null", "cam")]
    for _, kind in videos[1:]:
        shutil.copyfile(os.path.join(render_path, "renders.mp4"), os.path.join(render_path, kind + ".mp4"))
    if name != "custom":
        shutil.copyfile(os.path.join(render_path, "renders.mp4"), os.path.join(gts_path, "gt.mp4"))
        videos.insert(0, (gts_path, "gt"))
    prefix = model_path.split("/")[-2]
    for folder, kind in videos:
        os.system(
            f"ffmpeg -loglevel quiet -y -i {folder}/{kind}.mp4 -i {wav} -c:v copy -c:a aac "
            f"{folder}/{prefix}_{name}_{iteration}iter_{kind}.mov"
        )
    for folder, kind in videos:
        os.remove(f"{folder}/{kind}.mp4")


def main() -> None:
    parser = build_parser()
    args = get_combined_args(parser)
    fakeupstream.start(__file__, 0, sys.argv)
    print("Rendering ", args.model_path)
    if args.configs:
        args = merge_hparams(args, load_config(args.configs))
    args.only_infer = True

    model_path = args.model_path
    source_path = os.path.abspath(args.source_path)
    loaded_iter = None
    if args.iteration:
        if args.iteration == -1:
            loaded_iter = search_max_iteration(os.path.join(model_path, "point_cloud"))
        else:
            loaded_iter = args.iteration
        print(f"Loading trained model at iteration {loaded_iter}")
    data = Dataset(source_path, custom_aud=args.custom_aud)
    if loaded_iter:
        folder = os.path.join(model_path, "point_cloud", "iteration_" + str(loaded_iter))
        for name in ("point_cloud.ply", "deformation.pth"):
            if not os.path.isfile(os.path.join(folder, name)):
                raise FileNotFoundError(f"No such file or directory: '{os.path.join(folder, name)}'")
    else:
        print("[double] no --iteration: upstream renders an untrained model")

    if args.custom_aud != "":
        data.check_images(data.val)
        wav = os.path.join(source_path, args.custom_wav)
        render_set(model_path, "custom", loaded_iter, data.val, source_path, args.batch, wav, data.n_custom)
    if not args.skip_train:
        data.check_images(data.train[:1000])
        wav = os.path.join(source_path, "aud_train.wav")
        render_set(model_path, "train", loaded_iter, data.train, source_path, args.batch, wav)
    if not args.skip_test:
        data.check_images(data.val)
        wav = os.path.join(source_path, "aud_novel.wav")
        render_set(model_path, "test", args.iteration, data.val, source_path, args.batch, wav)


if __name__ == "__main__":
    main()
