"""The sample clip generator and the odd media made from it: formats, determinism, and that the truth is true.

dlib's HOG detector and 68-point model (face-recognition-models) judge the decoded frames, independently of the
hard-coded landmarks the generator draws from.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import wave
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import dlib
import face_recognition_models
import numpy as np
import pytest

from talkingface.demo import sample_clip as sc
from tests import prep_media as pm


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    folder = tmp_path_factory.mktemp("prep-media")
    return {
        "sample": pm.sample_clip(folder),
        "cat": pm.cat_clip(folder),
        "two": pm.two_people_clip(folder),
        "rotated": pm.portrait_rotated_clip(folder),
        "uhd60": pm.uhd60_clip(folder, seconds=1),  # 10.5 s (the default) takes ~15 s of CPU: one second proves it
        "no_audio": pm.no_audio_clip(folder),
        "wav": pm.audio_only(folder, fmt="wav"),
        "m4a": pm.audio_only(folder, fmt="m4a"),
        "one_second": pm.one_second_clip(folder),
        "truncated": pm.truncated_mp4(folder),
        "truncated_faststart": pm.truncated_mp4(folder, faststart=True),
        "corrupt": pm.corrupt_file(folder),
    }


@pytest.fixture(scope="module")
def detector() -> dlib.fhog_object_detector:
    return dlib.get_frontal_face_detector()


@pytest.fixture(scope="module")
def predictor() -> dlib.shape_predictor:
    return dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


def probe(path: Path) -> Tuple[int, dict]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, json.loads(done.stdout or "{}")


def stream(info: dict, kind: str) -> Optional[dict]:
    return next((s for s in info.get("streams", []) if s.get("codec_type") == kind), None)


def decode(path: Path, *, width: int, height: int, autorotate: bool = True, vf: str = "") -> np.ndarray:
    """All frames as RGB, shape (n, height, width, 3); ``vf`` filters them first (e.g. to pick or scale)."""
    argv = ["ffmpeg", "-nostdin", "-v", "error", *([] if autorotate else ["-noautorotate"]), "-i", str(path)]
    # passthrough: frames a `select` drops stay dropped instead of being duplicated back to a constant rate.
    argv += [*(["-vf", vf] if vf else []), "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(argv, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def faces(detector, frame: np.ndarray) -> List[dlib.rectangle]:
    # No upsampling: the sample's face is ~90 px, above the HOG window's 80.
    return list(detector(frame, 0))


def landmarks(predictor, frame: np.ndarray, box: List[float]) -> np.ndarray:
    rect = dlib.rectangle(*(int(round(v)) for v in box))
    return np.array([(p.x, p.y) for p in predictor(frame, rect).parts()], dtype=np.float64)


def lip_gap(points: np.ndarray) -> float:
    """Inner-lip opening over mouth width: 0 when closed, whatever the face's size."""
    gap = np.mean([np.linalg.norm(points[a] - points[b]) for a, b in ((61, 67), (62, 66), (63, 65))])
    return float(gap / np.linalg.norm(points[60] - points[64]))


def eye_aspect_ratio(points: np.ndarray) -> float:
    """Soukupova and Cech's EAR, averaged over both eyes: ~0.3 open, falling towards 0 as the lids close."""

    def one(s: int) -> float:
        p = points[s : s + 6]
        return (np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * np.linalg.norm(p[0] - p[3]))

    return (one(36) + one(42)) / 2


def iou(a: dlib.rectangle, b: List[float]) -> float:
    ax0, ay0, ax1, ay1 = a.left(), a.top(), a.right(), a.bottom()
    bx0, by0, bx1, by1 = b
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sample_frames(media: Dict[str, Path]) -> np.ndarray:
    return decode(media["sample"], width=512, height=512)


@pytest.fixture(scope="module")
def truth(media: Dict[str, Path]) -> dict:
    return sc.load_truth(media["sample"])


@pytest.fixture(scope="module")
def sample_landmarks(predictor, sample_frames: np.ndarray, truth: dict) -> List[np.ndarray]:
    """dlib's 68 points on every decoded frame, in the truth's face box (the detector is tested on its own)."""
    return [landmarks(predictor, f, box) for f, box in zip(sample_frames, truth["face_boxes"])]


