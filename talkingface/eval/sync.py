"""LSE-C and LSE-D as a metric of the scorer: SyncNet on the prediction's own frames at 25 fps and its audio.

LSE looks at one video, not at the ground truth, so it decodes the prediction itself, at its own size: the aligned
batches the scorer hands out are resized to the ground truth's. Two face crops, always named in the output:

- ``s3fd`` (default): syncnet_python's pipeline (S3FD at scale 0.25, one face track, crop scale 0.4), which needs
  ``sfd_face.pth``; the prediction is decoded twice (detect, then crop), so memory stays flat;
- ``full``: the whole frame resized to 224x224, as Wav2Lip scores already face-centred LRS clips; no detector.

Lip embeddings are computed while frames stream past (4 frames of overlap carried between batches), so memory does
not grow with the length of the video.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Dict, List, Optional

import numpy as np

from ..core.errors import TalkingfaceError
from . import assets
from .deep import sha256s
from .frames import stream
from .metric import Clip, Metric, Outcome
from .prefetch import Prefetch

FPS = Fraction(25)
_POOL: Optional[ThreadPoolExecutor] = None


def _threads() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1))
    return _POOL


MIN_TRACK = 100  # run_pipeline.py's min_track


def read_audio(path: str) -> np.ndarray:
    """16 kHz mono int16 samples, as syncnet_python's ``ffmpeg -async 1 -ac 1 -vn -acodec pcm_s16le -ar 16000``."""
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-async", "1", "-ac", "1", "-vn"]
    command += ["-acodec", "pcm_s16le", "-ar", "16000", "-f", "s16le", "-"]
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        reason = (done.stderr.decode(errors="replace").strip().splitlines() or ["no audio stream"])[-1]
        raise TalkingfaceError(
            f"cannot read audio for LSE from {path}: {reason}", fix="pass --audio with the driving speech"
        )
    return np.frombuffer(done.stdout, dtype="<i2").astype(np.int16)


class LipStream:
    """SyncNet lip embeddings of every 5-frame window, fed batches of 224x224 BGR crops in order."""

    def __init__(self, net, device: str, *, batch: int) -> None:
        self.net, self.device, self.batch = net, device, batch
        self.carry: Optional[np.ndarray] = None
        self.embeddings: List = []
        self.frames = 0

    def add(self, crops: np.ndarray) -> None:
        from .lse import lip_embeddings
        from .syncnet_net import LIP_WINDOW

        self.frames += len(crops)
        buffer = crops if self.carry is None else np.concatenate([self.carry, crops])
        windows = len(buffer) - (LIP_WINDOW - 1)
        if windows > 0:
            self.embeddings.append(
                lip_embeddings(self.net, buffer, n=windows, batch_size=self.batch, device=self.device)
            )
        self.carry = buffer[-(LIP_WINDOW - 1) :].copy()

    def all(self):
        import torch

        return torch.cat(self.embeddings) if self.embeddings else torch.zeros((0, 1024))


