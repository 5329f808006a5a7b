"""Who may call the site: the token (required off loopback), the session and CSRF cookies, the Host header, and
the request size, checked before any handler reads a byte of the body."""

from __future__ import annotations

import re
import secrets
from typing import Awaitable, Callable, Optional

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from .config import LOOPBACK, WebConfig

SESSION, CSRF, TOKEN = "tf_session", "tf_csrf", "tf_token"
CSRF_HEADER = "x-csrf-token"
HEX32 = re.compile(r"[0-9a-f]{32}")
# Multipart framing and the form's text fields around the largest allowed file.
FORM_OVERHEAD = 1024 * 1024


def refuse(problem: str, fix: str, status: int) -> JSONResponse:
    return JSONResponse({"error": problem, "fix": fix}, status_code=status)


def given_token(request: Request) -> Optional[str]:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-token") or request.cookies.get(TOKEN) or request.query_params.get("token")


def host_allowed(config: WebConfig, host_header: str) -> bool:
    """Without a token, only loopback names: a page from another site that resolves its own name to 127.0.0.1 (DNS
    rebinding) is refused, and so is any other machine's request."""
    if config.token:
        return True
    name = host_header.rsplit(":", 1)[0].strip("[]") if host_header else ""
    return name in LOOPBACK


def guard(config: WebConfig) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        identify(request)
        if not host_allowed(config, request.headers.get("host", "")):
            return refuse("this address is not the studio's", f"open http://127.0.0.1:{config.port}", 421)
        token_from_query = False
        if config.token:
            token = given_token(request)
            if not token or not secrets.compare_digest(token.encode(), config.token.encode()):
                return refuse(
                    "this studio needs its token", "open the address with ?token=TOKEN (as the site printed)", 401
                )
            token_from_query = request.query_params.get("token") == config.token
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            cookie = request.cookies.get(CSRF, "") if HEX32.fullmatch(request.cookies.get(CSRF, "")) else ""
            header = request.headers.get(CSRF_HEADER, "")
            if not cookie or not header or not secrets.compare_digest(cookie.encode(), header.encode()):
                return refuse("the form's CSRF token is missing or wrong", "reload the page and send it again", 403)
            length = request.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > config.max_upload_bytes + FORM_OVERHEAD:
                return refuse(
                    f"the upload is over the limit of {config.max_upload_bytes // (1024 * 1024)} MB",
                    "upload a shorter or smaller file, or start the site with a larger --max_upload_mb",
                    413,
                )
        response = await call_next(request)
        secure = dict(httponly=True, samesite="strict", path="/")
        if request.cookies.get(SESSION) != request.state.session:
            response.set_cookie(SESSION, request.state.session, **secure)  # type: ignore[arg-type]
        if request.cookies.get(CSRF) != request.state.csrf:
            response.set_cookie(CSRF, request.state.csrf, samesite="strict", path="/")
        if token_from_query:
            response.set_cookie(TOKEN, config.token or "", **secure)  # type: ignore[arg-type]
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response

    return middleware


def cookie_value(request: Request, name: str) -> str:
    """A cookie we set (32 hex digits), or a new one: the session names a folder, so nothing else is accepted."""
    value = request.cookies.get(name, "")
    return value if HEX32.fullmatch(value) else secrets.token_hex(16)


def identify(request: Request) -> None:
    request.state.session = cookie_value(request, SESSION)
    request.state.csrf = cookie_value(request, CSRF)
