"""``normalize``: the source video, whatever its container, codec, fps, size or rotation, as the dataset's video.

25 fps H.264 yuv420p, cut to ``check-input``'s square around the face and scaled to 512x512, with the sound as
16 kHz mono AAC padded or trimmed to exactly the frames' duration, so features and frames line up later. One
ffmpeg process does it all; the encoder settings are fixed, so the same input gives the same bytes.
"""

from __future__ import annotations

import argparse
import subprocess
import threading
from typing import List

import numpy as np

from ...core.atomic import replacing
from ...core.errors import TalkingfaceError, ffmpeg_failed
from ...core.progress import FrameMeter
from ...prep.decode import FPS, packet_count
from ..media import tool

SIZE = 512
# ultrafast at CRF 15: 48 dB PSNR against the cropped source, like veryfast's 47.7 (measured on the sample), at twice
# the speed; the price is a 3x larger file, an intermediate the frames are read from. A fixed thread count: x264's
# output depends on it, and the same input should give the same file on any machine.
# A keyframe every 2 s lets frames-landmarks' workers each seek to their own range cheaply.
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "15", "-g", "50", "-threads", "4", "-pix_fmt", "yuv420p"]
AAC = ["-c:a", "aac", "-b:a", "128k", "-ar", "16000", "-ac", "1"]
EXACT = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="talkingface.container.steps normalize", description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="the training video, as given")
    parser.add_argument("--track", required=True, help="face_track.npz from check-input")
    parser.add_argument("--out", required=True, help="the dataset's video")
    args = parser.parse_args(argv)
    track = np.load(args.track)
    x, y, size = (int(v) for v in track["crop"])
    frames = len(track["boxes"])
    seconds = f"{frames / FPS:.6f}"
    video = f"fps={FPS},crop={size}:{size}:{x}:{y},scale={SIZE}:{SIZE}:flags=lanczos,format=yuv420p"
    argv_ = [tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-y", "-progress", "pipe:1", "-nostats"]
    argv_ += ["-i", args.src, "-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn", "-vf", video, "-frames:v", str(frames)]
    argv_ += ["-af", "apad", "-t", seconds, *X264, *AAC, *EXACT, "-movflags", "+faststart"]
    meter = FrameMeter("normalize", frames)
    with replacing(args.out, suffix=".mp4") as tmp:
        child = subprocess.Popen([*argv_, str(tmp)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        errors: List[str] = []
        drain = threading.Thread(target=lambda: errors.extend(child.stderr or []), daemon=True)
        drain.start()
        done = 0
        for line in child.stdout or []:
            if line.startswith("frame="):
                value = int(line.split("=", 1)[1] or 0)
                meter.advance(value - done)
                done = value
        code = child.wait()
        drain.join()
        if code != 0:
            reason = errors[-1].strip() if errors else f"exit status {code}"
            raise ffmpeg_failed(
                f"normalize {args.src}", reason, fix="the file is damaged or truncated: re-export it; see the step log"
            )
        written = packet_count(str(tmp))
        if written != frames:
            raise TalkingfaceError(
                f"normalizing {args.src} gave {written} frames where {frames} were decoded before",
                fix="the file decodes differently each time (damaged?): re-export it",
                exit_code=1,
            )
    meter.finish()
    print(f"wrote {args.out}: {frames} frames, {SIZE}x{SIZE}, 25 fps, 16 kHz mono")
    return 0
