"""S3FD face detector (Zhang et al. 2017, the ``sfd_face.pth`` weights) and detection as syncnet_python does it.

The module names are those of syncnet_python's ``detectors/s3fd/nets.py`` ``S3FDNet`` (``vgg.<i>`` counting the
ReLU and pooling layers, ``L2Norm3_3``/``L2Norm4_3``/``L2Norm5_3``, ``extras.<i>``, ``loc.<i>``, ``conf.<i>``), so
the published state dict loads as is.

Detection (``S3FD.detect_faces`` called by ``run_pipeline.py`` with ``conf_th=0.9, scales=[0.25]``): the frame is
resized by 0.25 with OpenCV's bilinear ``INTER_LINEAR``; the network input is float32 in **RGB** channel order
with 123, 117, 104 subtracted from R, G, B (the reference subtracts its BGR mean after flipping the RGB frame to
BGR, then flips back); class-1 softmax scores; boxes decoded from the prior boxes with variances 0.1/0.2; greedy
NMS at IoU 0.3 on candidates above 0.05, at most 750 kept; those above ``conf_th`` scaled to pixels of the full
frame; a second greedy NMS at IoU 0.1. Candidates at or below ``conf_th`` can never suppress a box above it
(greedy NMS visits boxes by decreasing score), so they are dropped before the first NMS: same boxes, less work.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import TalkingfaceError
from .syncnet_net import load_state, read_state_dict

RGB_MEAN = np.array([123.0, 117.0, 104.0], dtype=np.float32)
VARIANCES = (0.1, 0.2)
MIN_SIZES = (16, 32, 64, 128, 256, 512)
STEPS = (4, 8, 16, 32, 64, 128)
CANDIDATE_TH, FIRST_NMS_TH, FIRST_NMS_TOP_K, KEEP_TOP_K = 0.05, 0.3, 5000, 750
FINAL_NMS_TH = 0.1

# VGG-16 convolutions (each followed by a ReLU); "M" a 2x2 max-pool, "C" one with ceil_mode.
_VGG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "C", 512, 512, 512, "M", 512, 512, 512, "M")
# Indices into the vgg list after which conv3_3, conv4_3 and conv5_3 (after their ReLU) feed a detection head.
_TAPS = (15, 22, 29)
_HEAD_IN = (256, 512, 512, 1024, 512, 256)


def cv2_module():
    """OpenCV, imported only when a frame is resized or cropped."""
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise TalkingfaceError(
            "LSE face detection and cropping need OpenCV (the module cv2), which is not installed",
            fix="pip install opencv-python-headless (the reference resizes with cv2; results depend on its "
            "interpolation)",
        ) from exc
    return cv2


def _vgg_layers() -> List[nn.Module]:
    layers: List[nn.Module] = []
    channels = 3
    for item in _VGG:
        if item in ("M", "C"):
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=item == "C"))
        else:
            layers += [nn.Conv2d(channels, int(item), 3, 1, padding=1), nn.ReLU()]
            channels = int(item)
    # fc6/fc7 as convolutions: a dilated 3x3 and a 1x1.
    layers += [nn.Conv2d(512, 1024, 3, 1, padding=6, dilation=6), nn.ReLU(), nn.Conv2d(1024, 1024, 1, 1), nn.ReLU()]
    return layers


class L2Norm(nn.Module):
    """Channel-wise L2 normalisation with a learned per-channel scale (eps added to the norm, as trained)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10
        return self.weight.view(1, -1, 1, 1) * torch.div(x, norm)


class S3FD(nn.Module):
    """Returns raw head outputs; ``detect`` turns them into boxes."""

    def __init__(self) -> None:
        super().__init__()
        self.vgg = nn.ModuleList(_vgg_layers())
        self.L2Norm3_3 = L2Norm(256)
        self.L2Norm4_3 = L2Norm(512)
        self.L2Norm5_3 = L2Norm(512)
        self.extras = nn.ModuleList(
            [nn.Conv2d(1024, 256, 1, 1), nn.Conv2d(256, 512, 3, 2, padding=1)]
            + [nn.Conv2d(512, 128, 1, 1), nn.Conv2d(128, 256, 3, 2, padding=1)]
        )
        self.loc = nn.ModuleList([nn.Conv2d(c, 4, 3, 1, padding=1) for c in _HEAD_IN])
        # The first head predicts 3 background logits and keeps their maximum ("max-out" for small faces).
        self.conf = nn.ModuleList([nn.Conv2d(c, 4 if i == 0 else 2, 3, 1, padding=1) for i, c in enumerate(_HEAD_IN)])

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, List[Tuple[int, int]]]:
        """``(N, 3, H, W)`` -> box offsets ``(N, P, 4)``, class logits ``(N, P, 2)``, the six feature map sizes."""
        norms = (self.L2Norm3_3, self.L2Norm4_3, self.L2Norm5_3)
        sources = []
        start = 0
        for tap, norm in zip(_TAPS, norms):
            for layer in self.vgg[start : tap + 1]:
                x = layer(x)
            sources.append(norm(x))
            start = tap + 1
        for layer in self.vgg[start:]:
            x = layer(x)
        sources.append(x)
        for k, layer in enumerate(self.extras):
            x = F.relu(layer(x))
            if k % 2 == 1:
                sources.append(x)

        locs, confs, sizes = [], [], []
        for i, source in enumerate(sources):
            conf = self.conf[i](source)
            if i == 0:
                conf = torch.cat((conf[:, :3].max(dim=1, keepdim=True)[0], conf[:, 3:]), dim=1)
            loc = self.loc[i](source)
            sizes.append((int(loc.shape[2]), int(loc.shape[3])))
            locs.append(loc.permute(0, 2, 3, 1).reshape(len(x), -1))
            confs.append(conf.permute(0, 2, 3, 1).reshape(len(x), -1))
        return torch.cat(locs, 1).view(len(x), -1, 4), torch.cat(confs, 1).view(len(x), -1, 2), sizes


