"""The ``docker run`` command line, built as an argument list (never a shell string)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from ..core.errors import TalkingfaceError


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    readonly: bool

    def spec(self) -> str:
        """``--mount`` value; docker parses it as CSV, so a path with ',' or '"' is quoted CSV-style."""
        fields = ["type=bind", f"source={self.source}", f"target={self.target}"]
        if self.readonly:
            fields.append("readonly")
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(fields)
        return buffer.getvalue().rstrip("\n")


@dataclass(frozen=True)
class DockerRun:
    image: str
    command: Tuple[str, ...]
    name: str
    user: str
    mounts: Tuple[Mount, ...]
    gpu_args: Tuple[str, ...] = ()
    env: Tuple[Tuple[str, str], ...] = ()
    shm_size: str = "16g"
    # Nothing is downloaded at run time (weights are pre-seeded, caches are offline), so no verb needs a network;
    # without one, a forgotten download fails at once instead of hanging on an air-gapped cluster.
    network: str = "none"
    workdir: str = "/workspace"
    interactive: bool = False
    tty: bool = False
    extra: Tuple[str, ...] = field(default_factory=tuple)

    def groups(self) -> List[List[str]]:
        """Option groups in order: joined, they are the argv; printed one per line, they read well."""
        groups: List[List[str]] = [["docker", "run"], ["--rm"], ["--init"]]
        if self.interactive:
            groups.append(["--interactive"])
        if self.tty:
            groups.append(["--tty"])
        groups += [
            ["--name", self.name],
            ["--user", self.user],
            ["--security-opt", "no-new-privileges"],
            ["--network", self.network],
            ["--shm-size", self.shm_size],
        ]
        if self.gpu_args:
            groups.append(list(self.gpu_args))
        groups += [["--env", f"{k}={v}"] for k, v in self.env]
        groups += [["--mount", m.spec()] for m in self.mounts]
        groups += [["--workdir", self.workdir]]
        groups += [list(self.extra)] if self.extra else []
        groups.append([self.image, *self.command])
        return groups

    def argv(self) -> List[str]:
        return [token for group in self.groups() for token in group]

    def render(self) -> str:
        return " \\\n  ".join(join(group) for group in self.groups())


def join(tokens: Sequence[str]) -> str:
    return " ".join(shlex.quote(t) for t in tokens)


def workspace_tag(workspace: str) -> str:
    """A short hash of the workspace path, for container names: the same task in two workspaces runs at once."""
    return hashlib.sha256(workspace.encode()).hexdigest()[:8]


def container_state(name: str) -> Optional[Tuple[str, str, str]]:
    """(state, status, command) of the container called ``name``, or None when there is none (or no docker)."""
    try:
        done = subprocess.run(
            ["docker", "ps", "--all", "--no-trunc", "--filter", f"name=^/?{re.escape(name)}$",
             "--format", "{{.State}}\t{{.Status}}\t{{.Command}}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None  # docker run itself will say what is wrong with docker
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        return None
    state, _, rest = lines[0].partition("\t")
    status, _, command = rest.partition("\t")
    return state.strip(), status.strip(), command.strip().strip('"')


def clear_the_way(name: str) -> None:
    """A container left by a killed host command: a running one is named with how to stop it; an exited one,
    which docker run would refuse to reuse the name of, is removed (it was run with --rm, so it holds nothing)."""
    found = container_state(name)
    if found is None:
        return
    state, status, command = found
    if state in ("running", "paused", "restarting"):
        raise TalkingfaceError(
            f"the same task is already running in container {name} ({status}: {command})",
            fix=f"wait for it to finish, or stop it with: docker stop {name}",
        )
    subprocess.run(["docker", "rm", "--force", name], capture_output=True, timeout=60, check=False)
