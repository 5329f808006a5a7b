"""Every verb of every model, run for real by the entrypoint against the upstream doubles."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

from talkingface.adapters import get_adapter
from tests.conftest import Container, ffmpeg, make_container, sha256

PROCESS = {
    "ernerf": "data_utils/process.py",
    "gaussiantalker": "data_utils/process.py",
    "geneface": "data_util/process.py",
}
RENDER = {"ernerf": "main.py", "gaussiantalker": "render.py", "geneface": "inference/nerfs/lm3d_radnerf_infer.py"}
# process.py tasks still to run after task 8 failed, in each plan's order.
AFTER_TASK8 = {"ernerf": [8, 9], "gaussiantalker": [8, 9], "geneface": [8, 5, 6, 9]}


def duration(path: Path, stream: str) -> float:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            stream,
            "-show_entries",
            "stream=duration",
            "-of",
            "json",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out)["streams"][0]["duration"])


def train(container: Container, media: Dict[str, Path], *extra: str, fail: str = "", check: bool = True):
    video = container.put_input("video", media["clip"])
    return container.run("train", "--video_path", video, "--task", "clip", *extra, fail=fail, check=check)


class TestTrainAndInfer:
    def test_train_then_infer_gives_a_video_as_long_as_the_audio(self, container: Container, media) -> None:
        train(container, media, "--iterations", "6000")
        speech = container.put_input("audio", media["speech"])
        done = container.run("infer", "--task", "clip", "--audio_path", speech)
        result = container.workspace / "results" / "clip" / "speech.mp4"
        assert f"result: {result}" in done.stdout
        assert abs(duration(result, "v:0") - 3.0) <= 0.1
        assert abs(duration(result, "a:0") - 3.0) <= 0.1
        logs = list((container.workspace / "logs" / "clip").glob("*.log"))
        assert logs
        # GeneFace's scripts ignore unknown flags (parse_known_args) and print them: there must be none.
        for log in logs:
            assert not [line for line in log.read_text().splitlines() if "Unknow hparams" in line and "[]" not in line]
        assert sha256(Path(speech)) == sha256(media["speech"])

    def test_a_second_train_does_no_work(self, container: Container, media) -> None:
        train(container, media, "--iterations", "6000")
        container.clear_calls()
        again = train(container, media, "--iterations", "6000")
        assert container.calls() == []
        assert "done before, skipped" in again.stdout

    def test_input_video_is_untouched(self, container: Container, media) -> None:
        train(container, media)
        staged = container.inputs / "video" / "clip.mp4"
        assert sha256(staged) == sha256(media["clip"])


# What each model's render step writes (relative to the workspace, task "clip"): the file the mux step reads. ER-NeRF
# and GaussianTalker write every audio's render there; GeneFace one per audio.
RENDERED = {
    "ernerf": "models/clip/*/results/ngp_ep*.mp4",
    "gaussiantalker": "models/clip/custom/ours_*/renders/*.mov",
    "geneface": "infer_out/clip/pred_video/speech.mp4",
}
STEP_LINE = re.compile(r"^\[talkingface\] \[\d+/\d+\] ([\w-]+): ", re.M)


def steps_run(stdout: str) -> List[str]:
    """The steps a run ran: those it announced and did not skip as done before."""
    lines = [line for line in stdout.splitlines() if STEP_LINE.match(line)]
    return [STEP_LINE.match(line)[1] for line in lines if "done before, skipped" not in line]  # type: ignore[index]


def file_state(path: Path) -> Tuple[int, int, str]:
    """Which file is there: a replaced file (the mux writes a new one and renames it) has another inode."""
    info = path.stat()
    return info.st_ino, info.st_mtime_ns, sha256(path)


class TestInferAgain:
    def test_a_result_is_muxed_again_when_its_render_runs_again_and_only_then(
        self, container: Container, media, tmp_path: Path
    ) -> None:
        train(container, media, "--iterations", "6000")
        speech = container.put_input("audio", media["speech"])
        result = container.workspace / "results" / "clip" / "speech.mp4"
        container.run("infer", "--task", "clip", "--audio_path", speech)
        first = file_state(result)
        # Nothing changed: every step is skipped and the result stays the file it was.
        container.clear_calls()
        again = container.run("infer", "--task", "clip", "--audio_path", speech)
        assert steps_run(again.stdout) == [] and STEP_LINE.search(again.stdout)
        assert container.calls() == [] and file_state(result) == first
        # Another audio renders (ER-NeRF and GaussianTalker into the same file); this audio's result stays its own.
        other = tmp_path / "other.wav"
        ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000", "-t", "2", str(other))
        container.run("infer", "--task", "clip", "--audio_path", container.put_input("audio", other))
        again = container.run("infer", "--task", "clip", "--audio_path", speech)
        assert steps_run(again.stdout) == [] and file_state(result) == first
        # The render runs again (its video is gone): the mux follows and replaces the result it wrote.
        for rendered in container.workspace.glob(RENDERED[container.model]):
            rendered.unlink()
        redone = container.run("infer", "--task", "clip", "--audio_path", speech)
        assert steps_run(redone.stdout) == ["infer-speech-render", "infer-speech-mux"]
        assert file_state(result)[:2] != first[:2]
        assert abs(duration(result, "v:0") - 3.0) <= 0.1 and abs(duration(result, "a:0") - 3.0) <= 0.1
        assert steps_run(container.run("infer", "--task", "clip", "--audio_path", speech).stdout) == []

    def test_a_newer_checkpoint_renders_and_muxes_again(self, media, tmp_path: Path) -> None:
        """GaussianTalker renders the latest iteration: more training gives a new render, and a new result."""
        container = make_container("gaussiantalker", tmp_path)
        train(container, media, "--iterations", "6000")
        speech = container.put_input("audio", media["speech"])
        result = container.workspace / "results" / "clip" / "speech.mp4"
        container.run("infer", "--task", "clip", "--audio_path", speech)
        first = file_state(result)
        clouds = container.workspace / "models" / "clip" / "point_cloud"
        latest = max((p for p in clouds.glob("iteration_*")), key=lambda p: int(p.name.split("_")[1]))
        newer = int(latest.name.split("_")[1]) + 1000
        shutil.copytree(latest, clouds / f"iteration_{newer}")  # as more training would leave it
        container.clear_calls()
        redone = container.run("infer", "--task", "clip", "--audio_path", speech)
        assert steps_run(redone.stdout) == ["infer-speech-render", "infer-speech-mux"]
        [render] = [call for call in container.calls() if call["script"] == RENDER["gaussiantalker"]]
        assert render["argv"][render["argv"].index("--iteration") + 1] == str(newer)
        assert file_state(result)[:2] != first[:2]
        assert abs(duration(result, "v:0") - 3.0) <= 0.1
        assert steps_run(container.run("infer", "--task", "clip", "--audio_path", speech).stdout) == []


class TestFailures:
    def test_failed_step_stops_the_plan_and_the_rerun_resumes(self, container: Container, media) -> None:
        failed = train(container, media, fail=f"{PROCESS[container.model]}#8:exit", check=False)
        assert failed.returncode == 1
        assert "step process-task8" in failed.stderr and ".log" in failed.stderr
        assert not list(container.workspace.glob("data/**/transforms_train.json"))
        container.clear_calls()
        train(container, media)
        tasks = [c["task"] for c in container.calls() if c["script"] == PROCESS[container.model]]
        assert tasks == AFTER_TASK8[container.model]

    def test_a_failed_step_is_one_line_with_its_cause_log_and_fix(self, container: Container, media) -> None:
        failed = train(container, media, fail=f"{PROCESS[container.model]}#8:exit", check=False)
        errors = [line for line in (failed.stdout + failed.stderr).splitlines() if "error" in line.lower()]
        assert errors == failed.stderr.splitlines() and len(errors) == 1, failed.stdout + failed.stderr
        log = next((container.workspace / "logs" / "clip").glob("*-process-task8.log"))
        assert errors[0].startswith("error: step process-task8 ") and "injected failure" in errors[0]  # the cause
        assert f"its log is {log} -- fix: read the log" in errors[0]

    def test_our_own_steps_failure_is_one_line_with_its_own_fix(self, container: Container, media) -> None:
        video = container.put_input("video", media["clip"])
        container.run("preprocess", "--video_path", video, "--task", "clip")
        (container.data_dir("clip") / "ori_imgs" / "3.lms").unlink()
        failed = container.run("validate", "--task", "clip", check=False)
        assert failed.returncode == 1 and "ori_imgs/*.lms" in failed.stdout
        lines = [line for line in (failed.stdout + failed.stderr).splitlines() if line.startswith("error:")]
        log = container.workspace / "logs" / "clip" / "01-validate.log"
        assert (
            lines
            == failed.stderr.splitlines()
            == [
                f"error: step validate failed: the dataset {container.data_dir('clip')} has 1 problem; "
                f"its log is {log} -- fix: see the table above"
            ]
        )
        assert "has 1 problem -- fix" in log.read_text()  # the log keeps the step's own words

    def test_step_that_exits_0_without_outputs_is_caught(self, container: Container, media) -> None:
        failed = train(container, media, fail=f"{PROCESS[container.model]}#8:silent", check=False)
        assert failed.returncode == 1
        assert "exited 0 but did not write" in failed.stderr
        assert "track_params.pt" in failed.stderr

    def test_silent_render_failure_is_caught(self, container: Container, media) -> None:
        train(container, media, "--iterations", "6000")
        speech = container.put_input("audio", media["speech"])
        failed = container.run(
            "infer", "--task", "clip", "--audio_path", speech, fail=f"{RENDER[container.model]}:silent", check=False
        )
        assert failed.returncode == 1
        assert "did not write" in failed.stderr
        assert not (container.workspace / "results" / "clip" / "speech.mp4").exists()


class TestOtherVerbs:
    def test_check_then_preprocess_reuses_the_face_track(self, container: Container, media) -> None:
        video = container.put_input("video", media["clip"])
        checked = container.run("check", "--video_path", video, "--task", "clip")
        assert "a face in 300 of 300 frames" in checked.stdout
        assert container.calls() == []  # no upstream code runs to check a video
        done = container.run("preprocess", "--video_path", video, "--task", "clip")
        assert (
            "input-check: check the video and track the face (no face, two people, too short: stop here) -- done before"
            in done.stdout
        )

    def test_preprocess_then_validate_then_train_only(self, container: Container, media) -> None:
        video = container.put_input("video", media["clip"])
        container.run("preprocess", "--video_path", video, "--task", "clip")
        assert "dataset" in container.run("validate", "--task", "clip").stdout
        container.run("train_only", "--task", "clip", "--iterations", "6000")

    def test_validate_reports_a_broken_dataset(self, container: Container, media) -> None:
        video = container.put_input("video", media["clip"])
        container.run("preprocess", "--video_path", video, "--task", "clip")
        (container.data_dir("clip") / "ori_imgs" / "3.lms").unlink()
        done = container.run("validate", "--task", "clip", check=False)
        assert done.returncode == 1
        assert "ori_imgs/*.lms" in done.stdout and "rerun preprocess" in done.stdout

    def test_validate_runs_and_reports_every_time(self, container: Container, media) -> None:
        video = container.put_input("video", media["clip"])
        container.run("preprocess", "--video_path", video, "--task", "clip")
        data = container.data_dir("clip")
        for _ in range(2):
            assert f"dataset {data}: ok" in container.run("validate", "--task", "clip").stdout
        spec = get_adapter(container.model).dataset_spec()
        gone = spec.au_csv or spec.files[0]
        (data / gone).unlink()
        done = container.run("validate", "--task", "clip", check=False)
        assert done.returncode == 1 and f"{gone} is missing" in done.stdout

    def test_check_reports_every_time(self, container: Container, media) -> None:
        video = container.put_input("video", media["clip"])
        for _ in range(2):
            checked = container.run("check", "--video_path", video, "--task", "clip")
            assert "a face in 300 of 300 frames" in checked.stdout and "input-check finished" in checked.stdout

    def test_extract_features(self, container: Container, media) -> None:
        speech = container.put_input("audio", media["speech"])
        container.run("extract-features", "--task", "clip", "--audio_path", speech)
        features = [p.name for p in (container.workspace / "audio" / "speech").glob("speech_*.npy")]
        assert features in (["speech_ds.npy"], ["speech_lm3d.npy"])

    def test_convert_bfm(self, container: Container) -> None:
        container.run("convert-bfm", "--task", "clip")
        assert (container.workspace / ".talkingface" / "bfm" / "3DMM_info.npy").is_file()

    def test_shell_opens_in_the_upstream_tree(self, container: Container) -> None:
        done = subprocess.run(
            ["python", "-m", "talkingface.container.entrypoint", "shell"],
            input="pwd\n",
            cwd=container.workspace,
            env=container.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0
        assert done.stdout.strip().endswith(f"upstream/{container.model}")


def remuxed(source: Path, target: Path) -> Path:
    """The same frames and sound in another file: a different video to ffmpeg's checks and to a content hash."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), "-c", "copy"]
        + ["-metadata", "title=another take", str(target)],
        check=True,
    )
    return target


