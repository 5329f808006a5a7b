"""The image's entrypoint: resolve the verb, check its inputs, and run its plan step by step.

The model comes from ``TALKINGFACE_MODEL``, set by each image. ``TEST_MODE=1`` prints the plan and runs nothing.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import List, Optional

from ..adapters import get_adapter
from ..core.cli_args import Roots, parse, preflight, resolve
from ..core.compose_plan import build_plan
from ..core.errors import TalkingfaceError, disk_error
from ..core.host_paths import to_host
from ..core.layout import ContainerRoots
from .runner import Runner, RunOptions
from .task_lock import task_lock


def main(argv: Optional[List[str]] = None) -> int:
    try:
        return run(list(sys.argv[1:] if argv is None else argv))
    except TalkingfaceError as exc:
        # The one place an error is mapped: the runner's step errors carry the step's own (unmapped) words.
        print(to_host(exc.one_line()), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to continue where it stopped", file=sys.stderr)
        return 130


def run(argv: List[str]) -> int:
    model = os.environ.get("TALKINGFACE_MODEL")
    if not model:
        raise TalkingfaceError(
            "TALKINGFACE_MODEL is not set", fix="run a talkingface image, or export TALKINGFACE_MODEL"
        )
    adapter = get_adapter(model)
    croots = ContainerRoots.from_env()
    upstream = adapter.upstream_dir(croots)
    verb, args = parse(adapter, argv, prog=f"talkingface-{model}", host=False)
    if verb.name == "shell":
        os.chdir(upstream)
        os.execvp("bash", ["bash", "-l"])  # noqa: S606 - an interactive shell is what the verb is for
    roots = Roots(workspace=croots.workspace, upstream=upstream, bfm=croots.bfm, weights=croots.weights)
    req = resolve(adapter, verb, args, roots)
    dry_run = os.environ.get("TEST_MODE", "") not in ("", "0")
    problems = preflight(adapter, verb, req, collect=dry_run)
    req = dataclasses.replace(req, options=adapter.settle(req))
    plan = build_plan(adapter, req)
    if dry_run:
        # The whole plan, then everything that stands in its way.
        print(plan.render(), flush=True)
        for problem in problems:
            print(to_host(problem.one_line()), file=sys.stderr)
        return problems[0].exit_code if problems else 0
    options = RunOptions(
        state_dir=req.paths.state_dir,
        logs_dir=req.paths.logs_dir,
        force=req.force,
        from_step=req.from_step,
        heartbeat_s=float(os.environ.get("TALKINGFACE_HEARTBEAT", "60")),
    )
    try:
        with task_lock(req.paths.workspace, req.task, req.verb):
            Runner(options).run(plan)
    except OSError as exc:
        # A workspace that is read-only, not ours or full fails the runner's own writes (lock, logs, markers).
        mapped = disk_error(exc, req.paths.workspace)
        if mapped is None:
            raise
        raise mapped from None
    if req.verb == "infer":
        result = os.path.join(req.paths.results_dir, adapter.output_stem(req) + ".mp4")
        print(f"[talkingface] result: {to_host(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
