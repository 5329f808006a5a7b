"""Task names derived from file names: readable, valid, and distinct for distinct files."""

from __future__ import annotations

import re

import pytest

from talkingface.core.names import check_task, safe_stem


def test_accented_names_fold_to_distinct_readable_tasks() -> None:
    assert safe_stem("ä") == "a"
    assert safe_stem("ö") == "o"
    assert safe_stem("Müller interview") == "Muller_interview"


def test_a_name_with_nothing_readable_left_gets_a_hash_of_itself() -> None:
    japan, china = safe_stem("日本"), safe_stem("中国")
    assert re.fullmatch(r"video-[0-9a-f]{8}", japan) and re.fullmatch(r"video-[0-9a-f]{8}", china)
    assert japan != china
    assert safe_stem("日本") == japan  # the same file gets the same task on every run
    assert re.fullmatch(r"audio-[0-9a-f]{8}", safe_stem("日本", kind="audio"))


def test_a_name_that_lost_letters_keeps_what_is_readable_and_stays_distinct() -> None:
    japan, china = safe_stem("日本 interview"), safe_stem("中国 interview")
    assert japan.startswith("interview-") and china.startswith("interview-") and japan != china


def test_names_cut_to_the_longest_task_stay_distinct() -> None:
    first, second = safe_stem("x" * 80 + "1"), safe_stem("x" * 80 + "2")
    assert first != second and len(first) <= 64 and len(second) <= 64


@pytest.mark.parametrize("stem", ["ä", "日本", "...", " ", "a b;c", "x" * 200, "ｆｕｌｌ", "\udcff", "-.-", "Ελλάδα"])
def test_every_derived_name_is_a_valid_task(stem: str) -> None:
    assert check_task(safe_stem(stem)) == safe_stem(stem)
