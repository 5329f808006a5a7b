"""The TTS service as its own process (the API the course system's clients call), and pocketsphinx on its speech."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
import urllib.request
import wave
from pathlib import Path
from typing import Any, Dict, Tuple

import pytest

from talkingface.web.asr import ASRConfig, transcribe
from tests.web.conftest import Service


def post(url: str, body: bytes, kind: str) -> Tuple[int, bytes, Dict[str, str]]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": kind})  # noqa: S310 - 127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def tts_json(tts: Service, payload: Dict[str, Any]) -> Tuple[int, bytes, Dict[str, str]]:
    return post(f"{tts.url}/tts", json.dumps(payload).encode(), "application/json")


def wav_facts(data: bytes) -> Tuple[int, int, int, float]:
    with wave.open(io.BytesIO(data)) as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes() / w.getframerate()


def test_health_and_voices(tts: Service) -> None:
    with urllib.request.urlopen(f"{tts.url}/health", timeout=10) as response:  # noqa: S310
        assert json.loads(response.read()) == {"status": "ok", "voices": 2, "sample_rate": 16000}
    with urllib.request.urlopen(f"{tts.url}/voices", timeout=10) as response:  # noqa: S310
        voices = json.loads(response.read())["voices"]
    assert {(v["id"], v["language"], v["engine"]) for v in voices} == {
        ("en", "en", "espeak-ng"),
        ("zh", "zh", "espeak-ng"),
    }


@pytest.mark.parametrize("voice,text", [("en", "hello world"), ("zh", "你好，世界")])
def test_speech_is_a_16_khz_mono_wav_whose_length_follows_the_speed(tts: Service, voice: str, text: str) -> None:
    code, normal, headers = tts_json(tts, {"text": text, "voice": voice})
    assert code == 200 and headers["content-type"] == "audio/wav" and headers["x-voice"] == voice
    rate, channels, width, seconds = wav_facts(normal)
    assert (rate, channels, width) == (16000, 1, 2) and 0.4 < seconds < 5
    assert abs(float(headers["x-duration-s"]) - seconds) < 0.01
    code, fast, _ = tts_json(tts, {"text": text, "voice": voice, "speed": 2.0})
    assert code == 200 and wav_facts(fast)[3] < seconds * 0.8


def test_a_form_body_works_as_the_json_one(tts: Service) -> None:
    code, data, _ = post(
        f"{tts.url}/tts", urllib.parse.urlencode({"text": "hello"}).encode(), "application/x-www-form-urlencoded"
    )
    assert code == 200 and wav_facts(data)[0] == 16000


@pytest.mark.parametrize(
    "payload,status,words",
    [
        ({"text": ""}, 400, "the text is empty"),
        ({"text": "   "}, 400, "the text is empty"),
        ({"text": "a" * 10000}, 413, "10000 characters, over the limit"),
        ({"text": "hi", "speed": 9}, 400, "out of range"),
        ({"text": "hi", "speed": "fast"}, 400, "not a number"),
        ({"text": "hi", "voice": "klingon"}, 400, "unknown voice"),
    ],
)
def test_bad_requests_get_one_message_and_its_fix(
    tts: Service, payload: Dict[str, Any], status: int, words: str
) -> None:
    code, body, _ = tts_json(tts, payload)
    answer = json.loads(body)
    assert code == status and words in answer["error"] and answer["fix"]


def test_pocketsphinx_hears_the_words_espeak_ng_said(tts: Service, tmp_path: Path) -> None:
    code, data, _ = tts_json(tts, {"text": "hello world"})
    assert code == 200
    path = tmp_path / "hello.wav"
    path.write_bytes(data)
    heard = transcribe(path, ASRConfig())
    assert heard.text == "hello world" and heard.engine.startswith("pocketsphinx")
    # Leading and trailing silence is trimmed before decoding.
    padded = tmp_path / "padded.wav"
    silence = b"\0\0" * 16000 * 2
    with wave.open(io.BytesIO(data)) as w:
        frames = w.readframes(w.getnframes())
    with wave.open(str(padded), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(silence + frames + silence)
    trimmed = transcribe(padded, ASRConfig())
    assert trimmed.text == "hello world" and trimmed.speech_s < heard.speech_s + 1.0
