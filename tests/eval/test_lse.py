"""LSE, S3FD and the face crops equal syncnet_python's (PyPI syncnet-python 0.2.3, a repackaging of joonson's code).

No weights can be downloaded here, so both sides load the same random weights (fixed seeds), written in the real
files' format and keys: ``syncnet_v2.model`` as a legacy (non-zip) ``torch.save`` of ``SyncNetModel.S``'s
state dict, read by ``SyncNetInstance.loadParameters``; ``sfd_face.pth`` as ``S3FDNet``'s state dict, read by
``load_state_dict``. The weights come from the reference classes, so our loaders also prove the keys match.

How the reference runs:

- Its package ``__init__`` imports the whole pipeline (scenedetect, ffmpeg-python, pandas), which these tests do
  not need: the module files are loaded directly (``SyncNetModel.py``, ``SyncNetInstance.py``, ``detectors/s3fd``
  as a package), and the tests skip when the package is absent (``importlib.util.find_spec``:
  ``pytest.importorskip`` would import that ``__init__``).
- LSE: ``SyncNetInstance.evaluate`` itself, on a temporary folder holding what it reads: the frames as PNG data
  under its ``*.jpg`` names (``cv2.imread`` decodes by content, so nothing is lost) and ``audio.wav``. Its
  ``calc_pdist`` is wrapped to keep the 31 mean distances, which ``evaluate`` does not return.
- S3FD: ``S3FD.detect_faces`` on the RGB frame, as ``run_pipeline.py`` calls it; the raw network outputs are
  taken from the arguments of its ``Detect.forward``.
- Tracking and cropping: ``SyncNetPipeline._track`` and ``_crop`` compiled from the installed
  ``syncnet_pipeline.py``, with their I/O (``cv2.imread``, ``cv2.VideoWriter``, ffmpeg) replaced by in-memory
  stand-ins. ``_crop`` is run_pipeline's ``crop_video`` math; ``_track`` differs from run_pipeline's
  ``track_shot`` only on frames with several faces, so it is compared on one face per frame and the several-face
  case is checked against run_pipeline's behaviour worked out by hand.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

from talkingface.eval.mfcc import mfcc


def _load(name: str, path: Path, *, package: bool = False) -> types.ModuleType:
    locations = [str(path.parent)] if package else None
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=locations)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _pipeline_functions(path: Path) -> Dict[str, Any]:
    """``SyncNetPipeline._iou/_track/_crop`` as plain functions, their I/O replaced (see the module docstring)."""
    import cv2
    from scipy import signal
    from scipy.interpolate import interp1d

    tree = ast.parse(path.read_text(), filename=str(path))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SyncNetPipeline")
    functions = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name in ("_iou", "_track", "_crop")]
    for function in functions:
        function.decorator_list = []
    written: List[np.ndarray] = []

    class Writer:
        def __init__(self, *args: Any) -> None:
            pass

        def write(self, frame: np.ndarray) -> None:
            written.append(frame.copy())

        def release(self) -> None:
            pass

    fake_cv2 = types.SimpleNamespace(
        VideoWriter=Writer,
        VideoWriter_fourcc=cv2.VideoWriter_fourcc,
        imread=lambda frame: frame,  # the "paths" handed to _crop are the frames themselves
        copyMakeBorder=cv2.copyMakeBorder,
        BORDER_CONSTANT=cv2.BORDER_CONSTANT,
        resize=cv2.resize,
    )
    namespace: Dict[str, Any] = {
        "np": np,
        "interp1d": interp1d,
        "cv2": fake_cv2,
        "signal": signal,
        "logging": logging,
        "subprocess": types.SimpleNamespace(run=lambda *a, **k: None, CalledProcessError=subprocess.CalledProcessError),
        "os": types.SimpleNamespace(remove=lambda path: None),
    }
    module = ast.Module(body=functions, type_ignores=[])
    exec(compile(module, str(path), "exec"), namespace)  # noqa: S102 - the installed reference's own source
    namespace["written"] = written
    return namespace


@pytest.fixture(scope="session")
def ref() -> types.SimpleNamespace:
    """The reference modules (skips without torch, cv2, python_speech_features or syncnet-python)."""
    pytest.importorskip("torch")
    pytest.importorskip("cv2")
    pytest.importorskip("python_speech_features")
    spec = importlib.util.find_spec("syncnet_python")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("syncnet-python (the reference) is not installed")
    root = Path(list(spec.submodule_search_locations)[0])
    s3fd = _load("_lse_ref_s3fd", root / "detectors" / "s3fd" / "__init__.py", package=True)
    return types.SimpleNamespace(
        model=_load("_lse_ref_syncnet_model", root / "SyncNetModel.py"),
        instance=_load("_lse_ref_syncnet_instance", root / "SyncNetInstance.py"),
        s3fd=s3fd,
        nets=sys.modules["_lse_ref_s3fd.nets"],
        box_utils=sys.modules["_lse_ref_s3fd.box_utils"],
        pipeline=root / "syncnet_pipeline.py",
    )


def _relative(ours: Any, theirs: Any) -> float:
    a, b = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


# ---------------------------------------------------------------------------------------------------- MFCC


@pytest.mark.parametrize("samples", [1, 399, 400, 401, 559, 16000, 16037, 21440 - 300])
def test_mfcc_equals_python_speech_features(samples: int) -> None:
    psf = pytest.importorskip("python_speech_features")
    rng = np.random.default_rng(samples)
    audio = (rng.standard_normal(samples) * 3000).astype(np.int16)
    audio[: samples // 4] = 0  # silent frames take the eps branch of the log
    expected = psf.mfcc(audio, 16000)
    ours = mfcc(audio, 16000)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("rate", [8000, 22050])
def test_mfcc_other_rates(rate: int) -> None:
    psf = pytest.importorskip("python_speech_features")
    audio = (np.random.default_rng(rate).standard_normal(7777) * 1000).astype(np.int16)
    np.testing.assert_allclose(mfcc(audio, rate), psf.mfcc(audio, rate), rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------------------------------------- SyncNet


@pytest.fixture(scope="session")
def syncnet_file(ref: types.SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random SyncNet weights; BatchNorm gets non-trivial statistics so every stored tensor matters."""
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(0)
        state = ref.model.S().state_dict()
    g = torch.Generator().manual_seed(1)
    for key, value in state.items():
        if key.endswith("running_mean") or (key.endswith("bias") and key.replace("bias", "running_mean") in state):
            state[key] = torch.randn(value.shape, generator=g) * 0.1
        elif key.endswith("running_var") or (key.endswith("weight") and key.replace("weight", "running_var") in state):
            state[key] = torch.rand(value.shape, generator=g) + 0.5
    path = tmp_path_factory.mktemp("syncnet") / "syncnet_v2.model"
    torch.save(state, str(path), _use_new_zipfile_serialization=False)
    return path


