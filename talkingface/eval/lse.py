"""LSE-C and LSE-D: what ``SyncNetInstance.evaluate`` (joonson/syncnet_python) computes once it has the frames.

Given face crops (224x224, 25 fps, BGR uint8 as ``cv2.imread`` returns them) and 16 kHz int16 mono audio:

- MFCCs of the raw int16 samples (``talkingface.eval.mfcc``, 100 per second, 4 per video frame), as float32;
- ``min_length = min(frames, floor(samples / 640))``; windows start at ``v = 0 .. min_length - 6`` (the reference's
  ``range(0, min_length - 5)``): video frames ``v .. v+4`` and MFCC frames ``4v .. 4v+19``, both 0.2 s;
- every window embedded once by each SyncNet branch (float32, raw 0..255 BGR pixels, no normalisation);
- for video window i and each k in 0..30, the distance ``||lip_i - aud_(i+k-15) + 1e-6||`` (torch's
  ``pairwise_distance``), where audio windows outside 0..n-1 are zero vectors (the reference zero-pads, which
  matters for short clips);
- the mean over video windows gives 31 distances; LSE-D is their minimum, LSE-C their median minus that minimum,
  and the offset is ``15 - argmin``.

``distances_by_offset`` keeps the reference's order: index k compares video window i with audio window
``i + k - 15`` and corresponds to ``offset = 15 - k``, so the list runs from offset +15 (index 0) down to offset
-15 (index 30). A positive offset means the best-matching audio window lies *before* the video window.

Batching only changes how many windows go through the network at once (results agree to float rounding); each
window is embedded once. ``lip_embeddings`` and ``score_embeddings`` let a caller embed crops while streaming.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Union

import numpy as np
import torch
import torch.nn.functional as F

from .mfcc import mfcc
from .syncnet_net import LIP_WINDOW, SyncNet

Device = Union[str, torch.device]
SAMPLE_RATE = 16000
SAMPLES_PER_FRAME = 640  # 16 kHz / 25 fps
MFCC_PER_FRAME = 4  # 100 MFCC frames per second / 25 fps
MFCC_WINDOW = 20
PDIST_EPS = 1e-6  # torch.nn.functional.pairwise_distance's default, added to the difference
_DIST_CHUNK = 512  # windows per distance block: bounds memory at 512 * 31 * 1024 floats


@dataclass(frozen=True)
class LseResult:
    offset: int
    confidence: float  # LSE-C
    min_distance: float  # LSE-D
    distances_by_offset: List[float]  # 31 values for vshift=15, offsets +15 .. -15 (see the module docstring)


def window_count(*, frames: int, samples: int) -> int:
    """How many 5-frame windows the reference scores for a clip of ``frames`` frames and ``samples`` samples."""
    return max(0, min(frames, samples // SAMPLES_PER_FRAME) - LIP_WINDOW)


def lip_embeddings(net: SyncNet, crops: np.ndarray, *, n: int, batch_size: int, device: Device) -> torch.Tensor:
    """CPU float32 ``(n, 1024)``: row v embeds ``crops[v : v + 5]`` (uint8 BGR ``(>= n + 4, 224, 224, 3)``)."""
    if n > len(crops) - (LIP_WINDOW - 1):
        raise ValueError(f"{len(crops)} frames hold {max(0, len(crops) - LIP_WINDOW + 1)} windows, not {n}")
    out = [torch.zeros((0, 1024))]
    with torch.no_grad():
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            # Frames start .. stop+3 hold exactly the windows start .. stop-1; uint8 -> float32 is exact, like the
            # reference's uint8 -> float64 -> float32.
            clip = torch.from_numpy(np.ascontiguousarray(crops[start : stop + LIP_WINDOW - 1])).to(device)
            clip = clip.permute(3, 0, 1, 2).float()  # (3, F, H, W), channels stay BGR
            out.append(net.forward_lip_frames(clip).cpu())
    return torch.cat(out)


def audio_embeddings(net: SyncNet, audio: np.ndarray, *, n: int, batch_size: int, device: Device) -> torch.Tensor:
    """CPU float32 ``(n, 1024)``: row v embeds MFCC frames ``4v .. 4v+19`` of the int16 16 kHz ``audio``."""
    # float64 MFCCs cast to float32, as the reference does before the network.
    cc = torch.from_numpy(np.ascontiguousarray(mfcc(audio, SAMPLE_RATE).T)).float()  # (13, n_mfcc)
    if cc.shape[1] < MFCC_WINDOW:
        windows = cc.new_zeros((0, cc.shape[0], MFCC_WINDOW))
    else:
        windows = cc.unfold(1, MFCC_WINDOW, MFCC_PER_FRAME)[:, :n].permute(1, 0, 2)  # (n, 13, 20)
    if len(windows) < n:
        raise ValueError(f"{len(audio)} samples hold {len(windows)} audio windows, not {n}")
    out = [torch.zeros((0, 1024))]
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = windows[start : start + batch_size].unsqueeze(1).contiguous().to(device)
            out.append(net.forward_aud(batch).cpu())
    return torch.cat(out)


def offset_distances(lip: torch.Tensor, aud: torch.Tensor, *, vshift: int) -> torch.Tensor:
    """``(2*vshift+1, n)`` distances between each video window and the audio windows shifted by -vshift..vshift.

    Row k pairs video window i with audio window ``i + k - vshift`` (zeros outside the clip), the layout of the
    reference's ``torch.stack(calc_pdist(...), 1)``.
    """
    width = 2 * vshift + 1
    padded = F.pad(aud, (0, 0, vshift, vshift))
    rows = []
    for start in range(0, len(lip), _DIST_CHUNK):
        v = lip[start : start + _DIST_CHUNK]
        a = padded[start : start + len(v) + width - 1].unfold(0, width, 1)  # (m, 1024, width)
        a = a.permute(0, 2, 1).reshape(-1, a.shape[1])
        d = F.pairwise_distance(v.repeat_interleave(width, 0), a, eps=PDIST_EPS)
        rows.append(d.view(len(v), width))
    return torch.cat(rows).t().contiguous()


def lse_from_embeddings(lip: torch.Tensor, aud: torch.Tensor, *, vshift: int = 15) -> LseResult:
    """LSE from ``(n, 1024)`` lip and audio embeddings of the same n windows (CPU float32 tensors)."""
    if lip.shape != aud.shape or lip.dim() != 2 or len(lip) == 0:
        raise ValueError(f"need two equal non-empty (n, d) embeddings, got {tuple(lip.shape)} and {tuple(aud.shape)}")
    if vshift < 0:
        raise ValueError("vshift must be >= 0")
    with torch.no_grad():
        mean = offset_distances(lip, aud, vshift=vshift).mean(1)
        min_distance, index = torch.min(mean, 0)
        confidence = torch.median(mean) - min_distance  # 2*vshift+1 values: the true median, in float32 as upstream
    return LseResult(
        offset=vshift - int(index),
        confidence=float(confidence),
        min_distance=float(min_distance),
        distances_by_offset=[float(d) for d in mean],
    )


def _check_audio(audio: np.ndarray) -> None:
    if audio.dtype != np.int16 or audio.ndim != 1:
        # SyncNet's MFCCs are of raw int16 values; float audio in [-1, 1] would silently give other numbers.
        raise ValueError(f"audio must be 1-D int16 at 16 kHz, got {audio.dtype} {audio.shape}")


def score_embeddings(
    *,
    lip: torch.Tensor,
    audio: np.ndarray,
    net: SyncNet,
    frames: int,
    device: Device,
    batch_size: int = 20,
    vshift: int = 15,
) -> LseResult:
    """LSE from the lip embeddings of a ``frames``-frame clip (at least its first n windows) and its audio."""
    _check_audio(audio)
    n = window_count(frames=frames, samples=len(audio))
    if n < 1:
        raise ValueError(f"clip too short for SyncNet: {frames} frames, {len(audio)} samples (6 frames needed)")
    if len(lip) < n:
        raise ValueError(f"{len(lip)} lip embeddings for {n} windows")
    aud = audio_embeddings(net, audio, n=n, batch_size=batch_size, device=device)
    return lse_from_embeddings(lip[:n], aud, vshift=vshift)


def score_lse(
    *,
    crops: np.ndarray,
    audio: np.ndarray,
    net: SyncNet,
    device: Device,
    batch_size: int = 20,
    vshift: int = 15,
) -> LseResult:
    """LSE of one face track: ``crops`` uint8 ``(T, 224, 224, 3)`` BGR at 25 fps, ``audio`` int16 16 kHz mono.

    The clip needs at least 6 frames and 6 * 640 samples (the reference fails on fewer).
    """
    if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[1:] != (224, 224, 3):
        raise ValueError(f"crops must be uint8 (T, 224, 224, 3), got {crops.dtype} {crops.shape}")
    _check_audio(audio)
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    n = window_count(frames=len(crops), samples=len(audio))
    if n < 1:
        raise ValueError(f"clip too short for SyncNet: {len(crops)} frames, {len(audio)} samples (6 frames needed)")
    net.eval()
    lip = lip_embeddings(net, crops, n=n, batch_size=batch_size, device=device)
    return score_embeddings(
        lip=lip, audio=audio, net=net, frames=len(crops), device=device, batch_size=batch_size, vshift=vshift
    )
