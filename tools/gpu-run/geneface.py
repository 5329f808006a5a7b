#!/usr/bin/env python3
"""GeneFace at its pinned commit on a GPU, through our entrypoint: python3 tools/gpu-run/geneface.py prepare|run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import weights  # noqa: E402
from gpurun import (  # noqa: E402
    HERE,
    REPO,
    TASK,
    Model,
    Run,
    deepspeech_stand_in,
    doubles_on_path,
    main,
    prove_face_parsing,
    replace_with_double,
    stub_module,
    tracker_fallback,
)

DOUBLES = REPO / "tests" / "doubles"
STAND_INS = HERE / "stand_ins" / "geneface"
ITERATIONS = 300  # head and torso each; our adapter saves at the last one (upstream: 250000, saving every 2000)
# Hugging Face snapshots talkingface/weights_manifest.json pins.
HUBERT = ("facebook/hubert-large-ls960-ft", "ece5fabbf034c1073acae96d5401b25be96709d8")
ESPERANTO = ("cpierse/wav2vec2-large-xlsr-53-esperanto", "5ae6c3174dddd1261dd2816eeb6f060655042026")
# The published esperanto vocabulary, in id order (data_util/extract_esperanto.py lists it).
ESPERANTO_VOCAB = (
    "ŭ » c ĵ ñ ” „ “ ǔ o ĝ m k d a ŝ z i « — ‘ ĥ f y h j | r u ĉ s – ﬁ l p ’ g v t b n e [UNK] [PAD]"
).split()
HUBERT_VOCAB = "<pad> <s> </s> <unk> | E T A O N I H S R D L U M W C F G Y P B V K ' X J Q Z".split()


def real_tree(run: Run) -> bool:
    """The real upstream tree (cu130 line), not the doubles' (local line, which CI runs)."""
    return (run.upstream / "deep_3drecon").is_dir()


UPSTREAM_CHECKPOINTS = r"""
import os, sys, torch, yaml
from pathlib import Path
os.chdir(sys.argv[1])
sys.path.insert(0, sys.argv[1])
weights = Path(sys.argv[2])
bfm_dir = str(weights / "geneface" / "deep_3drecon" / "BFM")
ckpts = weights / "geneface" / "checkpoints"
torch.manual_seed(0)

# deep_3drecon/checkpoints/facerecon/epoch_20.pth: BaseModel.load_networks reads state_dict['net_recon'].
import pickle
from deep_3drecon.deep_3drecon_models.networks import define_net_recon
opt = pickle.load(open("deep_3drecon/reconstructor_opt.pkl", "rb"))
net = define_net_recon(net_recon=opt.net_recon, use_last_fc=opt.use_last_fc, init_path=None)
recon = weights / "geneface" / "deep_3drecon" / "checkpoints" / "facerecon" / "epoch_20.pth"
recon.parent.mkdir(parents=True, exist_ok=True)
torch.save({"net_recon": net.state_dict()}, recon)
print("wrote", recon, opt.net_recon)

from utils.commons.hparams import hparams, set_hparams
import data_util.face3d_helper as face3d_helper
real_init = face3d_helper.Face3DHelper.__init__
face3d_helper.Face3DHelper.__init__ = lambda self, bfm_dir_=None, use_gpu=True: real_init(self, bfm_dir, use_gpu)


def dump(task, exp, steps, config):
    # As utils/commons/trainer.py's dump_checkpoint: every child module with parameters, by name.
    work = ckpts / exp
    work.mkdir(parents=True, exist_ok=True)
    state = {k: v.state_dict() for k, v in task.named_children() if len(list(v.parameters())) > 0}
    torch.save({"epoch": 0, "global_step": steps, "checkpoint_callback_best": None, "optimizer_states": [],
                "state_dict": state}, work / f"model_ckpt_steps_{steps}.ckpt")
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    print("wrote", work, sorted(state))


def configure(config, exp):
    set_hparams(config=config, exp_name="", hparams_str="", print_hparams=False)
    hparams["work_dir"] = f"checkpoints/{exp}"
    saved = dict(hparams)
    for key in ("audio2motion_work_dir", "syncnet_work_dir"):
        if key in hparams:  # the released ones, from this run's weights folder
            hparams[key] = str(ckpts / hparams[key].replace("checkpoints/", "", 1))
    return saved


saved = configure("egs/datasets/lrs3/lm3d_syncnet.yaml", "lrs3/syncnet")
from tasks.syncnet.lm3d_syncnet import SyncNetTask
task = SyncNetTask(); task.build_model(); dump(task, "lrs3/syncnet", 40000, saved)

saved = configure("egs/datasets/lrs3/lm3d_vae_sync.yaml", "lrs3/lm3d_vae_sync")
from tasks.audio2motion.lm3d_vae_sync import VAESyncAudio2MotionTask
task = VAESyncAudio2MotionTask(); task.build_model(); dump(task, "lrs3/lm3d_vae_sync", 40000, saved)

saved = configure("egs/datasets/videos/May/lm3d_postnet_sync.yaml", "May/lm3d_postnet_sync")
from tasks.postnet.lm3d_postnet_adv_sync import PostnetAdvSyncTask
task = PostnetAdvSyncTask(); task.build_model(); dump(task, "May/lm3d_postnet_sync", int(sys.argv[3]), saved)
"""