@pytest.fixture(scope="session")
def nets(ref: types.SimpleNamespace, syncnet_file: Path) -> types.SimpleNamespace:
    from talkingface.eval.syncnet_net import load_syncnet

    instance = ref.instance.SyncNetInstance(net=ref.model.S(), device="cpu")
    instance.loadParameters(str(syncnet_file))
    instance.__S__.eval()
    return types.SimpleNamespace(ours=load_syncnet(path=syncnet_file, device="cpu"), instance=instance)


def test_syncnet_loader_is_strict(syncnet_file: Path, tmp_path: Path) -> None:
    """Files from torch < 0.4.1 lack num_batches_tracked and load; a missing weight is an error, not random."""
    import torch

    from talkingface.core.errors import TalkingfaceError
    from talkingface.eval.syncnet_net import load_syncnet

    state = torch.load(str(syncnet_file), map_location="cpu")
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save(old, str(tmp_path / "old.model"), _use_new_zipfile_serialization=False)
    load_syncnet(path=tmp_path / "old.model", device="cpu")
    del old["netfclip.3.bias"]
    torch.save(old, str(tmp_path / "broken.model"))
    with pytest.raises(TalkingfaceError, match=r"netfclip\.3\.bias"):
        load_syncnet(path=tmp_path / "broken.model", device="cpu")


