"""The step runner: skip what is done, redo what changed, resume what was killed, never keep half a file."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import sys
from pathlib import Path
from typing import List

import pytest

from talkingface.container.runner import Runner, RunOptions, StepOutput, done_all
from talkingface.core.errors import TalkingfaceError
from talkingface.core.plan import Plan, Step, step
from talkingface.core.text import plural

# A step that copies its input to its output, appending a line to a journal so tests see what ran.
COPY = (
    "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2]); open(sys.argv[3], 'a').write(sys.argv[2] + '\\n')"
)
# A resumable per-frame step: writes frames/0..9.txt, skipping those present, atomically; with a 'crash' file
# present it stops after 4 new frames with exit status 1.
FRAMES = """
import os, sys
out, crash, journal = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
new = 0
for i in range(10):
    path = os.path.join(out, f"{i}.txt")
    if os.path.exists(path):
        continue
    if os.path.exists(crash) and new == 4:
        open(os.path.join(out, f".{i}.txt.partial-1"), "w").write("half")
        sys.exit(1)
    tmp = os.path.join(out, f".{i}.txt.partial-{os.getpid()}")
    open(tmp, "w").write(str(i))
    os.replace(tmp, path)
    new += 1
    open(journal, "a").write(f"{i}\\n")
"""


class Workdir:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.journal = root / "journal.txt"
        (root / "in.txt").write_text("hello")

    def plan(self) -> Plan:
        r = self.root
        first = step(
            "first",
            "copy in -> a",
            (sys.executable, "-c", COPY, str(r / "in.txt"), str(r / "a.txt"), str(self.journal)),
            cwd=str(r),
            inputs=(str(r / "in.txt"),),
            outputs=(str(r / "a.txt"),),
        )
        second = step(
            "second",
            "copy a -> b",
            (sys.executable, "-c", COPY, str(r / "a.txt"), str(r / "b.txt"), str(self.journal)),
            cwd=str(r),
            inputs=(str(r / "a.txt"),),
            outputs=(str(r / "b.txt"),),
        )
        frames = step(
            "frames",
            "per-frame files",
            (sys.executable, "-c", FRAMES, str(r / "frames"), str(r / "crash"), str(self.journal)),
            cwd=str(r),
            inputs=(str(r / "b.txt"),),
            outputs=(str(r / "frames" / "*.txt"),),
            resumable=True,
        )
        return Plan(verb="test", task="t", steps=(first, second, frames))

    def run(self, **options: object) -> str:
        out = io.BytesIO()
        runner = Runner(
            RunOptions(state_dir=str(self.root / "state"), logs_dir=str(self.root / "logs"), **options), out=out
        )  # type: ignore[arg-type]
        runner.run(self.plan())
        return out.getvalue().decode()

    def ran(self) -> List[str]:
        lines = self.journal.read_text().split() if self.journal.exists() else []
        self.journal.unlink(missing_ok=True)
        return [Path(line).name for line in lines]


@pytest.fixture()
def work(tmp_path: Path) -> Workdir:
    return Workdir(tmp_path)


def test_first_run_does_everything_and_the_second_nothing(work: Workdir) -> None:
    work.run()
    assert work.ran() == ["a.txt", "b.txt"] + [str(i) for i in range(10)]
    out = work.run()
    assert work.ran() == []
    assert out.count("done before, skipped") == 3


def test_the_same_input_copied_again_redoes_nothing(work: Workdir) -> None:
    work.run()
    work.ran()
    copy = work.root / "copy.txt"
    shutil.copyfile(work.root / "in.txt", copy)
    (work.root / "in.txt").unlink()
    copy.rename(work.root / "in.txt")  # same bytes, new inode and time
    work.run()
    assert work.ran() == []


def test_a_changed_input_redoes_its_step_and_what_depends_on_it(work: Workdir) -> None:
    work.run()
    work.ran()
    (work.root / "in.txt").write_text("changed")
    work.run()
    assert work.ran() == ["a.txt", "b.txt"] + [str(i) for i in range(10)]
    assert (work.root / "b.txt").read_text() == "changed"


def test_a_killed_resumable_step_continues_and_keeps_its_finished_frames(work: Workdir) -> None:
    (work.root / "crash").write_text("")
    with pytest.raises(TalkingfaceError, match="step frames"):
        work.run()
    assert work.ran() == ["a.txt", "b.txt", "0", "1", "2", "3"]
    assert (work.root / "frames" / ".4.txt.partial-1").exists()
    kept = (work.root / "frames" / "0.txt").stat().st_mtime_ns
    (work.root / "crash").unlink()
    out = work.run()
    assert "resuming where the last attempt stopped" in out
    assert work.ran() == [str(i) for i in range(4, 10)]
    assert (work.root / "frames" / "0.txt").stat().st_mtime_ns == kept
    assert not list((work.root / "frames").glob(".*partial*"))


def test_a_killed_step_whose_input_changed_starts_over(work: Workdir) -> None:
    (work.root / "crash").write_text("")
    with pytest.raises(TalkingfaceError):
        work.run()
    work.ran()
    (work.root / "crash").unlink()
    (work.root / "in.txt").write_text("other")
    out = work.run()
    assert "resuming" not in out
    assert work.ran() == ["a.txt", "b.txt"] + [str(i) for i in range(10)]


def test_from_step_redoes_that_step_and_the_rest(work: Workdir) -> None:
    work.run()
    work.ran()
    work.run(from_step="second")
    assert work.ran() == ["b.txt"] + [str(i) for i in range(10)]


def test_force_redoes_everything(work: Workdir) -> None:
    work.run()
    work.ran()
    work.run(force=True)
    assert work.ran() == ["a.txt", "b.txt"] + [str(i) for i in range(10)]


def test_plan_shows_inputs_and_outputs(work: Workdir) -> None:
    text = work.plan().render()
    assert f"<- {work.root / 'in.txt'}" in text and f"-> {work.root / 'a.txt'}" in text


def test_unknown_from_step_is_an_error(work: Workdir) -> None:
    with pytest.raises(TalkingfaceError, match="not a step of this plan"):
        work.run(from_step="nope")


def test_step_dataclass_defaults() -> None:
    item = Step(id="x", title="t", argv=("true",), cwd="/")
    assert item.inputs == () and item.resumable is False


def test_an_always_step_runs_and_prints_every_time(tmp_path: Path) -> None:
    """A check is never 'done before': what it checks can change without any input it names changing."""
    report = tmp_path / "report.txt"
    report.write_text("fine")
    check = step("check", "a check", (sys.executable, "-c", f"print(open({str(report)!r}).read())"), cwd=str(tmp_path))
    outputs = []
    for text in ("fine", "broken"):
        report.write_text(text)
        out = io.BytesIO()
        runner = Runner(RunOptions(state_dir=str(tmp_path / "state"), logs_dir=str(tmp_path / "logs")), out=out)
        runner.run(Plan(verb="test", task="t", steps=(dataclasses.replace(check, always=True),)))
        outputs.append(out.getvalue().decode())
    assert "fine" in outputs[0] and "broken" in outputs[1] and "done before" not in outputs[1]
    assert (
        "(runs every time)"
        in Plan(verb="v", task="t", steps=(step("c", "t", ("true",), cwd="/", always=True),)).render()
    )


def failing(tmp_path: Path, script: str) -> tuple:
    item = step("broken", "a step that fails", (sys.executable, "-c", script), cwd=str(tmp_path))
    out = io.BytesIO()
    runner = Runner(RunOptions(state_dir=str(tmp_path / "state"), logs_dir=str(tmp_path / "logs")), out=out)
    with pytest.raises(TalkingfaceError) as caught:
        runner.run(Plan(verb="test", task="t", steps=(item,)))
    return caught.value, out.getvalue().decode(), tmp_path / "logs" / "01-broken.log"


def test_our_steps_error_line_becomes_the_one_line_with_the_log(tmp_path: Path) -> None:
    script = "import sys; print('working'); sys.exit('error: the input is bad -- fix: use a good one')"
    error, shown, log = failing(tmp_path, script)
    assert error.one_line() == f"error: step broken failed: the input is bad; its log is {log} -- fix: use a good one"
    assert "working" in shown and "error:" not in shown
    assert "error: the input is bad -- fix: use a good one" in log.read_text()


def test_an_upstream_failure_names_its_last_line_as_the_cause(tmp_path: Path) -> None:
    error, shown, log = failing(tmp_path, "raise RuntimeError('CUDA out of memory')")
    line = error.one_line()
    assert line.startswith("error: step broken (a step that fails) failed with exit status 1 (RuntimeError: CUDA out")
    assert f"; its log is {log} -- fix: read the log" in line and "Traceback" in shown


def test_step_output_shows_progress_at_once_and_holds_only_error_lines() -> None:
    out = io.BytesIO()
    shown = StepOutput(out)
    shown.feed(b"\r 10%|#")
    assert out.getvalue() == b"\r 10%|#"  # a progress bar is not held back until its line ends
    shown.feed(b"#  | 20%\nerr")
    assert out.getvalue().endswith(b"20%\n")  # 'err' may begin an error line: it waits
    shown.feed(b"or: first -- fix: one\nerror: second -- fix: two\nplain error: not ours\n")
    shown.close(failed=True)
    assert shown.error() == ("second", "two")
    text = out.getvalue().decode()
    assert "error: first -- fix: one\n" in text and "second" not in text and "plain error: not ours\n" in text


def test_a_successful_steps_held_lines_are_shown_after_all() -> None:
    out = io.BytesIO()
    shown = StepOutput(out)
    shown.feed(b"error: odd but fine -- fix: nothing")
    shown.close(failed=False)
    assert out.getvalue() == b"error: odd but fine -- fix: nothing\n"


@pytest.mark.parametrize("count,text", [(0, "nothing to run"), (1, "1 step done"), (3, "all 3 steps done")])
def test_done_all(count: int, text: str) -> None:
    assert done_all(count) == text


def test_plural() -> None:
    assert [plural(n, "weight file") for n in (0, 1, 2)] == ["0 weight files", "1 weight file", "2 weight files"]
    assert plural(1, "process", "processes") == "1 process" and plural(2, "process", "processes") == "2 processes"
    assert "(1 step)" in Plan(verb="v", task="t", steps=(step("c", "t", ("true",), cwd="/"),)).render()


# Like our mux and paste-back steps: copies its input to its output, but refuses to replace an output that is there
# unless given --overwrite; journals "<output> plain|overwrite". A file 'crash' (or 'crash-after') beside it makes
# it fail before (after) it writes.
GUARDED = """
import os, shutil, sys
src, out, journal = sys.argv[1:4]
overwrite = "--overwrite" in sys.argv[4:]
if os.path.exists(out) and not overwrite:
    sys.exit(f"error: {out} already exists -- fix: move it away, or rerun with --force to replace it")
