"""The local image line, run for real through bin/run_<model>.sh on this machine's Docker Engine.

`make test` builds the images first (make build-local). The shims run as an unprivileged UID when the tests run as
root, so "outputs are owned by the host user" is a real check.
"""

from __future__ import annotations

import dataclasses
import grp
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from talkingface import __version__
from talkingface.adapters import ADAPTERS
from talkingface.core.upstream import load_pins
from talkingface.eval import assets
from tests.bundle.conftest import Site as BundleSite
from tests.bundle.conftest import write_site
from tests.conftest import REPO, ffmpeg
from tests.doubles.install import install

MODELS = tuple(ADAPTERS)
IMAGES = (*MODELS, "eval")
TRAINABLE = tuple(name for name, adapter in ADAPTERS.items() if adapter.trainable)
ONE_SHOT = tuple(name for name, adapter in ADAPTERS.items() if not adapter.trainable)
UID = 4242


def image(model: str) -> str:
    return f"talkingface/{model}:{__version__}-local"


def docker(*argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, **kw)


def digest(folder: Path) -> Dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


class Site:
    """A user's folder: inputs, BFM and weights, and a workspace, all reachable by an unprivileged UID."""

    def __init__(self, root: Path, model: str, media: Dict[str, Path]) -> None:
        self.root, self.model = root, model
        install(model, root / "scaffold")  # placeholder weights and BFM in the formats the doubles read
        self.inputs = root / "my inputs"
        self.inputs.mkdir()
        shutil.copy(media["clip"], self.inputs / "clip.mp4")
        shutil.copy(media["speech"], self.inputs / "speech.wav")
        self.workspace = root / "ws"
        self.workspace.mkdir()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            os.chown(self.workspace, UID, UID)
        for path in [root, *root.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | (0o755 if path.is_dir() else 0o444))

    def run(self, *argv: str, stdin: str = "") -> subprocess.CompletedProcess:
        common = ["--line", "local", "--workspace", str(self.workspace)]
        common += ["--bfm_dir", str(self.root / "scaffold" / "bfm_models")]
        common += ["--weights_dir", str(self.root / "scaffold" / "weights")]
        command: List[str] = [str(REPO / "bin" / f"run_{self.model}.sh"), *argv, *common]
        if self.as_root:
            group = grp.getgrnam("docker").gr_gid
            command = ["setpriv", f"--reuid={UID}", f"--regid={UID}", f"--groups={group}", *command]
        env = {k: v for k, v in os.environ.items() if k not in ("TEST_MODE",)}
        return subprocess.run(
            command, cwd=self.inputs, env=env, input=stdin, capture_output=True, text=True, timeout=600
        )

    def owner_ids(self) -> set:
        return {(p.stat().st_uid, p.stat().st_gid) for p in self.workspace.rglob("*") if not p.is_symlink()}


