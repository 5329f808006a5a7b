"""The studio over real HTTP: a training queued and run by the host CLI, generate, chat, restart, and every bad
input answered with one message and its fix, with nothing written."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import wave
from pathlib import Path

from tests.web.conftest import Studio, speech_wav


def duration(path: Path) -> float:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(done.stdout)["format"]["duration"])


def train(studio: Studio, clip: Path, task: str = "clip") -> dict:
    shutil.copy(clip, studio.inputs / "clip.mp4")
    client = studio.client()
    code, answer = client.post(
        "/api/train", fields={"model": "ernerf", "gpu": "CPU", "video_name": "clip.mp4", "task": task}
    )
    assert code == 200, answer
    return {"client": client, "answer": answer}


def test_train_then_generate_then_chat_over_http(studio: Studio, clip: Path, fake_llm, tmp_path: Path) -> None:
    started = train(studio, clip)
    client, answer = started["client"], started["answer"]
    assert "input-check" in answer["check"] and answer["job"]["state"] == "queued"
    job = client.wait_job(answer["job"]["id"])
    assert job["state"] == "done", job
    assert job["progress"]["percent"] == 100.0 and job["progress"]["state"] == "done"
    assert {s["state"] for s in job["progress"]["steps"]} == {"done"}
    # The SSE stream of a finished job: its last state, then the end event.
    code, stream, headers = client.request("GET", f"/api/jobs/{job['id']}/events")
    assert headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in stream.decode().splitlines() if line.startswith('data: {"')]
    assert events[-1]["state"] == "done" and b"event: end" in stream

    code, gen = client.post(
        "/api/generate", fields={"model": "ernerf", "task": "clip", "gpu": "CPU", "text": "hello world"}
    )
    assert code == 200, gen
    done = client.wait_job(gen["job"]["id"])
    assert done["state"] == "done", done
    code, video, _ = client.request("GET", f"/api/jobs/{gen['job']['id']}/result")
    out = tmp_path / "gen.mp4"
    out.write_bytes(video)
    assert abs(duration(out) - gen["audio_s"]) < 0.1

    recording = speech_wav(tmp_path / "how.wav", "how are you")
    code, turn = client.post(
        "/api/chat",
        fields={"model": "ernerf", "task": "clip", "gpu": "CPU", "mode": "llm"},
        files={"audio_file": ("how.wav", recording.read_bytes())},
    )
    assert code == 200, turn
    assert turn["heard"] == "how are you" and turn["asr_engine"].startswith("pocketsphinx")
    assert turn["answer"] == "you said how are you" and fake_llm.requests[-1]["path"] == "/v1/chat/completions"
    assert all(turn[k] is not None and turn[k] >= 0 for k in ("asr_s", "llm_s", "tts_s"))
    assert client.wait_job(turn["job"]["id"])["state"] == "done"
    history = client.get("/api/chat/history")["messages"]
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[1]["meta"]["infer_s"] > 0 and history[1]["job_state"] == "done"
    # The second turn carries the first as history.
    code, again = client.post(
        "/api/chat", fields={"model": "ernerf", "task": "clip", "gpu": "CPU", "mode": "repeat", "text": "thank you"}
    )
    assert code == 200 and again["answer"] == "thank you" and again["llm_s"] is None
    # Another session sees none of it.
    other = studio.client()
    assert other.get("/api/chat/history")["messages"] == []
    code, body, _ = other.request("GET", f"/api/jobs/{gen['job']['id']}/result")
    assert code == 404 and "no job" in body["error"]


def test_a_restart_keeps_queued_jobs_and_offers_to_resume_the_running_one(studio: Studio, clip: Path) -> None:
    started = train(studio, clip, task="one")
    client = started["client"]
    assert client.wait_job(started["answer"]["job"]["id"])["state"] == "done"
    code, second = client.post(
        "/api/train", fields={"model": "ernerf", "gpu": "CPU", "video_name": "clip.mp4", "task": "two"}
    )
    assert code == 200, second
    running = second["job"]["id"]
    end = time.monotonic() + 60
    while client.get(f"/api/jobs/{running}")["state"] != "running" and time.monotonic() < end:
        time.sleep(0.2)
    # Queued behind the training (one lane): a render of the first task.
    code, render = client.post("/api/generate", fields={"model": "ernerf", "task": "one", "gpu": "CPU", "text": "hi"})
    assert code == 200 and render["job"]["state"] == "queued", render
    studio.restart()
    # The same browser (its session cookie) after the restart.
    assert client.get(f"/api/jobs/{running}")["state"] == "interrupted"
    assert client.wait_job(render["job"]["id"])["state"] == "done"
    code, body = client.post(f"/api/jobs/{running}/resume")
    assert code == 200, body
    resumed = client.wait_job(running)
    assert resumed["state"] == "done" and resumed["progress"]["percent"] == 100.0
    # Steps the interrupted attempt finished were skipped, not redone.
    assert "skipped" in {s["state"] for s in resumed["progress"]["steps"]}


def test_cancel_stops_a_running_training(studio: Studio, clip: Path) -> None:
    started = train(studio, clip)
    client, job_id = started["client"], started["answer"]["job"]["id"]
    end = time.monotonic() + 60
    while client.get(f"/api/jobs/{job_id}")["state"] != "running" and time.monotonic() < end:
        time.sleep(0.2)
    code, _ = client.post(f"/api/jobs/{job_id}/cancel")
    assert code == 200
    assert client.wait_job(job_id, timeout_s=60)["state"] == "cancelled"


def test_every_bad_input_is_one_message_with_its_fix_and_writes_nothing(
    studio: Studio, clip: Path, tmp_path: Path, fake_llm
) -> None:
    client = studio.client()
    before = studio.user_files()

    def refused(code_body: tuple, status: int, words: str) -> None:
        code, body = code_body
        assert code == status, body
        assert words in body["error"] and body["fix"], body
        assert studio.user_files() == before

    train_fields = {"model": "ernerf", "gpu": "CPU"}
    refused(
        client.post("/api/train", fields=train_fields, files={"video_file": ("notes.mp4", b"just text\n" * 50)}),
        415,
        "not a video",
    )
    refused(
        client.post("/api/train", fields=train_fields, files={"video_file": ("notes.txt", b"x")}),
        415,
        "not a video file",
    )
    blank = tmp_path / "blank.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:s=320x240:d=12",
            "-f",
            "lavfi",
            "-i",
            "sine=d=12",
            "-shortest",
            "-pix_fmt",
            "yuv420p",
            str(blank),
        ],
        check=True,
    )
    refused(
        client.post("/api/train", fields=train_fields, files={"video_file": ("blank.mp4", blank.read_bytes())}),
        422,
        "face",
    )
    refused(
        client.post("/api/train", fields={**train_fields, "video_name": "../../etc/passwd"}),
        403,
        "outside the allowed folder",
    )
    refused(client.post("/api/train", fields={**train_fields, "video_name": "/etc/passwd"}), 400, "not a name")
    refused(
        client.post("/api/generate", fields={"model": "ernerf", "task": "clip", "gpu": "CPU", "text": "hi"}),
        400,
        "no trained checkpoint",
    )
    refused(
        client.post("/api/generate", fields={"model": "ernerf", "task": "clip", "gpu": "CPU", "text": "x" * 10000}),
        413,
        "over the limit",
    )
    refused(
        client.post("/api/generate", fields={"model": "ernerf", "task": "clip", "gpu": "CPU", "text": "   "}),
        400,
        "give text",
    )
    silence = tmp_path / "silence.wav"
    with wave.open(str(silence), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(b"\0\0" * 32000)
    chat = {"model": "ernerf", "task": "clip", "gpu": "CPU", "mode": "llm"}
    refused(
        client.post("/api/chat", fields=chat, files={"audio_file": ("silence.wav", silence.read_bytes())}),
        400,
        "no speech was heard",
    )
    fake_llm.behaviour = "error"
    refused(client.post("/api/chat", fields={**chat, "text": "hello"}), 502, "HTTP 500")
    fake_llm.behaviour = "slow"
    refused(client.post("/api/chat", fields={**chat, "text": "hello"}), 504, "did not answer within")
    fake_llm.behaviour = "answer"
    refused(client.post("/api/train", fields={**train_fields, "video_name": "clip.mp4"}, csrf="0" * 32), 403, "CSRF")
    refused(
        client.post("/api/train", fields={**train_fields, "gpu": "GPU7", "video_name": "x.mp4"}), 400, "not offered"
    )
    # Two trainings of one task: the second is refused while the first is queued or running.
    shutil.copy(clip, studio.inputs / "clip.mp4")
    before = studio.user_files()
    code, first = client.post("/api/train", fields={**train_fields, "video_name": "clip.mp4"})
    assert code == 200, first
    before = studio.user_files()
    code, body = client.post("/api/train", fields={**train_fields, "video_name": "clip.mp4"})
    assert code == 409 and "already being trained" in body["error"], body
    client.wait_job(first["job"]["id"])


def test_an_upload_over_the_limit_is_refused_before_it_is_read(
    tmp_path: Path, native_env: Path, support: Path, tts, clip: Path
) -> None:
    with Studio(
        tmp_path, native_env=native_env, support=support, tts_url=tts.url, extra=("--max_upload_mb", "0.05")
    ) as site:
        client = site.client()
        code, body = client.post(
            "/api/train",
            fields={"model": "ernerf", "gpu": "CPU"},
            files={"video_file": ("clip.mp4", clip.read_bytes())},
        )
        assert code == 413 and "over the limit" in body["error"] and "--max_upload_mb" in body["fix"]
        assert site.user_files() == []


def test_off_loopback_needs_a_token_and_every_request_then_carries_it(
    tmp_path: Path, native_env: Path, support: Path, tts
) -> None:
    import sys

    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "talkingface.web",
            "--host",
            "0.0.0.0",  # noqa: S104 - refused, never bound
            "--workspace",
            str(tmp_path / "ws"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "--token" in refused.stderr and not (tmp_path / "ws").exists()
    token = "s3cret-for-this-test"  # noqa: S105 - a test's own
    with Studio(tmp_path, native_env=native_env, support=support, tts_url=tts.url, extra=("--token", token)) as site:
        code, body, _ = site.client(token).request("GET", "/api/status")
        assert code == 200 and body["runtime"] == "native"
        bare = site.client(token)
        bare.token = None
        code, body, _ = bare.request("GET", "/api/status")
        assert code == 401 and "token" in body["error"]
