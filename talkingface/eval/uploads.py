"""One host-to-device copy per decoded batch, shared by every GPU metric.

Each metric asks for the batch it was handed; the scorer hands the same arrays to all of them, so the copy made for
the first is reused by the others (keyed by the array object itself, which the cache keeps alive).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Tuple

import numpy as np

_CACHE: OrderedDict[Tuple[int, str], Tuple[np.ndarray, Any]] = OrderedDict()
_KEEP = 4  # the current gt and pred batches, and the previous pair


def upload(frames: np.ndarray, device: str):
    """The uint8 frames as a tensor on ``device`` (made once per array and device)."""
    import torch

    key = (id(frames), device)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is frames:
        return hit[1]
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).to(device, non_blocking=True)
    _CACHE[key] = (frames, tensor)
    while len(_CACHE) > _KEEP:
        _CACHE.popitem(last=False)
    return tensor