def test_sample_is_byte_identical_when_made_again(media: Dict[str, Path], tmp_path: Path) -> None:
    again = tmp_path / "again.mp4"
    sc.generate(again, seconds=12, size=512, seed=0)
    assert sha256(again) == sha256(media["sample"])
    assert sc.truth_path(again).read_bytes() == sc.truth_path(media["sample"]).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.mp4", "again.mp4.truth.json"], "a temporary was left"


def test_another_seed_moves_the_blinks_and_the_head(tmp_path: Path) -> None:
    a = sc.generate(tmp_path / "a.mp4", seconds=6, size=128, seed=1)
    b = sc.generate(tmp_path / "b.mp4", seconds=6, size=128, seed=2)
    assert a.mouth_open == b.mouth_open  # the speech does not depend on the seed
    assert a.blink != b.blink and a.face_boxes != b.face_boxes
    assert sha256(tmp_path / "a.mp4") != sha256(tmp_path / "b.mp4")


def test_sample_format(media: Dict[str, Path], truth: dict) -> None:
    code, info = probe(media["sample"])
    assert code == 0
    video, audio = stream(info, "video"), stream(info, "audio")
    assert video is not None and audio is not None
    assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == ("h264", "yuv420p", 512, 512)
    assert video["r_frame_rate"] == "25/1" and video["avg_frame_rate"] == "25/1"
    assert int(video["nb_frames"]) == truth["frames"] == 300
    assert float(info["format"]["duration"]) == pytest.approx(12.0, abs=0.05)
    assert (audio["codec_name"], int(audio["sample_rate"]), audio["channels"]) == ("aac", 16000, 1)
    assert float(audio["duration"]) == pytest.approx(12.0, abs=0.05)


def test_wav_is_the_sample_speech(media: Dict[str, Path]) -> None:
    with wave.open(str(media["wav"])) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getnframes()) == (16000, 1, 12 * 16000)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert np.sqrt(np.mean((pcm / 32768.0) ** 2)) > 0.02


def test_mouth_truth_is_in_sync_with_the_muxed_audio(media: Dict[str, Path], truth: dict) -> None:
    """The mouth follows the audio as muxed (AAC priming and all), not only the samples it was made from."""
    raw = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(media["sample"]),
            "-ac",
            "1",
            "-ar",
            "16000",
            "-f",
            "s16le",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    pcm = np.frombuffer(raw, "<i2")[: 300 * 640].astype(np.float64)
    energy = np.sqrt(np.mean(pcm.reshape(300, 640) ** 2, axis=1))
    mouth = np.array(truth["mouth_open"])
    lags = {lag: np.corrcoef(mouth[10:-10], energy[10 + lag : 290 + lag])[0, 1] for lag in range(-3, 4)}
    assert max(lags, key=lags.get) == 0, lags
    assert lags[0] > 0.8


def test_truth_sidecar(truth: dict) -> None:
    n = truth["frames"]
    assert (truth["fps"], truth["size"], truth["sample_rate"]) == (25, 512, 16000)
    assert len(truth["mouth_open"]) == len(truth["blink"]) == len(truth["face_boxes"]) == n == 300
    mouth, blink = np.array(truth["mouth_open"]), np.array(truth["blink"])
    assert mouth.min() == 0.0 and mouth.max() > 0.9 and 0.2 < np.mean(mouth > 0.3) < 0.9
    starts = np.flatnonzero(np.diff((blink > 0).astype(int)) == 1) + 1
    assert len(starts) >= 2 and blink.max() == 1.0
    assert np.all((np.diff(starts) >= 2.5 * 25) & (np.diff(starts) <= 5 * 25 + 1))


def test_one_face_in_the_sample_where_the_truth_says(detector, sample_frames: np.ndarray, truth: dict) -> None:
    for i in range(0, truth["frames"], 25):
        found = faces(detector, sample_frames[i])
        assert len(found) == 1, f"frame {i}: {len(found)} faces"
        assert iou(found[0], truth["face_boxes"][i]) > 0.7, f"frame {i}: {found[0]} vs {truth['face_boxes'][i]}"


