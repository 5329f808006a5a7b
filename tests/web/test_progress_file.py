"""The runner's progress file: what the web studio streams, written by the runner itself at each step."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from talkingface.container.runner import Runner, RunOptions
from talkingface.core.errors import TalkingfaceError
from talkingface.core.plan import Plan, step
from talkingface.core.progress_file import progress_path


def plan_of(tmp_path: Path, *, fail_second: bool) -> Plan:
    out1, out2 = tmp_path / "a.txt", tmp_path / "b.txt"
    code2 = "raise SystemExit(3)" if fail_second else f"open({str(out2)!r}, 'w').write('b')"
    return Plan(
        verb="train",
        task="t",
        steps=(
            step(
                "one",
                "first",
                [sys.executable, "-c", f"open({str(out1)!r}, 'w').write('a')"],
                cwd=str(tmp_path),
                outputs=[str(out1)],
                weight=1.0,
            ),
            step("two", "second", [sys.executable, "-c", code2], cwd=str(tmp_path), outputs=[str(out2)], weight=3.0),
        ),
    )


def run(tmp_path: Path, plan: Plan) -> dict:
    options = RunOptions(state_dir=str(tmp_path / "state"), logs_dir=str(tmp_path / "logs"))
    Runner(options, out=io.BytesIO(), err=io.StringIO()).run(plan)
    return json.loads(progress_path(options.state_dir, "train").read_text())


def test_a_finished_run_records_every_step_done_and_100_percent(tmp_path: Path) -> None:
    record = run(tmp_path, plan_of(tmp_path, fail_second=False))
    assert record["state"] == "done" and record["percent"] == 100.0 and record["task"] == "t"
    assert [s["state"] for s in record["steps"]] == ["done", "done"]
    assert all(s["seconds"] is not None and s["seconds"] >= 0 for s in record["steps"])
    # A second run skips both steps, and says so.
    again = run(tmp_path, plan_of(tmp_path, fail_second=False))
    assert [s["state"] for s in again["steps"]] == ["skipped", "skipped"] and again["percent"] == 100.0


def test_a_failed_step_is_recorded_with_the_share_done_before_it(tmp_path: Path) -> None:
    with pytest.raises(TalkingfaceError):
        run(tmp_path, plan_of(tmp_path, fail_second=True))
    record = json.loads(progress_path(str(tmp_path / "state"), "train").read_text())
    assert record["state"] == "failed"
    assert [s["state"] for s in record["steps"]] == ["done", "failed"]
    assert record["percent"] == 25.0
