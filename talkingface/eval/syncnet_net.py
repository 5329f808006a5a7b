"""SyncNet (Chung & Zisserman 2016, the ``syncnet_v2.model`` weights) as a torch module.

The module and parameter names are those of joonson/syncnet_python's ``SyncNetModel.S``: four ``nn.Sequential``
stacks ``netcnnaud``, ``netfcaud``, ``netcnnlip`` and ``netfclip`` whose indices count the ReLU and pooling layers
too, so the published state dict (keys such as ``netcnnlip.0.weight`` or ``netfcaud.1.running_var``, no prefix)
loads as is. Both branches end in 1024-d embeddings; LSE compares them with a Euclidean distance.

Audio branch: 2-D convs on a (1, 13, 20) MFCC window (13 coefficients x 0.2 s). Lip branch: a 3-D conv with a
5-frame temporal kernel and no temporal padding, then convs and pools with a temporal extent of 1, on five
224x224 BGR frames with raw 0..255 values. Because only the first lip layer spans time, the lip stack applied to
T consecutive frames gives, at output time t, exactly the embedding of the window t..t+4: ``forward_lip_frames``
uses that to embed every window of a clip without stacking each frame five times.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Dict, List, Sequence, Union

import torch
from torch import nn

from ..core.errors import TalkingfaceError

EMBEDDING = 1024

# (out channels, kernel, stride, padding, max-pool after the ReLU as (kernel, stride, padding) or None).
_AUDIO: Sequence[tuple] = (
    (64, (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1), (0, 0))),
    (192, (3, 3), (1, 1), (1, 1), ((3, 3), (1, 2), (0, 0))),
    (384, (3, 3), (1, 1), (1, 1), None),
    (256, (3, 3), (1, 1), (1, 1), None),
    (256, (3, 3), (1, 1), (1, 1), ((3, 3), (2, 2), (0, 0))),
    (512, (5, 4), (1, 1), (0, 0), None),
)
_LIP: Sequence[tuple] = (
    (96, (5, 7, 7), (1, 2, 2), (0, 0, 0), ((1, 3, 3), (1, 2, 2), (0, 0, 0))),
    (256, (1, 5, 5), (1, 2, 2), (0, 1, 1), ((1, 3, 3), (1, 2, 2), (0, 1, 1))),
    (256, (1, 3, 3), (1, 1, 1), (0, 1, 1), None),
    (256, (1, 3, 3), (1, 1, 1), (0, 1, 1), None),
    (256, (1, 3, 3), (1, 1, 1), (0, 1, 1), ((1, 3, 3), (1, 2, 2), (0, 0, 0))),
    (512, (1, 6, 6), (1, 1, 1), (0, 0, 0), None),
)
LIP_WINDOW = 5  # frames per lip window: the temporal kernel of the first 3-D conv


def _conv_stack(spec: Sequence[tuple], *, in_channels: int, dims: int) -> nn.Sequential:
    conv, norm, pool = (
        (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d) if dims == 2 else (nn.Conv3d, nn.BatchNorm3d, nn.MaxPool3d)
    )
    layers: List[nn.Module] = []
    channels = in_channels
    for out, kernel, stride, padding, pooling in spec:
        layers += [conv(channels, out, kernel_size=kernel, stride=stride, padding=padding), norm(out), nn.ReLU()]
        if pooling is not None:
            layers.append(pool(kernel_size=pooling[0], stride=pooling[1], padding=pooling[2]))
        channels = out
    return nn.Sequential(*layers)


def _head() -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, EMBEDDING))


class SyncNet(nn.Module):
    """The two-stream network; use it in eval mode (BatchNorm with the stored running statistics)."""

    def __init__(self) -> None:
        super().__init__()
        self.netcnnaud = _conv_stack(_AUDIO, in_channels=1, dims=2)
        self.netfcaud = _head()
        self.netfclip = _head()
        self.netcnnlip = _conv_stack(_LIP, in_channels=3, dims=3)

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, 13, 20)`` MFCC windows -> ``(N, 1024)``."""
        return self.netfcaud(self.netcnnaud(x).flatten(1))

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, 5, 224, 224)`` BGR 0..255 windows -> ``(N, 1024)``."""
        return self.netfclip(self.netcnnlip(x).flatten(1))

    def forward_lip_frames(self, x: torch.Tensor) -> torch.Tensor:
        """``(3, T, 224, 224)`` consecutive frames -> ``(T - 4, 1024)``: row t embeds the window t..t+4.

        Same arithmetic as ``forward_lip`` on each window; only the batching differs.
        """
        features = self.netcnnlip(x.unsqueeze(0))  # (1, 512, T - 4, 1, 1)
        return self.netfclip(features[0].flatten(1).t())


def read_state_dict(path: Union[str, Path]) -> Dict[str, torch.Tensor]:
    """A state dict file (legacy or zip format) on the CPU."""
    kwargs: Dict[str, object] = {"map_location": "cpu"}
    # The files are plain state dicts: refuse arbitrary pickled objects where torch can (weights_only appeared in
    # torch 1.13; torch 1.12 has no such switch and loads as before).
    if "weights_only" in inspect.signature(torch.load).parameters:
        kwargs["weights_only"] = True
    return torch.load(str(path), **kwargs)


def load_state(module: nn.Module, state: Dict[str, torch.Tensor], *, what: str) -> None:
    """Load ``state`` into ``module``, requiring every parameter and running statistic.

    The reference copies whatever keys the file has and silently keeps random values for the rest; here a missing
    or unknown key is an error. Only BatchNorm's ``num_batches_tracked`` may be absent (files written by torch <
    0.4.1 lack it, and it plays no part in eval mode).
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k, v in state.items() if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        raise TalkingfaceError(
            f"{what} is not the expected network (missing keys {missing[:3]}, unknown {unexpected[:3]}, "
            f"wrong shapes {wrong[:3]})",
            fix="use the published weight file (see talkingface.eval.assets)",
        )
    module.load_state_dict(state, strict=False)


def load_syncnet(*, path: Union[str, Path], device: Union[str, torch.device]) -> SyncNet:
    """Build SyncNet from a ``syncnet_v2.model`` state dict; returned in eval mode on ``device``."""
    net = SyncNet()
    load_state(net, read_state_dict(path), what=str(path))
    return net.to(device).eval()