if os.path.exists("crash"):
    sys.exit(1)
tmp = out + ".tmp"
shutil.copyfile(src, tmp)
os.replace(tmp, out)
open(journal, "a").write(f"{os.path.basename(out)} {'overwrite' if overwrite else 'plain'}\\n")
if os.path.exists("crash-after"):
    sys.exit(1)
"""


class Guarded:
    """A step that refuses to replace its output, with the --overwrite form, after a copying step it may follow."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.journal = root / "journal.txt"
        (root / "in.txt").write_text("one")

    def guarded(self, src: str, out: str, *, overwrites: bool = True, after: tuple = ()) -> Step:
        r = self.root
        argv = (sys.executable, "-c", GUARDED, str(r / src), str(r / out), str(self.journal))
        return step(
            f"guarded-{out}",
            f"copy {src} -> {out}, never over a file it did not write",
            argv,
            cwd=str(r),
            inputs=() if after else (str(r / src),),
            outputs=(str(r / out),),
            after=after,
            forced_argv=(*argv, "--overwrite"),
            forced_overwrites=overwrites,
        )

    def copy(self, src: str, out: str) -> Step:
        r = self.root
        return step(
            f"copy-{out}",
            f"copy {src} -> {out}",
            (sys.executable, "-c", COPY, str(r / src), str(r / out), str(self.journal)),
            cwd=str(r),
            inputs=(str(r / src),),
            outputs=(str(r / out),),
        )

    def run(self, *steps: Step, **options: object) -> str:
        out = io.BytesIO()
        options = {"state_dir": str(self.root / "state"), "logs_dir": str(self.root / "logs"), **options}
        Runner(RunOptions(**options), out=out).run(Plan(verb="test", task="t", steps=steps))  # type: ignore[arg-type]
        return out.getvalue().decode()

    def ran(self) -> List[str]:
        lines = self.journal.read_text().splitlines() if self.journal.exists() else []
        self.journal.unlink(missing_ok=True)
        return [" ".join(Path(word).name for word in line.split()) for line in lines]


