"""``--runtime native``: the image's entrypoint run directly, in an environment laid out as the image lays it out.

``make native-env MODEL=m PREFIX=dir`` builds ``dir/opt/upstream`` and ``dir/opt/venv`` with the image's own build
scripts, and records what it built in ``dir/talkingface-env.json``. This module runs the entrypoint there, for
clusters without Docker or Apptainer and for development. Host paths go to the entrypoint unchanged: there are no
mounts to map them through, and no step writes to its inputs.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from ..core.errors import TalkingfaceError
from ..core.layout import ContainerRoots
from .gpu import GpuSelection

REPO = Path(__file__).resolve().parents[2]
MARKER = "talkingface-env.json"
ENTRYPOINT = REPO / "entrypoints" / "talkingface-entrypoint"


def default_prefix(model: str) -> str:
    return os.path.abspath(os.environ.get("TALKINGFACE_NATIVE_ENV") or REPO / "native" / model)


def build_fix(model: str, prefix: str, line: Optional[str] = None) -> str:
    command = f"make native-env MODEL={model} LINE={line or 'cu118'} PREFIX={shlex.quote(prefix)}"
    # With no line known, cu118 runs every GPU the images support from sm_70 up; local (the doubles) needs none.
    return f"build it with: {command}" + ("" if line else " (or LINE=local)")


@dataclass(frozen=True)
class NativeEnv:
    """One built environment: where it is, what it holds, and the variables its line needs (compat.json)."""

    prefix: str
    model: str
    line: str
    upstream_commit: str
    line_env: Tuple[Tuple[str, str], ...] = ()

    @property
    def python(self) -> str:
        return os.path.join(self.prefix, "opt", "venv", "bin", "python")

    @property
    def upstream(self) -> str:
        return os.path.join(self.prefix, "opt", "upstream")

    @classmethod
    def load(cls, prefix: str, model: str) -> NativeEnv:
        marker = os.path.join(prefix, MARKER)
        try:
            record = json.loads(Path(marker).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TalkingfaceError(f"no native environment at {prefix}", fix=build_fix(model, prefix)) from None
        except (OSError, ValueError) as exc:
            raise TalkingfaceError(
                f"{marker} can't be read ({exc})", fix=f"remove {prefix} and {build_fix(model, prefix)}"
            ) from None
        if record.get("model") != model:
            raise TalkingfaceError(
                f"{prefix} holds a {record.get('model')} environment, not {model}",
                fix=f"pass --native_env with a {model} environment, or {build_fix(model, prefix + '-' + model)}",
            )
        env = cls(
            prefix=prefix,
            model=model,
            line=str(record.get("line", "")),
            upstream_commit=str(record.get("upstream_commit", "")),
            line_env=tuple(sorted(record.get("env", {}).items())),
        )
        if not os.access(env.python, os.X_OK):
            raise TalkingfaceError(
                f"{env.python} is missing: the environment at {prefix} is incomplete",
                fix=f"remove {prefix} and {build_fix(model, prefix, env.line)}",
            )
        return env

    def roots(self, *, workspace: str, bfm: str, weights: str) -> ContainerRoots:
        """The entrypoint's view: the same folders the image mounts, at their host paths."""
        return ContainerRoots(
            workspace=workspace,
            inputs=os.path.join(workspace, ".talkingface", "inputs"),
            bfm=bfm,
            weights=weights,
            upstream=self.upstream,
        )


def run_env(native: NativeEnv, roots: ContainerRoots, selection: GpuSelection) -> Dict[str, str]:
    """What the image's ENV sets, pointed at host folders; only these are added to the caller's environment."""
    home = os.path.join(native.prefix, "home")
    env = {
        "TALKINGFACE_MODEL": native.model,
        "TALKINGFACE_UPSTREAM": roots.upstream,
        "TALKINGFACE_WORKSPACE": roots.workspace,
        "TALKINGFACE_INPUTS": roots.inputs,
        "TALKINGFACE_BFM": roots.bfm,
        "TALKINGFACE_WEIGHTS": roots.weights,
        "PATH": os.pathsep.join([os.path.dirname(native.python), os.environ.get("PATH", "/usr/bin:/bin")]),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.path.join(roots.upstream, "lib")]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": home,
        "TORCH_HOME": os.path.join(roots.weights, "cache", "torch"),
        "HF_HOME": os.path.join(roots.weights, "cache", "huggingface"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        **dict(native.line_env),
    }
    if selection.is_cpu or selection.indices:
        # Docker's --gpus picks devices for the image; here the same selection goes to CUDA itself.
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in selection.indices)
    return env


