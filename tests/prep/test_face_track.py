"""The rules from face boxes to a verdict and a crop (talkingface.prep.face_track), on made-up tracks."""

from __future__ import annotations

import numpy as np
import pytest

from talkingface.core.errors import TalkingfaceError
from talkingface.prep import face_track as ft

T, F = True, False


def present(*flags: bool) -> np.ndarray:
    return np.array(flags, dtype=bool)


def track(frames: int, *, x: float = 200.0, y: float = 150.0, size: float = 100.0, wander: float = 0.0, seed: int = 0):
    """``frames`` square face boxes of side ``size`` around (x, y) (top left), moving up to ``wander`` px."""
    rng = np.random.default_rng(seed)
    moves = rng.uniform(-wander, wander, size=(frames, 2)) if wander else np.zeros((frames, 2))
    x0, y0 = x + moves[:, 0], y + moves[:, 1]
    return np.stack([x0, y0, x0 + size, y0 + size], axis=1)


class TestMissingRanges:
    def test_runs_of_missing_frames_as_first_and_last(self) -> None:
        assert ft.missing_ranges(present(T, F, F, T, F)) == [(1, 2), (4, 4)]

    def test_missing_from_the_first_frame(self) -> None:
        assert ft.missing_ranges(present(F, F, T, T)) == [(0, 1)]

    def test_none_missing(self) -> None:
        assert ft.missing_ranges(present(T, T, T)) == []
        assert ft.missing_ranges(present()) == []

    def test_all_missing(self) -> None:
        assert ft.missing_ranges(present(F, F, F)) == [(0, 2)]


class TestDescribeRanges:
    def test_clock_times_from_the_first_frame_to_the_end_of_the_last(self) -> None:
        assert ft.describe_ranges([(0, 24), (50, 50)], 25) == "00:00.00-00:01.00, 00:02.00-00:02.04"

    def test_minutes(self) -> None:
        assert ft.describe_ranges([(1500, 1524)], 25) == "01:00.00-01:01.00"

    def test_lists_five_and_counts_the_rest(self) -> None:
        ranges = [(10 * i, 10 * i) for i in range(8)]
        text = ft.describe_ranges(ranges, 25)
        assert text.count("-") == ft.LISTED_RANGES
        assert text.endswith("00:01.60-00:01.64 and 3 more")


