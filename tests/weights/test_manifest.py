"""The real manifest: its schema, and that every weight any upstream step or metric loads is in it, where it is read."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import List, Tuple

import pytest

from talkingface.adapters import get_adapter
from talkingface.core.errors import TalkingfaceError
from talkingface.core.layout import ContainerRoots
from talkingface.doctor.__main__ import expected_weights
from talkingface.doctor.facts import MODEL_IMAGES
from talkingface.eval import assets
from talkingface.weights.manifest import HUB_PREFIX_SOURCE, IMAGES, Entry, load_manifest, parse_manifest
from tests.weights.helpers import entry

MANIFEST = load_manifest()

# What upstream downloads at first use or tells the user to fetch, read from each pinned upstream's README and code
# and from the metrics' reference implementations: (where it is published, an image that loads it, where that
# image looks, relative to the weights folder; a trailing '/' means a folder).
UPSTREAM_DOWNLOADS: Tuple[Tuple[str, str, str], ...] = (
    # §1.3: ER-NeRF's README wgets AD-NeRF's BiSeNet into data_utils/face_parsing; test.py's --modelpath default.
    ("YudongGuo/AD-NeRF", "ernerf", "ernerf/data_utils/face_parsing/79999_iter.pth"),
    # §2.3: GaussianTalker's README: the same wget (its 3DMM helpers are committed, its parsing model is not).
    ("data_util/face_parsing/79999_iter.pth", "gaussiantalker",
     "gaussiantalker/data_utils/face_parsing/79999_iter.pth"),
    # §1.3: the four 3DMM helpers ER-NeRF's README wgets from AD-NeRF (convert_BFM.py and the face tracker read them).
    ("3DMM/exp_info.npy", "ernerf", "ernerf/data_utils/face_tracking/3DMM/exp_info.npy"),
    ("3DMM/keys_info.npy", "ernerf", "ernerf/data_utils/face_tracking/3DMM/keys_info.npy"),
    ("3DMM/sub_mesh.obj", "ernerf", "ernerf/data_utils/face_tracking/3DMM/sub_mesh.obj"),
    ("3DMM/topology_info.npy", "ernerf", "ernerf/data_utils/face_tracking/3DMM/topology_info.npy"),
    # §1.3, §2.3, §3.4: deepspeech_store.py downloads the 0.1.0 graph into ~/.tensorflow/models (all three models).
    ("osmr/deepspeech_features/releases/download/v0.0.1/deepspeech-0_1_0-b90017e8.pb.zip", "ernerf",
     "cache/tensorflow/models/deepspeech-0_1_0-b90017e8.pb"),
    ("deepspeech-0_1_0-b90017e8.pb.zip", "gaussiantalker", "cache/tensorflow/models/deepspeech-0_1_0-b90017e8.pb"),
    ("deepspeech-0_1_0-b90017e8.pb.zip", "geneface", "cache/tensorflow/models/deepspeech-0_1_0-b90017e8.pb"),
    # §1.3: face_parsing/resnet.py builds BiSeNet's ResNet-18 from torch hub (every model runs face parsing).
    ("download.pytorch.org/models/resnet18-5c106cde.pth", "ernerf",
     "cache/torch/hub/checkpoints/resnet18-5c106cde.pth"),
    ("resnet18-5c106cde.pth", "gaussiantalker", "cache/torch/hub/checkpoints/resnet18-5c106cde.pth"),
    ("resnet18-5c106cde.pth", "geneface", "cache/torch/hub/checkpoints/resnet18-5c106cde.pth"),
    # §1.3 + eval-metrics §5: lpips.LPIPS(net='alex') (ER-NeRF training and --test) -> torchvision AlexNet.
    ("download.pytorch.org/models/alexnet-owt-7be5be79.pth", "ernerf",
     "cache/torch/hub/checkpoints/alexnet-owt-7be5be79.pth"),
    # GeneFace's RAD-NeRF trains with lpips.LPIPS(net='alex') too (tasks/radnerfs/radnerf.py, eval-metrics §4).
    ("alexnet-owt-7be5be79.pth", "geneface", "cache/torch/hub/checkpoints/alexnet-owt-7be5be79.pth"),
    # §2.2: train.py builds VGGPerceptualLoss, torchvision.models.vgg16(weights=True) -> IMAGENET1K_V1.
    ("download.pytorch.org/models/vgg16-397923af.pth", "gaussiantalker",
     "cache/torch/hub/checkpoints/vgg16-397923af.pth"),
    # §1.3: face_alignment (ER-NeRF --test builds LMDMeter('fan')); 1.3.5's URLs for torch other than 1.5/1.6.
    ("adrianbulat.com/downloads/python-fan/2DFAN4-cd938726ad.zip", "ernerf",
     "cache/torch/hub/checkpoints/2DFAN4-cd938726ad.zip"),
    ("adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth", "ernerf",
     "cache/torch/hub/checkpoints/s3fd-619a316812.pth"),
    # §3.5: GeneFace's extract_3dmm.py runs face_alignment too.
    ("2DFAN4-cd938726ad.zip", "geneface", "cache/torch/hub/checkpoints/2DFAN4-cd938726ad.zip"),
    ("s3fd-619a316812.pth", "geneface", "cache/torch/hub/checkpoints/s3fd-619a316812.pth"),
    # §3.4: HuBERT (preprocessing and postnet inference) and the esperanto wav2vec2 (task 2) from the HF hub.
    ("huggingface.co/facebook/hubert-large-ls960-ft/resolve/", "geneface",
     "cache/huggingface/hub/models--facebook--hubert-large-ls960-ft/"),
    ("huggingface.co/cpierse/wav2vec2-large-xlsr-53-esperanto/resolve/", "geneface",
     "cache/huggingface/hub/models--cpierse--wav2vec2-large-xlsr-53-esperanto/"),
    # §3.4: the Deep3DFaceRecon files GeneFace's install guide links on Google Drive.
    ("1YCxXKJFfo1w01PzayhnxWSZZK5k7spSH", "geneface", "geneface/deep_3drecon/BFM/BFM_model_front.mat"),
    ("1iTopSpZucEmjWiWZIErLYiMBlZYwzil2", "geneface", "geneface/deep_3drecon/BFM/Exp_Pca.bin"),
    ("18VRcygXYOKPYvJWsl9lrF0J9PoFPk77y", "geneface", "geneface/deep_3drecon/checkpoints/facerecon/epoch_20.pth"),
    # §3.4: the released checkpoints, unzipped into checkpoints/ (LRS3 audio2motion + SyncNet, the May postnet).
    ("yerfor/GeneFace/releases/download/v1.1.0/lrs3.zip", "geneface", "geneface/checkpoints/lrs3/"),
    ("yerfor/GeneFace/releases/download/v1.1.0/May.zip", "geneface", "geneface/checkpoints/May/"),
    # eval-metrics §2.1, §1.3: pytorch-fid's Inception; syncnet_python's download_model.sh (SyncNet and S3FD).
    ("mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth", "eval",
     "eval/pt_inception-2015-12-05-6726825d.pth"),
    ("robots.ox.ac.uk/~vgg/software/lipsync/data/syncnet_v2.model", "eval", "eval/syncnet_v2.model"),
    ("robots.ox.ac.uk/~vgg/software/lipsync/data/sfd_face.pth", "eval", "eval/sfd_face.pth"),
)  # fmt: skip
# Left out on purpose, so nobody adds them thinking they were forgotten:
# - 01_MorphableModel.mat: registration only; the user puts it into bfm_models/ (the doctor's BFM row checks it).
# - ER-NeRF's hubert.py / wav2vec.py models: only with --asr_model hubert/esperanto, which no plan here passes.
# - GaussianTalker's lpipsPyTorch heads (raw.githubusercontent.com): only built when lambda_lpips > 0; it is 0.
# - face-alignment's 2DFAN4_1.5/_1.6 files: only on torch 1.5/1.6; the images have 1.12.1 and 2.0.1.
# - ER-NeRF's pretrained Obama checkpoints and AD-NeRF's Obama.mp4: demo material, not read by any verb.


def entry_at(path: str) -> Entry:
    for item in MANIFEST.entries:
        inside = item.is_dir and path.startswith(item.dest + "/")
        if inside or path == item.dest or path in (link.path for link in item.links):
            return item
    raise AssertionError(f"no manifest entry puts a file at {path}")


def test_every_entry_has_a_source_a_licence_and_a_place() -> None:
    ids = [item.id for item in MANIFEST.entries]
    assert len(ids) == len(set(ids)) and len(MANIFEST.entries) >= 30
    places: List[str] = []
    for item in MANIFEST.entries:
        assert item.url.startswith(("https://", "http://")) and item.license and item.dest and item.used_by
        assert item.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", item.sha256)
        assert (item.sha256 is not None) == item.sha256_source.startswith("published: ")
        assert item.manual == item.url.startswith("https://drive.google.com/")
        places += [item.dest, *(link.path for link in item.links)]
    assert len(places) == len(set(places))


@pytest.mark.parametrize("name", MODEL_IMAGES)
def test_every_file_an_image_links_into_its_upstream_tree_is_in_the_manifest(name: str) -> None:
    adapter = get_adapter(name)
    paths = set(MANIFEST.paths([name]))
    roots = ContainerRoots()
    for relative in adapter.weight_files:
        assert f"{name}/{relative}" in paths
        assert adapter.image_links(roots)[relative] == posixpath.join(roots.weights, name, relative)


def test_every_file_the_eval_fetches_is_in_the_manifest_with_the_same_source_and_hash() -> None:
    paths = set(MANIFEST.paths(["eval"]))
    for asset in assets.ASSETS:
        item = entry_at(asset.relative_path)
        assert asset.relative_path in paths and item.sha256 == asset.sha256
        assert item.unpack is not None and item.unpack.member == asset.member
        assert item.unpack.sha256 == asset.archive_sha256 and item.url.endswith("/" + asset.archive)
    for network in assets.NETWORKS:
        item = entry_at(network.relative_path)
        assert network.relative_path in paths and network.url in item.urls
        if network.hub_prefix():
            assert network.hub_prefix() == item.check("sha256_prefix")


@pytest.mark.parametrize("source,image,path", UPSTREAM_DOWNLOADS, ids=[f"{i}:{p}" for _, i, p in UPSTREAM_DOWNLOADS])
def test_every_upstream_first_use_download_is_in_the_manifest_where_it_is_read(
    source: str, image: str, path: str
) -> None:
    placed = [p for p in MANIFEST.paths([image]) if p == path or (path.endswith("/") and p.startswith(path))]
    assert placed, f"{image} reads {path}, which the manifest does not place"
    generated = {path for item in MANIFEST.entries for path, _ in item.generated()}
    owners = {entry_at(p).id for p in placed if p not in generated}
    assert any(source in url for owner in owners for url in MANIFEST.get(owner).urls)


def test_torch_hub_files_keep_their_published_names_and_prefixes() -> None:
    for item in MANIFEST.entries:
        prefix = item.check("sha256_prefix")
        if item.sha256_source == HUB_PREFIX_SOURCE:
            name = posixpath.basename(item.dest)
            assert f"-{prefix}." in name and item.url.endswith("/" + name)
        if item.dest.startswith("cache/torch/hub/checkpoints/"):
            assert item.sha256_source == HUB_PREFIX_SOURCE


def test_hugging_face_files_sit_in_the_snapshot_of_the_revision_their_url_names() -> None:
    snapshots = set()
    for item in MANIFEST.entries:
        ref = item.hf_ref()
        if item.dest.startswith("cache/huggingface/"):
            assert ref is not None
            match = re.fullmatch(
                r"cache/huggingface/hub/models--([^/]+)--([^/]+)/snapshots/([0-9a-f]{40})/(.+)", item.dest
            )
            assert match and item.url == "https://huggingface.co/{}/{}/resolve/{}/{}".format(*match.groups())
            snapshots.add(match.group(3))
    assert len(snapshots) == 2


def test_the_doctor_expects_what_every_run_checks_before_its_first_step() -> None:
    expected = expected_weights()
    assert expected == MANIFEST.paths(MODEL_IMAGES)
    assert all(set(MANIFEST.paths([model])) <= set(expected) for model in MODEL_IMAGES)
    assert "ernerf/data_utils/face_parsing/79999_iter.pth" in expected
    assert "cache/huggingface/hub/models--facebook--hubert-large-ls960-ft/refs/main" in expected
    assert "cache/huggingface/hub/version.txt" in expected
    assert not any(path.startswith("eval/") for path in expected)


@pytest.mark.parametrize(
    "change,problem",
    [
        ({"colour": "red"}, "unknown keys ['colour']"),
        ({"dest": "../outside.pth"}, "is not a normalised path inside the weights folder"),
        ({"sha256": "ABC"}, "is not 64 lowercase hex"),
        ({"sha256_source": "published: x"}, "does not fit sha256 None"),
        ({"images": ["stylegan"]}, "images must be a non-empty list"),
        ({"links": [{"path": "eval/a", "images": ["eval"]}]}, "is for images the entry is not for"),
    ],
)
def test_schema_errors_name_the_entry_and_the_problem(change: dict, problem: str) -> None:
    raw = dict(entry("a", "https://x.invalid/a", "ernerf/a"), **change)
    with pytest.raises(TalkingfaceError) as caught:
        parse_manifest({"version": 1, "entries": [raw]})
    assert "entry 'a'" in caught.value.problem and problem in caught.value.problem


def test_two_entries_may_not_share_a_path() -> None:
    twice = [entry("a", "https://x.invalid/a", "ernerf/a"), entry("b", "https://x.invalid/b", "ernerf/a")]
    with pytest.raises(TalkingfaceError, match="path ernerf/a appears twice"):
        parse_manifest({"version": 1, "entries": twice})


def test_images_are_the_model_images_eval_and_web() -> None:
    assert set(IMAGES) == {*MODEL_IMAGES, "eval", "web"}


def test_web_needs_only_the_piper_voices() -> None:
    # The TTS service's optional voices: no model image needs them, and they need nothing of the models'.
    assert {p for p in MANIFEST.paths(["web"])} == {
        f"tts/piper/{voice}{ext}"
        for voice in ("en_US-lessac-medium", "zh_CN-huayan-medium")
        for ext in (".onnx", ".onnx.json")
    }
    assert not [p for p in MANIFEST.paths(MODEL_IMAGES) if p.startswith("tts/")]
    # Opt-in: what make weights / verify-weights / bundle take when no image is named leaves them out.
    assert not [p for p in MANIFEST.paths(None) if p.startswith("tts/")]
    assert not [e.id for e in MANIFEST.select(None) if "web" in e.images]


def test_docs_list_every_entry() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "weights.md").read_text(encoding="utf-8")
    assert [item.id for item in MANIFEST.entries if f"| `{item.id}` |" not in text] == []
    assert f"{len(MANIFEST.entries)} entries" in text