@pytest.fixture(scope="session")
def clip() -> types.SimpleNamespace:
    """34 random crops and 33.5 frames of audio: the audio decides the window count (28)."""
    rng = np.random.default_rng(3)
    crops = rng.integers(0, 256, (34, 224, 224, 3), dtype=np.uint8)
    audio = (rng.standard_normal(34 * 640 - 320) * 2000).astype(np.int16)
    return types.SimpleNamespace(crops=crops, audio=audio)


def test_syncnet_embeddings_equal_reference(nets: types.SimpleNamespace, clip: types.SimpleNamespace) -> None:
    import torch

    reference = nets.instance.__S__
    frames = torch.from_numpy(clip.crops[:8]).permute(3, 0, 1, 2).float()  # (3, 8, 224, 224) BGR
    windows = torch.stack([frames[:, v : v + 5] for v in range(4)])
    cc = torch.from_numpy(mfcc(clip.audio, 16000).T.copy()).float()
    audio_windows = torch.stack([cc[None, :, 4 * v : 4 * v + 20] for v in range(6)])
    with torch.no_grad():
        lip_ref, aud_ref = reference.forward_lip(windows), reference.forward_aud(audio_windows)
        lip, lip_frames = nets.ours.forward_lip(windows), nets.ours.forward_lip_frames(frames)
        aud = nets.ours.forward_aud(audio_windows)
    assert lip.shape == lip_ref.shape == (4, 1024) and aud.shape == aud_ref.shape == (6, 1024)
    assert _relative(lip, lip_ref) < 1e-4
    assert _relative(lip_frames, lip_ref) < 1e-4
    assert _relative(aud, aud_ref) < 1e-4


def _reference_evaluate(
    ref: types.SimpleNamespace, instance: Any, crops: np.ndarray, audio: np.ndarray, folder: Path
) -> tuple:
    """``evaluate`` on a folder laid out as it expects; returns (offset, conf, minval, 31 mean distances)."""
    import cv2
    import torch
    from scipy.io import wavfile

    folder.mkdir()
    for i, frame in enumerate(crops):
        (folder / f"{i + 1:06d}.jpg").write_bytes(cv2.imencode(".png", frame)[1].tobytes())
    wavfile.write(str(folder / "audio.wav"), 16000, audio)
    kept: List = []
    original = ref.instance.calc_pdist

    def calc_pdist(feat1: Any, feat2: Any, vshift: int = 10) -> Any:
        dists = original(feat1, feat2, vshift=vshift)
        kept.append(torch.mean(torch.stack(dists, 1), 1))
        return dists

    ref.instance.calc_pdist = calc_pdist
    try:
        offset, conf, minval = instance.evaluate(types.SimpleNamespace(tmp_dir=str(folder), batch_size=20, vshift=15))
    finally:
        ref.instance.calc_pdist = original
    return offset, conf, minval, kept[0].tolist()


def test_lse_equals_reference_evaluate(
    ref: types.SimpleNamespace, nets: types.SimpleNamespace, clip: types.SimpleNamespace, tmp_path: Path
) -> None:
    from talkingface.eval.lse import score_lse

    offset, conf, minval, mdist = _reference_evaluate(ref, nets.instance, clip.crops, clip.audio, tmp_path / "ref")
    ours = score_lse(crops=clip.crops, audio=clip.audio, net=nets.ours, device="cpu")
    assert ours.offset == offset
    assert abs(ours.confidence - conf) < 1e-4
    assert abs(ours.min_distance - minval) < 1e-4
    assert len(ours.distances_by_offset) == 31
    assert np.abs(np.array(ours.distances_by_offset) - np.array(mdist)).max() < 1e-4
    # The argmin is not a near tie, so the offset comparison means something.
    assert sorted(mdist)[1] - sorted(mdist)[0] > 1e-3

    rebatched = score_lse(crops=clip.crops, audio=clip.audio, net=nets.ours, device="cpu", batch_size=3)
    assert rebatched.offset == ours.offset
    assert np.abs(np.array(rebatched.distances_by_offset) - np.array(ours.distances_by_offset)).max() < 1e-5


