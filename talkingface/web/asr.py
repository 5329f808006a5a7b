"""Speech to text, offline by default: pocketsphinx (its English model ships in the wheel) after trimming silence
with its voice-activity detector. Vosk or Whisper run instead when their model is in the weights folder, and any
OpenAI-compatible transcription endpoint when one is configured. The result says which engine ran."""

from __future__ import annotations

import json
import secrets
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from .errors import WebError, check_http_url

RATE = 16000
SAMPLE_BYTES = 2
# Speech shorter than this is a click or a breath, not words.
MIN_SPEECH_S = 0.25
PAD_S = 0.2


@dataclass(frozen=True)
class Transcript:
    text: str
    engine: str
    speech_s: float


@dataclass(frozen=True)
class ASRConfig:
    weights: Optional[Path] = None
    base_url: str = ""
    api_key: str = ""
    model: str = "whisper-1"
    timeout_s: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str], weights: Optional[str]) -> ASRConfig:
        return cls(
            weights=Path(weights) if weights else None,
            base_url=check_http_url("ASR", environ.get("TALKINGFACE_ASR_BASE_URL", "").rstrip("/")),
            api_key=environ.get("TALKINGFACE_ASR_API_KEY", ""),
            model=environ.get("TALKINGFACE_ASR_MODEL", "whisper-1"),
            timeout_s=float(environ.get("TALKINGFACE_ASR_TIMEOUT_S", "60")),
        )


def pcm16k(path: Path) -> bytes:
    """Any audio ffmpeg reads (a browser's webm/ogg recording, a wav) as 16 kHz mono 16-bit samples."""
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", str(RATE), "-"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["unreadable"]
        raise WebError(f"the recording can't be read: {reason[0]}", fix="record again, or upload a wav file")
    return done.stdout


def trim(pcm: bytes) -> bytes:
    """The span from the first to the last frame the voice-activity detector calls speech, with a little margin."""
    from pocketsphinx import Vad

    vad = Vad(mode=2, sample_rate=RATE, frame_length=0.03)
    size = vad.frame_bytes
    speech = [i for i in range(0, len(pcm) - size + 1, size) if vad.is_speech(pcm[i : i + size])]
    heard = len(speech) * size / (RATE * SAMPLE_BYTES)
    if heard < MIN_SPEECH_S:
        raise WebError(
            "no speech was heard in the recording (it is silent or only noise)",
            fix="check the microphone and speak closer to it, or type the message",
        )
    pad = int(PAD_S * RATE) * SAMPLE_BYTES
    return pcm[max(0, speech[0] - pad) : min(len(pcm), speech[-1] + size + pad)]


def pocketsphinx_text(pcm: bytes) -> str:
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=RATE, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr.strip() if hyp is not None else ""


def vosk_model(weights: Optional[Path]) -> Optional[Path]:
    folder = weights / "asr" / "vosk" if weights else None
    if folder is None or not folder.is_dir():
        return None
    try:
        import vosk  # noqa: F401
    except ImportError:
        return None
    models = sorted(p for p in folder.iterdir() if (p / "conf").is_dir() or (p / "am").is_dir())
    return models[0] if models else None


def vosk_text(model_dir: Path, pcm: bytes) -> str:
    import vosk

    recognizer = vosk.KaldiRecognizer(vosk.Model(str(model_dir)), RATE)
    recognizer.AcceptWaveform(pcm)
    return str(json.loads(recognizer.FinalResult()).get("text", "")).strip()


def whisper_model(weights: Optional[Path]) -> Optional[Path]:
    folder = weights / "asr" / "whisper" if weights else None
    if folder is None or not folder.is_dir():
        return None
    try:
        import whisper  # noqa: F401
    except ImportError:
        return None
    models = sorted(folder.glob("*.pt"))
    return models[0] if models else None


def whisper_text(model_file: Path, pcm: bytes) -> str:
    import numpy as np
    import whisper

    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
    return str(whisper.load_model(str(model_file)).transcribe(audio)["text"]).strip()


def endpoint_text(config: ASRConfig, pcm: bytes) -> str:
    """POST {base}/audio/transcriptions, multipart, as every OpenAI-compatible server takes it."""
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_BYTES)
        w.setframerate(RATE)
        w.writeframes(pcm)
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{config.model}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="speech.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n".encode()
        + buf.getvalue()
        + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    request = urllib.request.Request(f"{config.base_url}/audio/transcriptions", data=b"".join(parts), headers=headers)  # noqa: S310 - http(s) only, checked in config
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_s) as response:  # noqa: S310 - configured URL
            return str(json.loads(response.read()).get("text", "")).strip()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise WebError(
            f"the transcription endpoint {config.base_url} failed ({getattr(exc, 'reason', exc)})",
            fix="check TALKINGFACE_ASR_BASE_URL, or unset it to use pocketsphinx offline",
            status=502,
        ) from None


def transcribe(path: Path, config: ASRConfig) -> Transcript:
    pcm = trim(pcm16k(path))
    speech_s = len(pcm) / (RATE * SAMPLE_BYTES)
    if config.base_url:
        text, engine = endpoint_text(config, pcm), f"OpenAI-compatible endpoint ({config.model})"
    elif (model := whisper_model(config.weights)) is not None:
        text, engine = whisper_text(model, pcm), f"Whisper ({model.name})"
    elif (model := vosk_model(config.weights)) is not None:
        text, engine = vosk_text(model, pcm), f"Vosk ({model.name})"
    else:
        text, engine = pocketsphinx_text(pcm), "pocketsphinx (en-us, offline)"
    if not text:
        raise WebError(
            f"{engine} heard sound but recognised no words",
            fix="speak more clearly and closer to the microphone, or type the message",
        )
    return Transcript(text=text, engine=engine, speech_s=round(speech_s, 2))


def engine_name(config: ASRConfig) -> str:
    if config.base_url:
        return "OpenAI-compatible endpoint"
    if whisper_model(config.weights):
        return "Whisper"
    if vosk_model(config.weights):
        return "Vosk"
    return "pocketsphinx"
