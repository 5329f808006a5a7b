"""MFCCs exactly as ``python_speech_features.mfcc(signal, samplerate)`` computes them with its defaults (0.6).

SyncNet's audio branch was trained on these features, so LSE needs them bit for bit, not "an MFCC": 25 ms
rectangular frames every 10 ms (rounded half up to whole samples), the last frame zero-padded, pre-emphasis 0.97
on the unframed signal, ``|rfft(frame, 512)|^2 / 512``, 26 triangular mel filters over 0..sr/2 whose edges are
whole FFT bins ``floor(513 * hz / sr)``, log, orthonormal DCT-II, 13 coefficients, sinusoidal lifter 22, and c0
replaced by the log of the frame's total power. Zero energies are replaced by float64 eps before the log, as
the library does. The arithmetic follows the library's order so results agree to rounding.
"""

from __future__ import annotations

import decimal
import math
from functools import lru_cache

import numpy as np
from scipy.fft import dct

WINLEN, WINSTEP = 0.025, 0.01
NUMCEP, NFILT, NFFT = 13, 26, 512
PREEMPH, CEPLIFTER = 0.97, 22


def _round_half_up(x: float) -> int:
    # The library rounds the exact binary value of winlen * samplerate through Decimal; float tricks such as
    # floor(x + 0.5) can differ by one sample at .5 boundaries.
    return int(decimal.Decimal(x).quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP))


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595 * np.log10(1 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700 * (10 ** (mel / 2595.0) - 1)


@lru_cache(maxsize=8)
def mel_filterbank(samplerate: float) -> np.ndarray:
    """The (26, 257) triangular filters, edges snapped to FFT bins; cached because it only depends on the rate."""
    mels = np.linspace(_hz_to_mel(0), _hz_to_mel(samplerate / 2), NFILT + 2)
    edges = np.floor((NFFT + 1) * _mel_to_hz(mels) / samplerate)
    bank = np.zeros((NFILT, NFFT // 2 + 1))
    bins = np.arange(NFFT // 2 + 1, dtype=np.float64)
    for j in range(NFILT):
        lo, mid, hi = edges[j], edges[j + 1], edges[j + 2]
        # Empty ranges (two equal edges at low rates) must leave zeros, never divide by zero.
        rise = (bins >= lo) & (bins < mid)
        fall = (bins >= mid) & (bins < hi)
        bank[j, rise] = (bins[rise] - lo) / (mid - lo)
        bank[j, fall] = (hi - bins[fall]) / (hi - mid)
    bank.setflags(write=False)
    return bank


def frame_count(n_samples: int, samplerate: float) -> int:
    """Number of MFCC frames for ``n_samples`` (always at least one: short signals are zero-padded)."""
    frame_len, frame_step = _round_half_up(WINLEN * samplerate), _round_half_up(WINSTEP * samplerate)
    if n_samples <= frame_len:
        return 1
    return 1 + int(math.ceil((1.0 * n_samples - frame_len) / frame_step))


def mfcc(signal: np.ndarray, samplerate: float) -> np.ndarray:
    """MFCCs of a mono signal as float64 ``(n_frames, 13)``, one row per 10 ms.

    ``signal`` is used at its own scale (SyncNet feeds raw int16 values, not [-1, 1] floats).
    """
    x = np.asarray(signal)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"mfcc needs a non-empty 1-D signal, got shape {x.shape}")
    x = x.astype(np.float64)
    emphasised = np.concatenate((x[:1], x[1:] - PREEMPH * x[:-1]))

    frame_len, frame_step = _round_half_up(WINLEN * samplerate), _round_half_up(WINSTEP * samplerate)
    n_frames = frame_count(len(x), samplerate)
    padded = np.zeros((n_frames - 1) * frame_step + frame_len)
    padded[: len(x)] = emphasised
    starts = np.arange(n_frames) * frame_step
    frames = padded[starts[:, None] + np.arange(frame_len)[None, :]]

    # rfft with n=512 zero-pads (or, above 20 kHz, truncates) each frame, as the library's call does.
    power = 1.0 / NFFT * np.square(np.absolute(np.fft.rfft(frames, NFFT)))
    energy = np.sum(power, 1)
    energy = np.where(energy == 0, np.finfo(float).eps, energy)
    feat = np.dot(power, mel_filterbank(float(samplerate)).T)
    feat = np.where(feat == 0, np.finfo(float).eps, feat)

    ceps = dct(np.log(feat), type=2, axis=1, norm="ortho")[:, :NUMCEP]
    ceps = (1 + (CEPLIFTER / 2.0) * np.sin(np.pi * np.arange(NUMCEP) / CEPLIFTER)) * ceps
    ceps[:, 0] = np.log(energy)
    return ceps
