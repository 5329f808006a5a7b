"""FAN 2D landmarks and its S3FD detector, as ``face_alignment.FaceAlignment(TWO_D)`` of face-alignment 1.3.5 runs them.

Networks (module and parameter names are face-alignment's, so its files load as they are):

- ``FAN``: 2DFAN4, four stacked hourglasses (depth 4, 256 features) on a 256x256 RGB crop in [0, 1], 68 heatmaps of
  64x64 from the last stack (the earlier stacks' heatmaps only feed the next one). face-alignment 1.3.5 loads
  ``2DFAN4-cd938726ad.zip``, a TorchScript archive of this network, whenever torch is neither 1.5 nor 1.6 (ER-NeRF's
  images: torch 1.12.1 and 2.0.1); releases up to 1.2.0 and 1.5.0 load the plain state dict
  ``2DFAN4-11f355bf06.pth.tar``. ``load_fan`` takes either.
- ``Sfd``: face-alignment's own S3FD (``s3fd-619a316812.pth``), keys ``conv1_1`` ... ``conv7_2``,
  ``conv3_3_norm`` ..., ``<source>_mbox_conf|loc``. Not syncnet_python's S3FD in ``s3fd_net``: fc6 is a plain 3x3
  with padding 3 (not dilated), no pooling rounds up, the frame is not resized, the input is BGR.

Detection (``SFDDetector.detect_from_image`` on the RGB frame): BGR order, 104, 117, 123 subtracted, full resolution;
softmax face scores above 0.05 become boxes around anchors of side ``4 * stride`` centred at ``stride * (j + 0.5)``
(strides 4 .. 128), decoded with variances 0.1/0.2 in float32 offsets and float64 anchors; greedy NMS at IoU 0.3
with the "+1" pixel areas, visiting by ``argsort`` of all candidate scores; boxes scoring above 0.5 are kept, best
first.

Landmarks for a box (``get_landmarks_from_image``): centre = box centre moved up by 0.12 box heights, scale =
(width + height) / 195; the crop is the square of side 200 * scale pixels around the centre, its corners found by
torch's float32 inverse of the crop transform and truncated to integers, padded with zeros where it leaves the
frame, resized to 256x256 with OpenCV's bilinear ``INTER_LINEAR``. Per heatmap: the first maximum, moved a quarter
pixel towards the larger neighbour (not on the border), minus 0.5, mapped back through the float64 pseudo-inverse
of the heatmap transform and **truncated to whole pixels** (``astype(int32)``): face-alignment 1.3.5's landmarks
are integers.

The same frames give the same boxes and landmarks as face-alignment; only batching differs (several frames per
forward pass), which moves convolution outputs by float rounding.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .s3fd_net import L2Norm, cv2_module
from .syncnet_net import load_state, read_state_dict

Device = Union[str, torch.device]
LANDMARKS = 68
CROP = 256  # FAN input side
HEATMAP = 64  # FAN output side
REFERENCE_SCALE = 195.0  # SFDDetector.reference_scale
CENTRE_SHIFT = 0.12  # the crop centre sits this many box heights above the box centre
STACKS = 4
HOURGLASS_DEPTH = 4
FEATURES = 256

BGR_MEAN = (104.0, 117.0, 123.0)
VARIANCES = (0.1, 0.2)
CANDIDATE_TH = 0.05
NMS_TH = 0.3
FACE_TH = 0.5  # SFDDetector's filter_threshold


class ConvBlock(nn.Module):
    """Pre-activation block whose three 3x3 convs give 1/2, 1/4 and 1/4 of the output channels, concatenated."""

    def __init__(self, in_planes: int, out_planes: int) -> None:
        super().__init__()
        half, quarter = out_planes // 2, out_planes // 4
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, half, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(half)
        self.conv2 = nn.Conv2d(half, quarter, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(quarter)
        self.conv3 = nn.Conv2d(quarter, quarter, 3, 1, 1, bias=False)
        self.downsample: Optional[nn.Module] = None
        if in_planes != out_planes:
            self.downsample = nn.Sequential(
                nn.BatchNorm2d(in_planes), nn.ReLU(True), nn.Conv2d(in_planes, out_planes, 1, 1, bias=False)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = self.conv1(F.relu(self.bn1(x), True))
        out2 = self.conv2(F.relu(self.bn2(out1), True))
        out3 = self.conv3(F.relu(self.bn3(out2), True))
        out = torch.cat((out1, out2, out3), 1)
        residual = x if self.downsample is None else self.downsample(x)
        return out + residual


class HourGlass(nn.Module):
    """Per level: blocks ``b1_<level>`` (skip), ``b2_<level>`` (down), ``b3_<level>`` (up); ``b2_plus_1`` at the end."""

    def __init__(self, depth: int, features: int) -> None:
        super().__init__()
        self.depth = depth
        for level in range(depth, 0, -1):
            self.add_module(f"b1_{level}", ConvBlock(features, features))
            self.add_module(f"b2_{level}", ConvBlock(features, features))
            if level == 1:
                self.add_module("b2_plus_1", ConvBlock(features, features))
            self.add_module(f"b3_{level}", ConvBlock(features, features))

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        up = self._modules[f"b1_{level}"](x)
        low = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        low = self._level(level - 1, low) if level > 1 else self._modules["b2_plus_1"](low)
        low = self._modules[f"b3_{level}"](low)
        return up + F.interpolate(low, scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._level(self.depth, x)


class FAN(nn.Module):
    """``(N, 3, 256, 256)`` RGB in [0, 1] -> the last stack's heatmaps ``(N, 68, 64, 64)``."""

    def __init__(self, stacks: int = STACKS) -> None:
        super().__init__()
        self.stacks = stacks
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = ConvBlock(64, 128)
        self.conv3 = ConvBlock(128, 128)
        self.conv4 = ConvBlock(128, FEATURES)
        for i in range(stacks):
            self.add_module(f"m{i}", HourGlass(HOURGLASS_DEPTH, FEATURES))
            self.add_module(f"top_m_{i}", ConvBlock(FEATURES, FEATURES))
            self.add_module(f"conv_last{i}", nn.Conv2d(FEATURES, FEATURES, 1))
            self.add_module(f"bn_end{i}", nn.BatchNorm2d(FEATURES))
            self.add_module(f"l{i}", nn.Conv2d(FEATURES, LANDMARKS, 1))
            if i < stacks - 1:
                self.add_module(f"bl{i}", nn.Conv2d(FEATURES, FEATURES, 1))
                self.add_module(f"al{i}", nn.Conv2d(LANDMARKS, FEATURES, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)), True)
        x = self.conv4(self.conv3(F.avg_pool2d(self.conv2(x), 2, stride=2)))
        previous = x
        heatmaps = x
        for i in range(self.stacks):
            ll = self._modules[f"top_m_{i}"](self._modules[f"m{i}"](previous))
            ll = F.relu(self._modules[f"bn_end{i}"](self._modules[f"conv_last{i}"](ll)), True)
            heatmaps = self._modules[f"l{i}"](ll)
            if i < self.stacks - 1:
                # The same association as face-alignment, (previous + ll) + heatmap features: float sums.
                previous = previous + self._modules[f"bl{i}"](ll) + self._modules[f"al{i}"](heatmaps)
        return heatmaps