def tree_state(folder: Path) -> Dict[str, tuple]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, sha256(p)) for p in folder.rglob("*") if p.is_file()}


class TestOneTaskOneVideo:
    def test_file_names_that_fold_alike_get_their_own_tasks(self, container: Container, media) -> None:
        for name in ("ä.mp4", "ö.mp4", "日本.mp4"):
            video = container.put_input("video", media["clip"], name=name)
            container.run("check", "--video_path", video)
        tasks = sorted(p.parent.name for p in container.workspace.glob("data/**/input.json"))
        assert tasks[:2] == ["a", "o"] and tasks[2].startswith("video-") and len(tasks) == 3
        record = json.loads((container.data_dir("a") / "input.json").read_text())
        assert record["given"].endswith("/ä.mp4") and record["sha256"] == sha256(media["clip"])

    def test_another_video_for_a_task_is_refused_before_anything_is_written(
        self, container: Container, media, tmp_path: Path
    ) -> None:
        first = container.put_input("video", media["clip"], name="first.mp4")
        second = container.put_input("video", remuxed(media["clip"], tmp_path / "second.mp4"))
        container.run("check", "--video_path", first, "--task", "clip")
        before = tree_state(container.workspace)
        container.clear_calls()
        for verb in ("check", "preprocess", "train"):
            refused = container.run(verb, "--video_path", second, "--task", "clip", check=False)
            assert refused.returncode == 2 and refused.stdout == ""
            lines = refused.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: task clip was made from "), refused.stderr
            assert first in lines[0] and second in lines[0]
            assert "--task NAME" in lines[0] and "--force" in lines[0]
        assert tree_state(container.workspace) == before and container.calls() == []
        # The same video again is the same task: it goes on.
        assert "done before, skipped" in container.run("check", "--video_path", first, "--task", "clip").stdout

    def test_force_rebuilds_the_task_from_the_new_video(self, container: Container, media, tmp_path: Path) -> None:
        first = container.put_input("video", media["clip"], name="first.mp4")
        second = container.put_input("video", remuxed(media["clip"], tmp_path / "second.mp4"))
        container.run("check", "--video_path", first, "--task", "clip")
        container.run("check", "--video_path", second, "--task", "clip", "--force")
        record = json.loads((container.data_dir("clip") / "input.json").read_text())
        assert record["given"] == second and record["sha256"] == sha256(Path(second))
        container.run("check", "--video_path", second, "--task", "clip")


