#!/usr/bin/env python3
"""Test double for main.py @ 0cf72d8: same flags, fake outputs.

Mirrors upstream main.py + nerf_triplane/{provider,utils}.py behaviour that callers see:

* Dataset (``NeRFDataset``): reads ``<path>/transforms_<split>.json`` (test -> val split,
  ``--test_train`` -> train split), the audio features (``--aud`` path as given, else
  ``<path>/aud_eo.npy|aud_ds.npy|aud_hu.npy|aud.npy`` by ``--asr_model``), ``<path>/au.csv``
  column ``' AU45_r'`` (indexed by img_id when -O/--exp_eye), per frame gt_imgs/<id>.jpg
  (skipped with a warning if missing), ori_imgs/<id>.lms, and bc.jpg (or ``--bg_img``).
* Trainer 'ngp': ``<ws>/log_ngp.txt``, ``<ws>/checkpoints/ngp_ep%04d.pth`` every epoch (two
  kept), ``<ws>/checkpoints/ngp.pth`` after each evaluation (every max(1, int(5000 / n_train))
  epochs), ``<ws>/validation/*.png``, ``<ws>/results/ngp_ep%04d.mp4`` + ``_depth.mp4``.
  Missing checkpoint with ``--ckpt latest`` is NOT an error upstream: random init, epoch 0.
"""

from __future__ import annotations

import argparse
import csv
import glob
import importlib
import json
import math
import os
import re
import sys
import time
from pathlib import Path

import fakeupstream as fu

sys.path.insert(0, str(Path(__file__).resolve().parent))
dd = importlib.import_module("_ernerf_double")

