"""The site: four pages (Train, Generate, Chat, Models) and the JSON API they call; every error is JSON
``{"error", "fix"}`` that the page shows as it is."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Optional

from fastapi import FastAPI, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ..adapters import ADAPTERS, get_adapter
from .asr import ASRConfig, engine_name
from .config import WebConfig
from .errors import WebError
from .files import AUDIO_SUFFIXES, VIDEO_SUFFIXES, listing
from .jobs import Worker, job_progress, log_path, log_tail
from .security import guard
from .services import (
    ChatRequest,
    Context,
    GenerateRequest,
    TrainRequest,
    chat,
    generate,
    result_file,
    score,
    tasks,
    train,
    tts_voices,
)
from .store import ACTIVE, DONE, Job, Store

HERE = Path(__file__).parent
PAGES = {"train": "Train", "generate": "Generate", "chat": "Chat", "models": "Models and results"}
SSE_POLL_S = 0.5
# An event stream ends by itself after this long; the page reconnects if the job still runs.
SSE_MAX_S = 3600.0


def error_response(exc: WebError) -> JSONResponse:
    return JSONResponse(exc.payload(), status_code=exc.status)


def session_of(request: Request) -> str:
    return str(request.state.session)


def file_of(upload: Optional[UploadFile]) -> tuple:
    if upload is None or not upload.filename:
        return None, ""
    return upload.file, upload.filename


def create_app(config: WebConfig, *, start_worker: bool = True) -> FastAPI:
    store = Store(config.state_dir / "studio.sqlite3")
    worker = Worker(config=config, store=store)
    ctx = Context(config=config, store=store, asr=ASRConfig.from_env(os.environ, config.weights_dir), worker=worker)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app = FastAPI(title="talkingface studio", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(guard(config))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.state.store, app.state.worker = store, worker

    @app.on_event("startup")
    def started() -> None:
        if start_worker:
            worker.start()

    @app.on_event("shutdown")
    def stopped() -> None:
        worker.stop()
        store.close()

    @app.exception_handler(WebError)
    async def web_error(_: Request, exc: WebError) -> JSONResponse:
        return error_response(exc)

    def own_job(request: Request, job_id: int) -> Job:
        job = store.get(job_id)
        if job is None or job.owner != session_of(request):
            raise WebError(f"no job {job_id} of yours", fix="pick a job from your list", status=404)
        return job

    # -------------------------------------------------------------------------------------------- pages

    def page(request: Request, name: str) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            f"{name}.html",
            {
                "page": name,
                "pages": PAGES,
                "csrf": request.state.csrf,
                "models": [(m, get_adapter(m).title) for m in ADAPTERS],
                "gpus": config.gpus,
                "llm": config.llm,
                "asr_engine": engine_name(ctx.asr),
                "max_upload_mb": config.max_upload_bytes // (1024 * 1024),
            },
        )

    @app.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/train")

    @app.get("/train", response_class=HTMLResponse)
    def train_page(request: Request) -> HTMLResponse:
        return page(request, "train")

    @app.get("/generate", response_class=HTMLResponse)
    def generate_page(request: Request) -> HTMLResponse:
        return page(request, "generate")

    @app.get("/chat", response_class=HTMLResponse)
    def chat_page(request: Request) -> HTMLResponse:
        return page(request, "chat")

    @app.get("/models", response_class=HTMLResponse)
    def models_page(request: Request) -> HTMLResponse:
        return page(request, "models")

    # -------------------------------------------------------------------------------------------- API

    @app.get("/api/status")
    def status() -> Dict[str, Any]:
        return {
            "runtime": config.runtime,
            "line": config.line,
            "gpus": list(config.gpus),
            "llm": {"configured": config.llm.configured, "model": config.llm.model if config.llm.configured else None},
            "asr_engine": engine_name(ctx.asr),
            "tts_url": config.tts_url,
            "voices": tts_voices(config),
        }

    @app.get("/api/inputs")
    def inputs(request: Request, kind: str = "video") -> Dict[str, Any]:
        suffixes = VIDEO_SUFFIXES if kind == "video" else AUDIO_SUFFIXES
        return {"inputs": str(config.inputs), "files": listing(config.inputs, session_of(request), suffixes)}

    @app.get("/api/tasks")
    def list_tasks() -> Dict[str, Any]:
        return {"workspace": str(config.workspace_root), "tasks": tasks(config)}

    @app.post("/api/train")
    async def post_train(
        request: Request,
        model: str = Form(...),
        gpu: str = Form(...),
        task: str = Form(""),
        video_name: str = Form(""),
        iterations: str = Form(""),
        video_file: Optional[UploadFile] = None,
    ) -> JSONResponse:
        source, filename = file_of(video_file)
        form = TrainRequest(model=model, gpu=gpu, task=task, video_name=video_name, iterations=iterations)
        answer = await run_in_threadpool(
            lambda: train(ctx, session=session_of(request), form=form, video_file=source, video_filename=filename)
        )
        return JSONResponse(answer)

    @app.post("/api/generate")
    async def post_generate(
        request: Request,
        model: str = Form(...),
        task: str = Form(...),
        gpu: str = Form(...),
        text: str = Form(""),
        voice: str = Form(""),
        speed: str = Form("1.0"),
        audio_file: Optional[UploadFile] = None,
    ) -> JSONResponse:
        source, filename = file_of(audio_file)
        form = GenerateRequest(model=model, task=task, gpu=gpu, text=text, voice=voice, speed=speed)
        answer = await run_in_threadpool(
            lambda: generate(ctx, session=session_of(request), form=form, audio_file=source, audio_filename=filename)
        )
        return JSONResponse(answer)

    @app.post("/api/chat")
    async def post_chat(
        request: Request,
        model: str = Form(...),
        task: str = Form(...),
        gpu: str = Form(...),
        mode: str = Form("llm"),
        text: str = Form(""),
        voice: str = Form(""),
        audio_file: Optional[UploadFile] = None,
    ) -> JSONResponse:
        source, filename = file_of(audio_file)
        form = ChatRequest(model=model, task=task, gpu=gpu, mode=mode, text=text, voice=voice)
        answer = await run_in_threadpool(
            lambda: chat(ctx, session=session_of(request), form=form, audio_file=source, audio_filename=filename)
        )
        return JSONResponse(answer)

    @app.get("/api/chat/history")
    def chat_history(request: Request) -> Dict[str, Any]:
        messages = store.chat(session_of(request))
        for message in messages:
            job = store.get(message["job"]) if message.get("job") else None
            if job is not None:
                message["job_state"] = job.state
                if job.started and job.finished and job.state == DONE:
                    message["meta"]["infer_s"] = round(job.finished - job.started, 3)
        return {"messages": messages}

    @app.post("/api/score")
    async def post_score(
        request: Request,
        model: str = Form(...),
        task: str = Form(...),
        result: str = Form(...),
        gt_name: str = Form(...),
    ) -> JSONResponse:
        answer = await run_in_threadpool(
            lambda: score(ctx, session=session_of(request), model=model, task=task, result=result, gt_name=gt_name)
        )
        return JSONResponse(answer)

    @app.get("/api/jobs")
    def list_jobs(request: Request) -> Dict[str, Any]:
        mine = [j.public() for j in store.jobs(limit=500) if j.owner == session_of(request)]
        return {"jobs": mine}

    def job_view(job: Job) -> Dict[str, Any]:
        return {
            **job.public(),
            "progress": job_progress(config, job),
            # --backend slurm: each Slurm job of the submission and its state, as the worker last read them.
            "slurm": worker.slurm_states.get(job.id),
            "log": log_tail(config, job.id, 6000),
            "log_path": str(log_path(config, job.id)),
            "now": time.time(),
            "meta": job.meta,
        }

    @app.get("/api/jobs/{job_id}")
    def get_job(request: Request, job_id: int) -> Dict[str, Any]:
        return job_view(own_job(request, job_id))

    @app.get("/api/jobs/{job_id}/events")
    async def job_events(request: Request, job_id: int) -> StreamingResponse:
        own_job(request, job_id)

        async def stream() -> AsyncIterator[bytes]:
            last = ""
            end = time.monotonic() + SSE_MAX_S
            while time.monotonic() < end and not await request.is_disconnected():
                job = store.get(job_id)
                if job is None:
                    return
                view = job_view(job)
                text = json.dumps({k: v for k, v in view.items() if k != "now"}, sort_keys=True)
                if text != last:
                    last = text
                    yield f"data: {json.dumps(view)}\n\n".encode()
                if job.state not in ACTIVE:
                    yield b"event: end\ndata: {}\n\n"
                    return
                await asyncio.sleep(SSE_POLL_S)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel_job(request: Request, job_id: int) -> Dict[str, Any]:
        worker.cancel(own_job(request, job_id))
        return {"ok": True}

    @app.post("/api/jobs/{job_id}/resume")
    def resume_job(request: Request, job_id: int) -> Dict[str, Any]:
        job = own_job(request, job_id)
        if job.state in ACTIVE or job.state == DONE:
            raise WebError(
                f"job {job_id} is {job.state}", fix="only a cancelled, failed or interrupted job resumes", status=409
            )
        store.requeue(job_id)
        return {"ok": True}

    @app.get("/api/jobs/{job_id}/result")
    def job_result(request: Request, job_id: int) -> Response:
        job = own_job(request, job_id)
        if job.state != DONE or not job.result or not Path(job.result).is_file():
            raise WebError(f"job {job_id} has no result yet ({job.state})", fix="wait until it is done", status=404)
        path = Path(job.result)
        kind = "text/html" if path.suffix == ".html" else "video/mp4"
        return FileResponse(
            path,
            media_type=kind,
            filename=path.name if kind == "video/mp4" else None,
            content_disposition_type="inline",
        )

    @app.get("/api/results/{model}/{task}/{name}")
    def result(model: str, task: str, name: str) -> Response:
        path = result_file(config, model, task, name)
        kind = "text/html" if path.suffix == ".html" else "video/mp4"
        return FileResponse(path, media_type=kind, content_disposition_type="inline")

    return app
