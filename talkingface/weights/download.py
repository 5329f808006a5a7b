"""HTTP download into a ``.partial`` file: resumes with Range requests, retries with backoff, falls back to mirrors."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, TextIO

from .. import __version__
from ..core.errors import DISK_FULL_FIX, TalkingfaceError
from ..core.progress import clock

USER_AGENT = f"talkingface-weights/{__version__} (+https://github.com/talkingface/talkingface)"


@dataclass(frozen=True)
class Options:
    retries: int = 5  # per URL, after the first attempt
    backoff_s: float = 2.0  # doubled after each failed attempt
    backoff_max_s: float = 60.0
    timeout_s: float = 60.0  # per network operation, not per file
    chunk: int = 1 << 20
    progress_every_s: float = 5.0


class Transient(Exception):
    """Worth another attempt at the same URL: a dropped connection, a timeout, a 5xx or 429."""


class Permanent(Exception):
    """Not worth retrying this URL (404, 403, ...): the next mirror may have it."""


def mb(size: float) -> str:
    return f"{size / 1e6:,.1f} MB"


class Meter:
    """A progress line every ``every_s`` seconds with the rate and, when the size is known, the ETA."""

    def __init__(self, label: str, *, out: TextIO, every_s: float, now: Callable[[], float]) -> None:
        self.label, self.out, self.every_s, self.now = label, out, every_s, now
        self.started = self.last = now()
        self.first_byte = 0

    def start(self, offset: int) -> None:
        self.first_byte = offset

    def line(self, done: int, total: Optional[int]) -> str:
        elapsed = max(1e-9, self.now() - self.started)
        rate = (done - self.first_byte) / elapsed
        if total:
            eta = clock((total - done) / rate) if rate > 0 else "--:--:--"
            return f"  {self.label}: {mb(done)} of {mb(total)} ({100.0 * done / total:5.1f}%), {mb(rate)}/s, ETA {eta}"
        return f"  {self.label}: {mb(done)}, {mb(rate)}/s"

    def update(self, done: int, total: Optional[int]) -> None:
        if self.now() - self.last >= self.every_s:
            self.last = self.now()
            print(self.line(done, total), file=self.out, flush=True)


def _content_range(value: Optional[str]) -> Optional[tuple]:
    match = re.match(r"^bytes (\d+)-(\d+)/(\d+|\*)$", (value or "").strip())
    if not match:
        return None
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), total


def _open(url: str, offset: int, options: Options) -> http.client.HTTPResponse:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - manifest URLs are http(s) only
    try:
        return urllib.request.urlopen(request, timeout=options.timeout_s)  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            raise  # the caller decides: the partial may already hold the whole file
        if exc.code in (408, 425, 429) or exc.code >= 500:
            raise Transient(f"HTTP {exc.code} {exc.reason}") from exc
        raise Permanent(f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, socket.gaierror) and reason.errno == socket.EAI_NONAME:
            # An unknown host stays unknown: retrying it offline would only add minutes of backoff per file.
            raise Permanent(str(reason)) from exc
        raise Transient(str(reason) or type(exc).__name__) from exc


def _check_space(partial: str, needed: int) -> None:
    free = shutil.disk_usage(os.path.dirname(partial) or ".").free
    if needed > free:
        raise TalkingfaceError(
            f"the disk is full: {partial} needs {mb(needed)} more, {mb(free)} free",
            fix=DISK_FULL_FIX.replace("workspace", "weights folder"),
            exit_code=1,
        )


def transfer(url: str, partial: str, options: Options, meter: Meter) -> None:
    """One attempt: continue ``partial`` from its size, or start it over when the server ignores the Range."""
    have = os.path.getsize(partial) if os.path.exists(partial) else 0
    try:
        response = _open(url, have, options)
    except urllib.error.HTTPError as exc:  # 416: nothing left to send; the hash check decides whether it is whole
        exc.close()
        return
    with response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        if have and response.status == 206:
            span = _content_range(response.headers.get("Content-Range"))
            if not span or span[0] != have:
                os.remove(partial)
                raise Transient(f"the server resumed at the wrong offset ({response.headers.get('Content-Range')})")
            total, mode = span[1], "ab"
        else:
            have, mode = 0, "wb"
            total = expected
        if expected is not None:
            _check_space(partial, expected)
        meter.start(have)
        received = 0
        with open(partial, mode) as fh:
            while True:
                try:
                    chunk = response.read(options.chunk)
                except (OSError, http.client.HTTPException) as exc:
                    raise Transient(f"connection lost after {mb(have + received)}: {exc}") from exc
                if not chunk:
                    break
                fh.write(chunk)
                received += len(chunk)
                meter.update(have + received, total)
    if expected is not None and received < expected:
        raise Transient(f"connection closed after {have + received} of {have + expected} bytes")


def download(
    urls: Sequence[str],
    partial: str,
    *,
    label: str,
    options: Options,
    out: Optional[TextIO] = None,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], float] = time.monotonic,
) -> str:
    """Fill ``partial`` from the first URL that works; returns that URL. ``partial`` is kept on failure, to resume."""
    out = out if out is not None else sys.stdout
    os.makedirs(os.path.dirname(partial) or ".", exist_ok=True)
    problems = []
    for url in urls:
        attempt = 0
        while True:
            try:
                transfer(url, partial, options, Meter(label, out=out, every_s=options.progress_every_s, now=now))
                return url
            except Permanent as exc:
                problems.append(f"{url}: {exc}")
                break
            except Transient as exc:
                attempt += 1
                if attempt > options.retries:
                    problems.append(f"{url}: {exc} ({attempt} attempts)")
                    break
                delay = min(options.backoff_max_s, options.backoff_s * 2 ** (attempt - 1))
                print(f"  {label}: {exc}; attempt {attempt + 1} of {options.retries + 1} in {delay:g} s", file=out)
                sleep(delay)
    kept = f"; {mb(os.path.getsize(partial))} kept in {partial}" if os.path.exists(partial) else ""
    raise TalkingfaceError(
        f"cannot download {label}: {'; '.join(problems)}{kept}",
        fix="check that this machine reaches the URL (proxy: https_proxy), then run 'make weights' again: it resumes; "
        "or download it on another machine and put it into the weights folder",
        exit_code=1,
    )