@dataclass(frozen=True)
class NativeRun:
    python: str
    command: Tuple[str, ...]
    env: Tuple[Tuple[str, str], ...]
    cwd: str
    native: NativeEnv
    roots: ContainerRoots

    def argv(self) -> List[str]:
        return [self.python, str(ENTRYPOINT), *self.command]

    def groups(self) -> List[List[str]]:
        return [["cd", self.cwd, "&&", "env"], *([f"{k}={v}"] for k, v in self.env), self.argv()]

    def render(self) -> str:
        lines = [f"cd {shlex.quote(self.cwd)} && env"]
        lines += [shlex.quote(f"{k}={v}") for k, v in self.env]
        lines.append(" ".join(shlex.quote(token) for token in self.argv()))
        return " \\\n  ".join(lines)

    def environ(self) -> Dict[str, str]:
        return {**os.environ, **dict(self.env)}


def native_run(native: NativeEnv, roots: ContainerRoots, command: List[str], selection: GpuSelection) -> NativeRun:
    env = run_env(native, roots, selection)
    return NativeRun(
        python=native.python,
        command=tuple(command),
        env=tuple(env.items()),
        cwd=roots.workspace,
        native=native,
        roots=roots,
    )


def missing_tools(env: Mapping[str, str]) -> List[str]:
    return [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool, path=env.get("PATH")) is None]


def check_tools(run: NativeRun) -> None:
    """ffmpeg and ffprobe must be on PATH: a static ffmpeg, common on clusters, often comes without ffprobe."""
    missing = missing_tools(run.environ())
    if missing:
        raise TalkingfaceError(
            f"{' and '.join(missing)} not found on PATH (a static ffmpeg build often comes without ffprobe)",
            fix="install ffmpeg with ffprobe (apt-get install ffmpeg, or conda install ffmpeg) and put both on PATH",
        )


UNSAFE = frozenset(" \t\n\"'`$&;|<>()*?[]{}!#~\\")


def check_paths(folders: Mapping[str, str]) -> None:
    """Upstream builds shell strings from these paths (os.system, unquoted); in a container they are fixed mount
    points, natively they are the user's own, so one with a space would break upstream's commands half-way."""
    for what, path in folders.items():
        bad = sorted(set(path) & UNSAFE)
        if bad:
            raise TalkingfaceError(
                f"the {what} {path} has {''.join(bad)!r} in it, which upstream's unquoted shell commands split",
                fix="use a folder whose path has only letters, digits and / _ - . in it, or --runtime docker "
                "(which mounts it at a fixed path)",
            )


def link_upstream(run: NativeRun) -> List[str]:
    """Upstream's fixed paths (BFM, weights, GeneFace's data) become links to this run's folders, as in the image."""
    from ..core.image_setup import link_tree

    home = Path(dict(run.env)["HOME"])
    home.mkdir(parents=True, exist_ok=True)
    cache = home / ".tensorflow"
    target = os.path.join(run.roots.weights, "cache", "tensorflow")
    if os.path.islink(cache) and os.readlink(cache) != target:
        cache.unlink()
    if not os.path.lexists(cache):
        cache.symlink_to(target)
    return link_tree(run.native.model, os.path.join(run.native.upstream, run.native.model), run.roots)


class RunLock:
    """One run at a time in an environment: its upstream tree's links point at one workspace's folders."""

    def __init__(self, prefix: str) -> None:
        self.path = os.path.join(prefix, ".run.lock")
        self.fh: Optional[object] = None

    def __enter__(self) -> RunLock:
        fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until __exit__
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise TalkingfaceError(
                    f"the native environment {os.path.dirname(self.path)} is in use by {holder}",
                    fix="wait for that run to end, or build a second environment (make native-env PREFIX=...)",
                    exit_code=1,
                ) from None
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        self.fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fh is not None:
            self.fh.close()  # type: ignore[attr-defined]


def execute(run: NativeRun) -> int:
    check_tools(run)
    with RunLock(run.native.prefix):
        link_upstream(run)
        return subprocess.call(run.argv(), env=run.environ(), cwd=run.cwd)
