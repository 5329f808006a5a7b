"""The shared part of the GPU runs of real upstream (docs/gpu-run.md); each model's script says what differs.

Two phases, on two machines if need be, in one folder ``ROOT`` whose absolute path is the same on both:

``prepare`` (any machine with our preprocessing's packages; no GPU): the sample clip and a driving speech, then the
``preprocess`` verb through ``--runtime native`` in a local-line environment, so our own offline steps (input
check, normalization, frames, landmarks) run for real and their resume markers are kept. It packs ROOT.

``run`` (the GPU machine): builds the native environment with the images' own scripts, writes the weights that
can't be had as random weights in their published formats through upstream's own classes, installs the named
stand-ins and edits, then runs ``convert-bfm``, ``preprocess`` from upstream's first task, every training stage and
``infer`` through ``bin/run_<model>.sh --runtime native``, and records ``docs/bench/gpu-run-<model>.json``.

A one-shot model (NeRFFaceSpeech) has no BFM conversion, dataset or training: its ``prepare`` runs ``infer`` on the
doubles, so our own steps (the photo's alignment, the driving audio) are done and kept, and ``run`` runs ``infer``
again, where only upstream's steps are left to do.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TASK = "gpurun"
SPEECH_TEXT = "Real upstream, driven by our own entrypoint, on a borrowed graphics card."


@dataclass
class Step:
    """One verb of the run: what it was, how long it took, and what throughput upstream reported."""

    name: str
    argv: List[str]
    wall_s: float = 0.0
    returncode: Optional[int] = None
    log: str = ""
    it_per_s: Optional[float] = None
    iterations: Optional[int] = None


def preprocess_clip(run: Run) -> Sequence[str]:
    """The verb ``prepare`` runs on the doubles by default: our own offline steps on the sample clip."""
    return ("preprocess", "--video_path", str(run.input / "clip.mp4"))


@dataclass
class Model:
    """What one model's run needs; everything else is shared."""

    name: str
    first_upstream_step: Optional[str]  # None: no dataset to preprocess (a one-shot model)
    lock: Path
    ext_names: Sequence[str]
    write_weights: Callable[[Run], None]
    install_stand_ins: Callable[[Run], None]
    train_runs: Sequence[Sequence[str]]  # (stage label, *verb args)
    infer_runs: Callable[[Run], Sequence[Sequence[object]]]  # (name, driving audio, *more infer arguments)
    throughput: re.Pattern = re.compile(r"([\d.]+)\s*it/s")
    iterations: Dict[str, int] = field(default_factory=dict)
    # Steps whose real code may fail on random weights, and the stand-in that replaces them then.
    fallbacks: Dict[str, Callable[[Run], None]] = field(default_factory=dict)
    # Dataset entries upstream's tasks write, left out of the prepared pack.
    upstream_outputs: Sequence[str] = ()
    # Anything else upstream's steps wrote during ``prepare`` (on the doubles), as glob patterns under ROOT.
    left_out: Sequence[str] = ()
    # Upstream's folder of preprocessing scripts (GeneFace's is data_util), and where its dataset's frames are.
    data_tree: str = "data_utils"
    frames: str = f"data/{TASK}/ori_imgs"
    # The verb and arguments ``prepare`` runs through the doubles (it may first lay out more inputs).
    prepare_verb: Callable[[Run], Sequence[str]] = preprocess_clip
    convert_bfm: bool = True
    # More settings for tools/native-env.sh (e.g. MAX_JOBS, where one extension's sources dominate the build).
    build_env: Dict[str, str] = field(default_factory=dict)
    # Called after each infer, failed or not: what upstream's own logs in the workspace show (loops, their rates).
    after_infer: Optional[Callable[[Run], None]] = None