@pytest.fixture()
def guarded(tmp_path: Path) -> Guarded:
    return Guarded(tmp_path)


def test_a_step_redone_for_a_changed_input_replaces_the_output_it_wrote(guarded: Guarded) -> None:
    item = guarded.guarded("in.txt", "out.txt")
    guarded.run(item)
    assert guarded.ran() == ["out.txt plain"]
    first = (guarded.root / "out.txt").stat().st_ino
    (guarded.root / "in.txt").write_text("two")
    guarded.run(item)
    assert guarded.ran() == ["out.txt overwrite"]
    assert (guarded.root / "out.txt").read_text() == "two"
    assert (guarded.root / "out.txt").stat().st_ino != first
    # The marker its overwriting form left counts as done: nothing changed, nothing runs.
    assert "done before, skipped" in guarded.run(item)
    assert guarded.ran() == []


def test_an_output_there_before_the_step_ever_ran_is_refused(guarded: Guarded) -> None:
    (guarded.root / "out.txt").write_text("someone else's")
    item = guarded.guarded("in.txt", "out.txt")
    with pytest.raises(TalkingfaceError, match="out.txt already exists"):
        guarded.run(item)
    assert (guarded.root / "out.txt").read_text() == "someone else's"
    # Nor does the failed attempt make it ours: the next run refuses again.
    with pytest.raises(TalkingfaceError, match="out.txt already exists"):
        guarded.run(item)
    assert (guarded.root / "out.txt").read_text() == "someone else's"
    # With no marker (the state folder lost), an output we wrote is as good as someone else's.
    (guarded.root / "out.txt").unlink()
    guarded.run(item)
    shutil.rmtree(guarded.root / "state")
    (guarded.root / "in.txt").write_text("two")
    with pytest.raises(TalkingfaceError, match="out.txt already exists"):
        guarded.run(item)
    assert (guarded.root / "out.txt").read_text() == "one"
    # --force still replaces it.
    guarded.run(item, force=True)
    assert (guarded.root / "out.txt").read_text() == "two"


