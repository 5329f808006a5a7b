"""tools/gpu-run end to end on the test doubles (`--line local`): the harness the GPU runs use, checked in CI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO

SCRIPTS = REPO / "tools" / "gpu-run"


def helpers(root: Path) -> Path:
    """AD-NeRF's 3DMM helper files in their published keys and shapes (ER-NeRF's tree does not commit them)."""
    folder = root / "helpers"
    folder.mkdir()
    n = 34650
    np.save(folder / "topology_info.npy", {"sub_inds": np.arange(n), "tris": np.zeros((68746, 3), np.int64)})
    np.save(folder / "keys_info.npy", {"keyinds": np.arange(68), "rigid_ids": np.arange(464)})
    return folder


@pytest.mark.parametrize("model", ["ernerf", "gaussiantalker", "geneface"])
def test_prepare_then_run_records_every_step_and_the_result(tmp_path: Path, model: str) -> None:
    root = tmp_path / "run" / model
    script = str(SCRIPTS / f"{model}.py")
    subprocess.run([sys.executable, script, "prepare", "--root", str(root)], check=True, capture_output=True)
    pack = tmp_path / "run" / f"gpu-run-{model}.tar"
    assert pack.exists()
    out = tmp_path / "record.json"
    argv = [sys.executable, script, "run", "--line", "local", "--root", str(root), "--out", str(out)]
    argv += ["--helpers", str(helpers(tmp_path))]  # the doubles' trees hold placeholders
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads(out.read_text())
    steps = {step["name"]: step for step in record["steps"]}
    for name in ("convert-bfm", "preprocess", "infer-wav"):
        assert steps[name]["returncode"] == 0
    assert [s for s in steps if s.startswith("train-")], "no training stage ran"
    assert all(steps[s]["returncode"] == 0 for s in steps if s.startswith("train-"))
    # Every stand-in is named with its reason, and the weights it wrote are listed with how they were made.
    assert any("extract_ds_features.py" in s["what"] for s in record["stand_ins"])
    assert all(s["why"] for s in record["stand_ins"])
    assert {Path(w["path"]).name for w in record["weights"]} >= {"01_MorphableModel.mat", "exp_info.npy"}
    wav = next(r for r in record["results"] if r["driving"].endswith(".wav"))
    assert wav["exists"] and abs(wav["video_s"] - wav["driving_audio_s"]) < 0.2
    assert abs(wav["audio_s"] - wav["driving_audio_s"]) < 0.2
    assert len(wav["frame10_sha256"]) == 64 and (tmp_path / wav["frame10_png"]).exists()
    pins = json.loads((REPO / "talkingface" / "upstream.json").read_text())
    assert record["upstream"]["commit"] == pins[model]["commit"]
    if model == "geneface":
        check_geneface(root, record, steps)


def check_geneface(root: Path, record: dict, steps: dict) -> None:
    from scipy.io import loadmat

    # Each stage is short and ends on a checkpoint (upstream saves only at multiples of val_check_interval).
    assert steps["train-head"]["iterations"] == steps["train-torso"]["iterations"] == 300
    for exp in ("lm3d_radnerf", "lm3d_radnerf_torso"):
        assert (root / "ws" / "checkpoints" / "gpurun" / exp / "model_ckpt_steps_300.ckpt").exists()
    # Deep3DFaceRecon's BFM in the keys and shapes ParametricFaceModel and Face3DHelper read.
    bfm = loadmat(root / "weights" / "geneface" / "deep_3drecon" / "BFM" / "BFM_model_front.mat")
    assert bfm["meanshape"].shape == (1, 107127) and bfm["meantex"].shape == (1, 107127)
    assert bfm["idBase"].shape == (107127, 80) and bfm["exBase"].shape == (107127, 64)
    assert bfm["texBase"].shape == (107127, 80) and bfm["keypoints"].shape == (1, 68)
    assert bfm["point_buf"].shape == (35709, 8) and bfm["point_buf"].min() >= 1
    assert bfm["tri"].shape[1] == 3 and 1 <= bfm["tri"].min() and bfm["tri"].max() <= 35709
    # The stand-ins for what upstream imports but can't have here are named; the released checkpoints exist.
    named = " ".join(s["what"] for s in record["stand_ins"])
    assert "pyaudio" in named and "moviepy" in named and "data_util/face_parsing/test.py" in named
    released = root / "weights" / "geneface" / "checkpoints"
    assert (released / "May" / "lm3d_postnet_sync" / "model_ckpt_steps_4000.ckpt").exists()
    assert (released / "lrs3" / "syncnet" / "model_ckpt_steps_40000.ckpt").exists()


def test_one_shot_prepare_then_run_from_the_pack(tmp_path: Path) -> None:
    """NeRFFaceSpeech: prepare runs infer on the doubles (our alignment, silence and wav are kept), the pack leaves out
    what upstream's steps wrote, and run, from the pack alone as on the GPU machine, redoes exactly those."""
    import shutil
    import tarfile

    from scipy.io import loadmat

    root = tmp_path / "run" / "nerffacespeech"
    script = str(SCRIPTS / "nerffacespeech.py")
    subprocess.run([sys.executable, script, "prepare", "--root", str(root)], check=True, capture_output=True)
    pack = tmp_path / "run" / "gpu-run-nerffacespeech.tar"
    names = {name.split("/", 1)[1] for name in tarfile.open(pack).getnames() if "/" in name}
    assert {"input/face.png", "ws/data/gpurun/aligned.png", "ws/models/gpurun/silence.wav"} <= names
    assert "ws/audio/speech/speech.wav" in names
    assert not [n for n in names if "/inversion/" in n or "render-" in n or n.startswith("ws/results/gpurun/")]
    shutil.rmtree(root)  # the GPU machine has the pack only
    out = tmp_path / "record.json"
    argv = [sys.executable, script, "run", "--line", "local", "--root", str(root), "--out", str(out)]
    argv += ["--pack", str(pack)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads(out.read_text())
    # One verb: no BFM to convert, no dataset, no training.
    assert [(s["name"], s["returncode"]) for s in record["steps"]] == [("infer-wav", 0)]
    log = Path(record["steps"][0]["log"]).read_text()
    for ours in ("align", "silence", "audio-speech-wav"):
        assert f"{ours}: " in log and f"] {ours} finished" not in log, f"{ours} ran again"
    for upstream in ("invert", "infer-speech-render", "infer-speech-mux"):
        assert f"] {upstream} finished" in log, f"{upstream} did not run"
    assert set(record["upstream_logs"]) == {"invert", "infer-speech-render"}
    # The stand-ins, each with its reason; the weights, each with how it was made.
    named = {s["what"] for s in record["stand_ins"]}
    assert "3DMM-Fitting-Pytorch/fit_single_img_custom.py" in named
    assert {f"python package {name}" for name in ("wandb", "ipdb", "imp", "distutils")} <= named
    assert all(s["why"] for s in record["stand_ins"])
    nets = root / "weights" / "nerffacespeech" / "pretrained_networks"
    info = loadmat(nets / "BFM_for_3DMM-Fitting-Pytorch" / "BFM" / "BFM09_model_info.mat")
    assert info["meanshape"].shape == (1, 107127) and info["exBase"].shape == (107127, 64)
    assert info["skinmask"].shape == (1, 35709) and info["keypoints"].shape == (1, 68)
    assert (nets / "BFM" / "BFM_model_front.mat").resolve() == (
        root / "weights" / "geneface" / "deep_3drecon" / "BFM" / "BFM_model_front.mat"
    )
    # PTI's VGG16 in dnnlib's cache: TorchScript answering the projector's call.
    import torch

    vgg = torch.jit.load(str(root / "weights" / "cache" / "dnnlib" / "downloads" / (
        "5982b9427714baaab6e0a48ef3b1dbfd_vgg16.pt")))  # fmt: skip
    assert vgg(torch.full((1, 3, 64, 64), 128.0), resize_images=False, return_lpips=True).ndim == 2
    wav = record["results"][0]
    assert wav["exists"] and abs(wav["video_s"] - wav["driving_audio_s"]) < 0.2
    assert len(wav["frame10_sha256"]) == 64 and (tmp_path / wav["frame10_png"]).exists()
    pins = json.loads((REPO / "talkingface" / "upstream.json").read_text())
    assert record["upstream"]["commit"] == pins["nerffacespeech"]["commit"]


def test_upstream_edits_are_exact_and_recorded(tmp_path: Path) -> None:
    sys.path.insert(0, str(SCRIPTS))
    import gpurun
    import nerffacespeech

    run = gpurun.Run(nerffacespeech.MODEL, tmp_path)
    target = run.upstream / "PTI" / "w_projector.py"
    target.parent.mkdir(parents=True)
    target.write_text("def project():\n    num_steps = 1000\n\ndef project_bg():\n    num_steps = 1000\n")
    with pytest.raises(SystemExit, match="holds 2 of"):
        gpurun.edit_upstream(run, "PTI/w_projector.py", "    num_steps = 1000\n", "    num_steps = 5\n", "short")
    gpurun.edit_upstream(run, "PTI/w_projector.py", "    num_steps = 1000\n", "    num_steps = 5\n", "short", count=2)
    assert target.read_text().count("num_steps = 5") == 2
    assert "num_steps = 1000" in (target.parent / "w_projector.py.upstream").read_text()
    assert run.record["edits"] == [
        {"file": "PTI/w_projector.py", "find": "num_steps = 1000", "replace": "num_steps = 5", "why": "short"}
    ]
    # A second run on the same environment (a retry on a warm machine) edits the kept original again.
    gpurun.edit_upstream(run, "PTI/w_projector.py", "    num_steps = 1000\n", "    num_steps = 7\n", "short", count=2)
    assert target.read_text().count("num_steps = 7") == 2


def test_finished_loops_reads_tqdm_once_per_loop() -> None:
    sys.path.insert(0, str(SCRIPTS))
    import gpurun

    text = (
        " 10%|#         | 5/50 [00:01<00:09,  4.90it/s]\r100%|##########| 50/50 [00:10<00:00,  4.95it/s]"
        "\r100%|##########| 50/50 [00:10<00:00,  4.95it/s]\n"
        "Processing frames: 100%|##########| 116/116 [01:02<00:00,  1.85s/it]\n"
    )
    assert gpurun.finished_loops(text) == [
        {"loop": None, "iterations": 50, "elapsed": "00:10", "it_per_s": 4.95},
        {"loop": "Processing frames", "iterations": 116, "elapsed": "01:02", "it_per_s": 0.541},
    ]