def test_two_faces_in_the_two_people_clip(detector, media: Dict[str, Path]) -> None:
    frames = decode(media["two"], width=512, height=512, vf="select='not(mod(n\\,50))'")
    assert len(frames) == 6
    for frame in frames:
        found = sorted(faces(detector, frame), key=lambda r: r.left())
        assert len(found) == 2
        assert found[0].right() < 256 < found[1].left()


def test_no_face_in_the_cat_clip(detector, media: Dict[str, Path]) -> None:
    frames = decode(media["cat"], width=512, height=512, vf="select='not(mod(n\\,100))'")
    assert len(frames) == 3
    for frame in frames:
        assert faces(detector, frame) == [] and list(detector(frame, 1)) == []
    _, info = probe(media["cat"])
    assert stream(info, "audio") is not None


def test_mouth_truth_follows_dlib_lip_gap(sample_landmarks: List[np.ndarray], truth: dict) -> None:
    gaps = [lip_gap(points) for points in sample_landmarks]
    r = np.corrcoef(truth["mouth_open"], gaps)[0, 1]
    assert r > 0.6, f"correlation {r:.2f}"


def test_blink_truth_lowers_dlib_eye_aspect_ratio(sample_landmarks: List[np.ndarray], truth: dict) -> None:
    blink = np.array(truth["blink"])
    ear = np.array([eye_aspect_ratio(points) for points in sample_landmarks])
    shut, open_ = ear[blink >= 1.0], ear[blink == 0.0]
    assert len(shut) >= 4
    assert shut.max() < np.percentile(open_, 5), f"shut {shut.round(2)} vs open p5 {np.percentile(open_, 5):.2f}"
    assert shut.mean() < 0.7 * open_.mean()


def test_rotated_clip_is_portrait_only_after_autorotation(detector, media: Dict[str, Path]) -> None:
    code, info = probe(media["rotated"])
    video = stream(info, "video")
    assert code == 0 and video is not None
    assert (video["width"], video["height"]) == (512, 288)  # stored landscape
    rotations = [sd.get("rotation") for sd in video.get("side_data_list", []) if "rotation" in sd]
    assert rotations and abs(rotations[0]) == 90
    upright = decode(media["rotated"], width=288, height=512, vf="select='eq(n\\,40)'")
    assert len(upright) == 1
    assert len(faces(detector, upright[0])) == 1
    stored = decode(media["rotated"], width=512, height=288, autorotate=False, vf="select='eq(n\\,40)'")
    assert faces(detector, stored[0]) == []
    turned = np.ascontiguousarray(np.rot90(stored[0], k=-1))  # clockwise, as the display matrix says
    assert len(faces(detector, turned)) == 1  # the face is there, only sideways


def test_uhd60_clip(detector, media: Dict[str, Path]) -> None:
    code, info = probe(media["uhd60"])
    video = stream(info, "video")
    assert code == 0 and video is not None and stream(info, "audio") is not None
    assert (video["width"], video["height"], video["r_frame_rate"]) == (3840, 2160, "60/1")
    assert int(video["nb_frames"]) == 60
    small = decode(media["uhd60"], width=960, height=540, vf="select='eq(n\\,30)',scale=960:540")
    assert len(faces(detector, small[0])) == 1


def test_streams_of_the_partial_media(media: Dict[str, Path]) -> None:
    kinds = {}
    for name in ("no_audio", "wav", "m4a", "one_second"):
        code, info = probe(media[name])
        assert code == 0, name
        kinds[name] = (stream(info, "video") is not None, stream(info, "audio") is not None)
    assert kinds == {"no_audio": (True, False), "wav": (False, True), "m4a": (False, True), "one_second": (True, True)}
    _, info = probe(media["one_second"])
    assert int(stream(info, "video")["nb_frames"]) == 25
    assert json.loads(sc.truth_path(media["one_second"]).read_text())["frames"] == 25


def test_broken_files_are_broken(media: Dict[str, Path]) -> None:
    for name in ("truncated", "corrupt"):
        code, _ = probe(media[name])
        assert code != 0, f"{name} should not probe"
    code, info = probe(media["truncated_faststart"])
    assert code == 0 and float(info["format"]["duration"]) == pytest.approx(12.0, abs=0.05)
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(media["truncated_faststart"]), "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    decoded = sum(1 for line in done.stdout.splitlines() if line.startswith("0,"))
    assert 0 < decoded < 300 and "partial file" in done.stderr