class TestDryRun:
    def test_test_mode_prints_the_plan_then_every_unmet_precondition(self, container: Container) -> None:
        dry = Container(model=container.model, root=container.root, env=dict(container.env, TEST_MODE="1"))
        missing = str(container.inputs / "audio" / "gone.wav")
        done = dry.run("infer", "--task", "clip", "--audio_path", missing, check=False)
        assert done.returncode == 2 and done.stdout.startswith("# in-container plan: infer clip")
        problems = [line.split(" -- fix: ")[0] for line in done.stderr.splitlines()]
        assert problems[0] == f"error: --audio_path {missing} does not exist"
        assert problems[-1].startswith("error: task clip has no trained checkpoint (")
        assert container.calls() == [] and not list(container.workspace.iterdir())


class TestOneRunPerTask:
    def test_a_second_run_of_a_task_is_refused_naming_the_holder(self, container: Container, media) -> None:
        from talkingface.container.task_lock import lock_path, task_lock

        video = container.put_input("video", media["clip"])
        with task_lock(str(container.workspace), "clip", "train"):
            refused = container.run("check", "--video_path", video, "--task", "clip", check=False)
            other = container.run("check", "--video_path", video, "--task", "other")  # another task goes on
        assert refused.returncode == 2 and refused.stdout == ""
        lines = refused.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: task clip is in use by train (pid {os.getpid()} on ")
        assert f"(lock: {lock_path(str(container.workspace), 'clip')}) -- fix: wait for that run" in lines[0]
        assert "input-check finished" in other.stdout
        assert not (container.data_dir("clip") / "input.json").exists()
        # Released when its holder ends, however it ends: the next run goes on.
        assert "input-check finished" in container.run("check", "--video_path", video, "--task", "clip").stdout
