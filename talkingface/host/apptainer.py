"""The same run as ``docker.DockerRun``, for clusters with Apptainer (Singularity): a .sif built from a bundle."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from ..adapters.base import Adapter
from ..core.errors import TalkingfaceError
from .docker import Mount, join
from .gpu import GpuSelection

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ApptainerRun:
    sif: str
    command: Tuple[str, ...]
    mounts: Tuple[Mount, ...]
    env: Tuple[Tuple[str, str], ...] = ()
    gpu: bool = False
    workdir: str = "/workspace"

    def groups(self) -> List[List[str]]:
        # --containall: no host home, environment or /tmp inside, as with docker; --network none needs --net.
        groups: List[List[str]] = [["apptainer", "run"], ["--containall"], ["--net", "--network", "none"]]
        if self.gpu:
            groups.append(["--nv"])  # CUDA_VISIBLE_DEVICES, set by Slurm or by us, picks the GPUs
        groups += [["--env", env_spec(k, v)] for k, v in self.env]
        for mount in self.mounts:
            for path in (mount.source, mount.target):
                if ":" in path or "," in path:
                    raise TalkingfaceError(
                        f"apptainer can't bind {path!r}: its --bind syntax has no escape for ':' or ','",
                        fix="rename the folder, or use --runtime docker",
                    )
            groups.append(["--bind", f"{mount.source}:{mount.target}:{'ro' if mount.readonly else 'rw'}"])
        groups += [["--pwd", self.workdir], [self.sif, *self.command]]
        return groups

    def argv(self) -> List[str]:
        return [token for group in self.groups() for token in group]

    def render(self) -> str:
        return " \\\n  ".join(join(group) for group in self.groups())


def env_spec(key: str, value: str) -> str:
    """``--env`` value: apptainer splits it as one CSV record (pflag's stringToString), so a value with ',' or '"'
    (the JSON of TALKINGFACE_HOST_PATHS) is quoted CSV-style."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([f"{key}={value}"])
    return buffer.getvalue().rstrip("\n")


def apptainer_for(
    adapter: Adapter,
    sif_arg: Optional[str],
    image: str,
    entry_argv: List[str],
    mounts: List[Mount],
    selection: GpuSelection,
    *,
    env: Sequence[Tuple[str, str]] = (),
) -> ApptainerRun:
    sif = os.path.abspath(sif_arg or REPO / "sif" / f"{adapter.name}-{image.rsplit(':', 1)[-1]}.sif")
    env = [("HOME", "/tmp"), *env]  # noqa: S108 - inside the container
    devices = os.environ.get("CUDA_VISIBLE_DEVICES") or ",".join(str(i) for i in selection.indices)
    if not selection.is_cpu and devices:
        env.append(("CUDA_VISIBLE_DEVICES", devices))
    return ApptainerRun(
        sif=sif, command=tuple(entry_argv), mounts=tuple(mounts), env=tuple(env), gpu=not selection.is_cpu
    )
