"""`make demo`: the whole train -> infer job on a generated clip, through the real entrypoint and runner.

The upstream models are replaced by the test doubles (they accept upstream's exact flags and write outputs of the
right names and formats), so it needs no GPU, no weights and no network. The result is a test-pattern video with
the driving audio muxed in; with the images built (`make build`), bin/run_<model>.sh runs the real models.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.doubles.install import install  # noqa: E402


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_clip(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=128x128:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=16000",
        "-t", "4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(folder / "clip.mp4"),
    )  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050", "-t", "6", str(folder / "speech.wav"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gaussiantalker", choices=["ernerf", "gaussiantalker", "geneface"])
    parser.add_argument("--dir", default="workspace/demo-gaussiantalker")
    parser.add_argument("--clip-only", action="store_true")
    args = parser.parse_args()
    root = Path(args.dir).resolve()
    if args.clip_only:
        make_clip(root / "input")
        (root / "bfm_models").mkdir(exist_ok=True)
        (root / "bfm_models" / "01_MorphableModel.mat").write_bytes(b"placeholder")
        return 0
    shutil.rmtree(root, ignore_errors=True)  # the demo's own folder only
    env = install(args.model, root)
    make_clip(root / "input")
    entry = [sys.executable, str(REPO / "entrypoints" / "talkingface-entrypoint")]
    steps = (
        ["train", "--video_path", str(root / "input" / "clip.mp4"), "--task", "demo", "--iterations", "6000"],
        ["infer", "--task", "demo", "--audio_path", str(root / "input" / "speech.wav")],
    )
    for argv in steps:
        print(f"$ talkingface-entrypoint {' '.join(argv)}", flush=True)
        code = subprocess.run([*entry, *argv], cwd=root / "workspace", env=env, check=False).returncode
        if code:
            return code
    workspace = root / "workspace"
    print(f"\ndemo result: {workspace / 'results' / 'demo' / 'speech.mp4'} (logs: {workspace / 'logs' / 'demo'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
