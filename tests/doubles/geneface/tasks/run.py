#!/usr/bin/env python3
"""Test double for tasks/run.py @ 15ff4e5: same flags, fake outputs.

Command line = ``set_hparams()`` (``--config --exp_name -hp/--hparams --infer --validate
--reset --remove --debug``; unknown flags are printed and ignored, exit 0).
``work_dir = checkpoints/<exp_name>``; ``config.yaml`` is written there when it is missing
or with ``--reset`` (not with ``--infer``); without ``--reset`` an existing config.yaml
overrides ``--config``.

Training follows utils/commons/trainer.py: it always resumes from the newest
``model_ckpt_steps_<N>.ckpt`` of work_dir (``resume_from_checkpoint`` > 0 picks that exact
step), then "trains" up to ``max_updates``; a checkpoint is saved only at steps that are
multiples of ``val_check_interval`` (never at the resume/start step), keeping the newest
``num_ckpt_keep``; ``model_ckpt_best.pt`` too when ``save_best`` is true.
Preconditions per ``task_cls`` (checked as the real task does, crash otherwise):
RADNeRF(Torso): ``<binary_data_dir>/<video_id>/trainval_dataset.npy`` and the .lms files;
torso: a checkpoint in ``head_model_dir``.
Postnet: ``<audio2motion_work_dir>/model_ckpt_steps_<audio2motion_ckpt_steps>.ckpt``,
``<syncnet_work_dir>/model_ckpt_steps_<syncnet_ckpt_steps>.ckpt``,
``deep_3drecon/BFM/BFM_model_front.mat``,
``<person_binary_data_dir>/<video_id>/trainval_dataset.npy`` and the LRS3 binary set
``<binary_data_dir>/{train,val}.data``.
"""

import os
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import _geneface_double as gd  # noqa: E402


def _check_radnerf(hp):
    binary = os.path.join(hp["binary_data_dir"], hp["video_id"], "trainval_dataset.npy")
    gd.require(binary)
    ds = gd.read_pickle_npy(binary)
    samples = ds.get("train_samples", []) + ds.get("val_samples", []) if isinstance(ds, dict) else []
    for sample in samples:
        gd.require(os.path.join(hp["processed_data_dir"], hp["video_id"], "ori_imgs", f"{sample['idx']}.lms"))
    if samples and max(s["idx"] for s in samples) >= hp.get("individual_embedding_num", 13000):
        raise IndexError("individual_embedding_num must cover every frame index (GeneFace issue #198)")
    if hp["task_cls"].endswith("RADNeRFTorsoTask"):
        gd.require_ckpt(hp["head_model_dir"])
        print(f"Loaded Head Model from {hp['head_model_dir']}")


def _check_postnet(hp):
    gd.require_ckpt(hp["audio2motion_work_dir"], hp["audio2motion_ckpt_steps"])
    gd.require_ckpt(hp["syncnet_work_dir"], hp["syncnet_ckpt_steps"])
    gd.require("deep_3drecon/BFM/BFM_model_front.mat")
    gd.require(os.path.join(hp["person_binary_data_dir"], hp["video_id"], "trainval_dataset.npy"))
    for prefix in ("val", "train"):
        gd.require(f"{hp['binary_data_dir']}/{prefix}.data", why="processed LRS3 binary set")


def main():
    hp, _ = gd.set_hparams(__file__, 1, sys.argv)
    assert hp["task_cls"] != ""
    work_dir = hp["work_dir"]
    os.makedirs(work_dir, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d%H%M%S")
    os.makedirs(f"{work_dir}/terminal_logs", exist_ok=True)
    Path(f"{work_dir}/terminal_logs/log_{stamp}.txt").write_text("[double] tasks/run.py\n", encoding="utf-8")
    if not hp["infer"]:
        os.makedirs(f"{work_dir}/codes/{stamp}", exist_ok=True)

    task_cls = hp["task_cls"]
    if ".radnerfs." in task_cls:
        _check_radnerf(hp)
    elif ".postnet." in task_cls:
        _check_postnet(hp)

    resume = hp.get("resume_from_checkpoint", 0) or 0
    found = gd.all_ckpts(work_dir, resume if resume > 0 else None)
    step = int(found[0].rsplit("_", 1)[1].split(".")[0]) if found else 0
    if found:
        print(f"| resumed from {found[0]} (global_step={step})")
    os.makedirs(f"{work_dir}/tb_logs", exist_ok=True)
    if hp["infer"]:
        print(f"[double] test mode at global_step={step}: nothing rendered")
        return

    max_updates = int(hp["max_updates"])
    interval = int(hp["val_check_interval"])
    keep = int(hp["num_ckpt_keep"])
    first = step + 1
    for save_step in range((first + interval - 1) // interval * interval, max_updates + 1, interval):
        gd.write_ckpt(f"{work_dir}/model_ckpt_steps_{save_step}.ckpt", save_step)
        print(f"| saving model to {work_dir}/model_ckpt_steps_{save_step}.ckpt")
        for old in gd.all_ckpts(work_dir)[keep:]:
            os.remove(old)
        if hp.get("save_best"):
            gd.write_ckpt(f"{work_dir}/model_ckpt_best.pt", save_step)
    print("| Training end..")


if __name__ == "__main__":
    main()
