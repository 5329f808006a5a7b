#!/usr/bin/env python3
"""paste-back's speed and peak memory at 1080p and 4K, and the seam it leaves on the sample clip.

    python benchmarks/paste_back.py [--sizes 1920x1080,3840x2160] [--seconds 12] [--work DIR] [--json OUT]

Speed and memory: synthetic inputs made with ffmpeg's testsrc2 (a background of the given size, a 512x512 render
with a sine tone), crop boxes in the frame's middle, a parsing map per frame, and the render's poses mirrored over
the first 10/11 of the background as ER-NeRF replays them, so the background is read backwards too (the spool). The
step runs as its own process; its resident memory and its children's (ffmpeg decoders and encoder) is summed from
/proc every 200 ms. Two lengths per size show whether memory grows with length.

Seam: the sample clip padded into a 1280x720 frame, its crop boxes found by check-input, and as the "render" the
crop itself at 512x512 with a colour cast (warmer, brighter: what a renderer trained under other light gives),
pasted back hard (neither feather nor colour match) and as paste-back does it. The seam is the mean absolute
difference across the box's edge (0-255), over every frame; the training video's own figure is the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.proc_memory import measure  # noqa: E402

FPS = 25


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args], check=True)


def step(*args: str) -> List[str]:
    return [sys.executable, "-m", "talkingface.container.steps", "paste-back", *args]


def dataset(data: Path, frames: int, width: int, height: int, size: int) -> None:
    """crop_boxes.csv, transforms_train.json (the first 10/11) and parsing maps, as preprocessing leaves them."""
    data.mkdir(parents=True, exist_ok=True)
    x, y = (width - size) // 2, (height - size) // 2
    rows = "".join(f"{i},{x},{y},{size},{width},{height}\n" for i in range(frames))
    (data / "crop_boxes.csv").write_text("frame,x,y,size,source_width,source_height\n" + rows, encoding="utf-8")
    train = [{"img_id": i} for i in range(int(frames * 10 / 11))]
    (data / "transforms_train.json").write_text(json.dumps({"frames": train}), encoding="utf-8")
    sys.path.insert(0, str(REPO / "tests" / "doubles"))
    import fakeupstream

    parsing = data / "parsing"
    parsing.mkdir(exist_ok=True)
    fakeupstream.write_parsing(parsing / "0.png", 512, 512)
    for i in range(1, frames):
        os.link(parsing / "0.png", parsing / f"{i}.png")


def speed(work: Path, width: int, height: int, seconds: float, env: Dict[str, str]) -> Dict[str, float]:
    folder = work / f"{width}x{height}-{seconds:g}s"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    frames = int(round(seconds * FPS))
    background, result = folder / "background.mp4", folder / "speech.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={FPS}", "-t", f"{seconds}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(background))  # fmt: skip
    # The render outlasts the training split, so its poses turn back: the background is read backwards as well.
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=512x512:rate={FPS}", "-f", "lavfi", "-i", "sine=frequency=300",
           "-t", f"{seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(result))  # fmt: skip
    dataset(folder / "data", frames, width, height, size=height // 2)
    out = folder / "speech_full.mp4"
    args = ["--result", str(result), "--background", str(background), "--data_dir", str(folder / "data")]
    args += ["--poses", str(folder / "data" / "transforms_train.json"), "--order", "mirror", "--out", str(out)]
    measured = measure(step(*args), env)
    shutil.rmtree(folder)
    return {
        "frames": frames,
        "wall_s": measured["seconds"],
        "peak_gb": measured["peak_gb"],
        "frames_per_s": frames / measured["seconds"],
    }


def seams(work: Path, env: Dict[str, str]) -> Dict[str, float]:
    from talkingface.container.paste import read_crop_boxes, seam
    from talkingface.demo.sample_clip import generate
    from talkingface.prep.decode import batches

    folder = work / "seam"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    clip, video = folder / "clip.mp4", folder / "sample-720p.mp4"
    generate(clip, seconds=12.0, size=512)
    ffmpeg("-i", str(clip), "-vf", "pad=1280:720:384:104:color=0x6b7d8f", "-c:v", "libx264", "-crf", "12",
           "-c:a", "copy", str(video))  # fmt: skip
    data = folder / "data"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "talkingface.container.steps",
            "check-input",
            "--src",
            str(video),
            "--out_dir",
            str(data),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    boxes = read_crop_boxes(str(data / "crop_boxes.csv"))
    box = boxes.boxes[0]
    frames = len(boxes.boxes)
    (data / "poses.json").write_text(json.dumps(list(range(frames))), encoding="utf-8")
    render = folder / "render.mp4"
    cast = "colorchannelmixer=rr=1.2:gg=1.0:bb=0.85,eq=brightness=0.06"
    ffmpeg("-i", str(video), "-vf", f"crop={box.size}:{box.size}:{box.x}:{box.y},scale=512:512:flags=lanczos,{cast}",
           "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-c:a", "copy", str(render))  # fmt: skip

    def measured(path: Path) -> float:
        values = []
        for n, batch in batches(str(path), filters=f"fps={FPS}", width=1280, height=720, pix_fmt="bgr24", batch=25):
            values += [seam(frame, boxes.boxes[min(n + k, frames - 1)]) for k, frame in enumerate(batch)]
        return sum(values) / len(values)

    figures = {"training_video": measured(video)}
    for name, extra in (("hard_paste", ["--hard"]), ("paste_back", [])):
        out = folder / f"{name}.mp4"
        args = ["--result", str(render), "--background", str(video), "--data_dir", str(data)]
        args += ["--poses", str(data / "poses.json"), "--order", "forward", "--out", str(out), *extra]
        subprocess.run(step(*args), env=env, check=True, stdout=subprocess.DEVNULL)
        figures[name] = measured(out)
    shutil.rmtree(folder)
    return {**{k: round(v, 2) for k, v in figures.items()}, "box": box.size, "frames": frames}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1920x1080,3840x2160")
    parser.add_argument("--seconds", default="6,12", help="lengths to run each size at")
    parser.add_argument("--work", help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--skip_seam", action="store_true")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    work = Path(args.work or tempfile.mkdtemp(prefix="paste-back-bench-"))
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    report: Dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB",
        "runs": [],
    }
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        for seconds in (float(s) for s in args.seconds.split(",")):
            run = {"size": size, "seconds": seconds, **speed(work, width, height, seconds, env)}
            print(
                f"{size} {seconds:g} s ({run['frames']} frames): {run['frames_per_s']:.1f} frames/s, "
                f"peak {run['peak_gb']:.2f} GB",
                flush=True,
            )
            report["runs"].append(run)  # type: ignore[union-attr]
    if not args.skip_seam:
        report["seam"] = seams(work, env)
        print(f"seam on the sample clip: {report['seam']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