def load_s3fd(*, path: Union[str, Path], device: Union[str, torch.device]) -> S3FD:
    """Build S3FD from an ``sfd_face.pth`` state dict; returned in eval mode on ``device``."""
    net = S3FD()
    load_state(net, read_state_dict(path), what=str(path))
    return net.to(device).eval()


def prior_boxes(*, image_hw: Tuple[int, int], feature_sizes: Sequence[Tuple[int, int]]) -> np.ndarray:
    """``(P, 4)`` float32 priors (cx, cy, w, h) relative to the network input, row-major per feature map.

    Computed in float64 and rounded once, as the reference builds them from Python floats.
    """
    imh, imw = image_hw
    rows = []
    for (fh, fw), step, size in zip(feature_sizes, STEPS, MIN_SIZES):
        i, j = np.meshgrid(np.arange(fh, dtype=np.float64), np.arange(fw, dtype=np.float64), indexing="ij")
        cx, cy = (j.ravel() + 0.5) / (imw / step), (i.ravel() + 0.5) / (imh / step)
        rows.append(np.stack([cx, cy, np.full_like(cx, size / imw), np.full_like(cy, size / imh)], 1))
    return np.concatenate(rows).astype(np.float32)


def decode_boxes(loc: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """Offsets ``(P, 4)`` + priors -> corners (x1, y1, x2, y2), in the reference's float32 operation order."""
    centre = priors[:, :2] + loc[:, :2] * VARIANCES[0] * priors[:, 2:]
    size = priors[:, 2:] * torch.exp(loc[:, 2:] * VARIANCES[1])
    corner = centre - size / 2
    return torch.cat((corner, size + corner), 1)


def greedy_nms(boxes: np.ndarray, order: np.ndarray, threshold: float, *, union_rest_first: bool) -> List[int]:
    """Indices kept by greedy NMS, visiting ``order``; a box goes when its IoU with a kept one exceeds ``threshold``.

    Areas have no +1. The two NMS passes of the reference sum the union in different orders
    (``(area_rest - inter) + area_i`` in the torch pass, ``area_i + area_rest - inter`` in the numpy one); the
    order matters only for IoUs within an ulp of the threshold, but costs nothing to keep.
    """
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    keep: List[int] = []
    zero = boxes.dtype.type(0)
    while order.size > 0:
        i, rest = int(order[0]), order[1:]
        w = np.maximum(zero, np.minimum(x2[rest], x2[i]) - np.maximum(x1[rest], x1[i]))
        h = np.maximum(zero, np.minimum(y2[rest], y2[i]) - np.maximum(y1[rest], y1[i]))
        inter = w * h
        union = (areas[rest] - inter) + areas[i] if union_rest_first else areas[i] + areas[rest] - inter
        keep.append(i)
        order = rest[inter / union <= threshold]
    return keep


def network_input(frame_bgr: np.ndarray, *, scale: float = 0.25) -> np.ndarray:
    """float32 ``(3, h, w)``: the frame resized by ``scale`` (cv2 bilinear), RGB order, means subtracted."""
    cv2 = cv2_module()
    small = cv2.resize(frame_bgr, dsize=(0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray((small.astype(np.float32) - RGB_MEAN[::-1]).transpose(2, 0, 1)[::-1])


def detect(net: S3FD, frame_bgr: np.ndarray, *, scale: float = 0.25, conf_th: float = 0.9) -> np.ndarray:
    """Faces in one BGR uint8 frame: float64 ``(K, 5)`` rows of x1, y1, x2, y2 (pixels), score; best first."""
    height, width = frame_bgr.shape[:2]
    image = network_input(frame_bgr, scale=scale)
    device = next(net.parameters()).device
    with torch.no_grad():
        loc, logits, sizes = net(torch.from_numpy(image).unsqueeze(0).to(device))
        scores = torch.softmax(logits[0], dim=-1)[:, 1]
        # Scores compare in float32, as the reference's tensor comparisons do.
        candidates = torch.nonzero(scores > CANDIDATE_TH).flatten()
        cand_scores = scores[candidates]
        # The reference sorts all candidates above 0.05 ascending (torch's default sort, on the same device) and
        # visits the best 5000 from the top; sorting that same vector the same way keeps its order among equal
        # scores (saturated softmax outputs of 1.0 are common on clear faces), which decides the surviving box.
        order = torch.sort(cand_scores)[1][-FIRST_NMS_TOP_K:].flip(0)
        order = order[cand_scores[order] > conf_th]
        if len(order) == 0:
            return np.zeros((0, 5))
        picked = candidates[order]
        priors = torch.from_numpy(prior_boxes(image_hw=image.shape[1:], feature_sizes=sizes)).to(device)
        boxes = decode_boxes(loc[0][picked], priors[picked]).cpu().numpy()
        picked_scores = cand_scores[order].cpu().numpy()
    kept = greedy_nms(boxes, np.arange(len(boxes)), FIRST_NMS_TH, union_rest_first=True)[:KEEP_TOP_K]

    pixels = boxes[kept] * np.array([width, height, width, height], dtype=np.float32)  # float32, then widened
    found = np.concatenate([pixels.astype(np.float64), picked_scores[kept, None].astype(np.float64)], 1)
    final = greedy_nms(found[:, :4], np.argsort(found[:, 4])[::-1], FINAL_NMS_TH, union_rest_first=False)
    return found[final]
