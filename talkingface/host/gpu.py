"""GPU selection: parse ``--gpu`` and check it against what ``nvidia-smi -L`` reports.

Accepted (any case): ``GPU0``, ``GPU1``, ``GPU0,GPU1``, ``0``, ``0,1``, ``all``, ``CPU``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ..core.cuda_lines import CUDA_LINES
from ..core.errors import TalkingfaceError

_ITEM = re.compile(r"(?:gpu)?(\d{1,2})")
_SMI_LINE = re.compile(r"^GPU (\d+): (.+?) \(UUID: ([^)]+)\)\s*$")


@dataclass(frozen=True)
class GpuSelection:
    """``indices`` is empty for CPU; ``all_gpus`` means every GPU of the host."""

    indices: Tuple[int, ...] = ()
    all_gpus: bool = False

    @property
    def is_cpu(self) -> bool:
        return not self.indices and not self.all_gpus

    def docker_args(self) -> List[str]:
        if self.all_gpus:
            return ["--gpus", "all"]
        if not self.indices:
            return []
        devices = ",".join(str(i) for i in self.indices)
        # docker reads --gpus as CSV: a device list with a comma must arrive wrapped in double quotes.
        value = f"device={devices}" if len(self.indices) == 1 else f'"device={devices}"'
        return ["--gpus", value]

    def describe(self) -> str:
        if self.all_gpus:
            return "all GPUs"
        if not self.indices:
            return "CPU"
        return ", ".join(f"GPU{i}" for i in self.indices)


def parse_gpu(text: str) -> GpuSelection:
    value = text.strip().lower().replace(" ", "")
    if value == "cpu":
        return GpuSelection()
    if value == "all":
        return GpuSelection(all_gpus=True)
    indices: List[int] = []
    for item in value.split(","):
        match = _ITEM.fullmatch(item)
        if not match:
            raise TalkingfaceError(
                f"malformed --gpu value {text!r}",
                fix="use GPU0, GPU1, GPU0,GPU1, 0, 0,1, all or CPU",
            )
        index = int(match.group(1))
        if index in indices:
            raise TalkingfaceError(f"GPU{index} is listed twice in --gpu {text!r}", fix="list each GPU once")
        indices.append(index)
    return GpuSelection(indices=tuple(indices))


@dataclass(frozen=True)
class HostGpu:
    index: int
    name: str
    uuid: str


def parse_smi_list(text: str) -> List[HostGpu]:
    """Parse ``nvidia-smi -L`` output; lines for MIG devices and noise are ignored."""
    gpus = []
    for line in text.splitlines():
        match = _SMI_LINE.match(line.strip())
        if match:
            gpus.append(HostGpu(index=int(match.group(1)), name=match.group(2), uuid=match.group(3)))
    return gpus


def list_host_gpus() -> Optional[List[HostGpu]]:
    """The host's GPUs, or None when ``nvidia-smi`` is absent or fails (no driver)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return parse_smi_list(out.stdout)


def check_available(selection: GpuSelection, host: Sequence[HostGpu]) -> None:
    known = {gpu.index for gpu in host}
    missing = [i for i in selection.indices if i not in known]
    if selection.all_gpus and not host:
        missing = [0]
    if missing:
        listing = "; ".join(f"GPU{g.index}: {g.name}" for g in host) or "none"
        raise TalkingfaceError(
            f"GPU{missing[0]} is not on this host (nvidia-smi -L shows: {listing})",
            fix="pick one of the listed GPUs with --gpu, or --gpu CPU for verbs that run without CUDA",
        )


def parse_compute_caps(text: str) -> dict:
    """Parse ``nvidia-smi --query-gpu=index,compute_cap --format=csv,noheader`` into {index: (major, minor)}."""
    caps = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0].isdigit() and re.fullmatch(r"\d+\.\d+", parts[1]):
            major, minor = parts[1].split(".")
            caps[int(parts[0])] = (int(major), int(minor))
    return caps


def query_compute_caps() -> dict:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {}
    try:
        out = subprocess.run(
            [exe, "--query-gpu=index,compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return parse_compute_caps(out.stdout) if out.returncode == 0 else {}


def pick_line(selection: GpuSelection, caps: dict, present: frozenset = frozenset()) -> str:
    """The first line, oldest first, that serves every chosen GPU, preferring lines whose images this host has
    (``present``): cu113 up to sm_86, cu118 for RTX 40 and H100, cu130 for Blackwell or where only its images were
    built (CUDA 13 dropped Volta). Where no line serves them all, the newest line, which the doctor then explains."""
    chosen = list(caps.values() if selection.all_gpus else [caps[i] for i in selection.indices if i in caps])
    serving = [name for name, line in CUDA_LINES.items() if all(line.serves(cap) for cap in chosen)]
    if not serving:
        return list(CUDA_LINES)[-1]
    return next((name for name in serving if name in present), serving[0])


def present_lines(model: str, version: str) -> frozenset:
    """The CUDA lines whose ``talkingface/<model>:<version>-<line>`` image docker has here (empty without docker)."""
    try:
        done = subprocess.run(
            ["docker", "image", "ls", "--format", "{{.Tag}}", f"talkingface/{model}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    tags = set(done.stdout.split()) if done.returncode == 0 else set()
    return frozenset(line for line in CUDA_LINES if f"{version}-{line}" in tags)
