"""`make demo`: the whole train -> infer job on the bundled sample clip, the way a user runs it.

It runs ``bin/run_<model>.sh train`` and ``infer`` with ``--line local``: the local images (``make build-local``),
whose upstream models are the test doubles (they accept upstream's exact flags and write outputs of the right names
and formats), with STAND-IN (placeholder) weights (``make stand-in-weights``) and a placeholder Basel Face Model.
Every one of our own steps runs for real, in the image, on the sample (``make sample``: a real face photo that
talks and blinks). It needs python3 (standard library only), docker, espeak-ng and the image: no GPU, no weights,
no network, no dev venv. The result is a test-pattern video with the driving speech muxed in, as long as the speech.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "sample.mp4"


def trainable_models() -> list:
    """The demo trains, then infers: the adapters that train (the package needs only the standard library)."""
    sys.path.insert(0, str(REPO))
    from talkingface.adapters import ADAPTERS

    return [name for name, adapter in ADAPTERS.items() if adapter.trainable]


DRIVING_TEXT = "This is talking face, driving a model of a face with speech it has never heard."
# Only the doubles read it (the convert-bfm step of the local line); the real models need the real file.
BFM_PLACEHOLDER = b"MATLAB 5.0 MAT-file placeholder: talkingface's demo, not the Basel Face Model\n"


def fail(problem: str, fix: str) -> int:
    print(f"error: {problem} -- fix: {fix}", file=sys.stderr)
    return 2


def make_inputs(root: Path, clip: Path) -> None:
    """The training clip, a driving speech the model never saw (espeak-ng), a placeholder BFM, stand-in weights."""
    inputs = root / "input"
    inputs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip, inputs / "clip.mp4")
    speech = inputs / "speech.wav"
    tmp = inputs / ".speech.partial.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(tmp), DRIVING_TEXT], check=True)
    os.replace(tmp, speech)
    bfm = root / "bfm_models" / "01_MorphableModel.mat"
    if not bfm.exists():
        bfm.parent.mkdir(parents=True, exist_ok=True)
        bfm.with_name(".partial.mat").write_bytes(BFM_PLACEHOLDER)
        os.replace(bfm.with_name(".partial.mat"), bfm)
    # The same command as make stand-in-weights: never replaces a file, so a rerun goes on.
    subprocess.run(
        [sys.executable, str(REPO / "tests" / "doubles" / "stand_ins.py"), str(root / "weights")],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gaussiantalker", choices=trainable_models())
    parser.add_argument("--dir", default="workspace/demo-gaussiantalker")
    parser.add_argument("--clip", type=Path, default=SAMPLE, help="training clip (default: the bundled sample)")
    parser.add_argument("--clip-only", action="store_true", help="lay out the inputs only (make dry-run-MODEL)")
    parser.add_argument("--iterations", default="6000")
    args = parser.parse_args()
    if not args.clip.is_file():
        return fail(f"the training clip {args.clip} does not exist", fix="make sample (or pass --clip FILE)")
    missing = [tool for tool in ("espeak-ng", "docker") if shutil.which(tool) is None]
    if missing and not (args.clip_only and missing == ["docker"]):
        return fail(f"{' and '.join(missing)} not found", fix="make demo-tools (espeak-ng); install docker")
    root = Path(args.dir).resolve()
    if not args.clip_only:
        shutil.rmtree(root / "workspace", ignore_errors=True)  # the demo's own results only: every run starts over
    make_inputs(root, args.clip)
    if args.clip_only:
        return 0
    run = [str(REPO / "bin" / f"run_{args.model}.sh")]
    common = ["--task", "demo", "--line", "local", "--workspace", str(root / "workspace")]
    common += ["--bfm_dir", str(root / "bfm_models"), "--weights_dir", str(root / "weights")]
    steps = (
        ["train", "--video_path", str(root / "input" / "clip.mp4"), "--iterations", args.iterations, *common],
        ["infer", "--audio_path", str(root / "input" / "speech.wav"), *common],
    )
    for argv in steps:
        print(f"$ bin/run_{args.model}.sh {' '.join(argv)}", flush=True)
        code = subprocess.run([*run, *argv], check=False).returncode
        if code:
            return code
    workspace = root / "workspace"
    print(f"\ndemo result: {workspace / 'results' / 'demo' / 'speech.mp4'} (logs: {workspace / 'logs' / 'demo'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
