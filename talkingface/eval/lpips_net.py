"""LPIPS v0.1 with the AlexNet trunk, as ``lpips.LPIPS(net='alex', version='0.1')`` computes it.

Weights come from the two published files, read with their own keys:

* torchvision's ``alexnet-owt-7be5be79.pth``: a plain state dict, ``features.N.weight|bias`` (and ``classifier.*``,
  which LPIPS never uses);
* lpips' ``weights/v0.1/alex.pth``: ``lin0.model.1.weight`` ... ``lin4.model.1.weight``, the 1x1 heads.

Per layer: shift and scale the [-1, 1] input, take the five ReLU outputs, divide each feature vector by its norm
(+1e-10), square the difference, weight the channels with the head, average over space; the score is the sum over
layers. Runs on torch 1.12 as well as 2.x.
"""

from __future__ import annotations

import inspect
from typing import Dict, List, Union

import torch
from torch import Tensor, nn

from ..core.errors import TalkingfaceError

CHANNELS = (64, 192, 384, 256, 256)
TAPS = (1, 4, 7, 9, 11)  # indices of the five ReLUs in torchvision's ``AlexNet.features``
EPS = 1e-10
# lpips' ScalingLayer: the ImageNet mean and deviation, expressed for inputs in [-1, 1].
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


def read_state_dict(path: str) -> Dict[str, Tensor]:
    """A state dict saved with ``torch.save``, on the CPU; tensors only where this torch can enforce it."""
    kwargs: Dict[str, object] = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:  # absent before torch 1.13
        kwargs["weights_only"] = True
    state = torch.load(path, **kwargs)
    if not isinstance(state, dict):
        raise TalkingfaceError(f"{path} does not hold a state dict", fix="use the original, unmodified weight file")
    return state


def load_exact(module: nn.Module, state: Dict[str, Tensor], *, path: str) -> None:
    """Load ``state`` into ``module``; every key must match, except BatchNorm's step counter.

    ``num_batches_tracked`` never affects an eval-mode forward, and files written before torch 0.4.1 lack it.
    """
    expected = set(module.state_dict())
    needed = {k for k in expected if not k.endswith("num_batches_tracked")}
    missing = sorted(needed - set(state))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        raise TalkingfaceError(
            f"{path} does not have the expected keys: missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}",
            fix="use the original, unmodified weight file",
        )
    module.load_state_dict(state, strict=False)


class AlexTrunk(nn.Module):
    """AlexNet's convolutional part up to the fifth ReLU, laid out so the file's ``features.N`` keys fit."""

    def __init__(self) -> None:
        super().__init__()
        # The positions, not just the layers, must match torchvision's: the keys name them (0, 3, 6, 8, 10).
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
        )

    def forward(self, x: Tensor) -> List[Tensor]:
        taps = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in TAPS:
                taps.append(x)
        return taps


class _Head(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        # lpips trains with a dropout at index 0; it holds no weights and is off at eval, so the 1x1 convolution
        # sits at index 1 as in the file's ``linK.model.1.weight``.
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, kernel_size=1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class LinearHeads(nn.Module):
    """The five learned channel weightings, named ``lin0`` ... ``lin4`` as in lpips' file."""

    def __init__(self) -> None:
        super().__init__()
        for index, channels in enumerate(CHANNELS):
            self.add_module(f"lin{index}", _Head(channels))

    def forward(self, diffs: List[Tensor]) -> Tensor:
        # Summed from 0 in layer order, as lpips does.
        return sum(head(diff).mean([2, 3], keepdim=True) for head, diff in zip(self.children(), diffs))


def _unit(x: Tensor) -> Tensor:
    return x / (torch.sqrt(torch.sum(x**2, dim=1, keepdim=True)) + EPS)


class LpipsAlex(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = AlexTrunk()
        self.heads = LinearHeads()
        self.register_buffer("shift", torch.tensor(SHIFT)[None, :, None, None], persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE)[None, :, None, None], persistent=False)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """LPIPS per pair: ``a``, ``b`` float (N, 3, H, W) RGB in [-1, 1]; returns (N,)."""
        if a.shape != b.shape or a.dim() != 4 or a.shape[1] != 3:
            raise ValueError(f"LPIPS needs two (N, 3, H, W) batches of one shape: {tuple(a.shape)}, {tuple(b.shape)}")
        feats_a = self.backbone((a - self.shift) / self.scale)
        feats_b = self.backbone((b - self.shift) / self.scale)
        diffs = [(_unit(fa) - _unit(fb)) ** 2 for fa, fb in zip(feats_a, feats_b)]
        return self.heads(diffs).reshape(len(a))


def load_lpips(*, backbone_path: str, heads_path: str, device: Union[torch.device, str]) -> LpipsAlex:
    """LPIPS (AlexNet, v0.1) in eval mode on ``device``, from torchvision's AlexNet file and lpips' head file."""
    net = LpipsAlex()
    trunk = read_state_dict(backbone_path)
    # The classifier is the part of the ImageNet network that LPIPS cuts off.
    load_exact(net.backbone, {k: v for k, v in trunk.items() if not k.startswith("classifier.")}, path=backbone_path)
    load_exact(net.heads, read_state_dict(heads_path), path=heads_path)
    net.requires_grad_(False)
    return net.eval().to(device)
