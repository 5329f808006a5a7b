"""``paste-back``: the rendered face crop pasted back into the original full-frame video, with the result's audio.

Each rendered frame goes back into the training video's frame whose pose it was rendered with (the order comes
from the model's adapter: ``--poses`` and ``--order``), at that frame's crop box, feathered at its edge (along the
parsing mask's head and neck where there is one) and colour-matched to the original crop. Frames stream through
ffmpeg pipes: memory holds a few frames whatever the length or the resolution.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import threading
from typing import List, Optional

import numpy as np

from ...core.atomic import replacing
from ...core.dataset_input import CROP_BOXES
from ...core.errors import TalkingfaceError, ffmpeg_failed
from ...core.progress import FrameMeter
from ...prep.decode import FPS, batches, packet_count
from ...prep.probe import MediaInfo, probe
from ..media import tool
from ..paste import Background, Paster, frame_order, read_crop_boxes, seam

# The training video's length is known to a frame; a container's rounding may differ by one or two.
LENGTH_SLACK = 2
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]


def video_frames(info: MediaInfo) -> int:
    assert info.video is not None  # noqa: S101 - checked by the caller
    seconds = info.video.duration or info.duration
    return int(round(seconds * FPS))


def check_background(path: str, width: int, height: int, frames: int) -> None:
    info = probe(path)
    if info.video is None:
        raise TalkingfaceError(f"--background {path} has no video stream", fix="pass the training video")
    size = (info.video.width, info.video.height)
    if size != (width, height):
        raise TalkingfaceError(
            f"--background {path} is {size[0]}x{size[1]}, but the training video was {width}x{height}",
            fix="pass the training video itself (or a copy of the same size and length) as --background",
        )
    length = video_frames(info)
    if abs(length - frames) > LENGTH_SLACK:
        raise TalkingfaceError(
            f"--background {path} lasts {length} frames at {FPS} fps, but the training video lasted {frames}",
            fix="pass the training video itself (or a copy of the same size and length) as --background",
        )


def check_result(path: str) -> int:
    """The rendered crop's side."""
    info = probe(path)
    if info.video is None or info.video.width != info.video.height:
        shape = f"{info.video.width}x{info.video.height}" if info.video else "no video"
        raise TalkingfaceError(
            f"--result {path} ({shape}) is not a rendered face crop, which is square",
            fix="pass the video infer wrote, results/<task>/<audio>.mp4",
        )
    return info.video.width


def parsing_of(parsing_dir: Optional[str], index: int) -> Optional[np.ndarray]:
    if not parsing_dir:
        return None
    import cv2

    path = os.path.join(parsing_dir, f"{index}.png")
    return cv2.imread(path, cv2.IMREAD_COLOR) if os.path.isfile(path) else None


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps paste-back", description=__doc__.splitlines()[0])
    parser.add_argument("--result", required=True, help="the rendered video (its audio is kept)")
    parser.add_argument("--background", required=True, help="the training video, full frame")
    parser.add_argument("--data_dir", required=True, help=f"the dataset: {CROP_BOXES}, parsing/")
    parser.add_argument("--poses", required=True, help="the render's pose list (transforms json, or JSON frame ids)")
    parser.add_argument("--order", choices=("forward", "mirror"), required=True, help="how the render used them")
    parser.add_argument("--out", required=True)
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--hard", action="store_true", help="no feather, no colour match: to measure the seam")
    args = parser.parse_args(argv)

    boxes = read_crop_boxes(os.path.join(args.data_dir, CROP_BOXES))
    if os.path.exists(args.out) and not args.overwrite:
        raise TalkingfaceError(
            f"{args.out} already exists", fix="move it away, or rerun with --force to replace it", exit_code=1
        )
    check_background(args.background, boxes.width, boxes.height, len(boxes.boxes))
    side = check_result(args.result)
    count = packet_count(args.result)
    if count <= 0:
        raise TalkingfaceError(f"--result {args.result} has no frames", fix="run infer again")
    order = frame_order(args.poses, args.order, count)
    if max(order) >= len(boxes.boxes):
        raise TalkingfaceError(
            f"the render used frame {max(order)}, but the training video has {len(boxes.boxes)} frames",
            fix="the crop boxes are from another video: run the check verb on this task's training video",
        )
    parsing_dir = os.path.join(args.data_dir, "parsing")
    paster = Paster(hard=args.hard, colour=not args.hard)
    width, height = boxes.width, boxes.height
    # x264 in yuv420p needs even sides; an odd one gets one black line rather than a resampled frame.
    pad = f"pad={width + width % 2}:{height + height % 2}" if width % 2 or height % 2 else "null"
    meter = FrameMeter("paste back", count)
    seams: List[float] = []
    with replacing(args.out, suffix=".mp4") as tmp:
        spool = str(tmp) + ".spool.mkv"
        encoder = [tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-y"]
        # ffmpeg queues 8 packets per input by default: 200 MB of raw 4K frames. Two are enough for a pipe.
        encoder += ["-thread_queue_size", "2", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}"]
        encoder += ["-r", str(FPS), "-i", "pipe:0"]
        encoder += ["-i", args.result, "-map", "0:v:0", "-map", "1:a:0?", "-vf", pad, *X264, "-c:a", "copy"]
        encoder += ["-movflags", "+faststart", str(tmp)]
        with Background(args.background, width, height, order, spool) as background:
            child = subprocess.Popen(encoder, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            errors: List[bytes] = []
            drain = threading.Thread(target=lambda: errors.extend(child.stderr or []), daemon=True)
            drain.start()
            stdin = child.stdin
            assert stdin is not None  # noqa: S101 - Popen with PIPE always has it
            written = 0
            try:
                rendered = batches(args.result, filters="null", width=side, height=side, pix_fmt="bgr24", batch=1)
                for (n, frames), index in zip(rendered, order):
                    box = boxes.boxes[index]
                    out = paster(background.frame(index), frames[0], box, parsing_of(parsing_dir, index))
                    seams.append(seam(out, box))
                    stdin.write(out.data)
                    written = n + 1
                    meter.advance(1)
                stdin.close()
            except BrokenPipeError:
                pass
            finally:
                if not stdin.closed:
                    try:
                        stdin.close()
                    except BrokenPipeError:
                        pass
                code = child.wait()
                drain.join()
        if code != 0:
            reason = errors[-1].decode(errors="replace").strip() if errors else f"exit status {code}"
            raise ffmpeg_failed(f"encode {args.out}", reason, fix="see the step log")
        if written != count:
            raise TalkingfaceError(
                f"{args.result} gave {written} frames where its header counts {count}",
                fix="the result is damaged: run infer again",
                exit_code=1,
            )
    meter.finish()
    valid = [s for s in seams if s == s]
    figure = f"; seam across the box edge {np.mean(valid):.2f} (mean |difference|, 0-255)" if valid else ""
    print(f"wrote {args.out}: {count} frames, {width}x{height}{figure}")
    return 0