class Run:
    def __init__(self, model: Model, root: Path) -> None:
        self.model, self.root = model, root
        self.input = root / "input"
        self.workspace = root / "ws"
        self.weights = root / "weights"
        self.bfm = root / "bfm"
        self.env = root / "env"
        self.logs = root / "logs"
        self.bin = root / "bin"
        self.out = root / f"gpu-run-{model.name}.json"
        self.helpers: Optional[Path] = None
        self.ffmpeg: Optional[Path] = None
        # "local" runs the whole harness on the test doubles, with no GPU: CI checks the harness itself that way.
        self.line = "cu130"
        self.record: Dict = {
            "model": model.name,
            "task": TASK,
            "real": [],
            "stand_ins": [],
            "edits": [],
            "weights": [],
            "steps": [],
        }

    @property
    def gpu(self) -> str:
        return "CPU" if self.line == "local" else "GPU0"

    @property
    def upstream(self) -> Path:
        return self.env / "opt" / "upstream" / self.model.name

    def real(self, what: str) -> None:
        self.record["real"].append(what)

    def stand_in(self, what: str, why: str) -> None:
        self.record["stand_ins"].append({"what": what, "why": why})
        print(f"gpu-run: stand-in: {what} ({why})", flush=True)

    def weight(self, path: str, how: str) -> None:
        self.record["weights"].append({"path": path, "how": how})

    def python_env(self) -> Dict[str, str]:
        env = dict(os.environ, PYTHONUNBUFFERED="1", TALKINGFACE_HEARTBEAT="60")
        env["PATH"] = os.pathsep.join([str(self.bin), env.get("PATH", "")])
        return env

    def verb(self, name: str, verb: str, *args: str, check: bool = True, native_env: Optional[Path] = None) -> Step:
        argv = [str(REPO / "bin" / f"run_{self.model.name}.sh"), verb, "--task", TASK, *args]
        argv += ["--runtime", "native", "--native_env", str(native_env or self.env)]
        argv += ["--workspace", str(self.workspace), "--bfm_dir", str(self.bfm), "--weights_dir", str(self.weights)]
        return self.command(name, argv, check=check)

    def command(self, name: str, argv: List[str], *, check: bool = True) -> Step:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{len(self.record['steps']):02d}-{name}.log"
        step = Step(name=name, argv=argv, log=str(log))
        print(f"gpu-run: [{name}] {' '.join(argv)}", flush=True)
        start = time.monotonic()
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.python_env())
            if proc.stdout is None:
                raise RuntimeError("no pipe")
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace")
                out.write(line)
                if not line.startswith(" ") or "[talkingface]" in line:
                    sys.stdout.write(line)
            step.returncode = proc.wait()
        step.wall_s = round(time.monotonic() - start, 1)
        text = log.read_text(encoding="utf-8", errors="replace")
        rates = self.model.throughput.findall(text)
        step.it_per_s = float(rates[-1]) if rates else None
        self.record["steps"].append(step.__dict__)
        self.save()  # a run cut short still leaves what it measured
        print(f"gpu-run: [{name}] exit {step.returncode} after {step.wall_s} s", flush=True)
        if check and step.returncode != 0:
            self.save()
            raise SystemExit(f"gpu-run: step {name} failed (exit {step.returncode}); its log: {log}")
        return step

    def save(self, out: Optional[Path] = None) -> Path:
        target = out or self.out
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(self.record, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, target)
        return target


# A tqdm loop that ran to its end: "desc: 100%|####| 50/50 [00:12<00:00,  4.10it/s]".
TQDM_DONE = re.compile(
    r"(?:(?P<desc>[\w .:-]*?): *)?100%\|[^|\r\n]*\| *(?P<n>\d+)/(?P=n) \[(?P<elapsed>[\d:]+)<[^,\]]*, *"
    r"(?P<rate>[\d.]+)(?P<unit>it/s|s/it)\]"
)


def finished_loops(text: str) -> List[Dict[str, object]]:
    """Each tqdm loop a log shows finished, once (tqdm repeats its last line when it closes)."""
    loops: List[Dict[str, object]] = []
    for match in TQDM_DONE.finditer(text):
        rate = float(match["rate"])
        loop = {
            "loop": (match["desc"] or "").strip() or None,
            "iterations": int(match["n"]),
            "elapsed": match["elapsed"],
            "it_per_s": round(rate if match["unit"] == "it/s" else 1 / rate, 3) if rate else None,
        }
        if not loops or loops[-1] != loop:
            loops.append(loop)
    return loops


