"""What each page asks for, as plain functions over the config, the queue and the files: check and queue a
training, speak text and queue a render, run one chat turn, list tasks and results, queue a score."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Dict, List, Optional

from ..adapters import ADAPTERS
from ..core.errors import TalkingfaceError
from ..core.names import check_task, safe_stem
from . import llm
from .asr import ASRConfig, transcribe
from .config import WebConfig
from .errors import WebError, cli_error_line
from .files import VIDEO_SUFFIXES, Upload, owner_dir, pick, probe
from .jobs import REPO, Worker, cli_argv, env_lane, lanes, task_paths
from .store import Job, Store

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".tar", ".ply")
MAX_ITERATIONS = 10_000_000
EVAL_METRICS = "psnr,ssim"


@dataclass(frozen=True)
class Context:
    config: WebConfig
    store: Store
    asr: ASRConfig
    worker: Worker


def check_model(model: str) -> str:
    if model not in ADAPTERS:
        raise WebError(f"unknown model {model!r}", fix=f"choose one of: {', '.join(ADAPTERS)}")
    return model


def check_gpu(config: WebConfig, gpu: str) -> str:
    if gpu not in config.gpus:
        raise WebError(f"GPU {gpu!r} is not offered here", fix=f"choose one of: {', '.join(config.gpus)}")
    return gpu


def valid_task(name: str) -> str:
    try:
        return check_task(name)
    except TalkingfaceError as exc:
        raise WebError.from_cli(exc) from None


def run_cli(argv: List[str], *, timeout_s: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, TEST_MODE="")
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=str(REPO),
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise WebError(
            f"{Path(argv[0]).name} {argv[1]} took over {timeout_s:g} s",
            fix="try again; if it persists, run the same command by hand and read its output",
            status=504,
        ) from None


def cli_failure(done: subprocess.CompletedProcess, what: str) -> WebError:
    said = cli_error_line(done.stderr) or cli_error_line(done.stdout)
    if said is not None:
        return said
    return WebError(f"{what} failed with exit status {done.returncode}", fix="read the output below", status=500)


def upload_folder(config: WebConfig, session: str) -> Path:
    return config.inputs / owner_dir(session)


# ------------------------------------------------------------------------------------------------------ train


@dataclass(frozen=True)
class TrainRequest:
    model: str
    gpu: str
    task: str = ""
    video_name: str = ""
    iterations: str = ""


def train(
    ctx: Context, *, session: str, form: TrainRequest, video_file: Optional[BinaryIO], video_filename: str
) -> Dict[str, Any]:
    """Check the video (seconds), then queue the training; a failed check keeps nothing, not even the upload."""
    config = ctx.config
    model = check_model(form.model)
    gpu = check_gpu(config, form.gpu)
    iterations: List[str] = []
    if form.iterations.strip():
        if not form.iterations.strip().isdigit() or not 0 < int(form.iterations) <= MAX_ITERATIONS:
            raise WebError(
                f"iterations {form.iterations!r} is not a whole number from 1 to {MAX_ITERATIONS}",
                fix="leave it empty for the model's default, or give a positive whole number",
            )
        iterations = ["--iterations", str(int(form.iterations))]
    upload: Optional[Upload] = None
    if video_file is not None and video_filename:
        upload = Upload(upload_folder(config, session), video_filename, kind="video")
        stem = upload.stem
    elif form.video_name:
        video = pick(config.inputs, form.video_name, session, what="video")
        if video.suffix.lower() not in VIDEO_SUFFIXES:
            raise WebError(f"{form.video_name!r} is not a video file", fix="pick a video from the list", status=415)
        stem = safe_stem(video.stem)
    else:
        raise WebError("no video was given", fix="upload a video, or pick one from the inputs folder")
    task = valid_task(form.task.strip() or stem)
    busy = ctx.store.busy_with(model=model, task=task, verb="train")
    if busy is not None:
        raise WebError(
            f"task {task} of {model} is already being trained (job {busy.id}, {busy.state})",
            fix="wait for it, cancel it, or resume it on the Train page; or choose another task name",
            status=409,
        )
    try:
        if upload is not None:
            upload.write(video_file, limit=config.max_upload_bytes)  # type: ignore[arg-type]
            video = upload.tmp
        # Natively the check needs the environment a running job may hold: it waits for it, and no job starts.
        with ctx.worker.holding(env_lane(config, model), timeout_s=config.check_timeout_s):
            report = check_video(config, model=model, task=task, video=video)
        if upload is not None:
            video = upload.keep()
    finally:
        if upload is not None:
            upload.discard()
    argv = cli_argv(
        config,
        model=model,
        verb="train",
        args=["--video_path", str(video), "--task", task, *iterations],
        gpu=gpu,
        queued=True,
    )
    job = ctx.store.add(
        owner=session,
        model=model,
        task=task,
        verb="train",
        lane=lanes(config, model=model, gpu=gpu, task=task),
        argv=argv,
        result=None,
    )
    return {"job": job.public(), "check": report}


def check_video(config: WebConfig, *, model: str, task: str, video: Path) -> str:
    """The CLI's `check` in a scratch workspace: its report, or its error; the real workspace is not touched."""
    scratch_root = config.state_dir / "scratch"
    scratch_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="check-", dir=scratch_root))
    try:
        argv = cli_argv(
            config,
            model=model,
            verb="check",
            args=["--video_path", str(video), "--task", task],
            gpu="CPU",
            workspace=scratch,
        )
        done = run_cli(argv, timeout_s=config.check_timeout_s)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report = (done.stdout + done.stderr).replace(str(scratch), "<check>")
    if done.returncode != 0:
        failure = cli_failure(done, "the check")
        raise WebError(failure.problem, fix=failure.fix or "use another video", status=422) from None
    return report


