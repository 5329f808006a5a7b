"""Piper voices in the TTS service, as its own process: a real Piper-format ONNX voice in the weights folder is found,
listed and spoken through piper-tts; without piper, or without the voice's config, it is listed with the fix."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import urllib.request
import wave
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from talkingface.web.config import WebConfig
from talkingface.web.services import tts_voices
from talkingface.weights.manifest import load_manifest
from tests.web.conftest import Service, free_port
from tests.web.piper_voice import write_voice
from tests.web.test_tts import post

EN, ZH = "en_US-test-x_low", "zh_CN-test-x_low"


def piper_dir() -> str:
    """Where piper-tts's console script is: beside this Python (the venv's bin) or on PATH."""
    found = shutil.which("piper", path=os.path.dirname(sys.executable)) or shutil.which("piper")
    assert found, "piper-tts is not installed -- fix: make venv (requirements-dev.txt pins piper-tts)"
    return os.path.dirname(found)


def path_without_piper() -> str:
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep) if not shutil.which("piper", path=d))


def start(tmp_path: Path, weights: Path, path: str) -> Service:
    port = free_port()
    service = Service(
        [sys.executable, "-m", "talkingface.tts", "--port", str(port), "--weights", str(weights)],
        env={**os.environ, "PATH": path},
        log=tmp_path / "tts.log",
        url=f"http://127.0.0.1:{port}/health",
    )
    service.start()
    service.url = f"http://127.0.0.1:{port}"
    return service


def get(url: str) -> Dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - 127.0.0.1
        return json.loads(response.read())


def speak(service: Service, **payload: Any) -> Any:
    return post(f"{service.url}/tts", json.dumps(payload).encode(), "application/json")


def tone_hz(data: bytes) -> float:
    """The frequency of a pure tone, from its rising zero crossings."""
    import numpy as np

    with wave.open(io.BytesIO(data)) as w:
        rate, samples = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    rising = np.flatnonzero((samples[:-1] < 0) & (samples[1:] >= 0))
    return (len(rising) - 1) * rate / (rising[-1] - rising[0])


def seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return w.getnframes() / w.getframerate()


def by_id(service: Service) -> Dict[str, Dict[str, Any]]:
    return {v["id"]: v for v in get(f"{service.url}/voices")["voices"]}


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    write_voice(folder / "tts" / "piper", EN)
    write_voice(folder / "tts" / "piper", ZH, espeak_voice="cmn")
    return folder


@pytest.fixture
def with_piper(tmp_path: Path, weights: Path) -> Iterator[Service]:
    service = start(tmp_path, weights, os.pathsep.join([piper_dir(), path_without_piper()]))
    yield service
    service.stop()


@pytest.fixture
def without_piper(tmp_path: Path, weights: Path) -> Iterator[Service]:
    service = start(tmp_path, weights, path_without_piper())
    yield service
    service.stop()


def test_a_voice_file_in_the_weights_folder_is_listed_and_spoken_by_piper(with_piper: Service) -> None:
    voices = by_id(with_piper)
    assert {k: (v["engine"], v["language"], v["available"]) for k, v in voices.items() if k.startswith("piper:")} == {
        f"piper:{EN}": ("piper", "en", True),
        f"piper:{ZH}": ("piper", "zh", True),
    }
    assert get(f"{with_piper.url}/health")["voices"] == 4  # espeak-ng's two and the two Piper voices

    code, normal, headers = speak(with_piper, text="Hello world, this is a test.", voice=f"piper:{EN}")
    assert code == 200, normal
    assert headers["x-voice"] == f"piper:{EN}"
    # The voice's model answers a 220 Hz tone (espeak-ng would speak): piper ran it, and the service resampled it.
    assert abs(tone_hz(normal) - 220.0) < 3.0
    # 256 samples at 22,050 Hz per phoneme id, times the length scale: about 0.7 s for this sentence.
    assert 0.3 < seconds(normal) < 2.0
    code, fast, _ = speak(with_piper, text="Hello world, this is a test.", voice=f"piper:{EN}", speed=2.0)
    assert code == 200 and abs(seconds(fast) - seconds(normal) / 2) < 0.02

    code, chinese, _ = speak(with_piper, text="你好，世界", voice=f"piper:{ZH}")
    assert code == 200 and abs(tone_hz(chinese) - 220.0) < 3.0 and seconds(chinese) > 0.2


def test_the_studio_offers_the_piper_voices(with_piper: Service, tmp_path: Path) -> None:
    config = WebConfig(workspace_root=tmp_path / "ws", inputs=tmp_path / "in", tts_url=with_piper.url)
    assert [v["id"] for v in tts_voices(config)] == ["en", "zh", f"piper:{EN}", f"piper:{ZH}"]


def test_without_piper_the_voice_is_listed_with_the_fix_and_refused(without_piper: Service, tmp_path: Path) -> None:
    voice = by_id(without_piper)[f"piper:{EN}"]
    assert voice["available"] is False
    assert voice["problem"] == "the piper program is not installed"
    assert voice["fix"].startswith("pip install piper-tts==1.8.0")
    assert get(f"{without_piper.url}/health")["voices"] == 2

    code, body, _ = speak(without_piper, text="hello", voice=f"piper:{EN}")
    assert code == 503
    assert json.loads(body) == {
        "error": f"voice piper:{EN} can't speak: the piper program is not installed",
        "fix": voice["fix"],
    }
    # espeak-ng still answers, and the studio's list leaves out what can't speak.
    code, _, headers = speak(without_piper, text="hello")
    assert code == 200 and headers["x-voice"] == "en"
    config = WebConfig(workspace_root=tmp_path / "ws", inputs=tmp_path / "in", tts_url=without_piper.url)
    assert [v["id"] for v in tts_voices(config)] == ["en", "zh"]
    code, body, _ = speak(without_piper, text="hello", voice="piper:nobody")
    assert code == 400 and json.loads(body)["fix"] == "use one of: en, zh (GET /voices)"


def test_a_voice_without_its_config_is_listed_with_the_fix(tmp_path: Path, weights: Path) -> None:
    (weights / "tts" / "piper" / f"{EN}.onnx.json").unlink()
    service = start(tmp_path, weights, os.pathsep.join([piper_dir(), path_without_piper()]))
    try:
        voice = by_id(service)[f"piper:{EN}"]
        code, body, _ = speak(service, text="hello", voice=f"piper:{EN}")
    finally:
        service.stop()
    assert (voice["available"], voice["problem"]) == (False, f"its config {EN}.onnx.json is missing")
    assert voice["fix"] == f"put {EN}.onnx.json beside {EN}.onnx (make weights WEIGHTS_FOR=web fetches both)"
    assert code == 503 and json.loads(body)["fix"] == voice["fix"]


def test_a_voice_the_manifest_lists_carries_its_entry_and_licence(tmp_path: Path) -> None:
    manifest = load_manifest()
    entries = manifest.select(["web"])
    models = [e for e in entries if e.dest.endswith(".onnx")]
    assert {e.dest for e in models} == {"tts/piper/en_US-lessac-medium.onnx", "tts/piper/zh_CN-huayan-medium.onnx"}
    # Each voice comes with its config, and nothing of a model image's is among them.
    assert {e.dest for e in entries} == {e.dest for e in models} | {e.dest + ".json" for e in models}
    assert all(e.images == ("web",) and e.url.startswith("https://huggingface.co/") for e in entries)
    assert all("/resolve/v1.0.0/" in e.url for e in entries)  # a tag, never main: what is fetched can't drift

    weights = tmp_path / "weights"
    write_voice(weights / "tts" / "piper", "en_US-lessac-medium")  # the tone model, under the manifest's name
    service = start(tmp_path, weights, os.pathsep.join([piper_dir(), path_without_piper()]))
    try:
        voice = by_id(service)["piper:en_US-lessac-medium"]
    finally:
        service.stop()
    entry = manifest.get("piper-en-us-lessac-medium")
    assert (voice["manifest"], voice["license"], voice["available"]) == (entry.id, entry.license, True)
