"""bin/run_eval.sh as a user runs it, with a fake nvidia-smi and a fake docker that records its argv."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import List

import pytest

from tests.conftest import REPO
from tests.host.test_cli import FAKE_DOCKER, NVIDIA_SMI


class EvalHost:
    def __init__(self, root: Path, *, gpus: bool) -> None:
        self.root, self.cwd, self.bin = root, root / "my videos", root / "bin"
        self.cwd.mkdir()
        self.bin.mkdir()
        (self.bin / "docker").write_text(FAKE_DOCKER)
        if gpus:
            (self.bin / "nvidia-smi").write_text(NVIDIA_SMI)
        for tool in self.bin.iterdir():
            tool.chmod(0o755)
        for name in ("gt.mp4", "pred, one.mp4", "speech.wav"):
            (self.cwd / name).write_bytes(b"video")

    def run(self, *argv: str, dry: bool = False) -> subprocess.CompletedProcess:
        env = dict(os.environ, PATH=f"{self.bin}:/usr/bin:/bin", FAKE_DOCKER_ARGV=str(self.root / "argv"))
        env.pop("TEST_MODE", None)
        if dry:
            env["TEST_MODE"] = "1"
        return subprocess.run(
            [str(REPO / "bin" / "run_eval.sh"), *argv], cwd=self.cwd, env=env, capture_output=True, text=True
        )

    def docker_argv(self) -> List[str]:
        return (self.root / "argv").read_text().splitlines()


BASIC = ("--gt_video", "gt.mp4", "--pred_video", "pred, one.mp4")


@pytest.mark.parametrize("gpus", [True, False])
def test_inputs_read_only_outputs_writable_and_device(tmp_path: Path, gpus: bool) -> None:
    host = EvalHost(tmp_path, gpus=gpus)
    done = host.run(*BASIC, "--audio", "speech.wav", "--out_json", "out/m.json", "--report", "out/r.html")
    assert done.returncode == 7, done.stderr  # the fake docker's status comes back
    argv = host.docker_argv()
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "--mount"]
    cwd = host.cwd
    assert f'type=bind,"source={cwd}/pred, one.mp4","target=/input/1/pred, one.mp4",readonly' in mounts
    assert f"type=bind,source={cwd}/out,target=/output/0" in mounts
    assert (cwd / "out").is_dir()
    image_at = next(i for i, a in enumerate(argv) if a.startswith("talkingface/eval:"))
    command = argv[image_at + 1 :]
    assert command[command.index("--out_json") + 1] == "/output/0/m.json"
    assert command[command.index("--report") + 1] == "/output/0/r.html"
    assert command[command.index("--audio") + 1] == "/input/2/speech.wav"
    assert command[command.index("--device") + 1] == ("cuda" if gpus else "cpu")
    assert ("--gpus" in argv) == gpus
    assert argv[image_at].endswith("-cu118" if gpus else "-cu113")  # the fake GPUs are H100s (sm_90)
    assert f"{os.getuid()}:{os.getgid()}" in argv and "--privileged" not in argv
    assert argv[argv.index("--network") + 1] == "none"
    envs = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--env")
    assert json.loads(envs["TALKINGFACE_HOST_PATHS"]) == {
        "/input/0/gt.mp4": f"{cwd}/gt.mp4",
        "/input/1/pred, one.mp4": f"{cwd}/pred, one.mp4",
        "/input/2/speech.wav": f"{cwd}/speech.wav",
        "/output/0": f"{cwd}/out",
    }


def test_test_mode_prints_and_runs_nothing(tmp_path: Path) -> None:
    host = EvalHost(tmp_path, gpus=False)
    done = host.run(*BASIC, "--out_json", "out/m.json", dry=True)
    assert done.returncode == 0 and "docker run" in done.stdout and "TEST_MODE" in done.stdout
    assert not (tmp_path / "argv").exists() and not (host.cwd / "out").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--gt_video", "nope.mp4", "--pred_video", "gt.mp4"), "--gt_video"),
        ((*BASIC, "--gpu", "GPU0,GPU1"), "one GPU"),
        ((*BASIC, "--gpu", "GPU5"), "GPU5"),
        ((*BASIC, "--line", "cu99"), "unknown image line"),
    ],
)
def test_bad_input_is_one_line_with_a_fix(tmp_path: Path, argv: tuple, message: str) -> None:
    done = EvalHost(tmp_path, gpus=True).run(*argv)
    assert done.returncode == 2 and message in done.stderr
    assert done.stderr.count("\n") == 1 and "-- fix:" in done.stderr
