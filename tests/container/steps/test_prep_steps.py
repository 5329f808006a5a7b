"""Our own preprocessing steps on generated media, run as a user's plan runs them, one ``python -m`` each:

check-input --needs_audio, then normalize, then frames-landmarks (and au-from-landmarks on the sample). Every bad
input stops the plan at check-input with one ``error: <problem> -- fix: <fix>`` line, leaves the dataset folder as
it was and the input untouched; odd but good inputs (4K at 60 fps, a rotated phone clip) become the same 512x512
25 fps dataset as the sample; a disk that fills up mid-step stops with whole files only, and the next run resumes.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Set

import cv2
import dlib
import face_recognition_models
import numpy as np
import pytest

from talkingface.demo import sample_clip as sc
from tests import prep_media as pm
from tests.conftest import REPO

TRACK = "face_track.npz"
DISK_FULL_FIX = "free space on the disk holding the workspace, then run the same command again: it resumes"

MAKERS: Dict[str, Callable[[Path], Path]] = {
    "sample": pm.sample_clip,
    "corrupt": pm.corrupt_file,
    "truncated": pm.truncated_mp4,
    "truncated-faststart": functools.partial(pm.truncated_mp4, faststart=True),
    "no-audio": pm.no_audio_clip,
    "audio-wav": functools.partial(pm.audio_only, fmt="wav"),
    "audio-m4a": functools.partial(pm.audio_only, fmt="m4a"),
    "one-second": pm.one_second_clip,
    "cat": pm.cat_clip,
    "two-people": pm.two_people_clip,
    "portrait-rotated": pm.portrait_rotated_clip,
    # The shortest clip check-input accepts is 10 s; at 3840x2160 60 fps it takes half a minute to make.
    "uhd60": functools.partial(pm.uhd60_clip, seconds=10.5),
}


def step(*argv: object, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "talkingface.container.steps", *map(str, argv)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> Set[str]:
    """Every file under ``folder``, hidden ones included, relative to it."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir()}


def one_error_line(done: subprocess.CompletedProcess) -> re.Match[str]:
    lines = done.stderr.splitlines()
    assert len(lines) == 1, f"stderr is not one line:\n{done.stderr}"
    match = re.fullmatch(r"error: (.+) -- fix: (.+)", lines[0])
    assert match, lines[0]
    return match


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


class Media:
    """Each medium made once per module, on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made: Dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        if name not in self.made:
            self.made[name] = MAKERS[name](self.folder)
        return self.made[name]


@dataclass
class PlanRun:
    src: Path
    data: Path
    src_sha: str
    results: List[subprocess.CompletedProcess]

    @property
    def video(self) -> Path:
        return self.data / "clip.mp4"

    @property
    def ori(self) -> Path:
        return self.data / "ori_imgs"

    @property
    def frames(self) -> int:
        return len(np.load(self.data / TRACK)["boxes"])


def run_plan(src: Path, data: Path) -> PlanRun:
    """The three steps in a plan's order, stopping at the first that fails, as the runner does."""
    before = sha256(src)
    plan = [
        ("check-input", "--src", src, "--out_dir", data, "--needs_audio"),
        ("normalize", "--src", src, "--track", data / TRACK, "--out", data / "clip.mp4"),
        ("frames-landmarks", "--video", data / "clip.mp4", "--track", data / TRACK, "--out_dir", data / "ori_imgs"),
    ]
    results = []
    for argv in plan:
        results.append(step(*argv))
        if results[-1].returncode != 0:
            break
    return PlanRun(src=src, data=data, src_sha=before, results=results)


class Prepared:
    """The good media through the whole plan, once per module."""

    def __init__(self, media: Media, folder: Path) -> None:
        self.media = media
        self.folder = folder
        self.runs: Dict[str, PlanRun] = {}

    def __getitem__(self, name: str) -> PlanRun:
        if name not in self.runs:
            self.runs[name] = run_plan(self.media[name], self.folder / f"data-{name}")
        run = self.runs[name]
        for done in run.results:
            assert done.returncode == 0, f"{name}: {done.args[3]} failed:\n{done.stdout}\n{done.stderr}"
        return run


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return Media(tmp_path_factory.mktemp("prep-steps-media"))


