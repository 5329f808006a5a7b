"""The studio as a user runs it: the TTS service and the site as their own processes, on 127.0.0.1, with jobs run
by bin/run_ernerf.sh --runtime native in an environment tools/native-env.sh built for the local line (the doubles)."""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from tests.conftest import REPO
from tests.doubles.install import install

MODEL = "ernerf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, *, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - 127.0.0.1 only
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s} s")


class Service:
    """A server process of ours; stopped with SIGTERM (graceful), then SIGKILL if it hangs."""

    def __init__(self, argv: List[str], *, env: Dict[str, str], log: Path, url: str) -> None:
        self.argv, self.env, self.log, self.url = argv, env, log, url
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=str(REPO))
        wait_http(self.url)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture(scope="session")
def native_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prefix = tmp_path_factory.mktemp("web-native") / MODEL
    subprocess.run(
        [str(REPO / "tools" / "native-env.sh"), MODEL, "local", str(prefix)], check=True, capture_output=True, text=True
    )
    return prefix


@pytest.fixture(scope="session")
def support(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web-support")
    install(MODEL, root)
    return root


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from talkingface.demo.sample_clip import generate

    path = tmp_path_factory.mktemp("web-media") / "clip.mp4"
    generate(path, seconds=12.0, size=512)
    return path


@pytest.fixture(scope="session")
def tts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    port = free_port()
    log = tmp_path_factory.mktemp("web-tts") / "tts.log"
    service = Service(
        [sys.executable, "-m", "talkingface.tts", "--port", str(port)],
        env=dict(os.environ),
        log=log,
        url=f"http://127.0.0.1:{port}/health",
    )
    service.start()
    service.url = f"http://127.0.0.1:{port}"
    yield service
    service.stop()


class FakeLLM:
    """A real OpenAI-compatible HTTP server on 127.0.0.1: answers, fails, or is slow, as the test sets it."""

    def __init__(self) -> None:
        self.behaviour = "answer"
        self.requests: List[Dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                owner.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if owner.behaviour == "error":
                    self.send(500, {"error": {"message": "model overloaded"}})
                    return
                if owner.behaviour == "slow":
                    time.sleep(3.0)
                said = body["messages"][-1]["content"]
                self.send(200, {"choices": [{"message": {"role": "assistant", "content": f"you said {said}"}}]})

            def send(self, code: int, payload: Dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    return  # the client gave up waiting (the timeout test)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLM]:
    server = FakeLLM()
    yield server
    server.close()


class Client:
    """A browser-like HTTP client: cookies kept, the CSRF header sent on every POST."""

    def __init__(self, base: str, token: Optional[str] = None) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.token = token
        self.get("/train")

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "") or ""

    def request(
        self,
        method: str,
        path: str,
        *,
        fields: Optional[Dict[str, str]] = None,
        files: Optional[Dict[str, Tuple[str, bytes]]] = None,
        csrf: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> Tuple[int, Any, Dict[str, str]]:
        data = None
        sent = dict(headers or {})
        if self.token:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        if method == "POST":
            boundary = uuid.uuid4().hex
            parts = []
            for key, value in (fields or {}).items():
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
                )
            for key, (filename, content) in (files or {}).items():
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n".encode()
                    + content
                    + b"\r\n"
                )
            parts.append(f"--{boundary}--\r\n".encode())
            data = b"".join(parts)
            sent["Content-Type"] = f"multipart/form-data; boundary={boundary}"
            sent["X-CSRF-Token"] = self.cookie("tf_csrf") if csrf is None else csrf
        req = urllib.request.Request(self.base + path, data=data, headers=sent, method=method)  # noqa: S310
        try:
            with self.opener.open(req, timeout=120) as response:
                body = response.read()
                code, kind = response.status, response.headers.get("Content-Type", "")
                hdrs = dict(response.headers)
        except urllib.error.HTTPError as exc:
            body, code, kind, hdrs = exc.read(), exc.code, exc.headers.get("Content-Type", ""), dict(exc.headers)
        return code, json.loads(body) if kind.startswith("application/json") else body, hdrs

    def get(self, path: str) -> Any:
        return self.request("GET", path)[1]

    def post(self, path: str, **kw: Any) -> Tuple[int, Any]:
        code, body, _ = self.request("POST", path, **kw)
        return code, body

    def wait_job(self, job_id: int, *, timeout_s: float = 180.0) -> Dict[str, Any]:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            job = self.get(f"/api/jobs/{job_id}")
            if job["state"] not in ("queued", "running"):
                return job
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} still {job['state']} after {timeout_s} s")


class Studio:
    """The site as its own process, configured by flags as `make web` does, restartable on the same folders."""

    def __init__(
        self,
        root: Path,
        *,
        native_env: Path,
        support: Path,
        tts_url: str,
        llm_url: str = "",
        extra: Tuple[str, ...] = (),
        env: Optional[Dict[str, str]] = None,
    ) -> None:
        self.root = root
        self.inputs = root / "inputs"
        self.workspace = root / "workspace"
        self.inputs.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        argv = [
            sys.executable,
            "-m",
            "talkingface.web",
            "--port",
            str(self.port),
            "--workspace",
            str(self.workspace),
            "--inputs",
            str(self.inputs),
            "--runtime",
            "native",
            "--native_env",
            f"{MODEL}={native_env}",
            "--bfm_dir",
            str(support / "bfm_models"),
            "--weights_dir",
            str(support / "weights"),
            "--gpus",
            "CPU",
            "--tts_url",
            tts_url,
            *extra,
        ]
        full_env = dict(os.environ, TALKINGFACE_HEARTBEAT="3600")
        full_env.pop("TALKINGFACE_LLM_BASE_URL", None)
        if llm_url:
            full_env.update(
                TALKINGFACE_LLM_BASE_URL=llm_url, TALKINGFACE_LLM_MODEL="fake-1", TALKINGFACE_LLM_TIMEOUT_S="1.5"
            )
        full_env.update(env or {})
        self.service = Service(argv, env=full_env, log=root / "web.log", url=self.base + "/api/status")

    def __enter__(self) -> Studio:
        self.service.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.service.stop()

    def restart(self) -> None:
        self.service.stop()
        self.service.start()

    def client(self, token: Optional[str] = None) -> Client:
        return Client(self.base, token)

    def user_files(self) -> List[str]:
        """Everything under the inputs folder and the workspace (the site's own .web folder aside)."""
        found = []
        for root in (self.inputs, self.workspace):
            for path in root.rglob("*"):
                if path.is_file() and ".web" not in path.parts:
                    found.append(str(path))
        return sorted(found)


@pytest.fixture()
def studio(tmp_path: Path, native_env: Path, support: Path, tts: Service, fake_llm: FakeLLM) -> Iterator[Studio]:
    fake_llm.behaviour = "answer"
    # The evaluation runs in this python (the dev venv has its packages), not in the eval image.
    extra = ("--eval_runtime", "python")
    with Studio(
        tmp_path, native_env=native_env, support=support, tts_url=tts.url, llm_url=fake_llm.url, extra=extra
    ) as site:
        yield site


def speech_wav(path: Path, text: str) -> Path:
    """espeak-ng at 16 kHz, what the chat test "records"."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "--stdin", "-v", "en-us", "-w", str(raw)], input=text.encode(), check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)], check=True)
    raw.unlink()
    return path