class _ScriptedFan(nn.Module):
    """A TorchScript FAN whose weights do not fit ``FAN``'s keys, run as it is (face-alignment 1.3.5 does so)."""

    def __init__(self, script: nn.Module, *, device: Device) -> None:
        super().__init__()
        self.script = script
        self.device = torch.device(device)  # a frozen archive has no parameters to tell it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.script(x)
        return out[-1] if isinstance(out, (list, tuple)) else out


def is_torchscript(path: Union[str, Path]) -> bool:
    """A ``torch.jit.save`` archive (it carries ``code/`` and ``constants.pkl``), not a ``torch.save`` file."""
    if not zipfile.is_zipfile(str(path)):
        return False
    with zipfile.ZipFile(str(path)) as archive:
        return any(name.endswith("/constants.pkl") or "/code/" in name for name in archive.namelist())


def _plain_state(state: Dict) -> Dict[str, torch.Tensor]:
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    # Checkpoints saved from nn.DataParallel prefix every key; face-alignment strips it for its depth network.
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}


def load_fan(*, path: Union[str, Path], device: Device) -> Tuple[nn.Module, str]:
    """FAN in eval mode on ``device`` and how its file was read.

    A TorchScript archive is opened with ``torch.jit.load`` (no pickled Python runs) and its parameters are copied
    into ``FAN``; should its keys not fit, the archive's own graph is used instead.
    """
    net = FAN()
    if is_torchscript(path):
        script = torch.jit.load(str(path), map_location="cpu")
        state = dict(script.state_dict())
        expected = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
        fits = set(expected) <= set(state) <= set(net.state_dict()) and all(
            tuple(state[k].shape) == tuple(v.shape) for k, v in expected.items()
        )
        if not fits:
            return _ScriptedFan(script, device=device).to(device).eval(), "TorchScript archive, its own graph"
        load_state(net, state, what=str(path))
        return net.to(device).eval(), "TorchScript archive, weights in FAN"
    load_state(net, _plain_state(read_state_dict(path)), what=str(path))
    return net.to(device).eval(), "state dict"