def edit_upstream(run: Run, relative: str, find: str, replace: str, why: str, *, count: int = 1) -> None:
    """Change ``count`` occurrences of ``find`` in one upstream file (a shortened loop, an import the lent machine's
    Python or numpy no longer has); the original stays beside it as <name>.upstream, and the record lists the edit.
    A second run on the same environment edits the original again."""
    target = run.upstream / relative
    kept = target.parent / (target.name + ".upstream")
    text = (kept if kept.exists() else target).read_text(encoding="utf-8")
    found = text.count(find)
    if found != count:
        raise SystemExit(
            f"gpu-run: {relative} holds {found} of {find.strip()!r}, not {count} -- fix: update the edit for this "
            "upstream commit"
        )
    if not kept.exists():
        shutil.copy(target, kept)
    target.write_text(text.replace(find, replace), encoding="utf-8")
    run.record["edits"].append({"file": relative, "find": find.strip(), "replace": replace.strip(), "why": why})
    print(f"gpu-run: edit: {relative}: {find.strip()!r} -> {replace.strip()!r} ({why})", flush=True)


def replace_with_double(run: Run, relative: str, why: str, *, double: Optional[Path] = None) -> None:
    """Swap one upstream file for a double's version; the original stays beside it as <name>.upstream."""
    target = run.upstream / relative
    kept = target.parent / (target.name + ".upstream")
    if target.exists() and not kept.exists():
        target.rename(kept)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(double or REPO / "tests" / "doubles" / run.model.name / relative, target)
    run.stand_in(relative, why)


# What upstream's tasks 2-9 write into an AD-NeRF-lineage dataset (ER-NeRF, GaussianTalker): left out of the pack.
AD_NERF_OUTPUTS = ("aud.npy", "aud_ds.npy", "parsing", "bc.jpg", "gt_imgs", "torso_imgs", "track_params.pt",
                   "transforms_train.json", "transforms_val.json")  # fmt: skip


def doubles_on_path(run: Run) -> None:
    """fakeupstream.py, which every double imports, on the native environment's PYTHONPATH (opt/upstream/lib);
    only the local line's environment comes with that folder."""
    lib = run.upstream.parent / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "tests" / "doubles" / "fakeupstream.py", lib / "fakeupstream.py")


def deepspeech_stand_in(run: Run, why: str = "") -> None:
    replace_with_double(
        run,
        f"{run.model.data_tree}/deepspeech_features/extract_ds_features.py",
        "no TensorFlow for Python 3.12 within the carry limit and no DeepSpeech graph: features of the right shape"
        + why,
    )


def tracker_fallback(run: Run) -> None:
    replace_with_double(
        run,
        f"{run.model.data_tree}/face_tracking/face_tracker.py",
        "the real face tracker failed on this machine (its log is in the record); the doubles' tracker stands in",
    )


def stub_module(run: Run, name: str, body: str, why: str) -> None:
    """A package upstream imports but never calls on this path, where no wheel fits: a named stub on PYTHONPATH."""
    package = run.env / "opt" / "upstream" / "lib" / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(f'"""talkingface gpu-run stand-in: {why}"""\n{body}', encoding="utf-8")
    run.stand_in(f"python package {name}", why)


def prove_face_parsing(run: Run, model_path: Path) -> None:
    """Upstream's BiSeNet with random weights, once, on the frames: real code run, its maps not used (random classes
    leave no background to sample; the doubles' parsing maps stand in for the dataset)."""
    frames = run.workspace / run.model.frames
    scratch = run.root / "scratch" / "parsing"
    scratch.mkdir(parents=True, exist_ok=True)
    python = str(run.env / "opt" / "venv" / "bin" / "python")
    step = run.command(
        "face-parsing-real",
        ["env", f"TORCH_HOME={run.weights / 'cache' / 'torch'}", python,
         str(run.upstream / run.model.data_tree / "face_parsing" / "test.py"),
         f"--respath={scratch}", f"--imgpath={frames}", f"--modelpath={model_path}"],
        check=False,
    )  # fmt: skip
    written = len(list(scratch.glob("*.png")))
    run.record["face_parsing_real"] = {"exit": step.returncode, "maps_written": written, "kept": False}
    if step.returncode == 0 and written:
        run.real(f"face parsing: upstream's BiSeNet with random weights wrote {written} maps (not used for training)")