class TestCheckFaces:
    def test_one_percent_missing_passes(self) -> None:
        seen = np.ones(1000, dtype=bool)
        seen[100:110] = False
        ft.check_faces(seen, np.ones(20, dtype=np.int64), fps=25, path="v.mp4")

    def test_just_over_one_percent_stops_with_where(self) -> None:
        seen = np.ones(1000, dtype=bool)
        seen[100:110] = False
        seen[500] = False
        with pytest.raises(TalkingfaceError) as caught:
            ft.check_faces(seen, np.ones(20, dtype=np.int64), fps=25, path="v.mp4")
        error = caught.value
        assert error.exit_code == 1
        assert error.problem.startswith("no face found in 11 of 1000 frames (1.1 %, at most 1 % allowed) of v.mp4")
        assert "at 00:04.00-00:04.40, 00:20.00-00:20.04 (mm:ss)" in error.problem
        assert "cut those parts out" in error.fix

    def test_the_boundary_on_a_short_clip(self) -> None:
        ft.check_faces(np.array([False] + [True] * 99), np.ones(2, dtype=np.int64), fps=25, path="v.mp4")
        with pytest.raises(TalkingfaceError, match="no face found in 2 of 100 frames"):
            ft.check_faces(np.array([False, False] + [True] * 98), np.ones(2, dtype=np.int64), fps=25, path="v.mp4")

    def test_no_face_at_all(self) -> None:
        match = r"no face found in 300 of 300 frames \(100.0 %.*at 00:00.00-00:12.00"
        with pytest.raises(TalkingfaceError, match=match):
            ft.check_faces(np.zeros(300, dtype=bool), np.zeros(6, dtype=np.int64), fps=25, path="v.mp4")

    def test_no_frames(self) -> None:
        with pytest.raises(TalkingfaceError, match="v.mp4 has no decodable frames"):
            ft.check_faces(np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64), fps=25, path="v.mp4")

    @pytest.mark.parametrize(
        "sampled",
        [[1, 1, 1], [2, 1], [2, 2, 1, 1], [3, 1, 1, 0], []],
        ids=["one", "half-of-two", "half-of-four", "one-of-four", "none-sampled"],
    )
    def test_a_second_face_in_at_most_half_the_samples_passes(self, sampled) -> None:
        ft.check_faces(np.ones(100, dtype=bool), np.array(sampled, dtype=np.int64), fps=25, path="v.mp4")

    @pytest.mark.parametrize("sampled", [[2, 2, 1], [2, 3, 2, 1, 0], [2]], ids=["two-of-three", "three-of-five", "one"])
    def test_more_than_one_face_in_most_samples_stops(self, sampled) -> None:
        crowded = sum(n >= 2 for n in sampled)
        with pytest.raises(TalkingfaceError) as caught:
            ft.check_faces(np.ones(100, dtype=bool), np.array(sampled, dtype=np.int64), fps=25, path="v.mp4")
        assert caught.value.problem == f"v.mp4 shows more than one face in {crowded} of {len(sampled)} sampled frames"
        assert "crop" in caught.value.fix and caught.value.exit_code == 1

    def test_missing_faces_are_reported_before_crowds(self) -> None:
        with pytest.raises(TalkingfaceError, match="no face found"):
            ft.check_faces(np.zeros(100, dtype=bool), np.full(2, 2, dtype=np.int64), fps=25, path="v.mp4")


class TestJudgeUnsearched:
    def test_between_two_faces_is_a_face(self) -> None:
        found = present(T, F, T, F, T)
        searched = present(T, F, T, F, T)
        assert ft.judge_unsearched(found, searched).tolist() == [T, T, T, T, T]

    def test_next_to_a_miss_is_a_miss(self) -> None:
        found = present(T, F, F, F, T, F, T)
        searched = present(T, F, T, F, T, F, T)
        assert ft.judge_unsearched(found, searched).tolist() == [T, F, F, F, T, T, T]

    def test_after_the_last_searched_frame_follows_it(self) -> None:
        assert ft.judge_unsearched(present(T, F, F), present(T, F, F)).tolist() == [T, T, T]
        assert ft.judge_unsearched(present(T, F, F, F), present(T, F, T, F)).tolist() == [T, F, F, F]

    def test_before_the_first_searched_frame_follows_it(self) -> None:
        assert ft.judge_unsearched(present(F, T, T), present(F, T, T)).tolist() == [T, T, T]

    def test_a_box_in_an_unsearched_frame_does_not_count_by_itself(self) -> None:
        found = present(F, T, F)
        searched = present(T, F, T)
        assert ft.judge_unsearched(found, searched).tolist() == [F, F, F]

    def test_nothing_searched_is_nothing_present(self) -> None:
        assert ft.judge_unsearched(present(T, T), present(F, F)).tolist() == [F, F]


class TestFillGaps:
    def test_interpolates_between_and_holds_at_the_ends(self) -> None:
        nan = np.nan
        boxes = np.array(
            [[nan] * 4, [0, 0, 10, 10], [nan] * 4, [nan] * 4, [30, 60, 40, 70], [nan] * 4], dtype=np.float64
        )
        filled = ft.fill_gaps(boxes)
        assert filled.tolist() == [
            [0, 0, 10, 10],
            [0, 0, 10, 10],
            [10, 20, 20, 30],
            [20, 40, 30, 50],
            [30, 60, 40, 70],
            [30, 60, 40, 70],
        ]
        assert np.isnan(boxes[0, 0]), "the input is left as it was"

    def test_nothing_found_stays_nan(self) -> None:
        assert np.isnan(ft.fill_gaps(np.full((3, 4), np.nan))).all()


