"""Voices and how each is spoken: espeak-ng always (English, Mandarin), Piper for each voice file in the weights."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

SAMPLE_RATE = 16000
MAX_CHARS = 2000
SPEEDS = (0.5, 2.0)
ESPEAK_WPM = 175


class TTSError(Exception):
    def __init__(self, problem: str, *, fix: str, status: int = 400) -> None:
        super().__init__(problem)
        self.problem, self.fix, self.status = problem, fix, status


@dataclass(frozen=True)
class Voice:
    id: str
    engine: str
    language: str
    title: str
    # espeak-ng's voice name, or the Piper .onnx file.
    source: str


ESPEAK_VOICES = (
    Voice("en", "espeak-ng", "en", "English (espeak-ng, en-us)", "en-us"),
    Voice("zh", "espeak-ng", "zh", "Mandarin (espeak-ng, cmn)", "cmn"),
)


def piper_voices(weights: Optional[Path]) -> Tuple[Voice, ...]:
    """<weights>/tts/piper/<name>.onnx (with its .onnx.json beside it) is voice ``piper:<name>``."""
    if weights is None or shutil.which("piper") is None:
        return ()
    folder = weights / "tts" / "piper"
    found = []
    for model in sorted(folder.glob("*.onnx")) if folder.is_dir() else ():
        if model.with_name(model.name + ".json").is_file():
            language = model.stem.split("_")[0].split("-")[0]
            found.append(Voice(f"piper:{model.stem}", "piper", language, f"{model.stem} (Piper)", str(model)))
    return tuple(found)


def voices(weights: Optional[Path]) -> List[Voice]:
    available = list(ESPEAK_VOICES) if shutil.which("espeak-ng") else []
    return available + list(piper_voices(weights))


def check_request(text: object, speed: object) -> Tuple[str, float]:
    if not isinstance(text, str) or not text.strip():
        raise TTSError("the text is empty", fix='send {"text": "what to say"}')
    if len(text) > MAX_CHARS:
        raise TTSError(
            f"the text has {len(text)} characters, over the limit of {MAX_CHARS}",
            fix=f"send at most {MAX_CHARS} characters per request (split longer text into sentences)",
            status=413,
        )
    try:
        value = float(speed) if speed is not None else 1.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TTSError(f"speed {speed!r} is not a number", fix="send a speed from 0.5 to 2.0 (1.0 is normal)") from None
    if not SPEEDS[0] <= value <= SPEEDS[1]:
        raise TTSError(f"speed {value:g} is out of range", fix="send a speed from 0.5 to 2.0 (1.0 is normal)")
    return text.strip(), value


def run(argv: List[str], *, stdin: bytes, what: str) -> None:
    done = subprocess.run(argv, input=stdin, capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise TTSError(f"{what} failed: {reason[0]}", fix="check the voice, or the service's installation", status=500)


def resample(src: Path, dst: Path) -> None:
    """Every voice answers at 16 kHz mono 16-bit, what the models' audio front ends read."""
    if shutil.which("sox"):
        run(["sox", str(src), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(dst)], stdin=b"", what="sox")
    else:
        run(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(src),
                "-ar",
                str(SAMPLE_RATE),
                "-ac",
                "1",
                "-sample_fmt",
                "s16",
                str(dst),
            ],
            stdin=b"",
            what="ffmpeg",
        )


def synthesize(voice: Voice, text: str, speed: float) -> bytes:
    with tempfile.TemporaryDirectory(prefix="talkingface-tts-") as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        if voice.engine == "espeak-ng":
            # Text on stdin: never an argument, so nothing in it is read as an option.
            argv = ["espeak-ng", "--stdin", "-v", voice.source, "-s", str(round(ESPEAK_WPM * speed)), "-w", str(raw)]
            run(argv, stdin=text.encode("utf-8"), what="espeak-ng")
        else:
            argv = ["piper", "--model", voice.source, "--length_scale", f"{1.0 / speed:.3f}", "--output_file", str(raw)]
            run(argv, stdin=text.encode("utf-8"), what="piper")
        resample(raw, out)
        return out.read_bytes()


def duration_s(wav_bytes: bytes) -> float:
    import io

    with wave.open(io.BytesIO(wav_bytes)) as w:
        return w.getnframes() / float(w.getframerate())


def weights_folder() -> Optional[Path]:
    path = os.environ.get("TALKINGFACE_WEIGHTS")
    return Path(path) if path else None
