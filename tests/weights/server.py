"""A local HTTP server for the weight downloads: Range requests, and failures on demand (503s, dropped connections)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple


@dataclass
class Behaviour:
    unavailable: int = 0  # answer this many requests with 503 first
    cut_after: Optional[int] = None  # the next response stops after this many body bytes (then this resets)
    ignore_range: bool = False  # answer 200 with the whole file, as servers without Range support do


@dataclass
class Files:
    content: Dict[str, bytes] = field(default_factory=dict)
    behaviour: Dict[str, Behaviour] = field(default_factory=dict)
    requests: List[Tuple[str, Optional[str]]] = field(default_factory=list)  # (path, Range header)


def _handler(files: Files) -> type:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest's output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?")[0]
            rng = self.headers.get("Range")
            files.requests.append((path, rng))
            behaviour = files.behaviour.setdefault(path, Behaviour())
            if behaviour.unavailable > 0:
                behaviour.unavailable -= 1
                self.send_error(503, "Service Unavailable")
                return
            data = files.content.get(path)
            if data is None:
                self.send_error(404, "Not Found")
                return
            start = 0
            match = re.match(r"^bytes=(\d+)-$", rng or "")
            if match and not behaviour.ignore_range:
                start = int(match.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if behaviour.cut_after is not None:
                body, behaviour.cut_after = body[: behaviour.cut_after], None
                self.close_connection = True
            self.wfile.write(body)

    return Handler


class WeightServer:
    """``with WeightServer() as server:`` serves ``server.files.content`` at ``server.url(name)``."""

    def __init__(self) -> None:
        self.files = Files()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.files))
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def add(self, name: str, data: bytes, **behaviour: object) -> str:
        self.files.content[f"/{name}"] = data
        self.files.behaviour[f"/{name}"] = Behaviour(**behaviour)  # type: ignore[arg-type]
        return self.url(name)

    def requests_for(self, name: str) -> List[Optional[str]]:
        return [rng for path, rng in self.files.requests if path == f"/{name}"]

    def __enter__(self) -> WeightServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
