"""Measure each chat stage on this machine, as docs/web.md reports it: the studio and the TTS service as their own
processes, the sample clip trained on the local line, then N turns of a recorded wav through ASR, the LLM (a local
OpenAI-compatible server, and repeat mode), TTS and infer.

python -m tests.web.latency [--turns 5] [--runtime native|docker]   (prints a Markdown table)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

from tests.conftest import REPO
from tests.doubles.install import install
from tests.web.conftest import MODEL, Client, FakeLLM, Service, Studio, free_port, speech_wav


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--turns", type=int, default=5)
    p.add_argument("--runtime", choices=("native", "docker"), default="native")
    p.add_argument("--image", help="the model image for --runtime docker (default: the local line's)")
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="talkingface-latency-"))
    from talkingface.demo.sample_clip import generate

    clip = root / "clip.mp4"
    generate(clip, seconds=12.0, size=512)
    install(MODEL, root / "support")
    prefix = root / "env"
    extra: List[str] = []
    if args.runtime == "native":
        subprocess.run(
            [str(REPO / "tools" / "native-env.sh"), MODEL, "local", str(prefix)], check=True, capture_output=True
        )
    port = free_port()
    tts = Service(
        [sys.executable, "-m", "talkingface.tts", "--port", str(port)],
        env=dict(os.environ),
        log=root / "tts.log",
        url=f"http://127.0.0.1:{port}/health",
    )
    tts.start()
    llm = FakeLLM()
    studio = Studio(
        root / "site",
        native_env=prefix,
        support=root / "support",
        tts_url=f"http://127.0.0.1:{port}",
        llm_url=llm.url,
        extra=tuple(extra),
    )
    if args.runtime == "docker":
        argv = studio.service.argv
        at = argv.index("--runtime")
        del argv[at : at + 4]  # --runtime native --native_env M=P
        argv += ["--line", "local", *(["--image", f"{MODEL}={args.image}"] if args.image else [])]
    try:
        with studio:
            (studio.inputs / "clip.mp4").write_bytes(clip.read_bytes())
            client: Client = studio.client()
            code, answer = client.post(
                "/api/train", fields={"model": MODEL, "gpu": "CPU", "video_name": "clip.mp4", "task": "talk"}
            )
            assert code == 200, answer
            assert client.wait_job(answer["job"]["id"], timeout_s=900)["state"] == "done"
            wav = speech_wav(root / "how.wav", "how are you")
            rows: Dict[str, List[float]] = {"asr_s": [], "llm_s": [], "tts_s": [], "infer_s": [], "queue_s": []}
            for mode in ("llm", "repeat"):
                for _ in range(args.turns):
                    code, turn = client.post(
                        "/api/chat",
                        fields={"model": MODEL, "task": "talk", "gpu": "CPU", "mode": mode},
                        files={"audio_file": ("how.wav", wav.read_bytes())},
                    )
                    assert code == 200, turn
                    job = client.wait_job(turn["job"]["id"])
                    assert job["state"] == "done", job
                    rows["asr_s"].append(turn["asr_s"])
                    if turn["llm_s"] is not None:
                        rows["llm_s"].append(turn["llm_s"])
                    rows["tts_s"].append(turn["tts_s"])
                    rows["infer_s"].append(job["finished"] - job["started"])
                    rows["queue_s"].append(job["started"] - job["created"])
    finally:
        tts.stop()
        llm.close()
        shutil.rmtree(root, ignore_errors=True)
    print(f"| stage ({args.runtime}, {args.turns * 2} turns) | median | min | max |")
    print("|---|---|---|---|")
    for key, values in rows.items():
        if values:
            print(f"| {key[:-2]} | {statistics.median(values):.3f} s | {min(values):.3f} s | {max(values):.3f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