HUGGING_FACE = r"""
import json, sys, torch
from pathlib import Path
from transformers import HubertConfig, HubertForCTC, Wav2Vec2Config, Wav2Vec2ForCTC
hub = Path(sys.argv[1])
specs = json.loads(sys.argv[2])
large = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
             feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True, feat_proj_dropout=0.0)
for spec in specs:
    vocab = {token: i for i, token in enumerate(spec["vocab"])}
    unk, pad = spec["unk"], spec["pad"]
    if spec["kind"] == "hubert":
        config = HubertConfig(vocab_size=len(vocab), pad_token_id=vocab[pad], architectures=["HubertForCTC"], **large)
        cls = HubertForCTC
    else:
        config = Wav2Vec2Config(vocab_size=len(vocab), pad_token_id=vocab[pad], architectures=["Wav2Vec2ForCTC"],
                                **large)
        cls = Wav2Vec2ForCTC
    folder = hub / ("models--" + spec["repo"].replace("/", "--"))
    snap = folder / "snapshots" / spec["revision"]
    snap.mkdir(parents=True, exist_ok=True)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(spec["revision"])
    torch.manual_seed(0)
    model = cls(config)
    torch.save(model.state_dict(), snap / "pytorch_model.bin")
    (snap / "config.json").write_text(config.to_json_string())
    (snap / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    special = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": unk, "pad_token": pad}
    (snap / "special_tokens_map.json").write_text(json.dumps(special))
    (snap / "tokenizer_config.json").write_text(json.dumps(
        dict(special, do_lower_case=False, word_delimiter_token="|", tokenizer_class="Wav2Vec2CTCTokenizer",
             processor_class="Wav2Vec2Processor")))
    (snap / "preprocessor_config.json").write_text(json.dumps(
        {"do_normalize": True, "feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1,
         "padding_side": "right", "padding_value": 0.0, "return_attention_mask": spec["kind"] == "hubert",
         "sampling_rate": 16000, "processor_class": "Wav2Vec2Processor"}))
    print("wrote", snap, sum(p.numel() for p in model.parameters()), "parameters")
(hub / "version.txt").write_text("1")
"""


def hugging_face(run: Run) -> None:
    """HuBERT (features, postnet infer) and the esperanto wav2vec2 CTC (process.py task 2): the published configs'
    sizes (hidden 1024, 24 layers), random values, in the pinned snapshots of the offline cache."""
    import json

    hub = run.weights / "cache" / "huggingface" / "hub"
    specs = [
        {"kind": "hubert", "repo": HUBERT[0], "revision": HUBERT[1], "vocab": HUBERT_VOCAB,
         "unk": "<unk>", "pad": "<pad>"},
        {"kind": "wav2vec2", "repo": ESPERANTO[0], "revision": ESPERANTO[1], "vocab": ESPERANTO_VOCAB,
         "unk": "[UNK]", "pad": "[PAD]"},
    ]  # fmt: skip
    weights.env_python(run, HUGGING_FACE, str(hub), json.dumps(specs))
    for spec in specs:
        folder = f"cache/huggingface/hub/models--{spec['repo'].replace('/', '--')}/snapshots/{spec['revision']}"
        run.weight(folder, f"random {spec['kind']} CTC model, hidden 1024, 24 layers, vocab {len(spec['vocab'])}")


