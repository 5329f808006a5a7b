"""Gather what the checks look at: nvidia-smi, docker info, the images, disk, /dev/shm, the BFM and the weights.

Gathering is the only part that touches the machine. Commands go through a ``Runner`` so tests can replay recorded
outputs, and every parser takes a ``CommandOutput``, never a live process.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

from ..adapters import ADAPTERS
from .lines import LOCAL, Cap, resolve_line

GPU_FIELDS = "index,name,compute_cap,memory.total,driver_version"
# Older drivers' nvidia-smi (470 and before, at least) has no compute_cap field: those are asked again without it.
GPU_FIELDS_OLD = "index,name,memory.total,driver_version"
SMI_QUERY = ("nvidia-smi", f"--query-gpu={GPU_FIELDS}", "--format=csv,noheader,nounits")
SMI_QUERY_OLD = ("nvidia-smi", f"--query-gpu={GPU_FIELDS_OLD}", "--format=csv,noheader,nounits")
DOCKER_INFO = ("docker", "info", "--format", "{{json .}}")
# Docker's --gpus goes through this hook of the NVIDIA Container Toolkit, looked up on the daemon's PATH; the older
# name is what toolkits before 1.4 installed.
NVIDIA_HOOKS = ("nvidia-container-runtime-hook", "nvidia-container-toolkit")
MODEL_IMAGES = tuple(ADAPTERS)
IMAGES = (*MODEL_IMAGES, "eval")
BFM_FILE = "01_MorphableModel.mat"


@dataclass(frozen=True)
class CommandOutput:
    """One command's result; ``found`` is False when the program is not on PATH."""

    found: bool
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""

    @property
    def first_line(self) -> str:
        lines = [line.strip() for line in (self.stdout + "\n" + self.stderr).splitlines() if line.strip()]
        return lines[0] if lines else f"exit status {self.returncode}"


Runner = Callable[[Sequence[str]], CommandOutput]
Which = Callable[[str], Optional[str]]


def run_command(argv: Sequence[str], *, timeout: float = 30.0) -> CommandOutput:
    exe = shutil.which(argv[0])
    if exe is None:
        return CommandOutput(found=False, returncode=127)
    try:
        done = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        # A hung driver or daemon makes nvidia-smi and docker info wait forever: that is a finding, not a hang.
        return CommandOutput(found=True, returncode=124, stderr=f"{argv[0]} gave no answer within {timeout:.0f} s")
    except OSError as exc:
        return CommandOutput(found=True, returncode=126, stderr=str(exc))
    return CommandOutput(found=True, returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)


# -- GPUs --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    compute_cap: Optional[Cap]
    memory_mib: Optional[int]
    driver: str


@dataclass(frozen=True)
class GpuFacts:
    """``state``: ``ok`` (nvidia-smi answered), ``absent`` (not installed) or ``failed`` (``error`` says why)."""

    state: str
    gpus: Tuple[Gpu, ...] = ()
    error: str = ""

    @property
    def caps(self) -> List[Cap]:
        return [gpu.compute_cap for gpu in self.gpus if gpu.compute_cap is not None]


def _int(text: str) -> Optional[int]:
    return int(text) if text.isdigit() else None