def test_offset_sign_and_distances_equal_reference(ref: types.SimpleNamespace, tmp_path: Path) -> None:
    """Planted embeddings (audio runs 3 windows late) through the reference's ``evaluate`` and ours."""
    import torch

    from talkingface.eval.lse import lse_from_embeddings

    n = 40
    g = torch.Generator().manual_seed(5)
    lip = torch.randn(n, 1024, generator=g)
    aud = torch.randn(n, 1024, generator=g)
    aud[3:] = lip[:-3] + 0.3 * torch.randn(n - 3, 1024, generator=g)

    class Planted(torch.nn.Module):
        """Returns the planted embeddings: lip windows by the value of their first frame, audio in call order."""

        def __init__(self) -> None:
            super().__init__()
            self.audio_seen = 0

        def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
            return lip[x[:, 0, 0, 0, 0].long()]

        def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
            self.audio_seen += len(x)
            return aud[self.audio_seen - len(x) : self.audio_seen]

    frames = np.repeat(np.arange(n + 5, dtype=np.uint8), 224 * 224 * 3).reshape(n + 5, 224, 224, 3)
    audio = np.zeros((n + 5) * 640, dtype=np.int16)
    instance = ref.instance.SyncNetInstance(net=Planted(), device="cpu")
    offset, conf, minval, mdist = _reference_evaluate(ref, instance, frames, audio, tmp_path / "ref")
    ours = lse_from_embeddings(lip, aud, vshift=15)
    assert offset == ours.offset == -3
    assert abs(ours.confidence - conf) < 1e-4 and abs(ours.min_distance - minval) < 1e-4
    assert np.abs(np.array(ours.distances_by_offset) - np.array(mdist)).max() < 1e-4


# ---------------------------------------------------------------------------------------------------- S3FD


@pytest.fixture(scope="session")
def detectors(ref: types.SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> types.SimpleNamespace:
    """Random S3FD weights, the face logits scaled and shifted so that hundreds of scores pass 0.9 and a few
    saturate at exactly 1.0: ties, as clear faces give with the real weights, where the visiting order of the
    reference's NMS decides which box survives."""
    import torch

    from talkingface.eval.s3fd_net import load_s3fd

    with torch.random.fork_rng():
        torch.manual_seed(0)
        state = ref.nets.S3FDNet(device="cpu").state_dict()
    state = {k: v * 30 if k.startswith("conf.") else v for k, v in state.items()}
    state["conf.0.bias"][3] -= 5  # the first head's face logit is its 4th channel
    for i in range(1, 6):
        state[f"conf.{i}.bias"][1] -= 5
    path = tmp_path_factory.mktemp("s3fd") / "sfd_face.pth"
    torch.save(state, str(path))
    net = ref.nets.S3FDNet(device="cpu")
    net.load_state_dict(torch.load(str(path), map_location="cpu"))
    return types.SimpleNamespace(
        ours=load_s3fd(path=path, device="cpu"), reference=ref.s3fd.S3FD(net=net, device="cpu")
    )


def _frame(shape: tuple, seed: int) -> np.ndarray:
    import cv2

    noise = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    blurred = cv2.GaussianBlur(noise, (0, 0), 5).astype(np.float64)
    return np.clip((blurred - blurred.mean()) * 8 + 128, 0, 255).astype(np.uint8)


def test_s3fd_network_outputs_equal_reference(detectors: types.SimpleNamespace) -> None:
    import cv2
    import torch

    from talkingface.eval.s3fd_net import network_input, prior_boxes

    frame = _frame((480, 640, 3), 1)  # the frame of the first test_detect_equals_reference case
    net = detectors.reference.net
    seen: Dict[str, Any] = {}
    handle = net.register_forward_pre_hook(lambda module, args: seen.update(x=args[0].clone()))
    original = net.detect.forward

    def forward(loc: Any, conf: Any, priors: Any) -> Any:
        seen.update(loc=loc, conf=conf, priors=priors)
        return original(loc, conf, priors)

    net.detect.forward = forward
    try:
        detectors.reference.detect_faces(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), conf_th=0.9, scales=[0.25])
    finally:
        net.detect.forward = original
        handle.remove()
    image = network_input(frame, scale=0.25)
    np.testing.assert_array_equal(image, seen["x"][0].numpy())
    with torch.no_grad():
        loc, logits, sizes = detectors.ours(torch.from_numpy(image)[None])
    assert _relative(loc, seen["loc"]) < 1e-4
    assert np.abs(torch.softmax(logits, -1).numpy() - seen["conf"].numpy()).max() < 1e-5
    assert int((seen["conf"][0, :, 1] == 1).sum()) >= 2  # the ties the detection tests are meant to meet
    priors = prior_boxes(image_hw=image.shape[1:], feature_sizes=sizes)
    np.testing.assert_array_equal(priors, seen["priors"].numpy())


