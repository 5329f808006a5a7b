"""The paste-back pieces on synthetic frames: seams with and without feathering and colour matching, and the
background's frames served in ping-pong order with bounded memory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from talkingface.container.paste import Background, Box, Paster, frame_order, mirror, seam
from talkingface.core.errors import TalkingfaceError
from tests.conftest import ffmpeg


def scene(width: int = 320, height: int = 240, seed: int = 0) -> np.ndarray:
    """A smooth picture with some texture: gradients plus noise, like a background wall and a sweater."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([80 + 0.3 * xx, 100 + 0.3 * yy, 140 - 0.2 * xx], axis=2)
    return np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)


class TestSeam:
    box = Box(x=96, y=56, size=128)

    def cast_render(self, frame: np.ndarray) -> np.ndarray:
        """What a renderer with a colour cast gives for the box: the original crop at 512, warmer and brighter."""
        import cv2

        b = self.box
        crop = cv2.resize(frame[b.y : b.y + b.size, b.x : b.x + b.size], (512, 512), interpolation=cv2.INTER_CUBIC)
        cast = crop.astype(np.float32) * np.array([0.85, 1.0, 1.2]) + np.array([-12.0, 6.0, 20.0])
        return np.clip(cast, 0, 255).astype(np.uint8)

    def test_feathering_and_colour_matching_hide_the_box(self) -> None:
        frame = scene()
        render = self.cast_render(frame)
        natural = seam(frame, self.box)
        hard = seam(Paster(hard=True, colour=False)(frame, render, self.box), self.box)
        matched_hard = seam(Paster(hard=True, colour=True)(frame, render, self.box), self.box)
        ours = Paster()(frame, render, self.box)
        assert hard > natural + 10  # the cast shows as a step at the box's edge
        assert matched_hard < hard / 3  # colour matching alone removes most of it
        assert seam(ours, self.box) < natural + 1.0  # feathered and matched: like no paste at all
        # Inside the feather, the matched render agrees with the original: no halo where the blend turns over.
        b = self.box
        inner = ours[b.y + 20 : b.y + b.size - 20, b.x + 20 : b.x + b.size - 20].astype(np.int16)
        original = frame[b.y + 20 : b.y + b.size - 20, b.x + 20 : b.x + b.size - 20].astype(np.int16)
        assert np.abs(inner - original).mean() < 5.0

    def test_outside_the_box_is_the_background_untouched(self) -> None:
        frame = scene()
        out = Paster()(frame, self.cast_render(frame), self.box)
        b = self.box
        outside = np.ones(frame.shape[:2], bool)
        outside[b.y : b.y + b.size, b.x : b.x + b.size] = False
        assert np.array_equal(out[outside], frame[outside])

    def test_a_parsing_mask_limits_the_paste_to_head_and_neck(self) -> None:
        frame = scene()
        render = np.full((512, 512, 3), 255, np.uint8)
        parsing = np.full((512, 512, 3), 255, np.uint8)
        parsing[100:400, 150:350] = (255, 0, 0)  # the head, as cv2 reads the lineage's parsing maps
        out = Paster(colour=False)(frame, render, self.box, parsing)
        b, k = self.box, self.box.size / 512
        centre = out[b.y + int(250 * k), b.x + int(250 * k)]
        corner = out[b.y + int(480 * k), b.x + int(30 * k)]
        assert centre.min() == 255  # the head is the render's
        assert np.array_equal(corner, frame[b.y + int(480 * k), b.x + int(30 * k)])  # the rest is the original's


class TestFrameOrder:
    def test_mirror_replays_the_ends(self) -> None:
        assert [mirror(i, 3) for i in range(8)] == [0, 1, 2, 2, 1, 0, 0, 1]

    def test_orders_from_a_pose_list(self, tmp_path: Path) -> None:
        poses = tmp_path / "transforms_train.json"
        poses.write_text('{"frames": [{"img_id": 5}, {"img_id": 6}, {"img_id": 7}]}')
        assert frame_order(str(poses), "mirror", 7) == [5, 6, 7, 7, 6, 5, 5]
        assert frame_order(str(poses), "forward", 2) == [5, 6]
        with pytest.raises(TalkingfaceError, match="4 frames, but the render it should come from used 3 poses"):
            frame_order(str(poses), "forward", 4)
        with pytest.raises(TalkingfaceError, match="does not exist"):
            frame_order(str(tmp_path / "missing.json"), "forward", 1)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A long GOP, as cameras and x264's defaults give: reading it backwards frame by frame would be slow.
    path = tmp_path_factory.mktemp("bg") / "bg.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=25", "-t", "4", "-g", "250", "-pix_fmt", "yuv420p", str(path)
    )
    return path


class TestBackground:
    def all_frames(self, path: Path) -> np.ndarray:
        raw = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(path), "-vf", "fps=25", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
            check=True,
            capture_output=True,
        ).stdout
        return np.frombuffer(raw, np.uint8).reshape(-1, 96, 160, 3).astype(np.int16)

    @pytest.mark.parametrize("order", ["forward", "ping-pong"])
    def test_frames_come_in_the_order_asked(self, video: Path, tmp_path: Path, order: str) -> None:
        truth = self.all_frames(video)
        wanted = list(range(30, 60)) if order == "forward" else [40 + mirror(i, 27) for i in range(120)]
        with Background(str(video), 160, 96, wanted, str(tmp_path / "spool.mkv")) as background:
            assert background.backwards == (order == "ping-pong")
            for index in wanted:
                frame = background.frame(index).astype(np.int16)
                errors = [np.abs(frame - truth[k]).mean() for k in range(len(truth))]
                assert int(np.argmin(errors)) == index
                assert errors[index] < 2.0
                assert len(background.cache) <= background.window
        assert not (tmp_path / "spool.mkv").exists()
