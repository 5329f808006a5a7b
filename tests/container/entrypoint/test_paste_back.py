"""paste-back on the sample clip, for every model, run by the entrypoint against the doubles: the output, the
background's frame order, infer --paste_back, and each bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

from talkingface.container.paste import mirror, read_crop_boxes
from talkingface.container.steps.extend_poses import ping_pong
from tests.conftest import Container, ffmpeg
from tests.container.entrypoint.test_pipeline import duration

# The sample clip in a wider, taller frame: the crop box is then a part of the frame, as in a real video.
WIDE = (768, 576)
SMALL = (192, 144)  # frames are compared at a quarter of the size: the same verdicts, 16 times less memory


@pytest.fixture(scope="module")
def wide(media: Dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    root = tmp_path_factory.mktemp("wide")
    clip, pattern = root / "wide.mp4", root / "pattern.mp4"
    pad = f"pad={WIDE[0]}:{WIDE[1]}:200:40:color=0x336699"
    ffmpeg("-i", str(media["clip"]), "-vf", pad, "-c:v", "libx264", "-c:a", "copy", str(clip))
    # A background whose every frame differs (testsrc2 moves), the training video's size and length: which frame
    # the output shows can be told from it.
    size = f"{WIDE[0]}x{WIDE[1]}"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25", "-t", "12", "-pix_fmt", "yuv420p", str(pattern))
    return {"clip": clip, "pattern": pattern, "speech": media["speech"]}


def frames(path: Path) -> np.ndarray:
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"fps=25,scale={SMALL[0]}:{SMALL[1]}:flags=area"]
        + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, SMALL[1], SMALL[0], 3).astype(np.int16)


def size_of(path: Path) -> tuple:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height"]
        + ["-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return tuple(int(v) for v in out.split(","))


def expected_order(container: Container, count: int) -> List[int]:
    """Which training frame each rendered frame shows, from what each upstream does (not from our adapters)."""
    data = container.data_dir("clip")
    total = len(read_crop_boxes(str(data / "crop_boxes.csv")).boxes)
    if container.model == "ernerf":  # main.py --test_train: the training split, mirrored
        train = int(total * 10 / 11)
        return [mirror(i, train) for i in range(count)]
    if container.model == "gaussiantalker":  # render.py: the validation split, extended ping-pong
        val = list(range(int(total * 10 / 11), total))
        return [val[i] for i in ping_pong(len(val), count)]
    return ping_pong(total, count)  # GeneFace: trainval sample i for frame i, extended ping-pong


def trained(container: Container, wide: Dict[str, Path], *infer: str) -> Path:
    video = container.put_input("video", wide["clip"])
    container.run("train", "--video_path", video, "--task", "clip", "--iterations", "6000")
    speech = container.put_input("audio", wide["speech"])
    container.run("infer", "--task", "clip", "--audio_path", speech, *infer)
    return container.workspace / "results" / "clip" / "speech.mp4"


def box_mask(container: Container) -> np.ndarray:
    """Where the crop box is, in SMALL's pixels, grown by two pixels for the scaling."""
    box = read_crop_boxes(str(container.data_dir("clip") / "crop_boxes.csv")).boxes[0]
    fx, fy = SMALL[0] / WIDE[0], SMALL[1] / WIDE[1]
    mask = np.zeros((SMALL[1], SMALL[0]), bool)
    mask[
        int(box.y * fy) - 2 : int((box.y + box.size) * fy) + 3, int(box.x * fx) - 2 : int((box.x + box.size) * fx) + 3
    ] = 1
    return mask