def test_a_forced_form_that_does_more_than_overwrite_stays_for_force(guarded: Guarded) -> None:
    """ER-NeRF's training steps: their forced form starts over (--ckpt scratch), which a changed input must not."""
    item = guarded.guarded("in.txt", "out.txt", overwrites=False)
    guarded.run(item)
    (guarded.root / "in.txt").write_text("two")
    with pytest.raises(TalkingfaceError, match="out.txt already exists"):
        guarded.run(item)
    assert guarded.ran() == ["out.txt plain"]


def test_a_rerun_stopped_before_it_finished_still_replaces_its_own_output(guarded: Guarded) -> None:
    item = guarded.guarded("in.txt", "out.txt")
    guarded.run(item)
    (guarded.root / "in.txt").write_text("two")
    # The rerun fails before it writes: its marker is gone, yet the output it left stays its own.
    (guarded.root / "crash").write_text("")
    with pytest.raises(TalkingfaceError):
        guarded.run(item)
    (guarded.root / "crash").unlink()
    assert not (guarded.root / "state" / f"{item.id}.done.json").exists()
    guarded.run(item)
    assert guarded.ran() == ["out.txt plain", "out.txt overwrite"]
    assert (guarded.root / "out.txt").read_text() == "two"


def test_a_first_run_stopped_after_it_wrote_replaces_that_output(guarded: Guarded) -> None:
    """The output appeared after the step began, with nothing there before: it is the step's own."""
    item = guarded.guarded("in.txt", "out.txt")
    (guarded.root / "crash-after").write_text("")
    with pytest.raises(TalkingfaceError):
        guarded.run(item)
    (guarded.root / "crash-after").unlink()
    guarded.run(item)
    assert guarded.ran() == ["out.txt plain", "out.txt overwrite"]


