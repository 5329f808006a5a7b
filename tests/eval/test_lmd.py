"""FAN landmarks, face-alignment's S3FD and LMD equal face-alignment 1.3.5 and ER-NeRF's ``LMDMeter``.

No weights can be downloaded here, so both sides load the same seeded random weights, written in the files' real
formats under their real names in a temporary torch hub folder, where ``face_alignment.FaceAlignment`` finds them
instead of downloading:

- ``2DFAN4-cd938726ad.zip``: what 1.3.5 loads with ``torch.jit.load`` on this torch (neither 1.5 nor 1.6), a
  TorchScript archive; made here by tracing our ``FAN`` (1.3.5 ships no FAN class). The same weights as a plain
  state dict stand for ``2DFAN4-11f355bf06.pth.tar``;
- ``s3fd-619a316812.pth``: the state dict of face-alignment's own ``s3fd`` class, saved in the legacy format, so our
  loader also proves the keys match.

Frames are small (128x128): FAN always runs on 256x256 crops, each forward pass taking about a second on a CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("cv2")
face_alignment = pytest.importorskip("face_alignment")

from talkingface.eval import fan_net, lmd  # noqa: E402 - after the skips

SIZE = 128


def _save_legacy(state: Dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.clone() for k, v in state.items()}, str(path), _use_new_zipfile_serialization=False)


def _random_fan() -> torch.nn.Module:
    net = fan_net.FAN()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            # Non-trivial running statistics and affine terms, so eval-mode normalisation is exercised.
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
    return net.eval()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    from face_alignment.detection.sfd.net_s3fd import s3fd

    root = tmp_path_factory.mktemp("lmd")
    torch.manual_seed(0)
    fan = _random_fan()
    sfd_state = s3fd().state_dict()
    hub = root / "hub"
    weights = root / "weights"
    state_weights = root / "weights_state_dict"
    fan_zip = weights / lmd.FAN_2D.relative_path
    fan_zip.parent.mkdir(parents=True)
    with torch.no_grad():
        # check_trace would run the network twice more, for nothing: the forward has no data-dependent branch.
        torch.jit.save(torch.jit.trace(fan, torch.rand(1, 3, 256, 256), check_trace=False), str(fan_zip))
    _save_legacy(fan.state_dict(), state_weights / lmd.FAN_2D_STATE.relative_path)
    for folder in (weights, state_weights):
        _save_legacy(sfd_state, folder / lmd.SFD.relative_path)
    (hub / "checkpoints").mkdir(parents=True)
    for name in (lmd.FAN_2D.relative_path, lmd.SFD.relative_path):
        (hub / "checkpoints" / Path(name).name).write_bytes((weights / name).read_bytes())
    return {"hub": hub, "weights": weights, "state_weights": state_weights}


@pytest.fixture(scope="module")
def reference(files: Dict[str, Path]):
    """``FaceAlignment(TWO_D, flip_input=False)`` as ER-NeRF builds it, reading the files from the hub folder."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(files["hub"]))
    try:
        aligner = face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D, flip_input=False, device="cpu")
    finally:
        torch.hub.set_dir(previous)
    return aligner


def _frames(count: int, seed: int) -> np.ndarray:
    """Smooth random colour fields with a bright ellipse, uint8 RGB ``(count, 128, 128, 3)``."""
    import cv2

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        frame = cv2.resize(small, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
        centre = (int(rng.integers(40, 88)), int(rng.integers(40, 88)))
        cv2.ellipse(frame, centre, (30, 40), 0, 0, 360, (230, 190, 170), -1)
        out.append(frame)
    return np.stack(out)


BOXES = np.array(
    [
        [20.0, 24.0, 100.0, 110.0],
        [-10.0, -5.0, 60.0, 70.0],  # partly outside: the crop is zero-padded
        [70.3, 80.7, 140.2, 150.9],  # fractional, and past the far corner
    ]
)


def test_fan_landmarks_equal_face_alignment(files: Dict[str, Path], reference) -> None:
    frames = _frames(len(BOXES), seed=1)
    fan, source = fan_net.load_fan(path=files["weights"] / lmd.FAN_2D.relative_path, device="cpu")
    assert source == "TorchScript archive, weights in FAN"
    ours = fan_net.landmarks(fan, list(frames), list(BOXES))
    theirs = [reference.get_landmarks(frame, detected_faces=[box])[0] for frame, box in zip(frames, BOXES)]
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs))
    assert diff <= 1e-3, f"max landmark difference {diff} px"
    assert all(a.dtype == np.float32 and a.shape == (68, 2) for a in ours)

    as_state, source = fan_net.load_fan(path=files["state_weights"] / lmd.FAN_2D_STATE.relative_path, device="cpu")
    assert source == "state dict"
    again = fan_net.landmarks(as_state, list(frames[:1]), list(BOXES[:1]))
    assert np.array_equal(again[0], ours[0])


class _OtherHeatmapNet(torch.nn.Module):
    """A stand-in TorchScript network whose keys are not FAN's, returning a list of heatmaps as 1.2.0's FAN did."""

    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Conv2d(3, 68, 4, 4)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        return [x[:, :1], self.head(x)]


