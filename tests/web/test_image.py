"""The web image of the local line (make build-local builds it): the TTS service answers from it as on the host."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import wave
from pathlib import Path
from typing import List

import pytest

from talkingface import __version__
from tests.conftest import REPO
from tests.web.conftest import free_port, wait_http
from tests.web.piper_voice import write_voice

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


def compose_command() -> List[str]:
    if docker("compose", "version").returncode == 0:
        return ["docker", "compose"]
    found = shutil.which("docker-compose")
    if found is None:
        pytest.fail("neither docker compose nor docker-compose is installed -- fix: apt-get install docker-compose")
    return [found]


def test_compose_up_web_tts_serves_the_studio_and_a_piper_voice(image: str, tmp_path: Path) -> None:
    """`docker compose up web tts` as docs/web.md says, on the local line with no NVIDIA runtime: the studio answers
    on 5001, reaches the TTS service over compose's network, and the service speaks a Piper voice from ./weights."""
    project = tmp_path / "site"
    write_voice(project / "weights" / "tts" / "piper", "en_US-test-x_low")
    for path in [project, *project.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o755)  # the voice is read by the container's user
    env = {
        **os.environ,
        "PWD": str(project),
        "LINE": "local",
        "WEB_GPUS": "CPU",
        "UID": str(os.getuid()),
        "GID": str(os.getgid()),
        "DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid),
    }
    name = f"tfweb{os.getpid()}"
    base = [*compose_command(), "-f", str(REPO / "compose.yaml"), "--project-directory", str(project), "-p", name]
    up = subprocess.run([*base, "up", "-d", "web", "tts"], env=env, capture_output=True, text=True, timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        wait_http("http://127.0.0.1:5001/api/status", timeout_s=60)
        with urllib.request.urlopen("http://127.0.0.1:5001/api/status", timeout=30) as response:  # noqa: S310
            status = json.loads(response.read())
        assert status["tts_url"] == "http://tts:5003" and status["gpus"] == ["CPU"]
        assert [v["id"] for v in status["voices"]] == ["en", "zh", "piper:en_US-test-x_low"]
        body = json.dumps({"text": "hello world", "voice": "piper:en_US-test-x_low"}).encode()
        request = urllib.request.Request(  # noqa: S310 - 127.0.0.1
            "http://127.0.0.1:5003/tts", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            assert response.headers["X-Voice"] == "piper:en_US-test-x_low"
            with wave.open(io.BytesIO(response.read())) as w:
                assert (w.getframerate(), w.getnchannels()) == (16000, 1) and w.getnframes() > 1600
    finally:
        down = subprocess.run([*base, "down"], env=env, capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stderr