def test_a_step_runs_again_after_a_step_it_comes_after_ran_again(guarded: Guarded) -> None:
    """A render writing one file for every audio (ER-NeRF, GaussianTalker) and the mux of each audio after it."""
    render_a, render_b = guarded.copy("in.txt", "render.txt"), guarded.copy("other.txt", "render.txt")
    render_b = dataclasses.replace(render_b, id="copy-render-b")
    mux_a = guarded.guarded("render.txt", "a.txt", after=(render_a.id,))
    mux_b = guarded.guarded("render.txt", "b.txt", after=(render_b.id,))
    (guarded.root / "other.txt").write_text("other")
    guarded.run(render_a, mux_a)
    guarded.run(render_b, mux_b)
    assert guarded.ran() == ["render.txt", "a.txt plain", "render.txt", "b.txt plain"]
    # B's render replaced the one file, but A's render and mux are still done: A's result stays A's.
    out = guarded.run(render_a, mux_a)
    assert guarded.ran() == [] and out.count("done before, skipped") == 2
    assert (guarded.root / "a.txt").read_text() == "one"
    # A's render runs again (its input changed): A's mux follows, replacing the result it wrote.
    (guarded.root / "in.txt").write_text("two")
    guarded.run(render_a, mux_a)
    assert guarded.ran() == ["render.txt", "a.txt overwrite"]
    assert (guarded.root / "a.txt").read_text() == "two"
    guarded.run(render_a, mux_a)
    assert guarded.ran() == []


def test_markers_without_their_finish_time_count_by_their_modification_time(guarded: Guarded) -> None:
    """Markers written before they held the time: a result muxed after its render stays done."""
    render = guarded.copy("in.txt", "render.txt")
    mux = guarded.guarded("render.txt", "a.txt", after=(render.id,))
    guarded.run(render, mux)
    state = guarded.root / "state"
    for item, when in ((render, 1_000), (mux, 2_000)):
        marker = state / f"{item.id}.done.json"
        record = json.loads(marker.read_text())
        del record["finished_ns"]
        marker.write_text(json.dumps(record))
        os.utime(marker, (when, when))
    guarded.ran()
    guarded.run(render, mux)
    assert guarded.ran() == []
    os.utime(state / f"{render.id}.done.json", (3_000, 3_000))  # the render ran again, with the old runner
    guarded.run(render, mux)
    assert guarded.ran() == ["a.txt overwrite"]


def test_a_step_can_only_come_after_an_earlier_step(guarded: Guarded) -> None:
    render = guarded.copy("in.txt", "render.txt")
    mux = guarded.guarded("render.txt", "a.txt", after=(render.id,))
    with pytest.raises(ValueError, match="not an earlier step"):
        Plan(verb="test", task="t", steps=(mux, render))
    assert f"<- step {render.id}" in Plan(verb="test", task="t", steps=(render, mux)).render()