# ------------------------------------------------------------------------------------------------ prepare (CPU)
def prepare(model: Model, root: Path, seconds: float) -> Path:
    sys.path.insert(0, str(REPO))
    from talkingface.demo.sample_clip import generate
    from tests.doubles.install import install

    run = Run(model, root)
    run.input.mkdir(parents=True, exist_ok=True)
    generate(run.input / "clip.mp4", seconds=seconds)
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(run.input / "speech.wav"), SPEECH_TEXT], check=True)
    # Our own steps run here for real; the doubles stand in for upstream's tasks, which the GPU run redoes.
    support = root / "prep-support"
    install(model.name, support)
    local_env = root / "prep-env"
    subprocess.run([str(REPO / "tools" / "native-env.sh"), model.name, "local", str(local_env)], check=True)
    run.bfm, run.weights = support / "bfm_models", support / "weights"
    verb, *args = model.prepare_verb(run)
    run.verb("prepare", verb, *args, "--gpu", "CPU", native_env=local_env)
    pack = root.parent / f"gpu-run-{model.name}.tar"
    upstream_outputs = set(model.upstream_outputs)

    def ours(info: tarfile.TarInfo) -> Optional[tarfile.TarInfo]:
        # Only what our own steps wrote travels: the GPU run redoes every upstream task.
        # What lies in the task's dataset folder: ws/data/<task>/ (AD-NeRF lineage) or GeneFace's
        # ws/data/processed/videos/<task>/.
        parts = Path(info.name).parts
        under = parts[parts.index("data") :] if "data" in parts else ()
        data = under[under.index(TASK) + 1 :] if TASK in under else ()
        if data and data[0] in upstream_outputs:
            return None
        inside = "/".join(parts[1:])  # the path under ROOT
        return None if any(fnmatch.fnmatchcase(inside, pattern) for pattern in model.left_out) else info

    with tarfile.open(pack, "w") as tar:
        for name in ("input", "ws"):
            tar.add(root / name, arcname=f"{root.name}/{name}", filter=ours)
    print(f"gpu-run: packed {pack} ({pack.stat().st_size // 1_000_000} MB); unpack it in {root.parent} on the GPU")
    return pack


# ------------------------------------------------------------------------------------------------ run (GPU)
def which(name: str, env: Dict[str, str]) -> Optional[str]:
    return shutil.which(name, path=env.get("PATH"))


def tools_on_path(run: Run) -> None:
    """ffmpeg and ffprobe: imageio-ffmpeg's static ffmpeg where none is installed, and our named ffprobe stand-in
    where ffprobe is missing (static builds ship without it)."""
    run.bin.mkdir(parents=True, exist_ok=True)
    env = run.python_env()
    if not which("ffmpeg", env):
        if run.ffmpeg is None:
            raise SystemExit("gpu-run: no ffmpeg on PATH -- fix: pass --ffmpeg FILE, a static ffmpeg build (.xz too)")
        target = run.bin / "ffmpeg"
        if run.ffmpeg.suffix == ".xz":
            with lzma.open(run.ffmpeg) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copy(run.ffmpeg, target)
        target.chmod(0o755)
        version = subprocess.run([str(target), "-version"], capture_output=True, text=True).stdout.split("\n")[0]
        run.real(f"ffmpeg: {version} ({run.ffmpeg.name})")
    if not which("ffprobe", run.python_env()):
        shutil.copy(HERE / "stand_ins" / "ffprobe", run.bin / "ffprobe")
        (run.bin / "ffprobe").chmod(0o755)
        run.stand_in(
            "ffprobe",
            "a static ffmpeg comes without ffprobe; a Python ffprobe answers our two queries from ffmpeg's output",
        )


def machine_cuda_home(env: Dict[str, str]) -> Optional[str]:
    """The machine's CUDA toolkit: CUDA_HOME where set, else the folder above the bin/ of the nvcc on PATH, else
    /usr/local/cuda if it has an nvcc (torch's cpp_extension looks in the same places)."""
    if env.get("CUDA_HOME"):
        return env["CUDA_HOME"]
    nvcc = which("nvcc", env)
    if nvcc:
        return str(Path(nvcc).resolve().parent.parent)
    return "/usr/local/cuda" if Path("/usr/local/cuda/bin/nvcc").exists() else None


