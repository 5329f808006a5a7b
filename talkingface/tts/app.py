"""The TTS service's HTTP API: ``POST /tts``, ``GET /voices``, ``GET /health``, on port 5003."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .engines import MAX_CHARS, SAMPLE_RATE, TTSError, check_request, duration_s, synthesize, voices


def error(exc: TTSError) -> JSONResponse:
    return JSONResponse({"error": exc.problem, "fix": exc.fix}, status_code=exc.status)


def create_app(*, weights: Optional[Path] = None) -> FastAPI:
    app = FastAPI(title="talkingface TTS", docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> Dict[str, Any]:
        found = voices(weights)
        return {"status": "ok" if found else "no voices", "voices": len(found), "sample_rate": SAMPLE_RATE}

    @app.get("/voices")
    def list_voices() -> Dict[str, Any]:
        return {
            "voices": [
                {"id": v.id, "engine": v.engine, "language": v.language, "title": v.title} for v in voices(weights)
            ],
            "max_chars": MAX_CHARS,
        }

    @app.post("/tts")
    async def tts(request: Request) -> Response:
        try:
            body = await read_body(request)
            text, speed = check_request(body.get("text"), body.get("speed"))
            available = voices(weights)
            if not available:
                raise TTSError("no voice is installed", fix="apt-get install espeak-ng", status=503)
            wanted = str(body.get("voice") or available[0].id)
            voice = next((v for v in available if v.id == wanted or v.language == wanted), None)
            if voice is None:
                raise TTSError(
                    f"unknown voice {wanted!r}", fix=f"use one of: {', '.join(v.id for v in available)} (GET /voices)"
                )
            from starlette.concurrency import run_in_threadpool

            audio = await run_in_threadpool(synthesize, voice, text, speed)
        except TTSError as exc:
            return error(exc)
        return Response(
            audio,
            media_type="audio/wav",
            headers={
                "X-Voice": voice.id,
                "X-Duration-S": f"{duration_s(audio):.3f}",
                "Content-Disposition": 'attachment; filename="tts.wav"',
            },
        )

    return app


async def read_body(request: Request) -> Dict[str, Any]:
    """JSON, or a form (curl -F / -d): the fields are the same."""
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            raise TTSError(
                "the body is not JSON", fix='send {"text": "..."} with Content-Type: application/json'
            ) from None
        if not isinstance(data, dict):
            raise TTSError("the body is not a JSON object", fix='send {"text": "..."}')
        return data
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}