@pytest.fixture
def site(request: pytest.FixtureRequest, media) -> Iterator[Site]:
    if shutil.which("docker") is None or docker("info").returncode != 0:
        pytest.fail("the Docker Engine is not reachable: these tests need it (make test builds the local images)")
    root = Path(tempfile.mkdtemp(prefix="tf-site-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield Site(root, request.param, media)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def expected_uid() -> tuple:
    return (UID, UID) if os.geteuid() == 0 else (os.getuid(), os.getgid())


@pytest.mark.parametrize("site", TRAINABLE, indirect=True)
class TestTrainAndInferInTheLocalImage:
    def test_train_infer_and_the_rest(self, site: Site) -> None:
        before = digest(site.inputs)
        steps = [
            ["check", "--video_path", "clip.mp4", "--task", "clip"],
            ["convert-bfm", "--task", "clip"],
            ["preprocess", "--video_path", "clip.mp4", "--task", "clip"],
            ["validate", "--task", "clip"],
            ["train_only", "--task", "clip", "--iterations", "6000"],
            ["train", "--video_path", "clip.mp4", "--task", "clip", "--iterations", "6000"],
            ["extract-features", "--task", "clip", "--audio_path", "speech.wav"],
            ["infer", "--task", "clip", "--audio_path", "speech.wav"],
        ]
        for argv in steps:
            done = site.run(*argv)
            assert done.returncode == 0, f"{argv}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        result = site.workspace / "results" / "clip" / "speech.mp4"
        assert result.is_file()
        assert site.owner_ids() == {expected_uid()}
        assert digest(site.inputs) == before


@pytest.mark.parametrize("site", ONE_SHOT, indirect=True)
class TestOneShotInTheLocalImage:
    def test_every_infer_form_and_the_refusals(self, site: Site) -> None:
        ffmpeg("-i", str(site.inputs / "clip.mp4"), "-frames:v", "1", str(site.inputs / "face.png"))
        ffmpeg("-i", str(site.inputs / "clip.mp4"), "-t", "2", "-an", str(site.inputs / "driving.mp4"))
        ffmpeg("-i", str(site.inputs / "face.png"), "-vf", "scale=200:200", str(site.inputs / "small.png"))
        for path in site.inputs.iterdir():
            path.chmod(0o444)
        before = digest(site.inputs)
        steps = [
            (["infer", "--image_path", "face.png", "--audio_path", "speech.wav"], "face/speech.mp4"),
            (["infer", "--seed", "6", "--audio_path", "speech.wav"], "seed6/speech.mp4"),
            (["infer", "--image_path", "face.png", "--motion_video", "driving.mp4", "--audio_path", "speech.wav",
              "--task", "posed"], "posed/speech.mp4"),
            (["infer", "--image_path", "face.png", "--motion_video", "driving.mp4", "--task", "moved"],
             "moved/driving.mp4"),
        ]  # fmt: skip
        for argv, result in steps:
            done = site.run(*argv)
            assert done.returncode == 0, f"{argv}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            assert (site.workspace / "results" / result).is_file()
        done = site.run("train", "--video_path", "clip.mp4")
        assert done.returncode == 2 and "inference-only" in done.stderr
        done = site.run("infer", "--image_path", "small.png", "--audio_path", "speech.wav")
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert done.returncode != 0 and len(errors) == 1 and "smaller than 256 px" in errors[0], done.stderr
        assert site.owner_ids() == {expected_uid()}
        assert digest(site.inputs) == before


@pytest.mark.parametrize("site", MODELS, indirect=True)
class TestEveryImage:
    def test_shell(self, site: Site) -> None:
        done = site.run("shell", stdin="pwd\n")
        assert done.returncode == 0, done.stderr
        assert f"/opt/upstream/{site.model}" in done.stdout

    def test_every_verb_runs_without_a_network(self, site: Site) -> None:
        # The verbs above ran in containers started the same way; this shows what those containers could reach.
        done = site.run("shell", stdin="cat /proc/net/dev\n")
        assert done.returncode == 0, done.stderr
        interfaces = {line.split(":")[0].strip() for line in done.stdout.splitlines() if ":" in line}
        assert interfaces == {"lo"}


@pytest.mark.parametrize("model", MODELS)
def test_labels_name_the_upstream_commit_and_line(model: str) -> None:
    labels = docker("image", "inspect", "--format", "{{json .Config.Labels}}", image(model), check=True).stdout
    assert load_pins()[model].commit in labels and '"io.talkingface.line":"local"' in labels


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BundleSite]:
    """One bundle of the local line and test weights; whatever the tests remove is loaded back at the end."""
    site = write_site(tmp_path_factory.mktemp("bundle"))
    site = dataclasses.replace(site, out=site.root / "bundle")  # make's variables can't hold a space
    make("bundle", f"BUNDLE={site.out}", f"WEIGHTS={site.weights}", f"WEIGHTS_MANIFEST={site.manifest}")
    ids = image_ids()
    try:
        yield site
    finally:
        if image_ids() != ids:
            make("load", f"BUNDLE={site.out}", f"WEIGHTS={site.root / 'restore'}")
        assert image_ids() == ids


def image_ids() -> Dict[str, Optional[str]]:
    found = {m: docker("image", "inspect", "--format", "{{.Id}}", image(m)) for m in IMAGES}
    return {m: done.stdout.strip() if done.returncode == 0 else None for m, done in found.items()}


def wipe_images() -> None:
    for model in IMAGES:
        if docker("image", "inspect", image(model)).returncode == 0:
            docker("rmi", image(model), check=True)


class TestBundle:
    """make bundle, wipe the images and the weights, make load: the offline round trip, with the real docker."""

    def test_the_record_names_every_image_with_its_line_and_commit(self, bundle: BundleSite) -> None:
        record = json.loads((bundle.out / "bundle.json").read_text())
        pins = load_pins()
        assert [(i["tag"], i["id"], i["line"]) for i in record["images"]] == [
            (image(m), image_ids()[m], "local") for m in IMAGES
        ]
        assert {i["model"]: i["upstream_commit"] for i in record["images"]} == {
            **{m: pins[m].commit for m in MODELS},
            "eval": "",
        }
        assert set(record["weights"]["lock"]) == {"locked"}

    def test_a_tampered_image_archive_is_refused_and_nothing_loads(self, bundle: BundleSite, tmp_path: Path) -> None:
        copy = tmp_path / "copied-bundle"
        shutil.copytree(bundle.out, copy, copy_function=os.link)  # hard links: only the victim is rewritten
        victim = copy / "images" / f"talkingface_geneface_{__version__}-local.tar.zst"
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0xFF
        victim.unlink()
        victim.write_bytes(bytes(data))
        wipe_images()
        done = make("load", f"BUNDLE={copy}", f"WEIGHTS={tmp_path / 'weights'}", check=False)
        assert done.returncode != 0
        assert "nothing was loaded" in done.stderr and victim.name in done.stderr
        assert all(i is None for i in image_ids().values())
        assert not (tmp_path / "weights").exists()

    def test_load_restores_the_images_and_weights(self, bundle: BundleSite, tmp_path: Path) -> None:
        expected = json_ids(bundle.out)
        wipe_images()
        dest = tmp_path / "weights"
        done = make("load", f"BUNDLE={bundle.out}", f"WEIGHTS={dest}")
        assert "all verified" in done.stdout
        assert image_ids() == expected
        assert digest(dest) == {**digest(bundle.weights), "weights.lock.json": digest(dest)["weights.lock.json"]}
        verified = subprocess.run(
            ["python3", "-m", "talkingface.weights", "verify", "--dir", str(dest), "--manifest", str(bundle.manifest)],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert verified.returncode == 0, verified.stdout


def json_ids(folder: Path) -> Dict[str, str]:
    return {i["model"]: i["id"] for i in json.loads((folder / "bundle.json").read_text())["images"]}


def make(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "LINE=local", *argv],
                          capture_output=True, text=True)  # fmt: skip
    if check:
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def test_compose_file_is_valid() -> None:
    compose = ["docker", "compose"] if docker("compose", "version").returncode == 0 else ["docker-compose"]
    done = subprocess.run([*compose, "-f", str(REPO / "compose.yaml"), "--profile", "gpu1", "config", "--services"],
                          capture_output=True, text=True, env={**os.environ, "UID": "1000", "GID": "1000"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    # web-gpu: the studio with nvidia-smi, under its own profile, so that `up web tts` starts without an NVIDIA runtime
    # (tests/web/test_image.py runs that).
    assert set(done.stdout.split()) == {*MODELS, *(f"{m}-gpu1" for m in MODELS), "web", "web-gpu", "tts"}


class TestEvalImage:
    """The eval image scores a clip against a degraded copy on the CPU, run through bin/run_eval.sh for real."""

    @pytest.fixture
    def eval_site(self, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
        root = Path(tempfile.mkdtemp(prefix="tf-eval-", dir="/tmp"))
        try:
            inputs = root / "my inputs"
            inputs.mkdir()
            ffmpeg(
                "-f", "lavfi", "-i", "testsrc2=size=256x256:rate=25", "-f", "lavfi", "-i", "sine=frequency=300",
                "-t", "2", "-pix_fmt", "yuv420p", "-c:a", "aac", str(inputs / "gt.mp4"),
            )  # fmt: skip
            ffmpeg("-i", str(inputs / "gt.mp4"), "-vf", "gblur=sigma=2", "-c:a", "copy", str(inputs / "pred blur.mp4"))
            assets.fetch(assets.NIQE_PARAMS, str(root / "weights"))
            (root / "out").mkdir()
            for path in [root, *root.rglob("*")]:
                path.chmod(path.stat().st_mode | (0o755 if path.is_dir() else 0o444))
            if os.geteuid() == 0:
                os.chown(root / "out", UID, UID)
            yield root
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def run(self, root: Path, *argv: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
        command = [str(REPO / "bin" / "run_eval.sh"), "--line", "local", "--gpu", "CPU"]
        command += ["--weights_dir", str(root / "weights"), *argv]
        if os.geteuid() == 0:
            group = grp.getgrnam("docker").gr_gid
            command = ["setpriv", f"--reuid={UID}", f"--regid={UID}", f"--groups={group}", *command]
        return subprocess.run(
            command,
            cwd=root / "my inputs",
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, **(env or {})},
        )

    def test_scores_on_the_cpu_and_writes_json_csv_and_html(self, eval_site: Path) -> None:
        before = digest(eval_site / "my inputs")
        out = eval_site / "out"
        done = self.run(
            eval_site, "--gt_video", "gt.mp4", "--pred_video", "pred blur.mp4", "--metrics", "psnr,ssim,niqe",
            "--out_json", str(out / "m.json"), "--csv", str(out / "frames.csv"), "--report", str(out / "r.html"),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "| pred blur.mp4 | 50 |" in done.stdout
        summary = json.loads((out / "m.json").read_text())
        metrics = summary["predictions"][0]["metrics"]
        assert 15 < metrics["psnr"]["mean"] < 60 and 0 < metrics["ssim"]["mean"] < 1 and metrics["niqe"]["mean"] > 0
        assert summary["versions"]["numpy"].startswith("1.24")  # Debian's numpy in the local line
        assert len((out / "frames.csv").read_text().splitlines()) == 51
        assert "<svg" in (out / "r.html").read_text()
        assert {(p.stat().st_uid, p.stat().st_gid) for p in out.iterdir()} == {expected_uid()}
        assert digest(eval_site / "my inputs") == before

    def test_every_metric_with_network_files_of_the_true_format(self, eval_site: Path) -> None:
        """Debian's torch 1.13 in the image loads files written by the test venv's torch; LSE on the whole frame."""
        pytest.importorskip("torch")
        from tests.eval.random_weights import write_all

        write_all(eval_site / "weights")
        for path in [eval_site / "weights", *(eval_site / "weights").rglob("*")]:
            path.chmod(path.stat().st_mode | (0o755 if path.is_dir() else 0o444))
        out = eval_site / "out"
        done = self.run(
            eval_site, "--gt_video", "gt.mp4", "--pred_video", "pred blur.mp4", "--lse_crop", "full",
            "--out_json", str(out / "all.json"), env={assets.UNVERIFIED_ENV: "1"},
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        summary = json.loads((out / "all.json").read_text())
        metrics = summary["predictions"][0]["metrics"]
        assert {"psnr", "ssim", "lpips", "niqe", "fid", "lse_c", "lse_d"} <= set(metrics)
        assert summary["versions"]["torch"].startswith("1.13") and summary["device"] == "cpu"
