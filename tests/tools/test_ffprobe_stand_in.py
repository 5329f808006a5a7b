"""The GPU runs' ffprobe stand-in (tools/gpu-run/stand_ins/ffprobe) answers every query talkingface and the test
doubles make exactly as the real ffprobe does. The first lent-GPU run stopped in the doubles' face parsing because
the stand-in knew only two JSON queries."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STAND_IN = REPO / "tools" / "gpu-run" / "stand_ins" / "ffprobe"

pytestmark = pytest.mark.skipif(not shutil.which("ffprobe"), reason="needs the real ffprobe to compare with")

QUERIES = [
    ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0"],
    ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0:s=x"],
    ["-v", "error", "-show_entries", "format=duration", "-of", "default=noprint_wrappers=1:nokey=1"],
    ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"],
    ["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets",
     "-of", "csv=p=0"],
    ["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
     "stream=width,height,r_frame_rate,nb_read_packets", "-of", "json"],
    ["-v", "error", "-select_streams", "a:0", "-show_entries", "stream=sample_rate,duration_ts", "-of", "json"],
    ["-v", "error", "-show_entries", "stream=codec_type:format=duration", "-of", "json"],
]  # fmt: skip


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    ff = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run([*ff, "-f", "lavfi", "-i", "testsrc=s=320x240:r=25:d=2", "-f", "lavfi", "-i",
                    "sine=f=440:r=16000:d=2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-shortest", str(d / "clip.mp4")], check=True)  # fmt: skip
    subprocess.run([*ff, "-f", "lavfi", "-i", "sine=f=440:r=16000:d=1.5", "-ac", "1", str(d / "speech.wav")],
                   check=True)  # fmt: skip
    subprocess.run([*ff, "-f", "lavfi", "-i", "color=c=gray:s=450x300", "-frames:v", "1", str(d / "face.jpg")],
                   check=True)  # fmt: skip
    return d


def answer(program, query, path):
    out = subprocess.run([*program, *query, str(path)], capture_output=True, text=True, check=True).stdout
    if "json" in query:
        doc = json.loads(out)
        doc.pop("programs", None)
        # Numbers compared as ffprobe's JSON types them; durations to the millisecond (ffmpeg prints centiseconds).
        for section in [*doc.get("streams", []), doc.get("format", {})]:
            if "duration" in section:
                section["duration"] = round(float(section["duration"]), 1)
        return doc
    return [round(float(v), 1) if v.replace(".", "", 1).isdigit() and "." in v else v for v in out.split()]


@pytest.mark.parametrize("query", QUERIES, ids=[" ".join(q[q.index("-show_entries") + 1 :]) for q in QUERIES])
@pytest.mark.parametrize("name", ["clip.mp4", "speech.wav", "face.jpg"])
def test_stand_in_answers_as_ffprobe_does(media, query, name):
    path = media / name
    real = subprocess.run(["ffprobe", *query, str(path)], capture_output=True, text=True)
    if real.returncode != 0 or not real.stdout.strip() or real.stdout.strip() in ("{}", "{\n\n}"):
        pytest.skip(f"ffprobe itself has no answer for {name}")
    if "a:0" in query and name != "speech.wav" or "count_packets" in query and name == "speech.wav":
        pytest.skip("query not asked of this kind of file")
    assert answer([sys.executable, str(STAND_IN)], query, path) == answer(["ffprobe"], query, path)


def test_stand_in_refuses_an_unknown_query(media):
    out = subprocess.run([sys.executable, str(STAND_IN), "-show_frames", str(media / "clip.mp4")],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 2
    assert "unsupported query" in out.stderr