def holds(crop: ft.CropBox, boxes: np.ndarray, *, margin: float, slack: float = 1.5) -> bool:
    """Every box, grown by ``margin`` of its width on each side, inside the crop (``slack`` px for rounding)."""
    grow = margin * (boxes[:, 2] - boxes[:, 0])
    return bool(
        (boxes[:, 0] - grow >= crop.x - slack).all()
        and (boxes[:, 1] - grow >= crop.y - slack).all()
        and (boxes[:, 2] + grow <= crop.x + crop.size + slack).all()
        and (boxes[:, 3] + grow <= crop.y + crop.size + slack).all()
    )


def inside(crop: ft.CropBox, width: int, height: int) -> bool:
    return crop.x >= 0 and crop.y >= 0 and crop.x + crop.size <= width and crop.y + crop.size <= height


class TestCropBox:
    def test_a_still_face(self) -> None:
        boxes = track(50, x=300, y=200, size=100)
        crop = ft.crop_box(boxes, width=1280, height=720)
        assert crop.size == 260  # CROP_PER_FACE x the face
        assert crop.size % 2 == 0
        assert inside(crop, 1280, 720)
        assert holds(crop, boxes, margin=ft.TRACK_MARGIN)
        # Centred across; moved down by a quarter face, so the chin and neck are in.
        assert crop.x + crop.size / 2 == pytest.approx(350, abs=1)
        assert crop.y + crop.size / 2 == pytest.approx(250 + ft.DROP_PER_FACE * 100, abs=1)

    @pytest.mark.parametrize("seed", range(8))
    def test_square_even_inside_and_holding_every_box(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        width, height = int(rng.integers(640, 1920)), int(rng.integers(480, 1080))
        size = float(rng.uniform(60, 140))
        x, y = rng.uniform(0.3, 0.6) * width, rng.uniform(0.2, 0.4) * height
        boxes = track(200, x=x, y=y, size=size, wander=rng.uniform(0, 60), seed=seed)
        crop = ft.crop_box(boxes, width=width, height=height)
        assert crop.size % 2 == 0
        assert inside(crop, width, height)
        assert holds(crop, boxes, margin=ft.TRACK_MARGIN)
        assert crop.size >= round(ft.CROP_PER_FACE * np.median(boxes[:, 2] - boxes[:, 0])) - 1

    def test_a_face_that_moves_far_grows_the_crop(self) -> None:
        boxes = np.concatenate([track(50, x=200, y=200, size=100), track(50, x=500, y=200, size=100)])
        crop = ft.crop_box(boxes, width=1920, height=1080)
        assert crop.size > ft.CROP_PER_FACE * 100
        assert holds(crop, boxes, margin=ft.TRACK_MARGIN)

    def test_moved_down_for_the_chin(self) -> None:
        boxes = track(20, x=400, y=300, size=120)
        crop = ft.crop_box(boxes, width=1280, height=1080)
        face_centre = 300 + 60
        assert crop.y + crop.size / 2 > face_centre + 0.2 * 120

    def test_kept_in_frame_at_the_edges(self) -> None:
        for x, y in [(0, 0), (1180, 0), (0, 620), (1180, 620)]:
            crop = ft.crop_box(track(10, x=x, y=y, size=100), width=1280, height=720)
            assert inside(crop, 1280, 720), (x, y, crop)
            assert crop.size == 260

    def test_never_bigger_than_the_frame_and_even(self) -> None:
        crop = ft.crop_box(track(10, x=50, y=100, size=180), width=301, height=401)
        assert crop.size == 300
        assert inside(crop, 301, 401)

    def test_portrait_frame(self) -> None:
        # A face filling a phone clip's width: the square is as wide as the frame, not wider.
        crop = ft.crop_box(track(10, x=60, y=150, size=160), width=288, height=512)
        assert crop.size == 288 and crop.x == 0
        assert inside(crop, 288, 512)
