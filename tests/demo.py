"""`make demo`: the whole train -> infer job on a generated clip, through the real entrypoint and runner.

The training clip is the bundled sample (``make sample``: a real face photo that talks and blinks), so every one of
our own preprocessing steps runs for real. The upstream models are replaced by the test doubles (they accept
upstream's exact flags and write outputs of the right names and formats), so it needs no GPU, no weights and no
network. The result is a test-pattern video with
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

SAMPLE = REPO / "samples" / "sample.mp4"
DRIVING_TEXT = "This is talking face, driving a model of a face with speech it has never heard."


def make_inputs(folder: Path, clip: Path) -> None:
    """The training clip (the bundled sample) and a driving speech the model never saw, made with espeak-ng."""
    folder.mkdir(parents=True, exist_ok=True)
    if not clip.exists():
        from talkingface.sample_clip import generate

        generate(clip)
    shutil.copyfile(clip, folder / "clip.mp4")
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(folder / "speech.wav"), DRIVING_TEXT], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gaussiantalker", choices=["ernerf", "gaussiantalker", "geneface"])
    parser.add_argument("--dir", default="workspace/demo-gaussiantalker")
    parser.add_argument("--clip", type=Path, default=SAMPLE, help="training clip (default: the bundled sample)")
    parser.add_argument("--clip-only", action="store_true")
    args = parser.parse_args()
    root = Path(args.dir).resolve()
    if args.clip_only:
        make_inputs(root / "input", args.clip)
        (root / "bfm_models").mkdir(exist_ok=True)
        (root / "bfm_models" / "01_MorphableModel.mat").write_bytes(b"placeholder")
        return 0
    shutil.rmtree(root, ignore_errors=True)  # the demo's own folder only
    env = install(args.model, root)
    make_inputs(root / "input", args.clip)
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
