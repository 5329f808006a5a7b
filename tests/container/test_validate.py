"""``validate``: every rule on a dataset built here, valid first and then broken one way at a time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from talkingface.adapters import get_adapter
from talkingface.container.image_size import image_size
from talkingface.container.validate import check_dataset

FRAMES = 12
HEADER = "frame, face_id, timestamp, confidence, success, AU45_r"


def image(path: Path, size: int = 32, ext: str = ".jpg") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path.with_suffix(ext)), np.full((size, size, 3), 128, np.uint8))


def make_dataset(root: Path) -> Path:
    """An ER-NeRF dataset with the right files, counts and sizes (contents are placeholders)."""
    for n in range(FRAMES):
        image(root / "ori_imgs" / f"{n}.jpg")
        (root / "ori_imgs" / f"{n}.lms").write_text("1.0 2.0\n" * 68)
        image(root / "parsing" / f"{n}.png", ext=".png")
        image(root / "gt_imgs" / f"{n}.jpg")
        image(root / "torso_imgs" / f"{n}.png", ext=".png")
    image(root / "bc.jpg")
    (root / "track_params.pt").write_bytes(b"torch")
    np.save(root / "aud_ds.npy", np.zeros((FRAMES, 16, 29), np.float32))
    rows = [HEADER] + [f"{n + 1}, 0, {n * 0.04:.3f}, 0.98, 1, 0.00" for n in range(FRAMES)]
    (root / "au.csv").write_text("\n".join(rows) + "\n")
    split = FRAMES * 10 // 11
    for name, ids in (("train", range(split)), ("val", range(split, FRAMES))):
        frames = [{"img_id": i, "aud_id": i, "transform_matrix": np.eye(4).tolist()} for i in ids]
        (root / f"transforms_{name}.json").write_text(json.dumps({"focal_len": 1100.0, "frames": frames}))
    return root


def problems(root: Path) -> str:
    return "\n".join(p.what + " || " + p.fix for p in check_dataset(get_adapter("ernerf").dataset_spec(), str(root)))


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data")


def test_a_complete_dataset_has_no_problems(data: Path) -> None:
    assert problems(data) == ""


def test_missing_track_params(data: Path) -> None:
    (data / "track_params.pt").unlink()
    assert "track_params.pt is missing || rerun preprocess" in problems(data)


@pytest.mark.parametrize("folder,ext", [("parsing", ".png"), ("gt_imgs", ".jpg"), ("torso_imgs", ".png")])
def test_per_frame_counts_must_agree(data: Path, folder: str, ext: str) -> None:
    (data / folder / f"5{ext}").unlink()
    assert f"{folder}/*{ext}: {FRAMES - 1} files for {FRAMES} frames" in problems(data)


def test_au_csv_needs_one_row_per_frame(data: Path) -> None:
    lines = (data / "au.csv").read_text().splitlines()
    (data / "au.csv").write_text("\n".join(lines[:-2]) + "\n")
    assert f"au.csv has {FRAMES - 2} rows for {FRAMES} frames" in problems(data)


def test_au_csv_needs_openface_column(data: Path) -> None:
    text = (data / "au.csv").read_text().replace(" AU45_r", "AU45_r")
    (data / "au.csv").write_text(text)
    assert "no ' AU45_r' column" in problems(data)


def test_audio_features_must_match_the_frames(data: Path) -> None:
    np.save(data / "aud_ds.npy", np.zeros((FRAMES + 5, 16, 29), np.float32))
    assert f"aud_ds.npy has {FRAMES + 5} rows for {FRAMES} frames at 25 fps" in problems(data)


def test_one_frame_of_feature_slack_is_allowed(data: Path) -> None:
    np.save(data / "aud_ds.npy", np.zeros((FRAMES + 1, 16, 29), np.float32))
    assert problems(data) == ""


def test_transforms_must_parse(data: Path) -> None:
    (data / "transforms_val.json").write_text("{not json")
    assert "transforms_val.json does not parse" in problems(data)


def test_transforms_must_cover_the_frames(data: Path) -> None:
    doc = json.loads((data / "transforms_val.json").read_text())
    doc["frames"] = doc["frames"][:-1]
    (data / "transforms_val.json").write_text(json.dumps(doc))
    assert f"transforms cover {FRAMES - 1} of {FRAMES} frames" in problems(data)


def test_background_must_have_the_frames_size(data: Path) -> None:
    image(data / "bc.jpg", size=48)
    assert "bc.jpg is 48x48 but the frames are 32x32" in problems(data)


def test_unreadable_background(data: Path) -> None:
    (data / "bc.jpg").write_bytes(b"not an image")
    assert "bc.jpg is not a readable image" in problems(data)


def test_validate_verb_prints_a_table_and_exits_1(data: Path) -> None:
    (data / "track_params.pt").unlink()
    (data / "gt_imgs" / "0.jpg").unlink()
    done = subprocess.run(
        [sys.executable, "-m", "talkingface.container.steps", "validate", "--model", "ernerf", "--data_dir", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    table = done.stdout.splitlines()
    assert table[0].startswith("problem") and table[0].endswith("| fix")
    assert any("track_params.pt is missing" in row and "rerun preprocess" in row for row in table)
    assert any("gt_imgs/*.jpg" in row for row in table)
    assert done.stderr.strip().splitlines() == [f"error: the dataset {data} has 2 problems -- fix: see the table above"]


def test_one_problem_is_one_problem(data: Path) -> None:
    (data / "track_params.pt").unlink()
    done = subprocess.run(
        [sys.executable, "-m", "talkingface.container.steps", "validate", "--model", "ernerf", "--data_dir", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and f"the dataset {data} has 1 problem -- fix" in done.stderr


@pytest.mark.parametrize("ext,size", [(".jpg", (40, 24)), (".png", (17, 9))])
def test_image_size_reads_headers(tmp_path: Path, ext: str, size: tuple) -> None:
    path = tmp_path / f"x{ext}"
    cv2.imwrite(str(path), np.zeros((size[1], size[0], 3), np.uint8))
    assert image_size(str(path)) == size


def test_image_size_of_a_progressive_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "p.jpg"
    cv2.imwrite(str(path), np.zeros((30, 50, 3), np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert image_size(str(path)) == (50, 30)
