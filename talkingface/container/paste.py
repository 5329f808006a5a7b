"""Paste a rendered 512x512 face crop back into the original full frame: masks, colour matching, the seam metric,
and the background frames in the order the renderer used them, read with memory bounded by a few frames.

Everything here works on one frame at a time (BGR uint8, as ffmpeg's ``bgr24`` gives them); the step
``talkingface.container.steps.paste_back`` streams a whole video through it.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import subprocess
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..core.errors import TalkingfaceError, ffmpeg_failed
from ..prep.decode import FPS, batches
from .media import tool

# Parsing colours of the AD-NeRF lineage's face parser, as cv2.imread gives them (BGR; process.py tests the same
# values): the head and the neck move with the rendered face; the torso and the background stay the original's.
HEAD_BGR = (255, 0, 0)
NECK_BGR = (0, 255, 0)
# A parsing mask covering less of the crop than this is no face mask (a placeholder, a failed parse): the box is used.
MIN_FACE_FRACTION = 0.01
# Margins in pixels of the 512x512 render: the mouth opens below the original frame's jaw line, so the face mask
# grows by this much before it is feathered.
MASK_GROW = 16
FEATHER = 12
# Colour-match gains outside this range mean the statistics compare unlike things (an occluded band): clamp them.
GAIN_RANGE = (0.67, 1.5)
# Per-frame statistics flicker; each frame moves the correction only this far towards its own estimate.
MATCH_MOMENTUM = 0.85


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    size: int


@dataclass(frozen=True)
class CropBoxes:
    boxes: Tuple[Box, ...]
    width: int
    height: int


def read_crop_boxes(path: str) -> CropBoxes:
    """``crop_boxes.csv`` as check-input wrote it: one row per 25 fps frame of the training video."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        boxes = tuple(Box(int(r["x"]), int(r["y"]), int(r["size"])) for r in rows)
        width, height = int(rows[0]["source_width"]), int(rows[0]["source_height"])
    except FileNotFoundError:
        raise TalkingfaceError(
            f"there are no crop boxes ({path})",
            fix="run the check verb on the training video with the same --task: it writes them",
        ) from None
    except (OSError, KeyError, ValueError, IndexError) as exc:
        raise TalkingfaceError(
            f"{path} is unreadable ({exc})", fix="run the check verb on the training video with the same --task"
        ) from None
    return CropBoxes(boxes=boxes, width=width, height=height)


# -- which dataset frame each rendered frame shows -------------------------------------------------------------


def mirror(index: int, count: int) -> int:
    """ER-NeRF's replay of ``count`` poses for a longer audio: forwards, backwards, forwards (ends shown twice)."""
    turn, rest = divmod(index, count)
    return rest if turn % 2 == 0 else count - rest - 1