@pytest.mark.parametrize(("shape", "scale", "conf_th"), [((480, 640, 3), 0.25, 0.9), ((250, 330, 3), 0.5, 0.95)])
def test_detect_equals_reference(detectors: types.SimpleNamespace, shape: tuple, scale: float, conf_th: float) -> None:
    import cv2

    from talkingface.eval.s3fd_net import detect

    frame = _frame(shape, 1)
    expected = detectors.reference.detect_faces(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), conf_th=conf_th, scales=[scale])
    ours = detect(detectors.ours, frame, scale=scale, conf_th=conf_th)
    assert len(expected) >= 5
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() < 1e-4


def test_decode_priors_and_nms_equal_reference(ref: types.SimpleNamespace) -> None:
    import torch

    from talkingface.eval.s3fd_net import decode_boxes, greedy_nms, prior_boxes

    sizes = [(16, 21), (8, 11), (4, 6), (2, 3), (1, 2), (1, 1)]
    expected = ref.box_utils.PriorBox((61, 83), sizes).forward().numpy()
    np.testing.assert_array_equal(prior_boxes(image_hw=(61, 83), feature_sizes=sizes), expected)

    g = torch.Generator().manual_seed(2)
    loc, priors = torch.randn(300, 4, generator=g), torch.rand(300, 4, generator=g) + 0.05
    assert torch.equal(decode_boxes(loc, priors), ref.box_utils.decode(loc, priors, [0.1, 0.2]))

    corner = torch.rand(300, 2, generator=g) * 100
    boxes = torch.cat([corner, corner + 10 + torch.rand(300, 2, generator=g) * 30], 1)
    scores = torch.rand(300, generator=g)
    keep, count = ref.box_utils.nms(boxes, scores, 0.3, 5000)
    order = torch.sort(scores)[1].flip(0).numpy()
    assert greedy_nms(boxes.numpy(), order, 0.3, union_rest_first=True) == keep[:count].tolist()

    dets = np.concatenate([boxes.double().numpy(), scores.double().numpy()[:, None]], 1)
    ours = greedy_nms(dets[:, :4], np.argsort(dets[:, 4])[::-1], 0.1, union_rest_first=False)
    assert ours == ref.box_utils.nms_(dets, 0.1).tolist()


# ----------------------------------------------------------------------------------------- tracks and crops