class Lse(Metric):
    name = "lse"

    def __init__(self, *, weights_dir: str, device: str, crop: str) -> None:
        from .syncnet_net import load_syncnet

        path = assets.locate_network(assets.SYNCNET, weights_dir, metric=self.name)
        self.device, self.crop = device, crop
        self.net = load_syncnet(path=path, device=device)
        self.detector = None
        files = [path]
        if crop == "s3fd":
            from .s3fd_net import load_s3fd

            detector = assets.locate_network(assets.S3FD, weights_dir, metric=f"{self.name} (--lse_crop s3fd)")
            self.detector = load_s3fd(path=detector, device=device)
            files.append(detector)
        self._weights = sha256s(*files)
        self.convention = (
            "syncnet_python SyncNetInstance.evaluate: 5-frame windows at 25 fps, MFCC (python_speech_features "
            "defaults) of 16 kHz int16 audio, offsets -15..15; LSE-D = min over offsets of the mean distance, "
            "LSE-C = median - min; crop: "
            + (
                "S3FD (scale 0.25, conf 0.9), one face track, crop scale 0.4, 224x224"
                if crop == "s3fd"
                else "whole frame resized to 224x224 (no face detection)"
            )
        )
        self.clip: Optional[Clip] = None

    def weights(self) -> Dict[str, str]:
        return self._weights

    def start(self, clip: Clip) -> None:
        self.clip = clip
        # When the scorer's prediction batches are the prediction's own frames (same size as the ground truth, and
        # 25 fps), the full-frame crop is fed from them and nothing is decoded twice.
        native = (clip.pred.width, clip.pred.height) == (clip.gt.width, clip.gt.height) and clip.pred.fps == FPS
        self.fed: Optional[LipStream] = (
            LipStream(self.net, self.device, batch=clip.batch) if native and self.crop == "full" else None
        )

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        if self.fed is not None:
            self.fed.add(self._resized(pred))

    def _resized(self, frames: np.ndarray) -> np.ndarray:
        """224x224 BGR, with OpenCV's bilinear resize as Wav2Lip's scoring does (threads: cv2 releases the GIL)."""
        from .s3fd_net import cv2_module

        cv2 = cv2_module()
        return np.stack(list(_threads().map(lambda f: cv2.resize(f[:, :, ::-1], (224, 224)), frames)))

    def finish(self) -> Outcome:
        from .lse import score_embeddings

        assert self.clip is not None  # noqa: S101 - start() always comes first
        clip = self.clip
        audio = read_audio(clip.audio or clip.pred.path)
        notes = []
        if clip.pred.fps != FPS:
            notes.append(f"LSE: resampled from {float(clip.pred.fps):g} to 25 fps (SyncNet's rate)")
        lips = LipStream(self.net, self.device, batch=clip.batch)
        if self.fed is not None and clip.pred.frames is not None and self.fed.frames >= clip.pred.frames:
            lips = self.fed
        elif self.crop == "full":
            # The ground truth was shorter (or the sizes differ): the prediction is decoded again, all of it.
            for frames in Prefetch(stream(clip.pred, batch=clip.batch, fps=FPS)):
                lips.add(self._resized(frames))
        else:
            track = self._track(clip)
            if track is None:
                return Outcome(
                    notes=[
                        *notes,
                        f"LSE not computed: no face track of more than {MIN_TRACK} frames with faces over 100 px "
                        "(syncnet_python's rules); --lse_crop full scores the whole frame",
                    ]
                )
            self._crop(clip, track, lips)
        vshift = 15
        try:
            result = score_embeddings(lip=lips.all(), audio=audio, net=self.net, frames=lips.frames, device=self.device)
        except ValueError as exc:
            return Outcome(notes=[*notes, f"LSE not computed: {exc}"])
        return Outcome(
            values={"lse_c": result.confidence, "lse_d": result.min_distance},
            details={
                "lse": {
                    "offset": result.offset,
                    "crop": self.crop,
                    # syncnet_python's order: index k is offset vshift - k.
                    "offsets": [vshift - k for k in range(len(result.distances_by_offset))],
                    "distances_by_offset": result.distances_by_offset,
                }
            },
            notes=notes,
        )

    def _track(self, clip: Clip):
        from .facecrop import track_faces
        from .s3fd_net import detect

        detections = []
        for frames in Prefetch(stream(clip.pred, batch=clip.batch, fps=FPS)):
            detections += [detect(self.detector, np.ascontiguousarray(f[:, :, ::-1])) for f in frames]
        tracks = track_faces(detections, min_track=MIN_TRACK)
        # One talking head per render: the longest track is the speaker.
        return max(tracks, key=lambda t: len(t.frames)) if tracks else None

    def _crop(self, clip: Clip, track, lips: LipStream) -> None:
        from .facecrop import crop_track, smooth_track

        first, last = int(track.frames[0]), int(track.frames[-1])
        # Smoothing looks 6 frames ahead and behind: compute it over the whole track once, then slice per batch.
        windows = smooth_track(track.boxes)
        index = 0
        for frames in Prefetch(stream(clip.pred, batch=clip.batch, fps=FPS)):
            lo, hi = max(first, index), min(last + 1, index + len(frames))
            if lo < hi:
                bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames[lo - index : hi - index]]
                lips.add(
                    crop_track(bgr, track.boxes[lo - first : hi - first], smoothed=windows[lo - first : hi - first])
                )
            index += len(frames)