class TestPasteBack:
    def test_the_render_goes_back_into_the_background_frames_it_was_rendered_at(
        self, container: Container, wide: Dict[str, Path]
    ) -> None:
        result = trained(container, wide)
        background = container.put_input("background", wide["pattern"])
        done = container.run(
            "paste-back", "--task", "clip", "--result", "results/clip/speech.mp4", "--background", background
        )
        full = container.workspace / "results" / "clip" / "speech_full.mp4"
        assert f"wrote {full}" in done.stdout
        assert size_of(full) == WIDE
        assert abs(duration(full, "v:0") - duration(result, "a:0")) <= 0.08
        assert abs(duration(full, "a:0") - duration(result, "a:0")) <= 0.08
        out, bg = frames(full), frames(Path(background))
        order = expected_order(container, len(out))
        inside = box_mask(container)
        outside = ~inside
        for n in range(0, len(out), 3):
            own = np.abs(out[n] - bg[order[n]])[outside].mean()
            assert own < 3.0, f"frame {n}: outside the box differs from background frame {order[n]} by {own:.1f}"
            # The neighbouring background frames differ, so this is the one frame that fits.
            others = [np.abs(out[n] - bg[k])[outside].mean() for k in (order[n] - 2, order[n] + 2) if 0 <= k < len(bg)]
            assert min(others) > own + 1.0
            # Inside the box the render shows the sample clip's face, nothing like the test pattern.
            assert np.abs(out[n] - bg[order[n]])[inside].mean() > 10.0

    def test_infer_paste_back_pastes_into_the_training_video(self, container: Container, wide: Dict[str, Path]) -> None:
        result = trained(container, wide, "--paste_back")
        full = result.with_name("speech_full.mp4")
        assert size_of(full) == WIDE
        assert abs(duration(full, "a:0") - duration(result, "a:0")) <= 0.08
        out, clip = frames(full), frames(wide["clip"])
        order = expected_order(container, len(out))
        outside = ~box_mask(container)
        assert max(np.abs(out[n] - clip[order[n]])[outside].mean() for n in range(len(out))) < 3.0
        # The rendered mouth block is pasted in: the box's content is not the training video's.
        assert np.abs(out[len(out) // 2] - clip[order[len(out) // 2]])[~outside].max() > 60


@pytest.mark.parametrize("container", ["gaussiantalker"], indirect=True)
class TestBadInput:
    """Each refusal: exit status 2 or 1, one line naming the problem and the fix, and nothing written."""

    def refused(self, container: Container, *argv: str) -> str:
        done = container.run("paste-back", "--task", "clip", *argv, check=False)
        assert done.returncode != 0
        lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and " -- fix: " in lines[0], done.stderr
        assert not (container.workspace / "results" / "clip" / "speech_full.mp4").exists()
        assert not list((container.workspace / "results" / "clip").glob(".*partial*"))
        return lines[0]

    def test_each_bad_input_is_one_line_and_writes_nothing(self, container: Container, wide: Dict[str, Path]) -> None:
        trained(container, wide)
        result = "results/clip/speech.mp4"

        short = container.root / "short.mp4"
        ffmpeg("-i", str(wide["pattern"]), "-t", "8", "-pix_fmt", "yuv420p", str(short))
        line = self.refused(container, "--result", result, "--background", str(short))
        assert "lasts 200 frames" in line and "lasted 300" in line and str(short) in line

        small = container.root / "small.mp4"
        ffmpeg("-i", str(wide["pattern"]), "-vf", "scale=640:480", str(small))
        line = self.refused(container, "--result", result, "--background", str(small))
        assert "640x480" in line and "768x576" in line

        other = container.workspace / "results" / "other" / "speech.mp4"
        other.parent.mkdir(parents=True)
        other.write_bytes((container.workspace / result).read_bytes())
        line = self.refused(container, "--result", "results/other/speech.mp4")
        assert "task other, not of task clip" in line and "--task other" in line

        boxes = container.data_dir("clip") / "crop_boxes.csv"
        boxes.unlink()
        line = self.refused(container, "--result", result)
        assert str(boxes) in line and "check --video_path" in line


def test_frame_ids_follow_the_extended_geneface_dataset(tmp_path: Path) -> None:
    """extend-dataset lists the frame each rendered frame shows, playing on from the dataset's end without a jump."""
    import pickle

    from talkingface.container.steps import extend_dataset

    dataset, cond = tmp_path / "trainval_dataset.npy", tmp_path / "cond.npy"
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    with open(dataset, "wb") as fh:
        fh.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
        pickle.dump({"train_samples": [{"idx": i} for i in range(3)], "val_samples": [{"idx": 3}]}, fh, protocol=2)
    np.save(cond, np.zeros((1, 9, 204), np.float32))
    out, ids = tmp_path / "out" / "trainval_dataset.npy", tmp_path / "out" / "frame_ids.json"
    extend_dataset.main(["--dataset", str(dataset), "--cond", str(cond), "--out", str(out), "--frame_ids", str(ids)])
    assert json.loads(ids.read_text()) == [0, 1, 2, 3, 2, 1, 0, 1, 2]
    _, data = extend_dataset.read_object_npy(str(out))
    played = [s["idx"] for s in data["train_samples"] + data["val_samples"]]
    assert played == [0, 1, 2, 3, 2, 1, 0, 1, 2]
