"""The bundled sample clip: a talking, blinking astronaut with espeak-ng speech, and its ground truth.

``python -m talkingface.demo.sample_clip --out samples/sample.mp4`` writes the mp4 and
``samples/sample.mp4.truth.json``: ``fps``, ``frames``, ``size``, ``seed``, ``sample_rate``, per-frame ``mouth_open``
and ``blink`` (eyelid closure), both 0..1, ``face_box`` (x0, y0, x1, y1 of the face in the unmoved photo, in output
pixels) and per-frame ``face_boxes`` (the same box carried by the head jitter). Same arguments give a byte-identical
mp4 on one machine. It needs numpy, OpenCV, scikit-image, ffmpeg and espeak-ng; never dlib or a network.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..core.atomic import replacing

FPS = 25
SAMPLE_RATE = 16000  # what the models' audio encoders (DeepSpeech, HuBERT, wav2vec) consume
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS
BASE = 512

# The Rainbow Passage (Fairbanks, 1960), the usual phonetically balanced reading text; 30.8 s at this speed.
SPEECH_TEXT = (
    "When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. "
    "The rainbow is a division of white light into many beautiful colors. "
    "These take the shape of a long round arch, with its path high above, and its two ends apparently beyond "
    "the horizon. There is, according to legend, a boiling pot of gold at one end. "
    "People look, but no one ever finds it. When a man looks for something beyond his reach, his friends say he "
    "is looking for the pot of gold at the end of the rainbow."
)
ESPEAK_ARGS = ("-v", "en-us", "-s", "160", "-p", "50", "-a", "100")

# Found once on skimage.data.astronaut() with dlib 19.24.6: get_frontal_face_detector() without upsampling (one face,
# score 1.53), then the 68-point shape_predictor of face-recognition-models 0.1.3. Points are (x, y) in the 512x512
# photo, numbered as in the 68-point layout. Hard-coded so that making the clip never needs dlib.
FACE_BOX = (179, 83, 266, 170)
OUTER_LIP = ((201, 139), (209, 139), (218, 139), (224, 141), (230, 140), (238, 140), (246, 141),
             (238, 151), (229, 155), (222, 156), (216, 155), (208, 150))  # 48-59  # fmt: skip
INNER_LIP = ((204, 141), (218, 143), (223, 144), (230, 143), (243, 142), (229, 150), (223, 151), (217, 150))  # 60-67
RIGHT_EYE = ((195, 101), (200, 98), (207, 98), (212, 104), (206, 104), (199, 104))  # 36-41, left in the image
LEFT_EYE = ((237, 106), (243, 100), (250, 100), (255, 105), (250, 107), (244, 107))  # 42-47
# The round mission patch on the suit: dlib's HOG detector scores it just around its threshold (-0.06 to +0.16 on
# jittered frames, with or without upsampling), so it flickers in as a second face. Blurred (sigma 4) it scores
# below -0.45 in every frame tried. Centre and radii in the photo, read off the image.
PATCH_ELLIPSE = ((170, 385), (45, 42))

BLINK_PROFILE = (0.3, 0.7, 1.0, 1.0, 0.7, 0.35)  # eyelid closure per frame: ~240 ms, a typical blink
BLINK_INTERVAL_S = (2.5, 5.0)
SUBPIXEL_BITS = 4  # OpenCV's `shift`: draw at 1/16 px so the mouth height changes smoothly, not in whole pixels


@dataclass(frozen=True)
class Truth:
    """What the clip shows, frame by frame: the ground truth tests compare detectors against."""

    fps: int
    size: int
    seed: int
    mouth_open: List[float]
    blink: List[float]
    face_boxes: List[Tuple[float, float, float, float]]

    @property
    def frames(self) -> int:
        return len(self.mouth_open)

    def to_json(self) -> str:
        scale = self.size / BASE
        doc = {
            "fps": self.fps,
            "frames": self.frames,
            "size": self.size,
            "seed": self.seed,
            "sample_rate": SAMPLE_RATE,
            "face_box": [round(v * scale, 1) for v in FACE_BOX],
            "mouth_open": self.mouth_open,
            "blink": self.blink,
            "face_boxes": [list(b) for b in self.face_boxes],
        }
        return json.dumps(doc, indent=None, separators=(",", ":")) + "\n"


def _run(argv: Sequence[str], *, what: str) -> bytes:
    done = subprocess.run(list(argv), capture_output=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"{what} failed (exit {done.returncode}): {' / '.join(tail)}")
    return done.stdout


def _require(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        raise RuntimeError(f"{tool} is not installed; fix: apt-get install {tool} (or `make media-tools`)")
    return exe


def passage() -> np.ndarray:
    """The passage read once by espeak-ng, as 16 kHz mono int16."""
    with tempfile.TemporaryDirectory(prefix="talkingface-speech-") as tmp:
        wav = Path(tmp) / "speech.wav"
        _run([_require("espeak-ng"), *ESPEAK_ARGS, "-w", str(wav), SPEECH_TEXT], what="espeak-ng")
        raw = _run(
            [_require("ffmpeg"), "-nostdin", "-v", "error", "-i", str(wav), "-ac", "1", "-ar", str(SAMPLE_RATE),
             "-f", "s16le", "-"],
            what="ffmpeg (resampling the speech)",
        )  # fmt: skip
    return np.frombuffer(raw, dtype="<i2")


def speech(*, seconds: float, once: Optional[np.ndarray] = None) -> np.ndarray:
    """The passage repeated to exactly ``seconds``, rounded to whole 40 ms frames."""
    once = passage() if once is None else once
    total = frame_count(seconds) * SAMPLES_PER_FRAME
    return np.resize(once, total) if total else once[:0]


def frame_count(seconds: float) -> int:
    return max(0, int(round(seconds * FPS)))


def _frame_rms(pcm: np.ndarray) -> np.ndarray:
    frames = pcm[: len(pcm) // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME].astype(np.float64) / 32768.0
    return np.sqrt(np.mean(frames.reshape(-1, SAMPLES_PER_FRAME) ** 2, axis=1))


def mouth_openness(pcm: np.ndarray, *, reference: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-frame openness 0..1 from the speech energy of each 40 ms frame.

    Normalised by the loud frames of ``reference`` (the passage once) so that the first seconds of a short and a
    long clip open the mouth alike. The power below 1 keeps quieter consonants visible; the 3-tap smoothing keeps
    the jaw from moving faster than a jaw does.
    """
    rms = _frame_rms(pcm)
    ref = _frame_rms(reference if reference is not None else pcm)
    loud = float(np.percentile(ref, 95)) if ref.size else 1.0
    level = np.clip(rms / max(loud, 1e-9), 0.0, 1.0)
    level[level < 0.08] = 0.0  # pauses between words: mouth closed, not ajar with background hiss
    openness = level**0.75
    if openness.size >= 3:
        padded = np.pad(openness, 1, mode="edge")
        openness = 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]
    return np.round(openness, 4)


