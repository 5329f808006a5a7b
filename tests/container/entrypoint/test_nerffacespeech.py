"""NeRFFaceSpeech, the one-shot model: every infer form, its refusals and bad photos, and the FFHQ alignment, run by
the entrypoint against the upstream doubles (tests/doubles/nerffacespeech)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

from tests.conftest import Container, ffmpeg, make_container
from tests.container.entrypoint.test_pipeline import duration, file_state, steps_run

SCRIPTS = {
    "image": "StyleNeRF/main_NeRFFaceSpeech_audio_driven_from_image.py",
    "seed": "StyleNeRF/main_NeRFFaceSpeech_audio_driven_from_z.py",
    "poses": "StyleNeRF/main_NeRFFaceSpeech_audio_driven_w_given_poses.py",
    "motion": "StyleNeRF/main_NeRFFaceSpeech_video_driven.py",
}


@pytest.fixture(scope="module")
def photos(media: Dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """A photo of one face (the sample clip's first frame), the same face mirrored, two faces, a thumbnail, none."""
    root = tmp_path_factory.mktemp("photos")
    face = root / "face.png"
    ffmpeg("-i", str(media["clip"]), "-frames:v", "1", str(face))
    ffmpeg("-i", str(face), "-vf", "hflip", str(root / "mirrored.png"))
    ffmpeg("-i", str(face), "-i", str(face), "-filter_complex", "hstack", str(root / "two.png"))
    ffmpeg("-i", str(face), "-vf", "scale=200:200", str(root / "small.png"))
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=512x512", "-frames:v", "1", str(root / "empty.png"))
    ffmpeg("-i", str(media["clip"]), "-t", "2", "-an", "-c:v", "libx264", str(root / "driving.mp4"))
    return {p.stem: p for p in root.iterdir()}


@pytest.fixture
def nffs(tmp_path: Path) -> Container:
    return make_container("nerffacespeech", tmp_path)


def upstream_calls(container: Container, script: str) -> List[dict]:
    return [call for call in container.calls() if call["script"] == script]


def flag(call: dict, name: str) -> str:
    return next(a.split("=", 1)[1] for a in call["argv"] if a.startswith(f"--{name}="))


def streams(path: Path) -> List[str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


def read_rgb(path: Path) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


class TestInferFromAPhoto:
    def test_a_photo_and_speech_give_a_video_as_long_as_the_speech(self, nffs: Container, media, photos) -> None:
        # An empty home: dnnlib's own cache (~/.cache/dnnlib) has no vgg16.pt to fall back on.
        home = nffs.root / "home"
        home.mkdir()
        nffs.env["HOME"] = str(home)
        face = nffs.put_input("image", photos["face"])
        speech = nffs.put_input("audio", media["speech"])
        done = nffs.run("infer", "--image_path", face, "--audio_path", speech)
        result = nffs.workspace / "results" / "face" / "speech.mp4"
        assert f"result: {result}" in done.stdout
        assert abs(duration(result, "v:0") - 3.0) <= 0.1
        assert abs(duration(result, "a:0") - 3.0) <= 0.1
        [invert, render] = upstream_calls(nffs, SCRIPTS["image"])
        aligned = nffs.data_dir("face") / "aligned.png"
        for call in (invert, render):
            assert flag(call, "test_img") == str(aligned)
            assert flag(call, "network") == "pretrained_networks/ffhq_1024.pkl"
            assert flag(call, "trunc") == "0.7"
            assert call["cwd"] == str(nffs.root / "upstream" / "nerffacespeech")
        assert flag(render, "test_data") == str(nffs.workspace / "audio" / "speech" / "speech.wav")
        # dnnlib's download of vgg16.pt finds it in the weights folder instead: the inversion ran (the home has none).
        logs = "".join(p.read_text() for p in (nffs.workspace / "logs" / "face").glob("*.log"))
        assert "G_PTI.pt" in {p.name for p in (nffs.workspace / "models" / "face" / "inversion").iterdir()}
        assert "Downloading" not in logs and not (home / ".cache" / "dnnlib").exists()

    def test_the_photo_is_aligned_as_ffhq_and_the_transform_maps_it_back(self, nffs: Container, media, photos) -> None:
        import cv2

        face = nffs.put_input("image", photos["face"])
        nffs.run("infer", "--image_path", face, "--audio_path", nffs.put_input("audio", media["speech"]))
        aligned = read_rgb(nffs.data_dir("face") / "aligned.png")
        record = json.loads((nffs.data_dir("face") / "aligned.json").read_text())
        assert aligned.shape == (1024, 1024, 3) and record["size"] == 1024
        assert record["source_size"] == [512, 512]
        forward = np.vstack([record["photo_to_aligned"], [0, 0, 1]])
        back = np.vstack([record["aligned_to_photo"], [0, 0, 1]])
        assert np.allclose(forward @ back, np.eye(3), atol=1e-5)
        # FFHQ's square: its corners land on the aligned image's corners.
        corners = np.hstack([np.array(record["quad"]), np.ones((4, 1))]) @ forward.T
        assert np.allclose(corners[:, :2], [[0, 0], [0, 1024], [1024, 1024], [1024, 0]], atol=0.5)
        # The saved transform reproduces the aligned image from the photo, so a result can be pasted back.
        photo = read_rgb(photos["face"])
        again = cv2.warpAffine(photo, np.array(record["photo_to_aligned"]), (1024, 1024), flags=cv2.INTER_LANCZOS4)
        inside = (slice(64, 960), slice(64, 960))
        assert np.abs(again[inside].astype(int) - aligned[inside].astype(int)).mean() < 2.0
        # The eyes sit where FFHQ puts them: level, in the upper half, centred.
        from talkingface.prep.ffhq_align import find_one_face

        points = find_one_face(aligned, "the aligned photo")
        left, right = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
        assert abs(left[1] - right[1]) < 15 and 380 < (left[1] + right[1]) / 2 < 520
        assert abs((left[0] + right[0]) / 2 - 512) < 30

    def test_a_second_speech_reuses_the_inversion(self, nffs: Container, media, photos, tmp_path: Path) -> None:
        face = nffs.put_input("image", photos["face"])
        nffs.run("infer", "--image_path", face, "--audio_path", nffs.put_input("audio", media["speech"]))
        other = tmp_path / "other.wav"
        ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000", "-t", "2", str(other))
        nffs.clear_calls()
        nffs.run("infer", "--image_path", face, "--audio_path", nffs.put_input("audio", other))
        [render] = upstream_calls(nffs, SCRIPTS["image"])
        assert flag(render, "outdir").endswith("render-other")
        log = next((nffs.workspace / "logs" / "face").glob("*-infer-other-render.log")).read_text()
        assert "reusing the PTI inversion" in log
        assert abs(duration(nffs.workspace / "results" / "face" / "other.mp4", "v:0") - 2.0) <= 0.1

    def test_a_new_photo_for_the_task_inverts_again(self, nffs: Container, media, photos) -> None:
        speech = nffs.put_input("audio", media["speech"])
        nffs.run(
            "infer", "--task", "me", "--image_path", nffs.put_input("image", photos["face"]), "--audio_path", speech
        )
        inversion = nffs.workspace / "models" / "me" / "inversion" / "G_PTI.pt"
        first = inversion.read_text()
        nffs.clear_calls()
        mirrored = nffs.put_input("image", photos["mirrored"])
        nffs.run("infer", "--task", "me", "--image_path", mirrored, "--audio_path", speech, "--force")
        assert len(upstream_calls(nffs, SCRIPTS["image"])) == 2
        assert inversion.read_text() != first

    def test_a_rerun_renders_again_although_upstream_skips_an_existing_video(
        self, nffs: Container, media, photos
    ) -> None:
        face = nffs.put_input("image", photos["face"])
        speech = nffs.put_input("audio", media["speech"])
        nffs.run("infer", "--image_path", face, "--audio_path", speech)
        nffs.run("infer", "--image_path", face, "--audio_path", speech, "--from_step", "infer-speech-render")
        log = next((nffs.workspace / "logs" / "face").glob("*-infer-speech-render.log")).read_text()
        assert "already exist" not in log
        assert len(upstream_calls(nffs, SCRIPTS["image"])) == 3

    def test_a_changed_inversion_renders_and_muxes_again(self, nffs: Container, media, photos) -> None:
        face = nffs.put_input("image", photos["face"])
        speech = nffs.put_input("audio", media["speech"])
        nffs.run("infer", "--image_path", face, "--audio_path", speech)
        result = nffs.workspace / "results" / "face" / "speech.mp4"
        first = file_state(result)
        nffs.clear_calls()
        again = nffs.run("infer", "--image_path", face, "--audio_path", speech)
        assert steps_run(again.stdout) == [] and nffs.calls() == [] and file_state(result) == first
        # The inversion the render takes changes (the render's input): the render and the mux run again.
        inversion = nffs.workspace / "models" / "face" / "inversion" / "G_PTI.pt"
        inversion.write_text(inversion.read_text() + "another inversion\n")
        redone = nffs.run("infer", "--image_path", face, "--audio_path", speech)
        assert steps_run(redone.stdout) == ["infer-speech-render", "infer-speech-mux"]
        assert len(upstream_calls(nffs, SCRIPTS["image"])) == 1
        assert file_state(result)[:2] != first[:2]
        assert abs(duration(result, "v:0") - 3.0) <= 0.1 and abs(duration(result, "a:0") - 3.0) <= 0.1
        assert steps_run(nffs.run("infer", "--image_path", face, "--audio_path", speech).stdout) == []

    def test_without_vgg16_nothing_runs_rather_than_download_it(self, nffs: Container, media, photos) -> None:
        vgg = next((nffs.root / "weights" / "cache" / "dnnlib" / "downloads").glob("*_vgg16.pt"))
        vgg.unlink()
        face = nffs.put_input("image", photos["face"])
        done = nffs.run(
            "infer", "--image_path", face, "--audio_path", nffs.put_input("audio", media["speech"]), check=False
        )
        assert done.returncode == 2
        assert "cache/dnnlib/downloads/5982b9427714baaab6e0a48ef3b1dbfd_vgg16.pt" in done.stderr
        assert nffs.calls() == []


class TestOtherDrivers:
    def test_a_seed_renders_a_face_from_the_latent_space(self, nffs: Container, media) -> None:
        done = nffs.run("infer", "--seed", "6", "--audio_path", nffs.put_input("audio", media["speech"]))
        result = nffs.workspace / "results" / "seed6" / "speech.mp4"
        assert f"result: {result}" in done.stdout
        calls = upstream_calls(nffs, SCRIPTS["seed"])
        assert len(calls) == 2 and {flag(c, "seeds") for c in calls} == {"6"}
        assert abs(duration(result, "a:0") - 3.0) <= 0.1

    def test_a_motion_video_with_speech_gives_the_poses(self, nffs: Container, media, photos) -> None:
        face = nffs.put_input("image", photos["face"])
        driving = nffs.put_input("motion", photos["driving"])
        speech = nffs.put_input("audio", media["speech"])
        nffs.run("infer", "--image_path", face, "--motion_video", driving, "--audio_path", speech)
        [render] = upstream_calls(nffs, SCRIPTS["poses"])
        frames = Path(flag(render, "motion_guide_img_folder"))
        assert len(list(frames.glob("*.png"))) == 50
        assert read_rgb(next(frames.glob("*.png"))).shape == (256, 256, 3)
        assert json.loads((frames.parent / "transform.json").read_text())["frames"] == 50
        result = nffs.workspace / "results" / "face" / "speech.mp4"
        assert streams(result) == ["video", "audio"] and abs(duration(result, "v:0") - 3.0) <= 0.1

    def test_a_motion_video_alone_drives_poses_and_expressions(self, nffs: Container, photos) -> None:
        face = nffs.put_input("image", photos["face"])
        driving = nffs.put_input("motion", photos["driving"])
        done = nffs.run("infer", "--image_path", face, "--motion_video", driving)
        result = nffs.workspace / "results" / "face" / "driving.mp4"
        assert f"result: {result}" in done.stdout
        [render] = upstream_calls(nffs, SCRIPTS["motion"])
        assert flag(render, "test_data").endswith("silence.wav")
        assert streams(result) == ["video"] and abs(duration(result, "v:0") - 2.0) <= 0.1


class TestRefusals:
    @pytest.mark.parametrize("verb", ["train", "preprocess", "train_only", "check", "validate", "convert-bfm"])
    def test_training_verbs_are_refused_with_the_reason(self, nffs: Container, media, verb: str) -> None:
        video = nffs.put_input("video", media["clip"])
        done = nffs.run(verb, "--video_path", video, "--task", "clip", check=False)
        assert done.returncode == 2
        [line] = done.stderr.strip().splitlines()
        assert f"nerffacespeech cannot {verb}: it is one-shot and inference-only" in line
        assert "issues #6 and #10" in line and "-- fix: use infer" in line
        assert nffs.calls() == []

    def test_extract_features_is_refused(self, nffs: Container, media) -> None:
        done = nffs.run("extract-features", "--audio_path", nffs.put_input("audio", media["speech"]), check=False)
        assert done.returncode == 2 and "computes its audio features inside infer" in done.stderr

    @pytest.mark.parametrize(
        ("photo", "problem"),
        [
            ("empty", "no face found in the photo"),
            ("two", "2 faces found in the photo"),
            ("small", "is 200x200 px, smaller than 256 px"),
        ],
    )
    def test_a_bad_photo_is_one_line_naming_it(self, nffs: Container, media, photos, photo: str, problem: str) -> None:
        image = nffs.put_input("image", photos[photo])
        done = nffs.run(
            "infer", "--image_path", image, "--audio_path", nffs.put_input("audio", media["speech"]), check=False
        )
        assert done.returncode != 0
        [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert problem in line and image in line and "-- fix:" in line
        assert upstream_calls(nffs, SCRIPTS["image"]) == []

    def test_a_motion_video_without_frames_is_one_line_naming_it(self, nffs: Container, media, photos) -> None:
        face = nffs.put_input("image", photos["face"])
        motion = nffs.put_input("motion", media["speech"])
        done = nffs.run("infer", "--image_path", face, "--motion_video", motion, check=False)
        assert done.returncode != 0
        [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert f"{motion} has no video stream" in line and "-- fix:" in line, line
        assert upstream_calls(nffs, SCRIPTS["motion"]) == []

    @pytest.mark.parametrize(
        ("argv", "problem"),
        [
            ((), "infer needs one face: a photo (--image_path) or a latent (--seed), not neither"),
            (("--seed", "1", "--image_path", "x.png"), "not both"),
            (("--seed", "1", "--motion_video", "x.mp4"), "--motion_video drives a photo, not a latent"),
        ],
    )
    def test_infer_needs_exactly_one_face(self, nffs: Container, media, argv, problem: str) -> None:
        speech = nffs.put_input("audio", media["speech"])
        done = nffs.run("infer", "--task", "t", "--audio_path", speech, *argv, check=False)
        assert done.returncode == 2 and problem in done.stderr

    def test_a_photo_without_speech_or_motion_needs_audio(self, nffs: Container, photos) -> None:
        done = nffs.run("infer", "--image_path", nffs.put_input("image", photos["face"]), check=False)
        assert done.returncode == 2 and "infer needs --audio_path" in done.stderr

    def test_a_missing_photo_is_named(self, nffs: Container, media) -> None:
        speech = nffs.put_input("audio", media["speech"])
        done = nffs.run("infer", "--image_path", "/nowhere/face.png", "--audio_path", speech, check=False)
        assert done.returncode == 2 and "--image_path /nowhere/face.png does not exist" in done.stderr