_SFD_CONVS: Sequence[Tuple[str, int, int, int, int, int]] = (
    # name, in, out, kernel, stride, padding; each followed by a ReLU.
    ("conv1_1", 3, 64, 3, 1, 1),
    ("conv1_2", 64, 64, 3, 1, 1),
    ("conv2_1", 64, 128, 3, 1, 1),
    ("conv2_2", 128, 128, 3, 1, 1),
    ("conv3_1", 128, 256, 3, 1, 1),
    ("conv3_2", 256, 256, 3, 1, 1),
    ("conv3_3", 256, 256, 3, 1, 1),
    ("conv4_1", 256, 512, 3, 1, 1),
    ("conv4_2", 512, 512, 3, 1, 1),
    ("conv4_3", 512, 512, 3, 1, 1),
    ("conv5_1", 512, 512, 3, 1, 1),
    ("conv5_2", 512, 512, 3, 1, 1),
    ("conv5_3", 512, 512, 3, 1, 1),
    ("fc6", 512, 1024, 3, 1, 3),
    ("fc7", 1024, 1024, 1, 1, 0),
    ("conv6_1", 1024, 256, 1, 1, 0),
    ("conv6_2", 256, 512, 3, 2, 1),
    ("conv7_1", 512, 128, 1, 1, 0),
    ("conv7_2", 128, 256, 3, 2, 1),
)
_POOL_AFTER = ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3")
# Detection sources in stride order (4 .. 128): the layer they tap, its channels, whether it is L2-normalised.
_SOURCES: Sequence[Tuple[str, int, bool]] = (
    ("conv3_3", 256, True),
    ("conv4_3", 512, True),
    ("conv5_3", 512, True),
    ("fc7", 1024, False),
    ("conv6_2", 512, False),
    ("conv7_2", 256, False),
)
_NORM_SCALES = {"conv3_3": 10.0, "conv4_3": 8.0, "conv5_3": 5.0}  # initial values only: the file overwrites them