def _cap(text: str) -> Optional[Cap]:
    match = re.fullmatch(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_gpu_csv(text: str, *, with_cap: bool) -> Tuple[Gpu, ...]:
    width = 5 if with_cap else 4
    gpus = []
    for row in csv.reader(text.splitlines(), skipinitialspace=True):
        cells = [cell.strip() for cell in row]
        if len(cells) != width or not cells[0].isdigit():
            continue
        if with_cap:
            index, name, cap, memory, driver = cells
        else:
            (index, name, memory, driver), cap = cells, ""
        gpus.append(Gpu(int(index), name, _cap(cap), _int(memory), driver))
    return tuple(gpus)


def field_unsupported(out: CommandOutput) -> bool:
    return out.returncode != 0 and "is not a valid field to query" in out.stdout + out.stderr


def parse_gpus(out: CommandOutput, old: Optional[CommandOutput] = None) -> GpuFacts:
    """``out`` answers ``SMI_QUERY``; ``old`` answers ``SMI_QUERY_OLD``, asked when the first had no compute_cap."""
    if not out.found:
        return GpuFacts(state="absent")
    if field_unsupported(out) and old is not None:
        out, with_cap = old, False
    else:
        with_cap = True
    if out.returncode != 0:
        return GpuFacts(state="failed", error=out.first_line)
    return GpuFacts(state="ok", gpus=parse_gpu_csv(out.stdout, with_cap=with_cap))


def gather_gpus(run: Runner) -> GpuFacts:
    out = run(SMI_QUERY)
    return parse_gpus(out, run(SMI_QUERY_OLD) if field_unsupported(out) else None)


# -- docker ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DockerFacts:
    """``state``: ``ok``, ``absent`` (no docker client) or ``unreachable`` (the daemon did not answer)."""

    state: str
    error: str = ""
    server_version: str = ""
    runtimes: Tuple[str, ...] = ()
    default_runtime: str = ""
    authorization_plugins: Tuple[str, ...] = ()
    mem_total: Optional[int] = None
    nvidia_hook: Optional[str] = None


def parse_docker_info(out: CommandOutput, *, nvidia_hook: Optional[str]) -> DockerFacts:
    if not out.found:
        return DockerFacts(state="absent", nvidia_hook=nvidia_hook)
    try:
        info = json.loads(out.stdout) if out.stdout.strip() else {}
    except ValueError:
        info = {}
    if not isinstance(info, dict):
        info = {}
    # Newer clients print client-side JSON with empty server fields (and exit 1) when the daemon is down.
    errors = info.get("ServerErrors") or []
    if out.returncode != 0 or not info.get("ServerVersion") or errors:
        stderr = out.stderr.strip()
        error = stderr.splitlines()[0] if stderr else str(errors[0]) if errors else out.first_line
        return DockerFacts(state="unreachable", error=error, nvidia_hook=nvidia_hook)
    plugins = info.get("Plugins") or {}
    return DockerFacts(
        state="ok",
        server_version=str(info["ServerVersion"]),
        runtimes=tuple(sorted(info.get("Runtimes") or {})),
        default_runtime=str(info.get("DefaultRuntime") or ""),
        authorization_plugins=tuple(plugins.get("Authorization") or ()),
        mem_total=info.get("MemTotal") if isinstance(info.get("MemTotal"), int) else None,
        nvidia_hook=nvidia_hook,
    )


def find_nvidia_hook(which: Which) -> Optional[str]:
    for name in NVIDIA_HOOKS:
        found = which(name)
        if found:
            return found
    return None


def gather_docker(run: Runner, which: Which) -> DockerFacts:
    return parse_docker_info(run(DOCKER_INFO), nvidia_hook=find_nvidia_hook(which))


# -- images ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageFacts:
    """``state``: ``present``, ``missing`` or ``unknown`` (docker could not be asked; ``error`` says why)."""

    name: str
    ref: str
    state: str
    labels: Mapping[str, str] = field(default_factory=dict)
    error: str = ""


def image_ref(name: str, *, version: str, line: str) -> str:
    return f"talkingface/{name}:{version}-{line}"


def inspect_command(ref: str) -> Tuple[str, ...]:
    return ("docker", "image", "inspect", "--format", "{{json .Config.Labels}}", ref)


def parse_image(name: str, ref: str, out: CommandOutput) -> ImageFacts:
    if out.returncode != 0 or not out.found:
        if "no such image" in (out.stdout + out.stderr).lower():
            return ImageFacts(name=name, ref=ref, state="missing")
        return ImageFacts(name=name, ref=ref, state="unknown", error=out.first_line if out.found else "no docker")
    try:
        labels = json.loads(out.stdout) or {}
    except ValueError:
        labels = {}
    return ImageFacts(name=name, ref=ref, state="present", labels={str(k): str(v) for k, v in dict(labels).items()})


def gather_images(run: Runner, docker: DockerFacts, *, version: str, line: str) -> Tuple[ImageFacts, ...]:
    found = []
    for name in IMAGES:
        ref = image_ref(name, version=version, line=line)
        if docker.state != "ok":
            found.append(ImageFacts(name=name, ref=ref, state="unknown", error=f"docker is {docker.state}"))
        else:
            found.append(parse_image(name, ref, run(inspect_command(ref))))
    return tuple(found)


# -- files -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiskFacts:
    """``path`` is what was asked about; ``measured`` is its nearest existing folder (a new workspace isn't there)."""

    path: str
    measured: str
    free_bytes: Optional[int]
    total_bytes: Optional[int]


def gather_disk(path: str) -> DiskFacts:
    measured = os.path.abspath(path)
    while not os.path.exists(measured) and os.path.dirname(measured) != measured:
        measured = os.path.dirname(measured)
    try:
        usage = shutil.disk_usage(measured)
    except OSError:
        return DiskFacts(path=path, measured=measured, free_bytes=None, total_bytes=None)
    return DiskFacts(path=path, measured=measured, free_bytes=usage.free, total_bytes=usage.total)


@dataclass(frozen=True)
class ShmFacts:
    size_bytes: Optional[int]


def gather_shm(path: str = "/dev/shm") -> ShmFacts:  # noqa: S108 - only its size is read
    try:
        stat = os.statvfs(path)
    except (OSError, AttributeError):
        return ShmFacts(size_bytes=None)
    return ShmFacts(size_bytes=stat.f_blocks * stat.f_frsize)


@dataclass(frozen=True)
class BfmFacts:
    path: str
    exists: bool
    readable: bool = False
    size: int = 0
    head: bytes = b""


def gather_bfm(bfm_dir: str) -> BfmFacts:
    path = os.path.join(bfm_dir, BFM_FILE)
    if not os.path.isfile(path):
        return BfmFacts(path=path, exists=False)
    try:
        with open(path, "rb") as handle:
            head = handle.read(128)
        return BfmFacts(path=path, exists=True, readable=True, size=os.path.getsize(path), head=head)
    except OSError:
        return BfmFacts(path=path, exists=True, readable=False)


@dataclass(frozen=True)
class WeightsFacts:
    """``files``: every file under ``path``, relative, with ``/`` separators."""

    path: str
    exists: bool
    readable: bool = False
    files: Tuple[str, ...] = ()


def gather_weights(weights_dir: str) -> WeightsFacts:
    if not os.path.isdir(weights_dir):
        return WeightsFacts(path=weights_dir, exists=False)
    if not os.access(weights_dir, os.R_OK | os.X_OK):
        return WeightsFacts(path=weights_dir, exists=True, readable=False)
    files = []
    for root, _dirs, names in os.walk(weights_dir):
        rel = os.path.relpath(root, weights_dir)
        files += [name if rel == "." else f"{rel}/{name}".replace(os.sep, "/") for name in names]
    return WeightsFacts(path=weights_dir, exists=True, readable=True, files=tuple(sorted(files)))


# -- all of it ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """``line`` is what ``line_requested`` resolves to on this machine (``auto`` picks from the GPUs)."""

    line_requested: str
    line: str
    version: str
    gpus: GpuFacts
    docker: DockerFacts
    images: Tuple[ImageFacts, ...]
    disk: DiskFacts
    shm: ShmFacts
    bfm: BfmFacts
    weights: WeightsFacts
    # The local line's images, when another line is checked: a machine without a GPU may still have them built.
    local_images: Tuple[ImageFacts, ...] = ()


def gather(
    *,
    line: str,
    version: str,
    workspace: str,
    bfm_dir: str,
    weights_dir: str,
    run: Runner = run_command,
    which: Which = shutil.which,
) -> Facts:
    gpus = gather_gpus(run)
    docker = gather_docker(run, which)
    resolved = resolve_line(line, gpus.caps)
    return Facts(
        line_requested=line,
        line=resolved,
        version=version,
        gpus=gpus,
        docker=docker,
        images=gather_images(run, docker, version=version, line=resolved),
        disk=gather_disk(workspace),
        shm=gather_shm(),
        bfm=gather_bfm(bfm_dir),
        weights=gather_weights(weights_dir),
        local_images=()
        if resolved == LOCAL or docker.state != "ok"
        else gather_images(run, docker, version=version, line=LOCAL),
    )