def blink_closure(frames: int, *, rng: np.random.Generator) -> np.ndarray:
    """Per-frame eyelid closure 0..1: a blink every 2.5 to 5 s (seeded), each closing over a few frames."""
    closure = np.zeros(frames)
    t = rng.uniform(*BLINK_INTERVAL_S)
    while True:
        start = int(round(t * FPS))
        if start + len(BLINK_PROFILE) > frames:
            break
        closure[start : start + len(BLINK_PROFILE)] = BLINK_PROFILE
        t += rng.uniform(*BLINK_INTERVAL_S)
    return closure


def jitter(frames: int, *, rng: np.random.Generator) -> np.ndarray:
    """Per-frame 2x3 similarity matrices about the face: slow sway (a few sinusoids) plus a little tremor.

    Amplitudes: about 1.5 degrees, 1.5 % scale and 4 px at 512, small enough that a face detector never loses the
    face, large enough that nothing can treat the clip as a still image.
    """
    t = np.arange(frames) / FPS
    amplitude = {"angle": 1.5, "scale": 0.015, "dx": 4.0, "dy": 3.0}
    params = {}
    for name, amp in amplitude.items():
        freqs = rng.uniform(0.08, 0.6, size=3)
        phases = rng.uniform(0, 2 * np.pi, size=3)
        sway = np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None]).sum(axis=0) / 3
        params[name] = amp * (sway + 0.08 * rng.standard_normal(frames))
    cx, cy = (FACE_BOX[0] + FACE_BOX[2]) / 2, (FACE_BOX[1] + FACE_BOX[3]) / 2
    out = np.empty((frames, 2, 3))
    for i in range(frames):
        m = cv2.getRotationMatrix2D((cx, cy), params["angle"][i], 1.0 + params["scale"][i])
        m[:, 2] += (params["dx"][i], params["dy"][i])
        out[i] = m
    return out