# ------------------------------------------------------------------------------------------------------ TTS


def speak(config: WebConfig, *, text: str, voice: str = "", speed: float = 1.0) -> bytes:
    body = json.dumps({"text": text, "voice": voice or None, "speed": speed}).encode()
    request = urllib.request.Request(f"{config.tts_url}/tts", data=body, headers={"Content-Type": "application/json"})  # noqa: S310 - http(s) only, checked in config
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - the configured service
            return response.read()
    except urllib.error.HTTPError as exc:
        try:
            said = json.loads(exc.read())
            raise WebError(f"TTS: {said['error']}", fix=said.get("fix", ""), status=exc.code) from None
        except (ValueError, KeyError, TypeError):
            raise WebError(f"the TTS service answered HTTP {exc.code}", fix="read its log", status=502) from None
    except (urllib.error.URLError, OSError) as exc:
        raise WebError(
            f"the TTS service at {config.tts_url} can't be reached ({getattr(exc, 'reason', exc)})",
            fix="start it: python -m talkingface.tts (make web starts it), or docker compose up tts",
            status=502,
        ) from None


def tts_voices(config: WebConfig) -> List[Dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{config.tts_url}/voices", timeout=5) as response:  # noqa: S310
            found = json.loads(response.read())["voices"]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return []
    # Only voices that can speak now go into the page's list; GET /voices on the service says why another can't.
    return [voice for voice in found if voice.get("available", True)]


# ------------------------------------------------------------------------------------------------------ infer


def queue_infer(
    ctx: Context, *, session: str, model: str, task: str, gpu: str, audio: Upload, meta: Optional[Dict[str, Any]] = None
) -> Job:
    """A dry run of the same command first: an untrained task, a bad audio file, fail here, with nothing kept."""
    config = ctx.config
    try:
        args = ["--task", task, "--audio_path", str(audio.tmp)]
        done = run_cli([*cli_argv(config, model=model, verb="infer", args=args, gpu=gpu), "--dry-run"], timeout_s=120)
        if done.returncode != 0:
            raise cli_failure(done, "the render's check")
        # A fresh stem per render: a result never replaces an earlier one.
        kept = audio.keep(f"{audio.stem}-{time.strftime('%H%M%S')}-{secrets.token_hex(2)}")
    finally:
        audio.discard()
    result = Path(task_paths(config, model, task).results_dir) / f"{safe_stem(kept.stem, kind='audio')}.mp4"
    argv = cli_argv(
        config, model=model, verb="infer", args=["--task", task, "--audio_path", str(kept)], gpu=gpu, queued=True
    )
    return ctx.store.add(
        owner=session,
        model=model,
        task=task,
        verb="infer",
        lane=lanes(config, model=model, gpu=gpu, task=task),
        argv=argv,
        result=str(result),
        meta={**(meta or {}), "audio_s": probe(kept).duration},
    )


def text_audio(config: WebConfig, session: str, *, text: str, voice: str, speed: float, stem: str) -> Upload:
    wav = speak(config, text=text, voice=voice, speed=speed)
    audio = Upload(upload_folder(config, session), f"{stem}.wav", kind="audio")
    audio.write(_bytes_reader(wav), limit=config.max_upload_bytes)
    return audio


def _bytes_reader(data: bytes) -> BinaryIO:
    import io

    return io.BytesIO(data)


@dataclass(frozen=True)
class GenerateRequest:
    model: str
    task: str
    gpu: str
    text: str = ""
    voice: str = ""
    speed: str = "1.0"


def parse_speed(text: str) -> float:
    try:
        return float(text or "1.0")
    except ValueError:
        raise WebError(f"speed {text!r} is not a number", fix="give a speed from 0.5 to 2.0") from None


def generate(
    ctx: Context, *, session: str, form: GenerateRequest, audio_file: Optional[BinaryIO], audio_filename: str
) -> Dict[str, Any]:
    config = ctx.config
    model, gpu, task = check_model(form.model), check_gpu(config, form.gpu), valid_task(form.task)
    if audio_file is not None and audio_filename:
        audio = Upload(upload_folder(config, session), audio_filename, kind="audio")
        audio.write(audio_file, limit=config.max_upload_bytes)
        source = "upload"
    elif form.text.strip():
        audio = text_audio(config, session, text=form.text, voice=form.voice, speed=parse_speed(form.speed), stem="say")
        source = "tts"
    else:
        raise WebError("give text to speak or an audio file", fix="type some text, or upload audio")
    job = queue_infer(ctx, session=session, model=model, task=task, gpu=gpu, audio=audio, meta={"source": source})
    return {"job": job.public(), "audio_s": job.meta.get("audio_s")}


# ------------------------------------------------------------------------------------------------------ chat


@dataclass(frozen=True)
class ChatRequest:
    model: str
    task: str
    gpu: str
    mode: str = "llm"
    text: str = ""
    voice: str = ""


def chat(
    ctx: Context, *, session: str, form: ChatRequest, audio_file: Optional[BinaryIO], audio_filename: str
) -> Dict[str, Any]:
    """One turn: ASR (when spoken), the LLM (or repeat), TTS, then the render is queued; each stage timed."""
    config = ctx.config
    model, gpu, task = check_model(form.model), check_gpu(config, form.gpu), valid_task(form.task)
    if form.mode not in ("llm", "repeat"):
        raise WebError(f"unknown chat mode {form.mode!r}", fix="choose llm or repeat")
    timings: Dict[str, Optional[float]] = {"asr_s": None, "llm_s": None, "tts_s": None}
    engine = "typed"
    if audio_file is not None and audio_filename:
        with tempfile.TemporaryDirectory(prefix="talkingface-asr-") as tmp:
            recording = Upload(Path(tmp), audio_filename, kind="audio")
            recording.write(audio_file, limit=config.max_upload_bytes)
            began = time.monotonic()
            heard = transcribe(recording.tmp, ctx.asr)
            timings["asr_s"] = round(time.monotonic() - began, 3)
        said, engine = heard.text, heard.engine
    elif form.text.strip():
        said = form.text.strip()
    else:
        raise WebError("say or type something", fix="record, upload a recording, or type a message")
    if form.mode == "repeat":
        answer, answered_by = said, "repeat mode (no LLM)"
    else:
        history = [{"role": m["role"], "content": m["content"]} for m in ctx.store.chat(session, limit=20)]
        began = time.monotonic()
        answer = llm.chat(config.llm, history, said)
        timings["llm_s"] = round(time.monotonic() - began, 3)
        answered_by = config.llm.model
    began = time.monotonic()
    audio = text_audio(config, session, text=answer, voice=form.voice, speed=1.0, stem="reply")
    timings["tts_s"] = round(time.monotonic() - began, 3)
    meta = {"asr_engine": engine, "answered_by": answered_by, **timings}
    job = queue_infer(ctx, session=session, model=model, task=task, gpu=gpu, audio=audio, meta=meta)
    ctx.store.add_chat(session=session, role="user", content=said, meta={"asr_engine": engine})
    ctx.store.add_chat(session=session, role="assistant", content=answer, job=job.id, meta=meta)
    return {
        "heard": said,
        "answer": answer,
        "asr_engine": engine,
        "answered_by": answered_by,
        **timings,
        "job": job.public(),
    }


# ------------------------------------------------------------------------------------------------------ models


def tasks(config: WebConfig) -> List[Dict[str, Any]]:
    found = []
    for model in ADAPTERS:
        models_root = Path(task_paths(config, model, "x").model_dir).parent
        if not models_root.is_dir():
            continue
        for folder in sorted(p for p in models_root.iterdir() if p.is_dir()):
            paths = task_paths(config, model, folder.name)
            checkpoints = sorted(
                str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix in CHECKPOINT_SUFFIXES
            )[:50]
            results_dir = Path(paths.results_dir)
            results = sorted(p.name for p in results_dir.glob("*.mp4")) if results_dir.is_dir() else []
            reports = sorted(p.name for p in results_dir.glob("*.eval.html")) if results_dir.is_dir() else []
            found.append(
                {
                    "model": model,
                    "task": folder.name,
                    "checkpoints": checkpoints,
                    "results": results,
                    "reports": reports,
                    "trained": bool(checkpoints),
                }
            )
    return found


def result_file(config: WebConfig, model: str, task: str, name: str) -> Path:
    model, task = check_model(model), valid_task(task)
    folder = Path(task_paths(config, model, task).results_dir)
    path = (folder / name).resolve()
    if path.parent != folder.resolve() or not path.is_file():
        raise WebError(f"no result {name!r} for task {task}", fix="pick one from the Models page", status=404)
    return path


def score(ctx: Context, *, session: str, model: str, task: str, result: str, gt_name: str) -> Dict[str, Any]:
    config = ctx.config
    pred = result_file(config, model, task, result)
    gt = pick(config.inputs, gt_name, session, what="ground-truth video")
    report = pred.with_name(f"{pred.stem}-{time.strftime('%Y%m%d-%H%M%S')}.eval.html")
    args = [
        "--gt_video",
        str(gt),
        "--pred_video",
        str(pred),
        "--metrics",
        EVAL_METRICS,
        "--report",
        str(report),
        "--out_json",
        str(report.with_suffix(".json")),
    ]
    if config.eval_runtime == "python":
        argv = [sys.executable, "-m", "talkingface.eval", *args, "--device", "cpu"]
        lane = "eval:cpu"
    else:
        argv = [str(REPO / "bin" / "run_eval.sh"), *args, "--gpu", "CPU"]
        argv += ["--line", config.line] if config.line else []
        argv += ["--weights_dir", config.weights_dir] if config.weights_dir else []
        lane = "eval:cpu"
    job = ctx.store.add(owner=session, model=model, task=task, verb="eval", lane=lane, argv=argv, result=str(report))
    return {"job": job.public()}
