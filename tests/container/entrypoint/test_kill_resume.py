"""Kill ``preprocess`` at random points, rerun it: the dataset is byte for byte the one a clean run writes.

The entrypoint runs in a session of its own and each kill is a SIGKILL to its whole process group (the runner, the
step, its ffmpeg and its worker processes at once), as a power cut or ``docker kill`` would do. The kill points are
seeded: one just after the start, then one inside each of the slow steps (check-input, normalize, frames-landmarks)
and one among the upstream steps, each at a random share of that step's time in the clean run.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from tests.conftest import Container, make_container

SEED = 1729
TASK = "clip"
STEP_LINE = re.compile(r"\[talkingface\] \[(\d+)/(\d+)\] ([\w-]+): ")
SKIPPED = "-- done before, skipped"


class Attempt:
    """One ``preprocess`` run, its output read line by line as it comes, each line with the time it came."""

    def __init__(self, container: Container, video: str) -> None:
        self.began = time.monotonic()
        self.proc = container.start(
            "preprocess", "--video_path", video, "--task", TASK, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.lines: List[Tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def starts(self) -> List[Tuple[float, str, bool]]:
        """(time, step id, skipped) for every step the runner announced."""
        found = []
        for at, line in list(self.lines):
            match = STEP_LINE.match(line)
            if match:
                found.append((at, match[3], SKIPPED in line))
        return found

    def wait_for_step(self, step_id: str, *, timeout: float = 300) -> float:
        """When the step started running (not skipped); fails if the run ends or the time is up first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, found, skipped in self.starts():
                if found == step_id and not skipped:
                    return at
            if self.proc.poll() is not None:
                self.reader.join(timeout=10)
                raise AssertionError(f"the run ended ({self.proc.returncode}) before {step_id}:\n{self.output()}")
            time.sleep(0.01)
        raise AssertionError(f"{step_id} did not start in {timeout} s:\n{self.output()}")

    def past(self, step_id: str) -> bool:
        """Whether a step after ``step_id`` has started."""
        starts = self.starts()
        ran = [i for i, (_, found, skipped) in enumerate(starts) if found == step_id and not skipped]
        return bool(ran) and len(starts) > ran[-1] + 1

    def current_step(self) -> str:
        running = [found for _, found, skipped in self.starts() if not skipped]
        return running[-1] if running else "(no step yet)"

    def kill(self, *, at: float, within: Optional[str] = None) -> str:
        """SIGKILL the whole group at time ``at``, or sooner when a step after ``within`` starts (this machine may
        run faster than it did for the clean run); returns the step it was in."""
        while time.monotonic() < at:
            if within is not None and self.past(within):
                break
            assert self.proc.poll() is None, f"the run ended ({self.proc.returncode}) before the kill:\n{self.output()}"
            time.sleep(0.005)
        step_id = self.current_step()
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.reader.join(timeout=30)
        wait_gone(self.proc.pid)
        return step_id


def group_members(pgid: int) -> List[int]:
    """Live (not zombie) processes in process group ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def wait_gone(pgid: int, *, timeout: float = 30) -> None:
    """Every process of the killed group gone, so none writes into the next attempt's files."""
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        assert time.monotonic() < deadline, f"processes of group {pgid} outlived SIGKILL: {group_members(pgid)}"
        time.sleep(0.05)


def wait_for_file(folder: Path, pattern: str, *, until: float) -> None:
    while not any(folder.glob(pattern)):
        assert time.monotonic() < until, f"no {pattern} in {folder}"
        time.sleep(0.02)


def run_to_end(container: Container, video: str) -> Attempt:
    attempt = Attempt(container, video)
    code = attempt.proc.wait(timeout=600)
    attempt.reader.join(timeout=30)
    assert code == 0, f"preprocess failed ({code}):\n{attempt.output()}"
    return attempt


def step_seconds(attempt: Attempt) -> Dict[str, float]:
    """Each step's wall time in a run: from its announcement to the next one's (or the end)."""
    starts = attempt.starts()
    ends = [at for at, _, _ in starts[1:]] + [attempt.lines[-1][0]]
    return {step_id: end - at for (at, step_id, _), end in zip(starts, ends)}


def dataset_hashes(folder: Path) -> Dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def partials(folder: Path) -> List[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".partial" in p.name)


def test_killed_at_random_points_then_rerun_gives_the_clean_runs_dataset(tmp_path: Path, media) -> None:
    # The same root twice, one container after the other: input.json records the input's path.
    root = tmp_path / "container"
    clean = make_container("ernerf", root)
    video = clean.put_input("video", media["clip"], name="clip.mp4")
    reference = run_to_end(clean, video)
    seconds = step_seconds(reference)
    order = list(seconds)
    expected = dataset_hashes(clean.data_dir(TASK))
    assert any(name.startswith("ori_imgs/") for name in expected) and "track_params.pt" in expected
    shutil.rmtree(root)

    container = make_container("ernerf", root)
    assert container.put_input("video", media["clip"], name="clip.mp4") == video
    rng = np.random.default_rng(SEED)
    # Not the last two steps: a kill must find the run still going, a little faster than the clean one or not.
    upstream = order[order.index("frames-landmarks") + 1 : -2]
    targets: List[Optional[str]] = [None, "input-check", "normalize", "frames-landmarks", str(rng.choice(upstream))]
    killed, attempts = [], []
    for target in targets:
        attempt = Attempt(container, video)
        if target is None:
            anchor, delay = attempt.began, float(rng.uniform(0.5, 2.0))
        else:
            anchor, delay = attempt.wait_for_step(target), float(rng.uniform(0.1, 0.9)) * seconds[target]
        if target == "frames-landmarks":
            # Not before its first frame is done: a loaded machine may take longer than the clean run to get there.
            wait_for_file(container.data_dir(TASK) / "ori_imgs", "*.lms", until=anchor + 120)
        landed = attempt.kill(at=anchor + delay, within=target)
        attempts.append(attempt)
        killed.append(f"{target or 'start'} + {delay:.2f} s, in {landed}")
    assert len(killed) == 5
    # The attempt after the kill inside frames-landmarks kept the frames done before it.
    resumed = attempts[targets.index("frames-landmarks") + 1].output()
    assert "frames-landmarks: resuming where the last attempt stopped" in resumed, resumed
    assert re.search(r"resuming: [1-9]\d* of 300 frames were done before", resumed), resumed

    final = container.run("preprocess", "--video_path", video, "--task", TASK)
    data = container.data_dir(TASK)
    assert partials(data) == [], killed
    got = dataset_hashes(data)
    assert sorted(got) == sorted(expected), killed
    differ = [name for name in expected if got[name] != expected[name]]
    assert differ == [], f"differ from the clean run after kills at {killed}: {differ[:10]}"
    assert f"all {len(order)} steps done" in final.stdout
    print("killed at:", *killed, sep="\n  ")

    container.clear_calls()
    again = container.run("preprocess", "--video_path", video, "--task", TASK)
    announced = [line for line in again.stdout.splitlines() if STEP_LINE.match(line)]
    assert len(announced) == len(order) and all(SKIPPED in line for line in announced), again.stdout
    assert container.calls() == []
    assert dataset_hashes(data) == expected