def build_env(run: Run, archives: Path, wheels: Path, ext_wheels: Path, archs: str) -> None:
    if run.line == "local":
        # The running interpreter's packages (torch for the weight writers) through SYSTEM_SITE's .pth file.
        env = dict(run.python_env(), BASE_PYTHON=sys.executable, SYSTEM_SITE="1")
        native_env = [str(REPO / "tools" / "native-env.sh"), run.model.name, "local", str(run.env)]
        subprocess.run(native_env, env=env, check=True)
        return
    env = dict(
        run.python_env(),
        **run.model.build_env,
        UPSTREAM_ARCHIVES=str(archives),
        WHEELHOUSE=str(wheels),
        EXT_WHEELS=str(ext_wheels),
        NATIVE_LOCK=str(run.model.lock),
        BASE_PYTHON=sys.executable,
        SYSTEM_SITE="1",
        TORCH_PINS="",
        TORCH_CUDA_ARCH_LIST=archs,
        PYTORCH3D="build" if (ext_wheels / "pytorch3d" / "BUILT_FOR").exists() else "skip",
        PYTORCH3D_COMMIT="33824be3cbc87a7dd1db0f6a9a9de9ac81b2d0ba",
    )
    # The stage's CUDA_HOME is CUDA 13's compiler from the lock's wheels in PREFIX's venv; this venv uses the
    # machine's torch (SYSTEM_SITE) and its lock has no compiler, so the machine's own toolkit serves.
    toolkit = machine_cuda_home(env)
    if toolkit:
        env["CUDA_HOME"] = toolkit
    start = time.monotonic()
    subprocess.run([str(REPO / "tools" / "native-env.sh"), run.model.name, "cu130", str(run.env)], env=env, check=True)
    run.record["native_env_s"] = round(time.monotonic() - start, 1)
    run.record["pytorch3d"] = env["PYTORCH3D"]
    run.record["extensions"] = {
        name: (ext_wheels / name / "BUILT_FOR").read_text().strip()
        for name in run.model.ext_names
        if (ext_wheels / name / "BUILT_FOR").exists()
    }


def machine(run: Run) -> None:
    if run.line == "local":
        run.record["machine"] = {"line": "local: the test doubles on the CPU"}
        return
    probe = (
        "import json, platform, torch; p = torch.cuda.get_device_properties(0); "
        "print(json.dumps({'gpu': p.name, 'gpu_memory_gb': round(p.total_memory / 2**30, 1), "
        "'capability': '.'.join(map(str, torch.cuda.get_device_capability(0))), 'torch': torch.__version__, "
        "'cuda': torch.version.cuda, 'python': platform.python_version(), "
        "'arch_list': torch.cuda.get_arch_list()}))"
    )
    out = subprocess.run(
        [str(run.env / "opt" / "venv" / "bin" / "python"), "-c", probe], capture_output=True, text=True
    )
    run.record["machine"] = json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr[-500:]}


def duration(path: Path, stream: str, env: Dict[str, str]) -> Optional[float]:
    """Decoded length of one stream, from ffmpeg's own progress (no ffprobe needed)."""
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-i", str(path), "-map", f"0:{stream}:0", "-f", "null", "-"],
        capture_output=True,
        text=True,
        env=env,
    )
    times = re.findall(r"time=(\d+):(\d+):([\d.]+)", out.stderr)
    if not times:
        return None
    h, m, s = times[-1]
    return round(int(h) * 3600 + int(m) * 60 + float(s), 3)


def result(run: Run, video: Path, out_dir: Path) -> Dict:
    env = run.python_env()
    info: Dict = {"path": str(video), "exists": video.exists()}
    if not video.exists():
        return info
    frame = out_dir / f"gpu-run-{run.model.name}-{video.stem}-frame.png"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(video),
            "-vf",
            "select=eq(n\\,10)",
            "-frames:v",
            "1",
            str(frame),
        ],
        check=True,
        env=env,
    )
    info.update(
        video_s=duration(video, "v", env),
        audio_s=duration(video, "a", env),
        frame10_sha256=hashlib.sha256(frame.read_bytes()).hexdigest(),
        frame10_png=frame.name,
        bytes=video.stat().st_size,
    )
    return info


