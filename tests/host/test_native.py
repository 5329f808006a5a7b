"""``--runtime native``: every verb through bin/run_<model>.sh with no container, in an environment that
``tools/native-env.sh`` built for the local line (the test doubles as upstream), as a user on a cluster runs it."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from talkingface.adapters import ADAPTERS
from talkingface.host.native import missing_tools
from tests.conftest import REPO, ffmpeg
from tests.doubles.install import install

MODELS = tuple(ADAPTERS)
# The verbs below train first; a one-shot model has a test of its own (test_a_one_shot_model_...).
TRAINABLE = tuple(name for name, adapter in ADAPTERS.items() if adapter.trainable)
ONE_SHOT = tuple(name for name, adapter in ADAPTERS.items() if not adapter.trainable)


@pytest.fixture(scope="session")
def native_envs(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """One environment per model, built once by the same script `make native-env` runs."""
    root = tmp_path_factory.mktemp("native")
    envs = {}
    for model in MODELS:
        prefix = root / model
        subprocess.run(
            [str(REPO / "tools" / "native-env.sh"), model, "local", str(prefix)],
            check=True,
            capture_output=True,
            text=True,
        )
        envs[model] = prefix
    return envs


class User:
    """A user's folders: inputs they own (read-only), weights and BFM from the doubles' installer, a workspace."""

    def __init__(self, model: str, root: Path, prefix: Path, media: Dict[str, Path]) -> None:
        self.model, self.root, self.prefix = model, root, prefix
        install(model, root / "support")  # weights (manifest placeholders, GeneFace's releases) and the BFM
        self.weights = root / "support" / "weights"
        self.bfm = root / "support" / "bfm_models"
        self.workspace = root / "my-workspace"
        self.inputs = root / "inputs"
        self.inputs.mkdir()
        self.video = self.inputs / "clip.mp4"
        self.audio = self.inputs / "speech.wav"
        self.video.write_bytes(media["clip"].read_bytes())
        self.audio.write_bytes(media["speech"].read_bytes())
        for path in (self.video, self.audio, self.inputs):
            path.chmod(0o555 if path.is_dir() else 0o444)

    def run(self, verb: str, *args: str, dry: bool = False, check: bool = True) -> subprocess.CompletedProcess:
        argv = [str(REPO / "bin" / f"run_{self.model}.sh"), verb, *args, "--runtime", "native"]
        argv += ["--native_env", str(self.prefix), "--workspace", str(self.workspace)]
        argv += ["--bfm_dir", str(self.bfm), "--weights_dir", str(self.weights)]
        env = dict(os.environ, TEST_MODE="1" if dry else "", TALKINGFACE_HEARTBEAT="3600")
        done = subprocess.run(argv, cwd=self.root, env=env, capture_output=True, text=True, timeout=600)
        if check and done.returncode != 0:
            raise AssertionError(f"{verb} {args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def input_digests(self) -> List[str]:
        return [hashlib.sha256(p.read_bytes()).hexdigest() for p in (self.video, self.audio)]


@pytest.fixture(params=TRAINABLE)
def user(request: pytest.FixtureRequest, tmp_path: Path, native_envs: Dict[str, Path], media) -> User:
    return User(request.param, tmp_path, native_envs[request.param], media)


def test_every_verb_runs_natively_and_never_writes_the_inputs(user: User) -> None:
    before = user.input_digests()
    check = user.run("check", "--video_path", str(user.video), "--task", "talk")
    assert "talk" in check.stdout + check.stderr
    user.run("convert-bfm", "--task", "talk")
    user.run("preprocess", "--video_path", str(user.video), "--task", "talk")
    user.run("validate", "--task", "talk")
    user.run("train_only", "--task", "talk", "--iterations", "2000")
    user.run("extract-features", "--task", "talk", "--audio_path", str(user.audio))
    infer = user.run("infer", "--task", "talk", "--audio_path", str(user.audio))
    result = user.workspace / "results" / "talk" / "speech.mp4"
    assert f"result: {result}" in infer.stdout
    assert result.stat().st_size > 0
    # train = preprocess + train_only in one verb; everything is already done, so it only confirms that.
    again = user.run("train", "--video_path", str(user.video), "--task", "talk", "--iterations", "2000")
    assert "done" in again.stdout
    assert user.input_digests() == before
    # The doubles log each upstream call; every one ran inside the native environment's tree.
    upstream = user.prefix / "opt" / "upstream" / user.model
    links = json.loads((user.prefix / "talkingface-env.json").read_text())
    assert links["model"] == user.model and links["line"] == "local"
    assert upstream.is_dir()


@pytest.mark.parametrize("model", ONE_SHOT)
def test_a_one_shot_model_infers_from_a_photo_natively_and_refuses_train(
    model: str, tmp_path: Path, native_envs: Dict[str, Path], media
) -> None:
    user = User(model, tmp_path, native_envs[model], media)
    photos = tmp_path / "photos"
    photos.mkdir()
    ffmpeg("-i", str(user.video), "-frames:v", "1", str(photos / "face.png"))
    (photos / "face.png").chmod(0o444)
    before = user.input_digests() + [hashlib.sha256((photos / "face.png").read_bytes()).hexdigest()]
    infer = user.run("infer", "--image_path", str(photos / "face.png"), "--audio_path", str(user.audio))
    result = user.workspace / "results" / "face" / "speech.mp4"
    assert f"result: {result}" in infer.stdout and result.stat().st_size > 0
    refused = user.run("train", "--video_path", str(user.video), check=False)
    assert refused.returncode == 2 and "inference-only" in refused.stderr
    assert user.input_digests() + [hashlib.sha256((photos / "face.png").read_bytes()).hexdigest()] == before


def test_shell_opens_in_the_native_upstream_tree(tmp_path: Path, native_envs: Dict[str, Path], media) -> None:
    user = User("geneface", tmp_path, native_envs["geneface"], media)
    argv = [str(REPO / "bin" / "run_geneface.sh"), "shell", "--runtime", "native", "--native_env", str(user.prefix)]
    argv += ["--workspace", str(user.workspace), "--bfm_dir", str(user.bfm), "--weights_dir", str(user.weights)]
    done = subprocess.run(argv, input="pwd\necho $TALKINGFACE_MODEL\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(user.prefix / "opt" / "upstream" / "geneface"), "geneface"]


def test_ernerf_renders_from_features_natively(tmp_path: Path, native_envs: Dict[str, Path], media) -> None:
    user = User("ernerf", tmp_path, native_envs["ernerf"], media)
    user.run("train", "--video_path", str(user.video), "--task", "talk", "--iterations", "2000")
    features = user.workspace / "data" / "talk" / "aud_ds.npy"
    user.run("infer", "--task", "talk", "--audio_path", str(features))
    assert (user.workspace / "results" / "talk" / "aud_ds.mp4").stat().st_size > 0


def test_dry_run_prints_the_exact_command_and_plan_and_writes_nothing(user: User) -> None:
    done = user.run("train", "--video_path", str(user.video), "--task", "talk", dry=True)
    python = user.prefix / "opt" / "venv" / "bin" / "python"
    assert f"{python} {REPO / 'entrypoints' / 'talkingface-entrypoint'} train --task talk" in done.stdout
    assert f"TALKINGFACE_UPSTREAM={user.prefix / 'opt' / 'upstream'}" in done.stdout
    assert f"TALKINGFACE_WEIGHTS={user.weights}" in done.stdout
    assert "in-container plan: train talk" in done.stdout
    assert str(user.prefix / "opt" / "upstream" / user.model) in done.stdout  # upstream commands run in its tree
    assert not user.workspace.exists()


def test_the_printed_command_runs_as_printed(tmp_path: Path, native_envs: Dict[str, Path], media) -> None:
    user = User("gaussiantalker", tmp_path, native_envs["gaussiantalker"], media)
    printed = user.run("check", "--video_path", str(user.video), "--task", "talk", dry=True).stdout
    command = printed.split("\n\n", 1)[0].split("\n", 1)[1]
    user.workspace.mkdir()
    # The same links a real run makes first; then the printed shell command, pasted.
    user.run("convert-bfm", "--task", "talk")
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (user.workspace / "data" / "talk" / "input.json").exists()


def test_a_missing_environment_is_one_line_naming_make_native_env(tmp_path: Path, media) -> None:
    user = User("geneface", tmp_path, tmp_path / "nowhere", media)
    done = user.run("check", "--video_path", str(user.video), check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert f"no native environment at {tmp_path / 'nowhere'}" in done.stderr
    assert f"make native-env MODEL=geneface LINE=cu118 PREFIX={tmp_path / 'nowhere'} (or LINE=local)" in done.stderr
    # A dry run still shows the command and plan, then names the missing environment and fails.
    dry = user.run("check", "--video_path", str(user.video), dry=True, check=False)
    assert dry.returncode == 2 and "talkingface-entrypoint check" in dry.stdout
    assert "no native environment" in dry.stderr


def test_a_workspace_path_upstream_would_split_is_refused(tmp_path: Path, native_envs, media) -> None:
    # Found by the native run: the doubles, like upstream, pass paths to os.system unquoted.
    user = User("ernerf", tmp_path, native_envs["ernerf"], media)
    user.workspace = tmp_path / "my workspace"
    done = user.run("preprocess", "--video_path", str(user.video), check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert f"the workspace {user.workspace} has ' ' in it" in done.stderr
    assert not user.workspace.exists()


def test_an_environment_of_another_model_is_refused(tmp_path: Path, native_envs: Dict[str, Path], media) -> None:
    user = User("ernerf", tmp_path, native_envs["geneface"], media)
    done = user.run("check", "--video_path", str(user.video), check=False)
    assert done.returncode == 2
    assert "holds a geneface environment, not ernerf" in done.stderr


def test_a_second_run_in_one_environment_is_refused_while_the_first_holds_it(
    tmp_path: Path, native_envs: Dict[str, Path], media
) -> None:
    user = User("ernerf", tmp_path, native_envs["ernerf"], media)
    with open(user.prefix / ".run.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = user.run("check", "--video_path", str(user.video), check=False)
    assert done.returncode == 1
    assert f"the native environment {user.prefix} is in use" in done.stderr
    assert not (user.workspace / "data" / "clip" / "input.json").exists()


def test_a_static_ffmpeg_without_ffprobe_is_named(tmp_path: Path) -> None:
    only_ffmpeg = tmp_path / "bin"
    only_ffmpeg.mkdir()
    (only_ffmpeg / "ffmpeg").symlink_to("/usr/bin/ffmpeg")
    assert missing_tools({"PATH": str(only_ffmpeg)}) == ["ffprobe"]
    assert missing_tools({"PATH": str(tmp_path / "empty")}) == ["ffmpeg", "ffprobe"]


def test_native_env_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("user data")
    done = subprocess.run(
        [str(REPO / "tools" / "native-env.sh"), "ernerf", "local", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "is not a native environment" in done.stderr
    assert (tmp_path / "mine.txt").read_text() == "user data"


def test_slurm_jobs_keep_the_native_runtime(tmp_path: Path, native_envs: Dict[str, Path], media) -> None:
    user = User("ernerf", tmp_path, native_envs["ernerf"], media)
    done = user.run("train", "--video_path", str(user.video), "--backend", "slurm", dry=True)
    assert "--runtime native" in done.stdout or '"native"' in done.stdout
    assert str(user.prefix) in done.stdout


def test_compat_edits_apply_once_and_fail_on_a_changed_upstream(tmp_path: Path) -> None:
    tool = [sys.executable, str(REPO / "images" / "common" / "apply-compat.py")]
    compat = REPO / "images" / "ernerf" / "compat.json"
    root = tmp_path / "tree"
    for ext in ("raymarching", "gridencoder", "shencoder", "freqencoder"):
        (root / ext).mkdir(parents=True)
        for name in ("setup.py", "backend.py"):
            (root / ext / name).write_text("nvcc_flags = ['-O3', '-std=c++14']\n")
    (root / "main.py").write_text("opt = AdamW(p, betas=(0, 0.99), eps=1e-8)\n")
    env_out = tmp_path / "compat.env"
    subprocess.run([*tool, str(compat), str(root), "cu130", "--env-out", str(env_out)], check=True)
    assert "-std=c++17" in (root / "gridencoder" / "setup.py").read_text()
    assert "betas=(0.0, 0.99)" in (root / "main.py").read_text()
    assert env_out.read_text() == "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1\n"
    again = subprocess.run([*tool, str(compat), str(root), "cu130"], capture_output=True, text=True, check=True)
    assert again.stdout == ""  # nothing left to apply
    # cu113's torch 1.12 takes upstream as it is: no edit is for that line.
    old = tmp_path / "old"
    (old / "main.py").parent.mkdir()
    (old / "main.py").write_text("opt = AdamW(p, betas=(0, 0.99), eps=1e-8)\n")
    subprocess.run([*tool, str(compat), str(old), "cu113"], check=True)
    assert "betas=(0, 0.99)" in (old / "main.py").read_text()
    (root / "main.py").write_text("no betas here\n")
    changed = subprocess.run([*tool, str(compat), str(root), "cu130"], capture_output=True, text=True)
    assert changed.returncode != 0 and "'betas=(0, 0.99)' is not in" in changed.stderr + changed.stdout
