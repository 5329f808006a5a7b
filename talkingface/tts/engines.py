"""Voices and how each is spoken: espeak-ng always (English, Mandarin), Piper for each voice file in the weights."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

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
    # Why it can't speak now (a Piper voice without piper, or without its .onnx.json), and what fixes that.
    problem: Optional[str] = None
    fix: Optional[str] = None
    # The weights manifest's entry for this file, where it lists it (make weights WEIGHTS_FOR=web fetches those).
    manifest_id: Optional[str] = None
    license: Optional[str] = None

    @property
    def available(self) -> bool:
        return self.problem is None


ESPEAK_VOICES = (
    Voice("en", "espeak-ng", "en", "English (espeak-ng, en-us)", "en-us"),
    Voice("zh", "espeak-ng", "zh", "Mandarin (espeak-ng, cmn)", "cmn"),
)
PIPER_FOLDER = ("tts", "piper")
# The version the web image pins (images/web/local-wheels.txt), so a host install matches the container.
PIPER_FIX = "pip install piper-tts==1.8.0 (the web image has it), then restart the TTS service"


def piper_program() -> Optional[str]:
    """piper-tts's console script, on PATH (``make web`` puts the venv's bin first)."""
    return shutil.which("piper")


def _manifest_entries() -> Dict[str, Tuple[str, str]]:
    """dest -> (entry id, licence) for the manifest's Piper voices; empty where the manifest can't be read."""
    from ..core.errors import TalkingfaceError
    from ..weights.manifest import load_manifest

    try:
        manifest = load_manifest()
    except TalkingfaceError:
        return {}
    return {entry.dest: (entry.id, entry.license) for entry in manifest.select(["web"])}


def _language(config: Path, stem: str) -> str:
    """The voice's language family from its config (``language.code`` en_US -> en), else from its name."""
    try:
        code = json.loads(config.read_text(encoding="utf-8"))["language"]["code"]
    except (OSError, ValueError, KeyError, TypeError):
        code = stem
    return str(code).split("_")[0].split("-")[0]


def piper_voices(weights: Optional[Path]) -> Tuple[Voice, ...]:
    """<weights>/tts/piper/<name>.onnx (with its .onnx.json beside it) is voice ``piper:<name>``.

    Every voice file found is listed, also one that can't speak yet (no piper, no config): a file someone put there
    that silently did not show up would leave them guessing."""
    if weights is None:
        return ()
    folder = weights.joinpath(*PIPER_FOLDER)
    models = sorted(folder.glob("*.onnx")) if folder.is_dir() else []
    if not models:
        return ()
    program, listed = piper_program(), _manifest_entries()
    found = []
    for model in models:
        config = model.with_name(model.name + ".json")
        problem = fix = None
        if not config.is_file():
            problem = f"its config {config.name} is missing"
            fix = f"put {config.name} beside {model.name} (make weights WEIGHTS_FOR=web fetches both)"
        elif program is None:
            problem = "the piper program is not installed"
            fix = PIPER_FIX
        entry_id, licence = listed.get("/".join((*PIPER_FOLDER, model.name)), (None, None))
        found.append(
            Voice(
                f"piper:{model.stem}",
                "piper",
                _language(config, model.stem),
                f"{model.stem} (Piper)",
                str(model),
                problem=problem,
                fix=fix,
                manifest_id=entry_id,
                license=licence,
            )
        )
    return tuple(found)


def voices(weights: Optional[Path]) -> List[Voice]:
    """Every voice, those that can't speak now included (``available`` says which)."""
    available = list(ESPEAK_VOICES) if shutil.which("espeak-ng") else []
    return available + list(piper_voices(weights))


def choose(found: List[Voice], wanted: Optional[str]) -> Voice:
    """The voice an id or a language names (the first that can speak); with none named, the first that can speak."""
    ready = [v for v in found if v.available]
    if not wanted:
        if not ready:
            raise TTSError("no voice is installed", fix="apt-get install espeak-ng", status=503)
        return ready[0]
    named = next((v for v in found if v.id == wanted), None)
    if named is not None and not named.available:
        raise TTSError(f"voice {wanted} can't speak: {named.problem}", fix=named.fix or PIPER_FIX, status=503)
    voice = named or next((v for v in ready if v.language == wanted), None)
    if voice is None:
        names = ", ".join(v.id for v in ready) or "none"
        raise TTSError(f"unknown voice {wanted!r}", fix=f"use one of: {names} (GET /voices)")
    return voice


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
            program = piper_program()
            if program is None:  # removed since the voice was listed
                problem = f"voice {voice.id} can't speak: the piper program is not installed"
                raise TTSError(problem, fix=PIPER_FIX, status=503)
            argv = [program, "--model", voice.source, "--length_scale", f"{1.0 / speed:.3f}", "--output_file", str(raw)]
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