def test_crop_track_equals_reference_crop(ref: types.SimpleNamespace, tmp_path: Path) -> None:
    """A jittering box that leaves the frame at times (the grey padding shows), cropped both ways."""
    from talkingface.eval.facecrop import crop_track, smooth_track

    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(40)]
    t = np.arange(40, dtype=np.float64)
    x1, y1 = -30 + 8 * t + rng.normal(0, 3, 40), 60 + 20 * np.sin(t / 5) + rng.normal(0, 3, 40)
    side = 90 + 20 * np.cos(t / 7) + rng.normal(0, 4, 40)
    boxes = np.stack([x1, y1, x1 + side, y1 + side * 1.1], 1)

    functions = _pipeline_functions(ref.pipeline)
    cfg = types.SimpleNamespace(frame_rate=25, crop_scale=0.4, ffmpeg_bin="ffmpeg")
    track = {"frame": np.arange(40), "bbox": boxes}
    functions["_crop"](types.SimpleNamespace(cfg=cfg), track, frames, "audio.wav", tmp_path / "crop" / "00000")
    expected = np.stack(functions["written"])

    ours = crop_track(frames, boxes)
    assert ours.dtype == np.uint8 and ours.shape == (40, 224, 224, 3)
    np.testing.assert_array_equal(ours, expected)
    # Batch by batch with the whole track's smoothing: the same crops.
    windows = smooth_track(boxes)
    parts = [crop_track(frames[a:b], boxes[a:b], smoothed=windows[a:b]) for a, b in ((0, 7), (7, 30), (30, 40))]
    np.testing.assert_array_equal(np.concatenate(parts), expected)


def test_track_faces_equals_reference_track(ref: types.SimpleNamespace) -> None:
    """One face per frame: missed frames (interpolated), a jump (new track), a long gap, a small face."""
    from talkingface.eval.facecrop import track_faces

    rng = np.random.default_rng(6)
    detections: List[np.ndarray] = []
    for i in range(120):
        if i in (5, 6, 7, 40) or 70 <= i < 100:  # missed detections; 70..99 is a gap of 30 > 25 frames
            detections.append(np.zeros((0, 5)))
            continue
        x = 50.0 + i + rng.normal(0, 1) + (200 if i >= 50 else 0)  # jumps to a new place at frame 50
        side = 130.0 if i < 100 else 60.0  # after the gap: a face too small to keep
        detections.append(np.array([[x, 40.0, x + side, 40.0 + side * 1.2, 0.99]]))

    functions = _pipeline_functions(ref.pipeline)
    self = types.SimpleNamespace(
        cfg=types.SimpleNamespace(num_failed_det=25, min_track=10, min_face_size=100), _iou=functions["_iou"]
    )
    faces = [[{"frame": i, "bbox": row[:-1].tolist(), "conf": row[-1]} for row in d] for i, d in enumerate(detections)]
    expected = functions["_track"](self, faces)

    ours = track_faces(detections, min_track=10)
    assert len(expected) == 2
    assert len(ours) == len(expected)
    for track, reference in zip(ours, expected):
        np.testing.assert_array_equal(track.frames, reference["frame"])
        np.testing.assert_array_equal(track.boxes, reference["bbox"])


def test_track_faces_several_faces_like_run_pipeline() -> None:
    """run_pipeline.py removes faces from the list it iterates over, so the face after a taken one is skipped in
    that pass. Frame 0 holds A and B (IoU(A, B) > 0.5); later frames hold B moving away from A (IoU with A below
    0.5). Pass 1 takes A, skips B (instead of adding it at the same frame), and finds nothing more: too short.
    Pass 2 takes B at frame 0 and all later faces: 20 detections. Without the skip, the only track would hold A
    and B at frame 0: 21 detections, which ``min_track=20`` (more than 20 needed) would keep.
    """
    from talkingface.eval.facecrop import track_faces

    a = np.array([100.0, 100.0, 250.0, 280.0, 0.99])
    b = a + np.array([40.0, 0.0, 40.0, 0.0, 0.0])
    detections = [np.stack([a, b])] + [b[None] + np.array([[30.0 + i, 0, 30.0 + i, 0, 0]]) for i in range(1, 20)]
    tracks = track_faces(detections, min_track=10)
    assert len(tracks) == 1
    np.testing.assert_array_equal(tracks[0].frames, np.arange(20))
    np.testing.assert_array_equal(tracks[0].boxes[0], b[:4])
    assert track_faces(detections, min_track=20) == []
