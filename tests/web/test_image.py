"""The web image of the local line (make build-local builds it): the TTS service answers from it as on the host."""

from __future__ import annotations

import io
import json
import subprocess
import time
import urllib.error
import urllib.request
import wave

import pytest

from talkingface import __version__
from tests.web.conftest import free_port

IMAGE = f"talkingface/web:{__version__}-local"


def docker(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def image() -> str:
    if docker("image", "inspect", IMAGE).returncode != 0:
        pytest.fail(f"{IMAGE} is not built -- fix: make build-web LINE=local (make build-local builds it)")
    return IMAGE


def test_the_tts_service_runs_from_the_image_published_on_loopback(image: str) -> None:
    port = free_port()
    # Inside the container every interface; outside, the mapping publishes it on 127.0.0.1 only.
    every = "0.0.0.0"  # noqa: S104
    started = docker("run", "-d", "--rm", "-p", f"127.0.0.1:{port}:5003", image, "talkingface.tts", "--host", every,
                     "--allow-remote")  # fmt: skip
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        body = None
        end = time.monotonic() + 60
        while body is None and time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:  # noqa: S310
                    body = json.loads(r.read())
            except (OSError, ValueError):
                time.sleep(0.5)
        assert body == {"status": "ok", "voices": 2, "sample_rate": 16000}
        request = urllib.request.Request(  # noqa: S310 - 127.0.0.1
            f"http://127.0.0.1:{port}/tts",
            data=json.dumps({"text": "你好", "voice": "zh"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as r:  # noqa: S310
            audio = r.read()
        with wave.open(io.BytesIO(audio)) as w:
            assert (w.getframerate(), w.getnchannels()) == (16000, 1) and w.getnframes() > 4000
    finally:
        docker("stop", "-t", "2", container)


def test_the_studio_in_the_image_refuses_a_remote_bind_without_token_or_allow_remote(image: str) -> None:
    done = docker("run", "--rm", image, "talkingface.web", "--host", "0.0.0.0")  # noqa: S104 - refused
    assert done.returncode == 2 and "--token" in done.stderr
    helped = docker("run", "--rm", image, "talkingface.web", "--help")
    assert helped.returncode == 0 and "--native_env" in helped.stdout