NAME = "ngp"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    p.add_argument("path", type=str)
    p.add_argument("-O", action="store_true", help="equals --fp16 --cuda_ray --exp_eye")
    p.add_argument("--test", action="store_true", help="test mode (load model and test dataset)")
    p.add_argument("--test_train", action="store_true", help="test mode (load model and train dataset)")
    p.add_argument("--data_range", type=int, nargs="*", default=[0, -1], help="data range to use")
    p.add_argument("--workspace", type=str, default="workspace")
    p.add_argument("--seed", type=int, default=0)
    # training options
    p.add_argument("--iters", type=int, default=200000, help="training iters")
    p.add_argument("--lr", type=float, default=1e-2, help="initial learning rate")
    p.add_argument("--lr_net", type=float, default=1e-3, help="initial learning rate")
    p.add_argument("--ckpt", type=str, default="latest")
    p.add_argument("--num_rays", type=int, default=4096 * 16, help="num rays sampled per image for each training step")
    p.add_argument("--cuda_ray", action="store_true", help="use CUDA raymarching instead of pytorch")
    p.add_argument("--max_steps", type=int, default=16, help="max num steps sampled per ray")
    p.add_argument("--num_steps", type=int, default=16, help="num steps sampled per ray")
    p.add_argument("--upsample_steps", type=int, default=0, help="num steps up-sampled per ray")
    p.add_argument("--update_extra_interval", type=int, default=16, help="iter interval to update extra status")
    p.add_argument("--max_ray_batch", type=int, default=4096, help="batch size of rays at inference to avoid OOM")
    # loss set
    p.add_argument("--warmup_step", type=int, default=10000, help="warm up steps")
    p.add_argument("--amb_aud_loss", type=int, default=1, help="use ambient aud loss")
    p.add_argument("--amb_eye_loss", type=int, default=1, help="use ambient eye loss")
    p.add_argument("--unc_loss", type=int, default=1, help="use uncertainty loss")
    p.add_argument("--lambda_amb", type=float, default=1e-4, help="lambda for ambient loss")
    # network backbone options
    p.add_argument("--fp16", action="store_true", help="use amp mixed precision training")
    p.add_argument("--bg_img", type=str, default="", help="background image")
    p.add_argument("--fbg", action="store_true", help="frame-wise bg")
    p.add_argument("--exp_eye", action="store_true", help="explicitly control the eyes")
    p.add_argument("--fix_eye", type=float, default=-1, help="fixed eye area, negative to disable")
    p.add_argument("--smooth_eye", action="store_true", help="smooth the eye area sequence")
    p.add_argument("--torso_shrink", type=float, default=0.8, help="shrink bg coords to allow more flexibility")
    # dataset options
    p.add_argument("--color_space", type=str, default="srgb", help="Color space, supports (linear, srgb)")
    p.add_argument("--preload", type=int, default=0, help="0 disk, 1 CPU, 2 GPU")
    p.add_argument("--bound", type=float, default=1, help="assume the scene is bounded in box[-bound, bound]^3")
    p.add_argument("--scale", type=float, default=4, help="scale camera location into box[-bound, bound]^3")
    p.add_argument("--offset", type=float, nargs="*", default=[0, 0, 0], help="offset of camera location")
    p.add_argument("--dt_gamma", type=float, default=1 / 256, help="dt_gamma (>=0) for adaptive ray marching")
    p.add_argument("--min_near", type=float, default=0.05, help="minimum near distance for camera")
    p.add_argument("--density_thresh", type=float, default=10, help="threshold for density grid (sigma)")
    p.add_argument("--density_thresh_torso", type=float, default=0.01, help="threshold for density grid (alpha)")
    p.add_argument("--patch_size", type=int, default=1, help="[experimental] render patches in training")
    p.add_argument("--init_lips", action="store_true", help="init lips region")
    p.add_argument("--finetune_lips", action="store_true", help="use LPIPS and landmarks to fine tune lips region")
    p.add_argument("--smooth_lips", action="store_true", help="smooth the enc_a in a exponential decay way...")
    p.add_argument("--torso", action="store_true", help="fix head and train torso")
    p.add_argument("--head_ckpt", type=str, default="", help="head model")
    # GUI options
    p.add_argument("--gui", action="store_true", help="start a GUI")
    p.add_argument("--W", type=int, default=450, help="GUI width")
    p.add_argument("--H", type=int, default=450, help="GUI height")
    p.add_argument("--radius", type=float, default=3.35, help="default GUI camera radius from center")
    p.add_argument("--fovy", type=float, default=21.24, help="default GUI camera fovy")
    p.add_argument("--max_spp", type=int, default=1, help="GUI rendering max sample per pixel")
    # else
    p.add_argument("--att", type=int, default=2, help="audio attention mode (0 off, 1 left, 2 bi-direction)")
    p.add_argument("--aud", type=str, default="", help="audio source (empty: default, else a npy file)")
    p.add_argument("--emb", action="store_true", help="use audio class + embedding instead of logits")
    p.add_argument("--ind_dim", type=int, default=4, help="individual code dim, 0 to turn off")
    p.add_argument("--ind_num", type=int, default=10000, help="number of individual codes")
    p.add_argument("--ind_dim_torso", type=int, default=8, help="individual code dim, 0 to turn off")
    p.add_argument("--amb_dim", type=int, default=2, help="ambient dimension")
    p.add_argument("--part", action="store_true", help="use partial training data (1/10)")
    p.add_argument("--part2", action="store_true", help="use partial training data (first 15s)")
    p.add_argument("--train_camera", action="store_true", help="optimize camera pose")
    p.add_argument("--smooth_path", action="store_true", help="brute-force smooth camera pose trajectory")
    p.add_argument("--smooth_path_window", type=int, default=7, help="smoothing window size")
    # asr
    p.add_argument("--asr", action="store_true", help="load asr for real-time app")
    p.add_argument("--asr_wav", type=str, default="", help="load the wav and use as input")
    p.add_argument("--asr_play", action="store_true", help="play out the audio")
    p.add_argument("--asr_model", type=str, default="deepspeech")
    p.add_argument("--asr_save_feats", action="store_true")
    p.add_argument("--fps", type=int, default=50)
    p.add_argument("-l", type=int, default=10)
    p.add_argument("-m", type=int, default=50)
    p.add_argument("-r", type=int, default=10)
    return p


def audio_in_dim(asr_model: str) -> int:
    if "esperanto" in asr_model:
        return 44
    if "deepspeech" in asr_model:
        return 29
    if "hubert" in asr_model:
        return 1024
    return 32