class Sfd(nn.Module):
    """face-alignment's S3FD: BGR minus its mean -> per source (stride 4 .. 128) class logits and box offsets."""

    def __init__(self) -> None:
        super().__init__()
        for name, cin, cout, kernel, stride, padding in _SFD_CONVS:
            self.add_module(name, nn.Conv2d(cin, cout, kernel, stride, padding))
        for name, channels, normed in _SOURCES:
            source = f"{name}_norm" if normed else name
            if normed:
                norm = L2Norm(channels)
                norm.weight.data.fill_(_NORM_SCALES[name])
                self.add_module(source, norm)
            # The finest source predicts three background logits and keeps their maximum ("max-out").
            self.add_module(f"{source}_mbox_conf", nn.Conv2d(channels, 4 if name == "conv3_3" else 2, 3, 1, 1))
            self.add_module(f"{source}_mbox_loc", nn.Conv2d(channels, 4, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> List[Tuple[torch.Tensor, torch.Tensor]]:
        """``(N, 3, H, W)`` -> six ``(logits (N, 2, h, w), offsets (N, 4, h, w))``, finest first."""
        taps: Dict[str, torch.Tensor] = {}
        for name, *_ in _SFD_CONVS:
            x = F.relu(self._modules[name](x), inplace=True)
            taps[name] = x
            if name in _POOL_AFTER:
                x = F.max_pool2d(x, 2, 2)
        heads = []
        for name, _, normed in _SOURCES:
            source = f"{name}_norm" if normed else name
            feature = self._modules[source](taps[name]) if normed else taps[name]
            conf = self._modules[f"{source}_mbox_conf"](feature)
            if conf.shape[1] == 4:
                conf = torch.cat((conf[:, :3].max(dim=1, keepdim=True)[0], conf[:, 3:]), dim=1)
            heads.append((conf, self._modules[f"{source}_mbox_loc"](feature)))
        return heads


def load_sfd(*, path: Union[str, Path], device: Device) -> Sfd:
    """face-alignment's S3FD from ``s3fd-619a316812.pth`` (a plain state dict), in eval mode on ``device``."""
    net = Sfd()
    load_state(net, read_state_dict(path), what=str(path))
    return net.to(device).eval()


def _nms_plus_one(boxes: np.ndarray, order: np.ndarray, threshold: float) -> List[int]:
    """face-alignment's greedy NMS: areas and overlaps count both end pixels (+1); IoU above ``threshold`` goes."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    keep: List[int] = []
    while order.size > 0:
        i, rest = int(order[0]), order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        keep.append(i)
        order = rest[inter / (areas[i] + areas[rest] - inter) <= threshold]
    return keep


def frame_boxes(scores: Sequence[np.ndarray], offsets: Sequence[np.ndarray]) -> np.ndarray:
    """One frame's faces from its six sources (face probability ``(h, w)``, offsets ``(4, h, w)``, float32).

    float64 ``(K, 5)`` rows x1, y1, x2, y2, score, best first, as ``SFDDetector.detect_from_image`` returns them.
    """
    rows, all_scores = [], []
    for i, (score, offset) in enumerate(zip(scores, offsets)):
        stride = 2 ** (i + 2)
        hs, ws = np.nonzero(score > CANDIDATE_TH)  # row-major, the reference's visiting order
        loc = offset[:, hs, ws].T  # (K, 4) float32
        anchors = np.empty((len(hs), 4), dtype=np.float64)
        anchors[:, 0] = stride / 2 + ws * stride
        anchors[:, 1] = stride / 2 + hs * stride
        anchors[:, 2:] = stride * 4
        # Offsets are scaled in float32 before meeting the float64 anchors, as the reference's numpy promotes them.
        centre = anchors[:, :2] + loc[:, :2] * np.float32(VARIANCES[0]) * anchors[:, 2:]
        size = anchors[:, 2:] * np.exp(loc[:, 2:] * np.float32(VARIANCES[1]))
        corner = centre - size / 2
        rows.append(np.concatenate([corner, size + corner], 1))
        all_scores.append(score[hs, ws].astype(np.float64))
    boxes = np.concatenate(rows) if rows else np.zeros((0, 4))
    found = np.concatenate(all_scores) if all_scores else np.zeros(0)
    if len(found) == 0:
        return np.zeros((0, 5))
    # argsort of every candidate, as the reference sorts them: equal scores (saturated 1.0) keep its order.
    order = np.argsort(found)[::-1]
    # Boxes at or below FACE_TH are dropped after NMS; being visited last they can never suppress one above it.
    order = order[found[order] > FACE_TH]
    keep = _nms_plus_one(boxes, order, NMS_TH)
    return np.concatenate([boxes[keep], found[keep, None]], 1)


def detect_faces(net: Sfd, frames: np.ndarray, *, batch_size: int = 8) -> List[np.ndarray]:
    """Faces in RGB uint8 frames ``(N, H, W, 3)`` of one size: per frame float64 ``(K, 5)`` rows, best first."""
    device = next(net.parameters()).device
    mean = torch.tensor(BGR_MEAN, device=device).view(1, 3, 1, 1)
    out: List[np.ndarray] = []
    with torch.no_grad():
        for start in range(0, len(frames), batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(frames[start : start + batch_size])).to(device)
            # A contiguous NCHW input, as the reference copies its transposed frame: convolutions on a permuted
            # (channels-last) tensor take another path and round differently.
            x = chunk.permute(0, 3, 1, 2).contiguous().float().flip(-3) - mean
            heads = net(x)
            scores = [F.softmax(conf, dim=1)[:, 1].cpu().numpy() for conf, _ in heads]
            offsets = [loc.cpu().numpy() for _, loc in heads]
            for j in range(len(chunk)):
                out.append(frame_boxes([s[j] for s in scores], [o[j] for o in offsets]))
    return out


def centre_scale(box: Sequence[float]) -> Tuple[Tuple[float, float], float]:
    """The crop centre and scale face-alignment derives from a box, in its float64 operation order."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    cx = x2 - (x2 - x1) / 2.0
    cy = y2 - (y2 - y1) / 2.0
    cy = cy - (y2 - y1) * CENTRE_SHIFT
    return (cx, cy), (x2 - x1 + y2 - y1) / REFERENCE_SCALE


def _crop_corner(point: float, centre: Tuple[float, float], scale: float) -> Tuple[int, int]:
    """Pixel of the crop's corner ``(point, point)`` (1 or 256), via torch's float32 inverse as face-alignment."""
    h = 200.0 * scale
    t = torch.eye(3)
    t[0, 0] = CROP / h
    t[1, 1] = CROP / h
    t[0, 2] = CROP * (-centre[0] / h + 0.5)
    t[1, 2] = CROP * (-centre[1] / h + 0.5)
    mapped = torch.matmul(torch.inverse(t), torch.tensor([point, point, 1.0]))[:2].int()
    return int(mapped[0]), int(mapped[1])


def crop_face(frame: np.ndarray, centre: Tuple[float, float], scale: float) -> Optional[np.ndarray]:
    """uint8 ``(256, 256, 3)`` crop, or None where the square lies wholly outside the frame (the reference fails)."""
    ul = _crop_corner(1.0, centre, scale)
    br = _crop_corner(float(CROP), centre, scale)
    height, width = frame.shape[:2]
    canvas = np.zeros((br[1] - ul[1], br[0] - ul[0], frame.shape[2]), dtype=np.uint8)
    # 1-based inclusive ranges, as the reference computes them, then Python slices.
    new_x = (max(1, -ul[0] + 1), min(br[0], width) - ul[0])
    new_y = (max(1, -ul[1] + 1), min(br[1], height) - ul[1])
    old_x = (max(1, ul[0] + 1), min(br[0], width))
    old_y = (max(1, ul[1] + 1), min(br[1], height))
    # A range of length 0 copies nothing (the reference too); a negative one would make it fail or wrap around.
    if min(new_x[1] - new_x[0], new_y[1] - new_y[0], old_x[1] - old_x[0], old_y[1] - old_y[0]) < -1:
        return None
    canvas[new_y[0] - 1 : new_y[1], new_x[0] - 1 : new_x[1]] = frame[old_y[0] - 1 : old_y[1], old_x[0] - 1 : old_x[1]]
    cv2 = cv2_module()
    return cv2.resize(canvas, dsize=(CROP, CROP), interpolation=cv2.INTER_LINEAR)


def heatmap_points(heatmaps: np.ndarray) -> np.ndarray:
    """float32 ``(N, 68, 2)`` heatmap coordinates: first maximum, quarter-pixel step to the higher side, minus 0.5."""
    n, c, height, width = heatmaps.shape
    idx = heatmaps.reshape(n, c, height * width).argmax(-1)
    px, py = idx % width, idx // width
    points = np.stack([px + 1, py + 1], -1).astype(np.float32)
    # face-alignment's bounds are written for 64x64 heatmaps: 0 < x < 63 and 0 < y < 63.
    inner = (px > 0) & (px < 63) & (py > 0) & (py < 63)
    b, k = np.nonzero(inner)
    x, y = px[b, k], py[b, k]
    maps = heatmaps[b, k]
    rows = np.arange(len(b))
    diff = np.stack([maps[rows, y, x + 1] - maps[rows, y, x - 1], maps[rows, y + 1, x] - maps[rows, y - 1, x]], -1)
    points[b, k] += np.sign(diff) * np.float32(0.25)
    return points - np.float32(0.5)


def to_frame(points: np.ndarray, centre: Tuple[float, float], scale: float) -> np.ndarray:
    """Heatmap points ``(68, 2)`` -> frame pixels, truncated to integers, as float32 (face-alignment 1.3.5)."""
    h = 200.0 * scale
    t = np.eye(3)
    t[0, 0] = HEATMAP / h
    t[1, 1] = HEATMAP / h
    t[0, 2] = HEATMAP * (-centre[0] / h + 0.5)
    t[1, 2] = HEATMAP * (-centre[1] / h + 0.5)
    inverse = np.linalg.pinv(t)
    out = np.empty(points.shape, dtype=np.float32)
    for k, (x, y) in enumerate(points.astype(np.float64)):
        # One matrix-vector product per point, the reference's BLAS call: its rounding decides the truncation.
        out[k] = np.dot(inverse, np.array([x, y, 1.0]))[:2].astype(np.int32)
    return out


def net_device(net: nn.Module) -> torch.device:
    device = getattr(net, "device", None)
    return device if isinstance(device, torch.device) else next(net.parameters()).device


def landmarks(
    net: nn.Module, frames: Sequence[np.ndarray], boxes: Sequence[Sequence[float]], *, batch_size: int = 32
) -> List[Optional[np.ndarray]]:
    """68 float32 ``(x, y)`` landmarks for ``boxes[i]`` in RGB uint8 ``frames[i]``; None where the crop fails."""
    device = net_device(net)
    placed = [centre_scale(box) for box in boxes]
    crops = [crop_face(frame, centre, scale) for frame, (centre, scale) in zip(frames, placed)]
    todo = [i for i, crop in enumerate(crops) if crop is not None]
    out: List[Optional[np.ndarray]] = [None] * len(crops)
    with torch.no_grad():
        for start in range(0, len(todo), batch_size):
            part = todo[start : start + batch_size]
            # Contiguous NCHW: the reference's single crop, strides (3, 1, 768, 3), runs the NCHW convolution path,
            # while a channels-last batch would take another one that rounds differently.
            batch = torch.from_numpy(np.stack([crops[i] for i in part])).permute(0, 3, 1, 2).contiguous().float()
            heatmaps = net(batch.to(device).div_(255.0)).float().cpu().numpy()
            for i, points in zip(part, heatmap_points(heatmaps)):
                out[i] = to_frame(points, *placed[i])
    return out