def gpu_run(model: Model, root: Path, args: argparse.Namespace) -> Path:
    run = Run(model, root)
    run.helpers, run.ffmpeg, run.out, run.line = args.helpers, args.ffmpeg, args.out, args.line
    run.record["upstream"] = json.loads((REPO / "talkingface" / "upstream.json").read_text())[model.name]
    run.record["started"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    build_env(run, args.archives, args.wheels, args.ext_wheels, args.archs)
    machine(run)
    tools_on_path(run)
    model.write_weights(run)
    model.install_stand_ins(run)
    run.save()
    if model.convert_bfm:
        # --force: the prepared workspace holds the doubles' conversion.
        run.verb("convert-bfm", "convert-bfm", "--force", "--gpu", run.gpu)
    for attempt in range(1 + len(model.fallbacks) if model.first_upstream_step else 0):
        step = run.verb(
            "preprocess", "preprocess", "--video_path", str(run.input / "clip.mp4"),
            "--from_step", model.first_upstream_step, "--gpu", run.gpu, check=False,
        )  # fmt: skip
        if step.returncode == 0:
            break
        named = re.findall(r"error: step (\S+)", Path(step.log).read_text(encoding="utf-8", errors="replace"))
        failed = named[-1] if named and named[-1] in model.fallbacks else None
        if failed is None or attempt == len(model.fallbacks):
            run.save()
            raise SystemExit(f"gpu-run: preprocess failed; its log: {step.log}")
        model.fallbacks.pop(failed)(run)
        # Resume at the step that failed: the ones before it are done.
        model.first_upstream_step = failed
    for stage, *extra in model.train_runs:
        step = run.verb(f"train-{stage}", "train_only", *extra, "--gpu", run.gpu)
        step.iterations = model.iterations.get(stage)
        run.record["steps"][-1]["iterations"] = step.iterations
    out_dir = Path(args.out).parent
    results = []
    for name, audio, *extra in model.infer_runs(run):
        step = run.verb(f"infer-{name}", "infer", "--audio_path", str(audio), *map(str, extra), "--gpu", run.gpu,
                        check=not model.after_infer)  # fmt: skip
        if model.after_infer:
            model.after_infer(run)
            if step.returncode != 0:
                run.save()
                raise SystemExit(f"gpu-run: step infer-{name} failed (exit {step.returncode}); its log: {step.log}")
        stem = Path(audio).stem
        results.append(
            {"driving": str(audio), **result(run, run.workspace / "results" / TASK / f"{stem}.mp4", out_dir)}
        )
        if str(audio).endswith(".wav"):
            results[-1]["driving_audio_s"] = duration(Path(audio), "a", run.python_env())
    run.record["results"] = results
    run.record["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return run.save()


def main(model: Model, argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=f"tools/gpu-run/{model.name}.py", description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=("prepare", "run"))
    # The same absolute path on both machines keeps the prepared steps' resume markers valid.
    parser.add_argument("--root", type=Path, default=Path("/tmp/tf-gpu-run") / model.name)  # noqa: S108
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="prepare: length of the training clip (10 s, the least training takes)",
    )
    parser.add_argument("--archives", type=Path, help="run: folder of <commit>.tar upstream archives")
    parser.add_argument("--wheels", type=Path, help="run: wheelhouse holding the lock's packages")
    parser.add_argument("--ext-wheels", type=Path, required=False, help="run: extension wheel cache (EXT_WHEELS)")
    parser.add_argument("--helpers", type=Path, help="run: AD-NeRF's 3DMM files where upstream's tree lacks them")
    parser.add_argument("--ffmpeg", type=Path, help="run: a static ffmpeg (.xz too), where none is on PATH")
    parser.add_argument("--pack", type=Path, help="run: the prepared pack, unpacked first")
    parser.add_argument(
        "--line", choices=("cu130", "local"), default="cu130", help="run: local checks the harness on the doubles"
    )
    parser.add_argument("--archs", default="9.0", help="run: TORCH_CUDA_ARCH_LIST (default 9.0: H100/H200)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / f"gpu-run-{model.name}.json")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.phase == "prepare":
        prepare(model, root, args.seconds)
        return 0
    for flag in ("archives", "wheels", "ext_wheels"):
        if getattr(args, flag) is None and args.line != "local":
            parser.error(f"run needs --{flag.replace('_', '-')}")
    if args.pack:
        with tarfile.open(args.pack) as tar:
            tar.extractall(root.parent, filter="data")
    print(f"gpu-run: wrote {gpu_run(model, root, args)}")
    return 0