def test_torchscript_with_other_keys_runs_its_own_graph(tmp_path: Path) -> None:
    torch.manual_seed(1)
    path = tmp_path / "other.zip"
    net = _OtherHeatmapNet().eval()
    torch.jit.save(torch.jit.script(net), str(path))
    loaded, source = fan_net.load_fan(path=path, device="cpu")
    assert source == "TorchScript archive, its own graph"
    frame = _frames(1, seed=6)[0]
    got = fan_net.landmarks(loaded, [frame], [BOXES[0]])[0]
    centre, scale = fan_net.centre_scale(BOXES[0])
    crop = fan_net.crop_face(frame, centre, scale)
    with torch.no_grad():
        heatmaps = net(torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255.0)[-1].numpy()
    assert np.array_equal(got, fan_net.to_frame(fan_net.heatmap_points(heatmaps)[0], centre, scale))


def test_crop_of_a_box_outside_the_frame_is_refused() -> None:
    frame = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
    centre, scale = fan_net.centre_scale([400.0, 400.0, 420.0, 420.0])
    assert fan_net.crop_face(frame, centre, scale) is None


def test_detector_boxes_equal_face_alignment(files: Dict[str, Path], reference) -> None:
    frames = _frames(3, seed=2)
    sfd = fan_net.load_sfd(path=files["weights"] / lmd.SFD.relative_path, device="cpu")
    # Our frames go through the network together; the reference's one at a time.
    ours = fan_net.detect_faces(sfd, frames, batch_size=3)
    for frame, boxes in zip(frames, ours):
        theirs = np.array(reference.face_detector.detect_from_image(frame.copy()))
        assert len(theirs) > 1  # random weights: several faces, so the order and the NMS matter
        assert boxes.shape == theirs.shape
        np.testing.assert_allclose(boxes, theirs, rtol=0, atol=1e-4)


def _last_face_landmarks(aligner, frame: np.ndarray) -> np.ndarray:
    """``aligner.get_landmarks(frame)[-1]``, with FAN run on that last face only.

    ``get_landmarks_from_image`` detects with ``detect_from_image(image.copy())`` and then runs FAN on every box
    separately, so handing it the detector's last box gives the same array; random weights find dozens of faces
    in a frame, about a second of FAN each.
    """
    faces = aligner.face_detector.detect_from_image(frame.copy())
    return aligner.get_landmarks(frame, detected_faces=faces[-1:])[-1]


def _meter_distance(aligner, gt: np.ndarray, pred: np.ndarray) -> np.float32:
    """ER-NeRF ``LMDMeter.update`` for one frame pair (backend fan, region mouth), written out here."""
    lms_pred = _last_face_landmarks(aligner, pred).astype(np.float32)[48:68]
    lms_truth = _last_face_landmarks(aligner, gt).astype(np.float32)[48:68]
    lms_pred = lms_pred - lms_pred.mean(0)
    lms_truth = lms_truth - lms_truth.mean(0)
    return np.sqrt(((lms_pred - lms_truth) ** 2).sum(1)).mean(0)


def test_lmd_equals_ernerf_meter(files: Dict[str, Path], reference, monkeypatch: pytest.MonkeyPatch) -> None:
    from talkingface.eval.assets import UNVERIFIED_ENV

    monkeypatch.setenv(UNVERIFIED_ENV, "1")  # random weights cannot carry the published sha256 prefixes
    gt, pred = _frames(2, seed=3), _frames(2, seed=4)
    metric = lmd.Lmd(weights_dir=str(files["weights"]), device="cpu")
    metric.start(None)  # type: ignore[arg-type] - Lmd ignores the clip
    metric.update(gt, pred)
    outcome = metric.finish()
    expected = [float(_meter_distance(reference, a, b)) for a, b in zip(gt, pred)]
    assert outcome.per_frame["lmd"] == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert outcome.notes == []
    assert set(metric.weights()) == {"2DFAN4-cd938726ad.zip", "s3fd-619a316812.pth"}


def test_frames_without_a_face_are_nan_and_noted(files: Dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from talkingface.eval.assets import UNVERIFIED_ENV

    monkeypatch.setenv(UNVERIFIED_ENV, "1")
    metric = lmd.Lmd(weights_dir=str(files["state_weights"]), device="cpu")
    box = np.array([[20.0, 24.0, 100.0, 110.0, 0.9]])
    # Ground truth 0 and prediction 1 have no face; pair 2 has both.
    faces = [np.zeros((0, 5)), box, box, box, np.zeros((0, 5)), box]
    monkeypatch.setattr(fan_net, "detect_faces", lambda *args, **kwargs: faces)
    frames = _frames(3, seed=5)
    metric.start(None)  # type: ignore[arg-type]
    metric.update(frames, frames)
    outcome = metric.finish()
    values = outcome.per_frame["lmd"]
    assert np.isnan(values[0]) and np.isnan(values[1]) and values[2] == 0.0
    assert outcome.notes == ["LMD left out 2 of 3 frames with no face found (ground truth: 1, prediction: 1)"]
    assert outcome.details["lmd"]["fan_file"] == "state dict"
