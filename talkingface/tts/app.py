"""The TTS service's HTTP API: ``POST /tts``, ``GET /voices``, ``GET /health``, on port 5003."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .engines import (
    MAX_CHARS,
    SAMPLE_RATE,
    TTSError,
    Voice,
    check_request,
    choose,
    duration_s,
    synthesize,
    voices,
)


def error(exc: TTSError) -> JSONResponse:
    return JSONResponse({"error": exc.problem, "fix": exc.fix}, status_code=exc.status)


def describe(voice: Voice) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "id": voice.id,
        "engine": voice.engine,
        "language": voice.language,
        "title": voice.title,
        "available": voice.available,
    }
    if not voice.available:
        out.update(problem=voice.problem, fix=voice.fix)
    if voice.manifest_id:
        out.update(manifest=voice.manifest_id, license=voice.license)
    return out


def create_app(*, weights: Optional[Path] = None) -> FastAPI:
    app = FastAPI(title="talkingface TTS", docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> Dict[str, Any]:
        ready = [v for v in voices(weights) if v.available]
        return {"status": "ok" if ready else "no voices", "voices": len(ready), "sample_rate": SAMPLE_RATE}

    @app.get("/voices")
    def list_voices() -> Dict[str, Any]:
        return {
            "voices": [describe(v) for v in voices(weights)],
            "max_chars": MAX_CHARS,
        }

    @app.post("/tts")
    async def tts(request: Request) -> Response:
        try:
            body = await read_body(request)
            text, speed = check_request(body.get("text"), body.get("speed"))
            voice = choose(voices(weights), str(body.get("voice") or "") or None)
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
