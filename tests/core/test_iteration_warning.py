"""An --iterations far beyond upstream's default is warned about, with a real estimate, before anything runs."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from talkingface.adapters import ADAPTERS, get_adapter
from talkingface.container.runner import Runner, RunOptions
from talkingface.core.cli_args import Roots, parse, resolve
from talkingface.core.compose_plan import build_plan
from talkingface.core.plan import Plan, step

# Only models that train have an --iterations to warn about (a one-shot model refuses train_only).
TRAINABLE = [name for name, adapter in ADAPTERS.items() if adapter.trainable]


def plan_for(model: str, *argv: str) -> Plan:
    adapter = get_adapter(model)
    verb, args = parse(adapter, list(argv), prog="x", host=False)
    return build_plan(adapter, resolve(adapter, verb, args, Roots("/ws", "/up", "/bfm", "/w")))


@pytest.mark.parametrize("model", TRAINABLE)
def test_a_billion_iterations_warns_with_an_estimate_in_years(model: str) -> None:
    plan = plan_for(model, "train_only", "--task", "clip", "--iterations", "1000000000")
    assert len(plan.warnings) == 1
    warning = plan.warnings[0]
    default = get_adapter(model).default_iterations
    assert warning.startswith(f"--iterations 1000000000 is {1000000000 // default}x {model}'s default of {default}")
    assert "years" in warning and "\n" not in warning
    assert f"# warning: {warning}" in plan.render()


@pytest.mark.parametrize("model", TRAINABLE)
def test_the_default_or_a_few_times_it_is_not_warned_about(model: str) -> None:
    default = get_adapter(model).default_iterations
    assert plan_for(model, "train_only", "--task", "clip").warnings == ()
    assert plan_for(model, "train_only", "--task", "clip", "--iterations", str(default * 3)).warnings == ()


def test_the_estimate_counts_every_stage_the_request_trains() -> None:
    """ER-NeRF's lips continue the head to 1.25x and its torso trains to 2x: the head alone is under a third."""
    head = plan_for("ernerf", "train_only", "--task", "c", "--stage", "head", "--iterations", "25000000").warnings[0]
    everything = plan_for("ernerf", "train_only", "--task", "c", "--iterations", "25000000").warnings[0]
    assert "about 12 days" in head and "about 38 days" in everything


def test_the_runner_prints_the_warning_on_stderr_before_the_first_step(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    first = step("first", "t", (sys.executable, "-c", f"open({str(marker)!r}, 'w')"), cwd=str(tmp_path))
    out, err = io.BytesIO(), io.StringIO()
    seen = []

    class Watching(Runner):
        def run_step(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.append(err.getvalue())
            return super().run_step(*args, **kwargs)

    runner = Watching(RunOptions(state_dir=str(tmp_path / "s"), logs_dir=str(tmp_path / "l")), out=out, err=err)
    runner.run(Plan(verb="train", task="t", steps=(first,), warnings=("it would take 4 years",)))
    assert seen == ["warning: it would take 4 years\n"] and marker.exists()
    assert "warning" not in out.getvalue().decode()