class Dataset:
    """What NeRFDataset loads (and the ways it fails), without the pixels."""

    def __init__(self, opt: argparse.Namespace, type: str, training: bool | None = None) -> None:
        self.opt, self.type = opt, type
        root = opt.path
        # main.py --test_train builds a 'train' dataset and then sets .training = False
        self.training = type in ("train", "all", "trainval") if training is None else training
        self.dim_error = None
        split = "val" if type == "test" else type
        tpath = os.path.join(root, f"transforms_{split}.json")
        if not os.path.exists(tpath):
            dd.die("FileNotFoundError", f"[Errno 2] No such file or directory: '{tpath}'")
        with open(tpath) as fh:
            transform = json.load(fh)
        if "h" in transform and "w" in transform:
            self.H, self.W = int(transform["h"]), int(transform["w"])
        else:
            self.H, self.W = int(transform["cy"]) * 2, int(transform["cx"]) * 2
        frames = transform["frames"]
        start, end = opt.data_range[0], opt.data_range[1]
        if end == -1:
            end = len(frames)
        frames = frames[start:end]
        if type == "train":
            if opt.part:
                frames = frames[::10]
            elif opt.part2:
                frames = frames[:375]
        elif type == "val":
            frames = frames[:100]
        print(f"[INFO] load {len(frames)} {type} frames.")

        self.aud_rows = None
        if not opt.asr:
            if opt.aud == "":
                if "esperanto" in opt.asr_model:
                    aud_file = "aud_eo.npy"
                elif "deepspeech" in opt.asr_model:
                    aud_file = "aud_ds.npy"
                elif "hubert" in opt.asr_model:
                    aud_file = "aud_hu.npy"
                else:
                    aud_file = "aud.npy"
                aud_path = os.path.join(root, aud_file)
            else:
                aud_path = opt.aud
            shape = dd.npy_shape(aud_path)
            if len(shape) == 3:
                if not opt.emb and shape[2] != audio_in_dim(opt.asr_model):
                    self.dim_error = f"audio feature dim {shape[2]} != audio_in_dim {audio_in_dim(opt.asr_model)}"
            elif not opt.emb:
                dd.die("AssertionError", "aud only provide labels, must use --emb")
            self.aud_rows = shape[0]
            print(f"[INFO] load {opt.aud} aud_features: {shape}")

        au_path = os.path.join(root, "au.csv")
        if not os.path.exists(au_path):
            dd.die("FileNotFoundError", f"[Errno 2] No such file or directory: '{au_path}'")
        with open(au_path, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            if " AU45_r" not in header:
                dd.die("KeyError", "' AU45_r'")
            au_rows = sum(1 for _ in reader)

        self.ids = []
        for f in frames:
            img_id = f["img_id"]
            gt = os.path.join(root, "gt_imgs", f"{img_id}.jpg")
            if not os.path.exists(gt):
                print("[WARN]", gt, "NOT FOUND!")
                continue
            lms = os.path.join(root, "ori_imgs", f"{img_id}.lms")
            if not os.path.exists(lms):
                dd.die("FileNotFoundError", f"{lms} not found.")
            if opt.exp_eye and img_id >= au_rows:
                dd.die("IndexError", f"index {img_id} is out of bounds for axis 0 with size {au_rows}")
            self.ids.append(img_id)

        if opt.bg_img not in ("white", "black"):
            if opt.bg_img == "":
                opt.bg_img = os.path.join(root, "bc.jpg")
            if not os.path.exists(opt.bg_img):
                dd.die("AttributeError", "'NoneType' object has no attribute 'shape'")
        if not self.ids:
            dd.die("ValueError", "need at least one array to stack")

        if opt.asr:
            self.size = 2 * len(self.ids) if not self.training else len(self.ids)
        elif self.training or opt.aud == "":
            self.size = len(self.ids)  # one audio row per kept frame
        else:
            self.size = self.aud_rows  # novel audio: its length; poses mirror -> <- -> <-
        self.has_gt = opt.aud == ""

    def mirror_index(self, index: int) -> int:
        size = len(self.ids)
        turn, res = divmod(index, size)
        return res if turn % 2 == 0 else size - res - 1

    def check_render(self) -> None:
        """Per-frame files read while rendering (collate) and feature/model compatibility."""
        if self.opt.asr:
            dd.die("KeyError", "'auds'")
        if self.dim_error:
            dd.die("RuntimeError", self.dim_error)
        for k in sorted({self.mirror_index(i) for i in range(self.size)}):
            img_id = self.ids[k]
            torso = os.path.join(self.opt.path, "torso_imgs", f"{img_id}.png")
            if not os.path.exists(torso):
                dd.die("cv2.error", "(-215:Assertion failed) !_src.empty() in function 'cvtColor'")


class Trainer:
    def __init__(self, opt: argparse.Namespace, workspace: str, use_checkpoint: str) -> None:
        self.opt, self.workspace = opt, workspace
        self.epoch, self.global_step = 0, 0
        self.stats = {"checkpoints": [], "results": []}
        os.makedirs(workspace, exist_ok=True)
        self.log_path = os.path.join(workspace, f"log_{NAME}.txt")
        self.ckpt_path = os.path.join(workspace, "checkpoints")
        self.best_path = f"{self.ckpt_path}/{NAME}.pth"
        os.makedirs(self.ckpt_path, exist_ok=True)
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        self.log(f"[INFO] Trainer: {NAME} | {stamp} | cuda | {'fp16' if opt.fp16 else 'fp32'} | {workspace}")
        if use_checkpoint == "scratch":
            self.log("[INFO] Training from scratch ...")
        elif use_checkpoint == "latest":
            self.log("[INFO] Loading latest checkpoint ...")
            self.load_checkpoint()
        elif use_checkpoint == "latest_model":
            self.log("[INFO] Loading latest checkpoint (model only)...")
            self.load_checkpoint(model_only=True)
        elif use_checkpoint == "best":
            if os.path.exists(self.best_path):
                self.log("[INFO] Loading best checkpoint ...")
                self.load_checkpoint(self.best_path)
            else:
                self.log(f"[INFO] {self.best_path} not found, loading latest ...")
                self.load_checkpoint()
        else:
            self.log(f"[INFO] Loading {use_checkpoint} ...")
            self.load_checkpoint(use_checkpoint)

    def log(self, msg: str) -> None:
        print(msg)
        with open(self.log_path, "a+") as fh:
            print(msg, file=fh)

    def load_checkpoint(self, checkpoint: str | None = None, model_only: bool = False) -> None:
        if checkpoint is None:
            found = sorted(glob.glob(f"{self.ckpt_path}/{NAME}_ep*.pth"))
            if not found:
                self.log("[WARN] No checkpoint found, model randomly initialized.")
                return
            checkpoint = found[-1]
            self.log(f"[INFO] Latest checkpoint is {checkpoint}")
        data = dd.torch_load(checkpoint)
        if data is None:  # foreign placeholder: assume a full checkpoint, epoch from its name
            match = re.search(r"ep(\d+)", os.path.basename(checkpoint))
            data = {
                "keys": ["model", "stats", "epoch", "global_step"],
                "epoch": int(match.group(1)) if match else 0,
                "global_step": 0,
                "stats": {"checkpoints": [], "results": []},
            }
        if "model" not in data.get("keys", []):
            self.log("[INFO] loaded bare model.")
            return
        self.log("[INFO] loaded model.")
        if model_only:
            return
        if "stats" not in data.get("keys", []) or "epoch" not in data:
            dd.die("KeyError", "'stats'")
        self.stats = data.get("stats", {"checkpoints": [], "results": []})
        self.epoch, self.global_step = int(data["epoch"]), int(data.get("global_step", 0))
        self.log(f"[INFO] load at epoch {self.epoch}, global step {self.global_step}")

    def _state(self, full: bool, best: bool) -> dict:
        keys = ["epoch", "global_step", "stats", "mean_count", "mean_density", "mean_density_torso", "model"]
        if full:
            keys += ["optimizer", "lr_scheduler", "scaler", "ema"]
        return {"keys": keys, "epoch": self.epoch, "global_step": self.global_step, "stats": self.stats, "best": best}

    def validation_images(self, ds: Dataset) -> None:
        name = f"{NAME}_ep{self.epoch:04d}"
        folder = os.path.join(self.workspace, "validation")
        os.makedirs(folder, exist_ok=True)
        template = os.path.join(folder, f"{name}_0001_rgb.png")
        dd.write_color_image(template, ds.H, ds.W)
        kinds = ["rgb"] if self.opt.torso else ["rgb", "depth", "aud", "eye", "uncertainty"]
        targets = [
            os.path.join(folder, f"{name}_{step:04d}_{kind}.png") for step in range(1, ds.size + 1) for kind in kinds
        ]
        dd.fill_copies(template, [t for t in targets if t != template])

    def evaluate(self, ds: Dataset) -> None:
        self.log(f"++> Evaluate at epoch {self.epoch} ...")
        ds.check_render()
        self.validation_images(ds)
        self.stats["results"].append(0.01)
        self.log(f"++> Evaluate epoch {self.epoch} Finished.")

    def test(self, ds: Dataset) -> None:
        save_path = os.path.join(self.workspace, "results")
        name = f"{NAME}_ep{self.epoch:04d}"
        os.makedirs(save_path, exist_ok=True)
        self.log(f"==> Start Test, save results to {save_path}")
        ds.check_render()
        # Poses (and the torso and background with them) replay back and forth: frame i shows mirror_index(i).
        shown = [os.path.join(self.opt.path, "ori_imgs", f"{ds.ids[ds.mirror_index(i)]}.jpg") for i in range(ds.size)]
        fu.render_frames(shown, os.path.join(save_path, f"{name}.mp4"))
        dd.write_video(os.path.join(save_path, f"{name}_depth.mp4"), ds.size, ds.H, ds.W)
        self.log("==> Finished Test.")

    def train(self, train_ds: Dataset, valid_ds: Dataset, max_epochs: int, eval_interval: int) -> None:
        """Epoch loop: checkpoint each epoch (keep two via stats['checkpoints']), evaluate + ngp.pth periodically.

        Only the files that survive the loop are written (upstream writes then deletes the others).
        """
        os.makedirs(os.path.join(self.workspace, "run", NAME), exist_ok=True)
        train_ds.check_render()
        new = []
        for epoch in range(self.epoch + 1, max_epochs + 1):
            self.epoch = epoch
            self.global_step += train_ds.size
            path = f"{self.ckpt_path}/{NAME}_ep{epoch:04d}.pth"
            self.stats["checkpoints"].append(path)
            new.append(path)
            if len(self.stats["checkpoints"]) > 2:
                old = self.stats["checkpoints"].pop(0)
                if old in new:
                    new.remove(old)
                elif os.path.exists(old):
                    os.remove(old)
            if epoch % eval_interval == 0:
                self.evaluate(valid_ds)
                dd.torch_save(self.best_path, self._state(full=False, best=True))
        for path in new:
            epoch = int(re.search(r"_ep(\d+)\.pth$", path).group(1))
            dd.torch_save(path, dict(self._state(full=True, best=False), epoch=epoch))


def main() -> None:
    opt = build_parser().parse_args()
    fu.start(__file__, 0, sys.argv)
    if opt.O:
        opt.fp16 = True
        opt.exp_eye = True
    opt.cuda_ray = True
    if opt.patch_size > 1 and opt.num_rays % (opt.patch_size**2) != 0:
        dd.die("AssertionError", "patch_size ** 2 should be dividable by num_rays.")
    print(opt)

    if opt.torso and opt.head_ckpt != "":
        head = dd.torch_load(opt.head_ckpt)
        if head is not None and "model" not in head.get("keys", []):
            dd.die("KeyError", "'model'")

    if opt.test:
        if opt.gui:
            dd.die("RuntimeError", "[double] --gui needs dearpygui and a display")
        trainer = Trainer(opt, opt.workspace, opt.ckpt)
        ds = Dataset(opt, "train" if opt.test_train else "test", training=False)
        trainer.test(ds)
        if ds.has_gt:
            trainer.evaluate(ds)
        return

    train_ds = Dataset(opt, "train")
    if not train_ds.size < opt.ind_num:
        dd.die("AssertionError", f"[ERROR] dataset too many frames: {train_ds.size}, please increase --ind_num!")
    eval_interval = max(1, int(5000 / train_ds.size))
    trainer = Trainer(opt, opt.workspace, opt.ckpt)
    with open(os.path.join(opt.workspace, "opt.txt"), "a") as fh:
        fh.write(str(opt))
    if opt.gui:
        dd.die("NameError", "name 'NeRFGUI' is not defined")
    valid_ds = Dataset(opt, "val")
    max_epochs = math.ceil(opt.iters / train_ds.size)
    print(f"[INFO] max_epoch = {max_epochs}")
    trainer.train(train_ds, valid_ds, max_epochs, eval_interval)
    test_ds = Dataset(opt, "test")
    if test_ds.has_gt:
        trainer.evaluate(test_ds)
    trainer.test(test_ds)


if __name__ == "__main__":
    main()