@pytest.fixture(scope="module")
def prepared(media: Media, tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    return Prepared(media, tmp_path_factory.mktemp("prep-steps-data"))


@pytest.fixture(scope="module")
def detector() -> dlib.fhog_object_detector:
    return dlib.get_frontal_face_detector()


@pytest.fixture(scope="module")
def predictor() -> dlib.shape_predictor:
    return dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


def read_lms(path: Path) -> np.ndarray:
    lines = path.read_text().splitlines()
    assert len(lines) == 68, f"{path}: {len(lines)} lines"
    return np.array([[float(v) for v in line.split()] for line in lines])


# medium -> (the problem, the fix), as regular expressions; {src} is the input's path.
BAD = {
    "corrupt": (r"cannot read {src}: .*Invalid data found when processing input", r"damaged or not a media file"),
    "truncated": (r"cannot read {src}: .*Invalid data found when processing input", r"damaged or not a media file"),
    # The index survived, so the header reads and says 12 s; ffmpeg decodes the first half and exits 0.
    "truncated-faststart": (
        r"{src} stops after 00:0\d\.\d\d \(mm:ss\) though its header says 00:12\.00: only 1\d\d of 300 frames decode",
        r"truncated or damaged: re-export or re-download it",
    ),
    "no-audio": (
        r"{src} has no audio stream; training learns the mouth from the speech in the video",
        r"with its sound",
    ),
    "audio-wav": (r"{src} has no video stream \(wav, 12\.00 s; pcm_s16le 16000 Hz x1\)", r"not an audio file"),
    "audio-m4a": (r"{src} has no video stream \(mov,mp4,.*; aac 16000 Hz x1\)", r"not an audio file"),
    "one-second": (r"{src} lasts 1\.00 s; training needs at least 10 s", r"longer video"),
    "cat": (
        r"no face found in 300 of 300 frames \(100\.0 %, at most 1 % allowed\) of {src}, at 00:00\.00-00:12\.00 "
        r"\(mm:ss\)",
        r"one face is visible",
    ),
    "two-people": (r"{src} shows more than one face in (\d+) of \1 sampled frames", r"crop the video to the one"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_is_one_clear_error_and_nothing_is_lost(media: Media, tmp_path: Path, name: str) -> None:
    src = media[name]
    data = tmp_path / "data"
    data.mkdir()
    (data / "notes.txt").write_text("the user's own file\n")
    run = run_plan(src, data)
    assert len(run.results) == 1, "the plan must stop at check-input"
    done = run.results[0]
    assert done.returncode == 1, done.stderr
    error = one_error_line(done)
    problem, fix = (pattern.format(src=re.escape(str(src))) for pattern in BAD[name])
    assert re.fullmatch(problem, error[1]), error[1]
    assert re.search(fix, error[2]), error[2]
    assert tree(data) == {"notes.txt"}, "check-input wrote something"
    assert (data / "notes.txt").read_text() == "the user's own file\n"
    assert sha256(src) == run.src_sha


GOOD = ["sample", "portrait-rotated", "uhd60"]


@pytest.mark.parametrize("name", GOOD)
class TestGoodInputs:
    def test_every_step_succeeds_quietly(self, prepared: Prepared, name: str) -> None:
        run = prepared[name]
        assert [done.stderr for done in run.results] == ["", "", ""]
        assert "wrote" in run.results[1].stdout and "wrote" in run.results[2].stdout
        assert sha256(run.src) == run.src_sha

    def test_normalized_video(self, prepared: Prepared, name: str) -> None:
        run = prepared[name]
        info = ffprobe(run.video)
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
        assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == ("h264", "yuv420p", 512, 512)
        assert video["avg_frame_rate"] == video["r_frame_rate"] == "25/1"
        assert (audio["codec_name"], int(audio["sample_rate"]), audio["channels"]) == ("aac", 16000, 1)
        source = float(ffprobe(run.src)["format"]["duration"])
        frames = int(video["nb_read_packets"])
        assert frames == run.frames == math.ceil(source * 25)
        assert float(video["duration"]) == pytest.approx(frames / 25)
        # AAC comes in 1024-sample packets (64 ms at 16 kHz): padded or cut to within one of the picture.
        assert float(audio["duration"]) == pytest.approx(frames / 25, abs=0.065)

    def test_face_is_upright_in_the_normalized_frames(self, prepared: Prepared, name: str, detector, predictor) -> None:
        run = prepared[name]
        wanted = set(np.linspace(0, run.frames - 1, 6).astype(int).tolist())
        frames, count = {}, 0
        capture = cv2.VideoCapture(str(run.video))
        ok, frame = capture.read()
        while ok:
            if count in wanted:
                frames[count] = frame
            count += 1
            ok, frame = capture.read()
        capture.release()
        assert count == run.frames and sorted(frames) == sorted(wanted)
        for index in sorted(wanted):
            gray = cv2.cvtColor(frames[index], cv2.COLOR_BGR2GRAY)
            found = list(detector(gray, 0))  # the frontal detector finds upright faces only
            assert len(found) == 1, f"frame {index}: {len(found)} faces"
            box = found[0]
            assert 120 <= box.width() <= 300, f"frame {index}: face {box.width()} px wide in 512"
            points = np.array([(p.x, p.y) for p in predictor(gray, box).parts()], dtype=np.float64)
            left, right = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
            tilt = math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))
            assert abs(tilt) < 10, f"frame {index}: eyes tilted {tilt:.1f} degrees"
            assert max(left[1], right[1]) < points[33, 1] < points[62, 1] < points[8, 1], "eyes, nose, mouth, chin"

    def test_crop_box_per_frame_inside_the_displayed_frame(self, prepared: Prepared, name: str) -> None:
        run = prepared[name]
        displayed = {"sample": (512, 512), "portrait-rotated": (288, 512), "uhd60": (3840, 2160)}[name]
        with open(run.data / "crop_boxes.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert [int(r["frame"]) for r in rows] == list(range(run.frames))
        crops = {
            (int(r["x"]), int(r["y"]), int(r["size"]), int(r["source_width"]), int(r["source_height"])) for r in rows
        }
        assert len(crops) == 1, "one crop for the whole clip"
        x, y, size, width, height = crops.pop()
        assert (width, height) == displayed
        assert size % 2 == 0 and size > 0
        assert 0 <= x and x + size <= width and 0 <= y and y + size <= height
        track = np.load(run.data / TRACK)
        assert track["crop"].tolist() == [x, y, size]
        assert track["source_size"].tolist() == list(displayed)

    def test_frames_and_landmarks(self, prepared: Prepared, name: str) -> None:
        run = prepared[name]
        n = run.frames
        assert tree(run.ori) == {f"{i}.jpg" for i in range(n)} | {f"{i}.lms" for i in range(n)}
        for i in range(n):
            read_lms(run.ori / f"{i}.lms")
        for i in (0, n // 2, n - 1):
            image = cv2.imread(str(run.ori / f"{i}.jpg"))
            assert image is not None and image.shape == (512, 512, 3)


@pytest.fixture(scope="module")
def sample(prepared: Prepared) -> PlanRun:
    return prepared["sample"]


@pytest.fixture(scope="module")
def points(sample: PlanRun) -> np.ndarray:
    return np.stack([read_lms(sample.ori / f"{i}.lms") for i in range(sample.frames)])


@pytest.fixture(scope="module")
def truth(sample: PlanRun) -> dict:
    return sc.load_truth(sample.src)


class TestSampleLandmarks:
    """The sample clip's landmarks against dlib run on its own and against the generator's truth."""

    def test_agree_with_dlibs_detector_and_predictor_on_the_jpgs(self, sample: PlanRun, points, detector, predictor):
        errors = []
        for i in range(0, sample.frames, 10):
            gray = cv2.cvtColor(cv2.imread(str(sample.ori / f"{i}.jpg")), cv2.COLOR_BGR2GRAY)
            found = list(detector(gray, 0))
            assert len(found) == 1, f"frame {i}"
            theirs = np.array([(p.x, p.y) for p in predictor(gray, found[0]).parts()], dtype=np.float64)
            errors.append(float(np.linalg.norm(theirs - points[i], axis=1).mean()))
        # Measured: 0.8 px mean, 1.2 px at worst (the box comes from the track, not from a search of each frame).
        assert np.mean(errors) < 1.5, errors
        assert max(errors) < 3.0, errors

    def test_mouth_gap_follows_the_truth(self, points: np.ndarray, truth: dict) -> None:
        inner = np.linalg.norm(points[:, [61, 62, 63]] - points[:, [67, 66, 65]], axis=2).mean(axis=1)
        gap = inner / np.linalg.norm(points[:, 60] - points[:, 64], axis=1)
        opening = np.array(truth["mouth_open"])
        assert len(opening) == len(gap)
        r = float(np.corrcoef(gap, opening)[0, 1])
        assert r > 0.9, f"r = {r:.3f} (measured 0.99)"

    def test_au45_is_high_in_blinks_and_low_with_open_eyes(self, sample: PlanRun, truth: dict) -> None:
        out = sample.data / "au.csv"
        done = step("au-from-landmarks", "--data_dir", sample.data, "--out", out)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        with open(out, newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["frame", " face_id", " timestamp", " confidence", " success", " AU45_r"]
        au45 = np.array([float(r[5]) for r in rows[1:]])
        blink = np.array(truth["blink"])
        assert len(au45) == len(blink) == sample.frames
        closed, opened = au45[blink > 0.8], au45[blink < 0.05]
        assert len(closed) >= 4 and len(opened) > 200
        # Measured: 4.8 in the blinks (4.5 at least), 0.2 with eyes open (0.6 at most).
        assert closed.mean() > 3.5 and opened.mean() < 0.5, (closed.mean(), opened.mean())
        assert closed.min() > opened.max()


def mount_tmpfs(folder: Path, kib: int, *, remount: bool = False) -> Optional[str]:
    """None, or why it could not be mounted."""
    if remount:
        argv = ["mount", "-o", f"remount,size={kib}k", str(folder)]
    else:
        argv = ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as exc:
        return str(exc)
    return None if done.returncode == 0 else (done.stderr.strip() or f"exit status {done.returncode}")


@contextlib.contextmanager
def small_disk(folder: Path, kib: int) -> Iterator[Path]:
    """``folder`` as a tmpfs of ``kib`` KiB for the block; the test is skipped where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    why = mount_tmpfs(folder, kib)
    if why is not None:
        pytest.skip(f"mounting a small tmpfs to fill up needs root (CAP_SYS_ADMIN): {why}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)
        assert not os.path.ismount(folder), f"could not unmount {folder}"


def used_kib(paths: List[Path]) -> int:
    """Space the files take on tmpfs: whole 4 KiB pages."""
    return sum(-(-p.stat().st_size // 4096) * 4 for p in paths)


def test_disk_full_mid_step_then_resume(prepared: Prepared, tmp_path: Path) -> None:
    clean = prepared["sample"]
    frames_kib = used_kib(sorted(clean.ori.iterdir()))
    inputs_kib = used_kib([clean.video, clean.data / TRACK])
    with small_disk(tmp_path / "data", inputs_kib + frames_kib // 2) as data:
        for name in ("clip.mp4", TRACK):
            (data / name).write_bytes((clean.data / name).read_bytes())
        ori = data / "ori_imgs"
        argv = ("frames-landmarks", "--video", data / "clip.mp4", "--track", data / TRACK, "--out_dir", ori)

        full = step(*argv)
        assert full.returncode == 1, full.stdout + full.stderr
        error = one_error_line(full)
        assert re.fullmatch(rf"the disk is full writing {re.escape(str(ori))}/\d+\.(jpg|lms)", error[1]), error[1]
        assert error[2] == DISK_FULL_FIX
        left = tree(ori)
        assert all(re.fullmatch(r"\d+\.(jpg|lms)", name) for name in left), sorted(left)
        done = {name for name in left if name.endswith(".lms") and f"{name[:-4]}.jpg" in left}
        assert 0 < len(done) < clean.frames, f"{len(done)} frames done: the disk was not full midway"
        for name in left:  # whole files only: each as the clean run wrote it
            assert (ori / name).read_bytes() == (clean.ori / name).read_bytes(), name
        for name in ("clip.mp4", TRACK):
            assert (data / name).read_bytes() == (clean.data / name).read_bytes()

        assert mount_tmpfs(data, 2 * (inputs_kib + frames_kib), remount=True) is None
        again = step(*argv)
        assert again.returncode == 0 and again.stderr == "", again.stderr
        assert f"resuming: {len(done)} of {clean.frames} frames were done before" in again.stdout
        assert tree(ori) == tree(clean.ori)
        for name in sorted(tree(ori)):
            assert (ori / name).read_bytes() == (clean.ori / name).read_bytes(), name


@pytest.mark.parametrize("name", ["normalize", "to-wav"])
def test_disk_full_in_an_ffmpeg_step(prepared: Prepared, tmp_path: Path, name: str) -> None:
    clean = prepared["sample"]
    with small_disk(tmp_path / "data", 160) as data:
        (data / "notes.txt").write_text("the user's own file\n")
        if name == "normalize":
            out = data / "clip.mp4"
            done = step("normalize", "--src", clean.src, "--track", clean.data / TRACK, "--out", out)
        else:
            out = data / "aud.wav"
            done = step("to-wav", "--src", clean.video, "--dst", out)
        assert done.returncode == 1, done.stdout + done.stderr
        error = one_error_line(done)
        assert error[1].startswith("the disk is full: ffmpeg "), error[1]
        assert error[2] == DISK_FULL_FIX
        assert tree(data) == {"notes.txt"}, "a partial file was left"
        assert (data / "notes.txt").read_text() == "the user's own file\n"
    assert sha256(clean.src) == clean.src_sha