def write_weights(run: Run) -> None:
    weights.torchvision_net(run, "resnet18", "resnet18-5c106cde.pth")  # BiSeNet's backbone
    # Its tree commits BiSeNet's weights; the snapshot lacks the blob: written into the tree, random.
    weights.bisenet(run, "geneface", in_tree=True)
    weights.tracking_helpers(run, run.upstream / "data_util" / "face_tracking" / "3DMM", run.helpers)
    weights.lpips_and_fan(run)  # AlexNet for LPIPS (RAD-NeRF training); S3FD and 2DFAN4 for extract_3dmm.py
    weights.basel_face_model(run)
    weights.bfm_front(run, "geneface/deep_3drecon/BFM/BFM_model_front.mat")
    if real_tree(run):
        # deep_3drecon imports its renderer at import time, and the writer below imports deep_3drecon.
        replace_with_double(
            run,
            "deep_3drecon/util/mesh_renderer.py",
            "pytorch3d's CUDA build does not fit the run; recon_coeff returns the coefficients only, never the "
            "rendered images: a renderer of the same signature and output shapes returns empty ones",
            double=STAND_INS / "mesh_renderer.py",
        )
        weights.env_python(
            run, UPSTREAM_CHECKPOINTS, str(run.upstream), str(run.weights), "4000", cwd=run.upstream,
            path=[run.upstream],
        )  # fmt: skip
        for path, how in (
            ("geneface/deep_3drecon/checkpoints/facerecon/epoch_20.pth", "{'net_recon': ReconNetWrapper resnet50}"),
            ("geneface/checkpoints/lrs3/syncnet", "SyncNetTask, lm3d_syncnet.yaml, step 40000"),
            ("geneface/checkpoints/lrs3/lm3d_vae_sync", "VAESyncAudio2MotionTask, lm3d_vae_sync.yaml, step 40000"),
            ("geneface/checkpoints/May/lm3d_postnet_sync", "PostnetAdvSyncTask, May's lm3d_postnet_sync.yaml, 4000"),
        ):
            run.weight(path, f"random, through upstream's own classes: {how}")
        hugging_face(run)
    else:
        # The doubles' tree: their own seeding of the released checkpoints, as tests/doubles/install.py does.
        sys.path.insert(0, str(REPO))
        from tests.doubles.install import SEED_GENEFACE_RELEASES

        # Before the first verb links egs/datasets/videos into the workspace, the May configs are still in place.
        seed = SEED_GENEFACE_RELEASES.replace("videos.orig/", "videos/")
        weights.env_python(
            run, seed, str(run.weights / "geneface" / "checkpoints"), cwd=run.upstream,
            path=[run.upstream, DOUBLES / "geneface", DOUBLES],
        )  # fmt: skip
        run.stand_in("geneface/checkpoints", "the doubles' tree has no upstream classes: the doubles' checkpoints")
    weights.manifest_rest(run, "not read on this path (Exp_Pca.bin: BFM_model_front.mat is given; DeepSpeech graph)")


def install_stand_ins(run: Run) -> None:
    doubles_on_path(run)
    shutil.copy(DOUBLES / "geneface" / "_geneface_double.py", run.upstream / "_geneface_double.py")
    deepspeech_stand_in(run, " (GeneFace's RAD-NeRF reads HuBERT-driven landmarks, not these)")
    stub_module(
        run,
        "pyaudio",
        "paInt16 = 8\n\n\nclass PyAudio:\n    def terminate(self):\n        pass\n",
        "no PortAudio here; extract_esperanto.py builds PyAudio() and opens streams only for live input",
    )
    stub_module(run, "moviepy", "", "imported by extract_3dmm.py for split_wav, which our path never calls")
    editor = run.env / "opt" / "upstream" / "lib" / "moviepy" / "editor.py"
    editor.write_text(
        "class VideoFileClip:\n    def __init__(self, *args, **kwargs):\n"
        "        raise RuntimeError('talkingface gpu-run stand-in: moviepy is not installed')\n",
        encoding="utf-8",
    )
    if real_tree(run):
        prove_face_parsing(run, run.upstream / "data_util" / "face_parsing" / "79999_iter.pth")
        replace_with_double(
            run,
            "data_gen/nerf/extract_3dmm.py",
            "random FAN weights give landmarks no face fits: upstream's script runs with the real detector and FAN "
            "built, but our own 68 landmarks (ori_imgs/*.lms) per frame; Deep3DFaceRecon itself is real",
            double=STAND_INS / "extract_3dmm.py",
        )
    replace_with_double(run, "data_util/face_parsing/test.py", "parsing maps: random BiSeNet weights give no classes")


def infer_runs(run: Run):
    return [("wav", run.input / "speech.wav")]


MODEL = Model(
    name="geneface",
    first_upstream_step="process-task2",
    lock=HERE / "geneface-py312.txt",
    ext_names=("geneface-freqencoder", "geneface-shencoder", "geneface-gridencoder", "geneface-raymarching"),
    write_weights=write_weights,
    install_stand_ins=install_stand_ins,
    train_runs=[
        ("head", "--stage", "head", "--iterations", str(ITERATIONS)),
        ("torso", "--stage", "torso", "--iterations", str(ITERATIONS)),
    ],
    infer_runs=infer_runs,
    iterations={"head": ITERATIONS, "torso": ITERATIONS},
    fallbacks={"process-task8": tracker_fallback},
    data_tree="data_util",
    frames=f"data/processed/videos/{TASK}/ori_imgs",
    # What upstream's tasks and feature steps write into data/processed/videos/<task>: left out of the pack.
    upstream_outputs=(
        "aud_esperanto.npy", "aud_deepspeech.npy", "parsing", "track_params.pt", "bc.jpg", "head_imgs", "gt_imgs",
        "torso_imgs", "transforms_train.json", "transforms_val.json", "aud_hubert.npy", "aud_mel_f0.npy",
        "vid_coeff.npy", "trainval_dataset.npy",
    ),
)  # fmt: skip

if __name__ == "__main__":
    sys.exit(main(MODEL))