def _box_after(matrix: np.ndarray, *, scale: float) -> Tuple[float, float, float, float]:
    x0, y0, x1, y1 = FACE_BOX
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], dtype=np.float64)
    moved = corners @ matrix.T * scale
    lo, hi = moved.min(axis=0), moved.max(axis=0)
    return (round(lo[0], 1), round(lo[1], 1), round(hi[0], 1), round(hi[1], 1))


def _fixed(points: Iterable[Tuple[float, float]]) -> np.ndarray:
    return np.round(np.asarray(list(points), dtype=np.float64) * (1 << SUBPIXEL_BITS)).astype(np.int32)


def _median_colour(image: np.ndarray, polygon: np.ndarray) -> Tuple[int, int, int]:
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [polygon.astype(np.int32)], 255)
    return tuple(int(c) for c in np.median(image[mask > 0], axis=0))  # type: ignore[return-value]


EYES = {"right": RIGHT_EYE, "left": LEFT_EYE}


def _lid_colour(photo: np.ndarray, eye: np.ndarray) -> Tuple[int, int, int]:
    # The skin just above the eye is in the crease's shadow and the cheek below is lit: a closed lid lies between.
    above = _median_colour(photo, eye[[0, 1, 2, 3]] - (0, 6))
    below = _median_colour(photo, eye[[0, 1, 2, 3]] + (0, 9))
    return tuple(int(round((a + b) / 2)) for a, b in zip(above, below))  # type: ignore[return-value]


def _blur_patch(photo: np.ndarray) -> np.ndarray:
    mask = np.zeros(photo.shape[:2], np.float32)
    cv2.ellipse(mask, PATCH_ELLIPSE[0], PATCH_ELLIPSE[1], 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 3)[..., None]
    blurred = cv2.GaussianBlur(photo, (0, 0), 4)
    return np.round(photo * (1 - mask) + blurred * mask).astype(np.uint8)


class Face:
    """The astronaut with her teeth hidden, and the mouth and eyelids drawn per frame."""

    def __init__(self) -> None:
        from skimage import data  # imported here so that `--help` does not pay for scikit-image

        photo = np.ascontiguousarray(data.astronaut())
        outer, inner = np.array(OUTER_LIP, float), np.array(INNER_LIP, float)
        lower_lip = np.vstack([outer[6:12], inner[[7, 6, 5]]])
        self.lip = _median_colour(photo, lower_lip)
        self.lip_dark = tuple(int(c * 0.55) for c in self.lip)
        self.skin = {name: _lid_colour(photo, np.array(eye, float)) for name, eye in EYES.items()}
        self.base = _blur_patch(photo)
        # The photo smiles with open teeth, which every lip detector reads as an open mouth; a closed lip-coloured
        # mouth is the neutral pose the drawn opening starts from.
        cv2.fillPoly(self.base, [_fixed(outer)], self.lip, cv2.LINE_AA, SUBPIXEL_BITS)
        self.mouth_centre = inner.mean(axis=0)
        self.mouth_half_width = (inner[4, 0] - inner[0, 0]) / 2

    def draw(self, *, openness: float, closure: float) -> np.ndarray:
        frame = self.base.copy()
        self._mouth(frame, openness)
        for name, eye in EYES.items():
            self._eyelid(frame, np.array(eye, float), closure, self.skin[name])
        return frame

    def _mouth(self, frame: np.ndarray, openness: float) -> None:
        cx, cy = self.mouth_centre
        drop = 2.0 * openness  # the lower lip follows the jaw down
        half_w = self.mouth_half_width * (0.85 + 0.1 * openness)
        lip_axes = (half_w + 6.0, 6.5 + 3.5 * openness)
        centre = _pt(cx, cy + drop / 2)
        cv2.ellipse(frame, centre, _pt(*lip_axes), 0, 0, 360, self.lip, -1, cv2.LINE_AA, SUBPIXEL_BITS)
        if openness <= 0.02:
            seam = _fixed([(cx - half_w, cy - 1), (cx, cy + 0.5), (cx + half_w, cy - 1)])
            cv2.polylines(frame, [seam], False, self.lip_dark, 1, cv2.LINE_AA, SUBPIXEL_BITS)
            return
        gap = (half_w, 0.8 + 6.0 * openness)
        cv2.ellipse(frame, centre, _pt(*gap), 0, 0, 360, (40, 12, 14), -1, cv2.LINE_AA, SUBPIXEL_BITS)

    @staticmethod
    def _eyelid(frame: np.ndarray, eye: np.ndarray, closure: float, skin: Tuple[int, int, int]) -> None:
        if closure <= 0.0:
            return
        upper = eye[[0, 1, 2, 3]]
        lower = eye[[0, 5, 4, 3]]
        edge = upper + closure * (lower - upper)
        # From above the lashes down to the lid edge, and a little past both corners so no outline shows through.
        top = upper - (0, 3.0) + ((-2.0, 0), (0, 0), (0, 0), (2.0, 0))
        lid = np.vstack([top, edge[::-1] + (0, 0.5)])
        cv2.fillPoly(frame, [_fixed(lid)], skin, cv2.LINE_AA, SUBPIXEL_BITS)
        lashes = tuple(int(c * 0.35) for c in skin)
        cv2.polylines(frame, [_fixed(edge)], False, lashes, 1, cv2.LINE_AA, SUBPIXEL_BITS)


