"""A plan is the ordered list of commands one verb runs inside the image.

The same plan is printed by ``TEST_MODE=1`` on the host and executed by the entrypoint in the container, so
what a dry run shows is exactly what runs.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Dict, Iterable, Optional, Sequence, Set, Tuple

from .text import plural

# Our own helper steps run as ``python -m talkingface.container.steps <name>``: the same python that runs upstream.
PYTHON = "python"


@dataclass(frozen=True)
class Step:
    """One command. ``outputs`` are absolute paths or globs that must be (re)written by a successful run."""

    id: str
    title: str
    argv: Tuple[str, ...]
    cwd: str
    outputs: Tuple[str, ...] = ()
    env: Tuple[Tuple[str, str], ...] = ()
    weight: float = 1.0
    forced_argv: Optional[Tuple[str, ...]] = None
    # forced_argv only lets the step replace outputs that already exist (--overwrite), which argv refuses so that
    # no file we did not write is lost: the runner then also uses it to redo a step it finished before, whose
    # outputs are its own. A forced_argv that does more (ER-NeRF's --ckpt scratch: train from scratch) is for
    # --force and --from_step alone.
    forced_overwrites: bool = False
    # Outputs shared across tasks (a converted BFM): present outputs mean done, whoever made them.
    reuse_outputs: bool = False
    # Remove stale outputs before a (re)run: some upstream commands never overwrite (ffmpeg without -y).
    clean_outputs: bool = False
    # Files (globs) the step reads: their sizes and times are part of its fingerprint, so a changed input reruns it.
    inputs: Tuple[str, ...] = ()
    # Earlier steps of the plan whose results this step takes: when one of them has run again since this step
    # finished, this step runs again too. For results their files can't tell apart: ER-NeRF and GaussianTalker
    # render every audio into one file, so its content says which render ran last, not whether this audio's did.
    after: Tuple[str, ...] = ()
    # The step skips per-frame outputs a killed attempt already finished; its partial outputs are kept for it.
    resumable: bool = False
    # A check whose report the user asks for each time (validate, check): never skipped as done, since what it
    # checks may have changed in ways no fingerprint sees (a deleted file), and a skipped check prints nothing.
    always: bool = False

    def command(self, *, forced: bool = False) -> Tuple[str, ...]:
        return self.forced_argv if forced and self.forced_argv is not None else self.argv


def step(
    id: str,  # noqa: A002 - the field is named id throughout
    title: str,
    argv: Sequence[str],
    *,
    cwd: str,
    outputs: Iterable[str] = (),
    env: Optional[Dict[str, str]] = None,
    weight: float = 1.0,
    forced_argv: Optional[Sequence[str]] = None,
    forced_overwrites: bool = False,
    reuse_outputs: bool = False,
    clean_outputs: bool = False,
    inputs: Iterable[str] = (),
    after: Iterable[str] = (),
    resumable: bool = False,
    always: bool = False,
) -> Step:
    return Step(
        id=id,
        title=title,
        argv=tuple(argv),
        cwd=cwd,
        outputs=tuple(outputs),
        env=tuple(sorted((env or {}).items())),
        weight=weight,
        forced_argv=tuple(forced_argv) if forced_argv is not None else None,
        forced_overwrites=forced_overwrites,
        reuse_outputs=reuse_outputs,
        clean_outputs=clean_outputs,
        inputs=tuple(inputs),
        after=tuple(after),
        resumable=resumable,
        always=always,
    )


def own(name: str, *args: str) -> Tuple[str, ...]:
    """argv for one of talkingface's own steps."""
    return (PYTHON, "-m", "talkingface.container.steps", name, *args)


@dataclass(frozen=True)
class Plan:
    verb: str
    task: str
    steps: Tuple[Step, ...] = field(default_factory=tuple)
    notes: Tuple[str, ...] = ()
    # Printed on stderr before the first step runs (and in a dry run): things to reconsider before hours pass.
    warnings: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen: Set[str] = set()
        for item in self.steps:
            for earlier in item.after:
                if earlier not in seen:
                    raise ValueError(f"step {item.id} comes after {earlier!r}, not an earlier step of the plan")
            seen.add(item.id)

    def render(self) -> str:
        lines = [f"# in-container plan: {self.verb} {self.task} ({plural(len(self.steps), 'step')})"]
        lines += [f"# note: {note}" for note in self.notes]
        lines += [f"# warning: {warning}" for warning in self.warnings]
        for number, item in enumerate(self.steps, 1):
            always = " (runs every time)" if item.always else ""
            lines.append(f"[{number}/{len(self.steps)}] {item.id}: {item.title}{always}")
            lines.append(f"    cd {shlex.quote(item.cwd)}")
            prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in item.env)
            command = " ".join(shlex.quote(a) for a in item.argv)
            lines.append(f"    {prefix + ' ' if prefix else ''}{command}")
            for path in item.inputs:
                lines.append(f"    <- {path}")
            for earlier in item.after:
                lines.append(f"    <- step {earlier}")
            for out in item.outputs:
                lines.append(f"    -> {out}")
        return "\n".join(lines)