def pose_ids(path: str) -> List[int]:
    """Dataset frame numbers in a pose list: a transforms_*.json (``frames[].img_id``) or a JSON list of them."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        frames = data["frames"] if isinstance(data, dict) else data
        return [int(f["img_id"]) if isinstance(f, dict) else int(f) for f in frames]
    except FileNotFoundError:
        raise TalkingfaceError(
            f"the render's pose list {path} does not exist",
            fix="paste back a result that infer wrote, under the name it gave it, or run that infer again",
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TalkingfaceError(f"cannot read the pose list {path}: {exc}", fix="run infer again") from None


def frame_order(path: str, order: str, count: int) -> List[int]:
    """The dataset frame behind each of ``count`` rendered frames."""
    ids = pose_ids(path)
    if not ids:
        raise TalkingfaceError(f"the pose list {path} is empty", fix="run preprocess and infer again")
    if order == "mirror":
        return [ids[mirror(i, len(ids))] for i in range(count)]
    if count > len(ids):
        raise TalkingfaceError(
            f"the result has {count} frames, but the render it should come from used {len(ids)} poses ({path})",
            fix="pass a result of this task that infer wrote, or run infer again",
        )
    return ids[:count]


# -- masks, colour, seams -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def ramp(size: int, feather: float) -> np.ndarray:
    """0 at the outermost pixel, rising smoothly to 1 ``feather`` pixels in, along one side of length ``size``."""
    edge = np.minimum(np.arange(size), np.arange(size)[::-1]).astype(np.float32)
    t = np.clip(edge / max(feather, 1.0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


@functools.lru_cache(maxsize=8)
def box_alpha(size: int, feather: float) -> np.ndarray:
    line = ramp(size, feather)
    return np.minimum.outer(line, line)


# Masks are shaped at a quarter of the render's size: they are feathered over more than that anyway, and it is
# 16 times less work per frame.
MASK_SCALE = 4


def face_alpha(parsing: Optional[np.ndarray], size: int) -> Optional[np.ndarray]:
    """Head and neck of a parsing map (BGR, the render's size), grown and feathered; None when it has no face."""
    import cv2

    if parsing is None or parsing.shape[:2] != (size, size):
        return None
    side = max(8, size // MASK_SCALE)
    small = cv2.resize(parsing, (side, side), interpolation=cv2.INTER_NEAREST)
    face = np.zeros((side, side), np.uint8)
    for colour in (HEAD_BGR, NECK_BGR):
        low = np.clip(np.array(colour) - 60, 0, 255)
        face |= cv2.inRange(small, low, np.clip(np.array(colour) + 60, 0, 255))
    if np.count_nonzero(face) < MIN_FACE_FRACTION * face.size:
        return None
    grow = MASK_GROW // MASK_SCALE
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    soft = cv2.GaussianBlur(cv2.dilate(face, kernel).astype(np.float32) / 255.0, (0, 0), FEATHER / 2 / MASK_SCALE)
    return np.minimum(cv2.resize(soft, (size, size), interpolation=cv2.INTER_LINEAR), box_alpha(size, FEATHER))


@functools.lru_cache(maxsize=8)
def _bands(size: int) -> Tuple[np.ndarray, np.ndarray]:
    line = ramp(size, 3 * FEATHER)
    inside = box_alpha(size, FEATHER) >= 0.999
    return inside, inside & (np.minimum.outer(line, line) < 1.0)


def stats_region(alpha: np.ndarray) -> np.ndarray:
    """Where the render should show what the original shows (background, torso): colour is compared there."""
    inside, band = _bands(alpha.shape[0])
    region = inside & (alpha < 0.05)
    return region if np.count_nonzero(region) > 0.02 * region.size else band


class ColourMatch:
    """Per-channel gain and offset taking the render's colours to the original's, smoothed over frames."""

    def __init__(self) -> None:
        self.gain: Optional[np.ndarray] = None
        self.offset: Optional[np.ndarray] = None

    def update(self, rendered: np.ndarray, original: np.ndarray) -> np.ndarray:
        """Fit on corresponding pixels (N x 3 each); return the lookup table (1 x 256 x 3) that applies the fit."""
        r = rendered.reshape(-1, 3).astype(np.float32)
        o = original.reshape(-1, 3).astype(np.float32)
        gain = np.clip(o.std(0) / np.maximum(r.std(0), 1.0), *GAIN_RANGE)
        offset = o.mean(0) - gain * r.mean(0)
        if self.gain is None or self.offset is None:
            self.gain, self.offset = gain, offset
        else:
            self.gain = MATCH_MOMENTUM * self.gain + (1 - MATCH_MOMENTUM) * gain
            self.offset = MATCH_MOMENTUM * self.offset + (1 - MATCH_MOMENTUM) * offset
        levels = np.arange(256, dtype=np.float32)[:, None]
        return np.clip(levels * self.gain + self.offset + 0.5, 0, 255).astype(np.uint8)[None]


def seam(frame: np.ndarray, box: Box) -> float:
    """Mean absolute difference across the box's edge: its outermost pixels against their neighbours outside.

    Sides on the frame's border have no outside and are left out; NaN when no side has one.
    """
    x, y, s = box.x, box.y, box.size
    h, w = frame.shape[:2]
    pairs = []
    if y > 0:
        pairs.append((frame[y, x : x + s], frame[y - 1, x : x + s]))
    if y + s < h:
        pairs.append((frame[y + s - 1, x : x + s], frame[y + s, x : x + s]))
    if x > 0:
        pairs.append((frame[y : y + s, x], frame[y : y + s, x - 1]))
    if x + s < w:
        pairs.append((frame[y : y + s, x + s - 1], frame[y : y + s, x + s]))
    if not pairs:
        return float("nan")
    diffs = [np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() for a, b in pairs]
    sizes = [a.size for a, _ in pairs]
    return float(np.average(diffs, weights=sizes))


class Paster:
    """One rendered crop into one background frame. ``hard``: a plain paste with neither feather nor colour match,
    the figure the seam is measured against."""

    def __init__(self, *, hard: bool = False, colour: bool = True) -> None:
        self.hard = hard
        self.match = ColourMatch() if colour else None
        self.box_alphas: Dict[int, np.ndarray] = {}

    def alpha(self, parsing: Optional[np.ndarray], render_size: int) -> np.ndarray:
        face = None if self.hard else face_alpha(parsing, render_size)
        if face is not None:
            return face
        if render_size not in self.box_alphas:
            feather = 0 if self.hard else FEATHER
            self.box_alphas[render_size] = (
                np.ones((render_size, render_size), np.float32) if self.hard else box_alpha(render_size, feather)
            )
        return self.box_alphas[render_size]

    def __call__(
        self, background: np.ndarray, rendered: np.ndarray, box: Box, parsing: Optional[np.ndarray] = None
    ) -> np.ndarray:
        import cv2

        out = np.array(background, copy=True)
        n = rendered.shape[0]
        alpha = self.alpha(parsing, n)
        crop = out[box.y : box.y + box.size, box.x : box.x + box.size]
        if self.match is not None:
            # Statistics at a quarter of the size: the same means and spreads, for a sixteenth of the work.
            side = max(8, n // MASK_SCALE)
            region = cv2.resize(stats_region(alpha).astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)
            small = region.astype(bool)
            original = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
            mine = cv2.resize(rendered, (side, side), interpolation=cv2.INTER_AREA)
            rendered = cv2.LUT(rendered, self.match.update(mine[small], original[small]))
        grow = box.size >= n
        scaled = cv2.resize(rendered, (box.size, box.size), interpolation=cv2.INTER_CUBIC if grow else cv2.INTER_AREA)
        if self.hard:
            crop[:] = scaled
            return out
        weight = cv2.resize(alpha, (box.size, box.size), interpolation=cv2.INTER_LINEAR)
        crop[:] = cv2.blendLinear(scaled, crop, weight, 1.0 - weight)
        return out


# -- background frames in any order ---------------------------------------------------------------------------


def spool_window(width: int, height: int, budget: int = 96 << 20) -> int:
    """Frames held at once when the order runs backwards: a few, fewer the larger they are."""
    return int(min(12, max(2, budget // (width * height * 3))))


class Background:
    """The background's frames by 25 fps frame number, served in any order with at most ``window`` frames held.

    A non-decreasing order is read straight from the video. An order that runs backwards (ping-pong) first copies
    the frames it visits into ``spool``, an H.264 file with a keyframe every ``window`` frames, so that reading a
    window backwards costs one short decode and not one from the source's previous keyframe (often 10 s away).
    """

    def __init__(self, path: str, width: int, height: int, order: Sequence[int], spool: str) -> None:
        self.path, self.width, self.height = path, width, height
        self.lo, self.hi = min(order), max(order)
        self.window = spool_window(width, height)
        self.backwards = any(b < a for a, b in zip(order, order[1:]))
        self.spool = spool if self.backwards else None
        self.reader: Optional[Iterator[Tuple[int, np.ndarray]]] = None
        self.next = -1
        self.cache: Dict[int, np.ndarray] = {}
        self.last = -1

    def __enter__(self) -> Background:
        if self.spool is not None:
            self._write_spool()
        else:
            self._open(self.path, 0, f"fps={FPS}", skip_to=self.lo)
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()
        if self.spool is not None and os.path.exists(self.spool):
            os.unlink(self.spool)

    def _write_spool(self) -> None:
        assert self.spool is not None  # noqa: S101 - only called with a spool
        count = self.hi - self.lo + 1
        chain = f"fps={FPS},select='between(n\\,{self.lo}\\,{self.hi})',setpts=N/{FPS}/TB"
        gop = f"keyint={self.window}:min-keyint={self.window}:scenecut=0:bframes=0"
        argv = [tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-i", self.path, "-an", "-sn", "-dn"]
        argv += ["-vf", chain, "-frames:v", str(count), "-r", str(FPS), "-c:v", "libx264", "-preset", "ultrafast"]
        argv += ["-crf", "8", "-x264-params", gop, "-pix_fmt", "yuv420p", "-f", "matroska", self.spool]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            raise ffmpeg_failed(f"copy the background frames {self.lo}-{self.hi}", reason, fix="see the step log")

    def _open(self, path: str, start: int, filters: str, *, skip_to: int = 0, frames: int = 0) -> None:
        self._close()
        seconds = (start - 0.25) / FPS if start > 0 else 0.0
        self.reader = batches(
            path, filters=filters, width=self.width, height=self.height, pix_fmt="bgr24", batch=1,
            start=seconds, frames=frames,
        )  # fmt: skip
        self.next = start
        while self.next < skip_to:
            self._read()

    def _read(self) -> np.ndarray:
        assert self.reader is not None  # noqa: S101 - opened before reading
        try:
            _, frames = next(self.reader)
        except StopIteration:
            raise TalkingfaceError(
                f"the background {self.path} ends before frame {self.next}",
                fix="pass the training video itself as --background",
            ) from None
        self.next += 1
        return frames[0]

    def _close(self) -> None:
        if self.reader is not None:
            self.reader.close()  # type: ignore[attr-defined]
            self.reader = None

    def frame(self, index: int) -> np.ndarray:
        if index in self.cache:
            frame = self.cache[index]
        elif self.spool is None:
            if index < self.next:
                raise ValueError(f"frame {index} requested after {self.next - 1} without a spool")
            while self.next < index:
                self._read()
            frame = self._read()
            self.cache = {index: frame}
        elif index < self.last:
            # Backwards: decode the spool's GOP holding ``index`` into the cache, then serve it from there.
            start = self.lo + (index - self.lo) // self.window * self.window
            self._open(self.spool, start - self.lo, "null", frames=index - start + 1)
            self.cache = {start + k: self._read() for k in range(index - start + 1)}
            self._close()
            frame = self.cache[index]
        else:
            if self.reader is None or self.next != index - self.lo:
                self._open(self.spool, index - self.lo, "null")
            frame = self._read()
            self.cache = {index: frame}
        self.last = index
        return frame