def _pt(x: float, y: float) -> Tuple[int, int]:
    """A point or an ellipse's half-axes in OpenCV's fixed point (see SUBPIXEL_BITS)."""
    return (int(round(x * (1 << SUBPIXEL_BITS))), int(round(y * (1 << SUBPIXEL_BITS))))


def warp(frame: np.ndarray, matrix: np.ndarray, *, size: int) -> np.ndarray:
    """Apply the jitter and scale to ``size`` in one resampling when enlarging, two when shrinking."""
    if size > frame.shape[0]:
        scaled = matrix * (size / frame.shape[0])
        return cv2.warpAffine(frame, scaled, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
    moved = cv2.warpAffine(frame, matrix, frame.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return cv2.resize(moved, (size, size), interpolation=cv2.INTER_AREA)


def rgb_to_i420(rgb: np.ndarray) -> bytes:
    """BT.601 limited-range YUV 4:2:0 planes, with chroma averaged over each 2x2 block.

    Converted here, in integer arithmetic, rather than by ffmpeg's swscale, whose SIMD paths are not promised to
    round alike on every CPU; x264 then receives exactly these bytes. OpenCV's own I420 conversion gives the same
    luma but takes chroma from one pixel of four, which smears colour edges such as the lips.
    """
    h, w = rgb.shape[:2]
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)[:h]
    half = cv2.resize(rgb, (w // 2, h // 2), interpolation=cv2.INTER_AREA).astype(np.int32)
    r, g, b = half[..., 0], half[..., 1], half[..., 2]
    u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128
    v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128
    chroma = (np.clip(c, 0, 255).astype(np.uint8).tobytes() for c in (u, v))
    return luma.tobytes() + b"".join(chroma)


def write_wav(path: Path, pcm: np.ndarray) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.astype("<i2").tobytes())


BITEXACT_FLAGS = ("-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1")


def encode(
    out: Path,
    frames: Iterable[np.ndarray],
    *,
    width: int,
    height: int,
    pcm: Optional[np.ndarray],
    fps: int = FPS,
    preset: str = "veryfast",
    crf: int = 18,
) -> None:
    """Stream RGB frames into libx264 (yuv420p) with the 16 kHz ``pcm`` as AAC, bit-exact, straight to ``out``.

    The thread count is pinned because x264's output depends on it; with it fixed, same input gives same bytes.
    """
    with tempfile.TemporaryDirectory(prefix="talkingface-clip-") as tmp:
        audio_in: List[str] = []
        audio_out: List[str] = []
        if pcm is not None:
            wav = Path(tmp) / "speech.wav"
            write_wav(wav, pcm)
            audio_in = ["-i", str(wav)]
            audio_out = ["-map", "1:a", "-c:a", "aac", "-b:a", "96k"]
        argv = [
            _require("ffmpeg"), "-nostdin", "-v", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
            *audio_in, "-map", "0:v", *audio_out,
            "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-threads", "2", "-pix_fmt", "yuv420p",
            "-color_range", "tv", "-colorspace", "smpte170m", "-color_primaries", "smpte170m",
            "-color_trc", "smpte170m",
            *BITEXACT_FLAGS, "-f", "mp4", str(out),
        ]  # fmt: skip
        code, err = _feed(argv, (rgb_to_i420(frame) for frame in frames))
        if code != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"ffmpeg failed to encode {out.name} (exit {code}): {' / '.join(tail)}")


def _feed(argv: Sequence[str], chunks: Iterable[bytes]) -> Tuple[int, bytes]:
    """Run ``argv`` with ``chunks`` streamed to its stdin; return its exit status and stderr."""
    with tempfile.TemporaryFile() as errors:
        # stderr to a file, not a pipe: a chatty ffmpeg can never block on a pipe nobody reads while we write.
        proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stderr=errors)
        stdin = proc.stdin
        if stdin is None:
            raise RuntimeError("ffmpeg started without a stdin pipe")
        try:
            for chunk in chunks:
                stdin.write(chunk)
        except BrokenPipeError:
            pass  # ffmpeg quit early; its exit status and stderr say why
        except BaseException:
            proc.kill()  # the frames failed (or Ctrl-C): do not leave ffmpeg waiting for more
            raise
        finally:
            try:
                stdin.close()
            except BrokenPipeError:
                pass
            code = proc.wait()
        errors.seek(0)
        return code, errors.read()


def generate(out: os.PathLike, *, seconds: float = 12.0, size: int = 512, seed: int = 0) -> Truth:
    """Write the sample clip to ``out`` and its truth to ``<out>.truth.json``; return the truth.

    Both go through temporary names beside them; the truth is renamed first, so an mp4 under its final name always
    has its sidecar.
    """
    if size <= 0 or size % 2:
        raise ValueError(f"size must be a positive even number (yuv420p), not {size}")
    target = Path(out)
    n = frame_count(seconds)
    once = passage()
    pcm = speech(seconds=seconds, once=once)
    openness = mouth_openness(pcm, reference=once)
    rng = np.random.default_rng(seed)
    closure = blink_closure(n, rng=rng)
    moves = jitter(n, rng=rng)
    truth = Truth(
        fps=FPS,
        size=size,
        seed=seed,
        mouth_open=[float(v) for v in openness],
        blink=[float(v) for v in closure],
        face_boxes=[_box_after(m, scale=size / BASE) for m in moves],
    )
    face = Face()
    frames = (
        warp(face.draw(openness=float(openness[i]), closure=float(closure[i])), moves[i], size=size) for i in range(n)
    )
    with replacing(target) as tmp_mp4:
        encode(tmp_mp4, frames, width=size, height=size, pcm=pcm)
        with replacing(truth_path(target)) as tmp_json:
            tmp_json.write_text(truth.to_json())
    return truth


def truth_path(clip: os.PathLike) -> Path:
    return Path(f"{os.fspath(clip)}.truth.json")


def load_truth(clip: os.PathLike) -> dict:
    return json.loads(truth_path(clip).read_text())


def _even_size(text: str) -> int:
    value = int(text)
    if value < 64 or value % 2:
        raise argparse.ArgumentTypeError("must be an even number of pixels, at least 64 (H.264 yuv420p)")
    return value


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds")
    return value


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m talkingface.demo.sample_clip",
        description="Write the sample talking-head clip (astronaut photo, espeak-ng speech, energy-driven mouth, "
        "seeded blinks and head jitter; 25 fps H.264 yuv420p + AAC) and OUT.truth.json with the per-frame truth. "
        "Same arguments give the same bytes.",
    )
    parser.add_argument("--out", required=True, type=Path, help="the mp4 to write (its folder is created)")
    parser.add_argument("--seconds", type=_positive_seconds, default=12.0, help="length in seconds (default 12)")
    parser.add_argument("--size", type=_even_size, default=512, help="square output size in pixels (default 512)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the blink times and head jitter (default 0)")
    args = parser.parse_args(argv)
    # As an exception, a `kill` (or make being stopped) unwinds like Ctrl-C: ffmpeg is stopped, the temporary removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        truth = generate(args.out, seconds=args.seconds, size=args.size, seed=args.seed)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({truth.frames} frames) and {truth_path(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
