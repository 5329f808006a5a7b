"""Compose a verb's plan from the adapter's steps. Pure: it reads no files, so the host can print it."""

from __future__ import annotations

import posixpath
from typing import List, Tuple

from ..adapters.base import Adapter, features_given
from .names import safe_stem
from .plan import Plan, Step
from .request import Request
from .text import plural


def result_stem(req: Request) -> str:
    """The audio stem a result was rendered from: infer names it ``<stem>.mp4``."""
    name = posixpath.basename(req.result or "")
    return safe_stem(name.rsplit(".", 1)[0] if "." in name else name, kind="audio")


def build_plan(adapter: Adapter, req: Request) -> Plan:
    steps: List[Step] = []
    notes: List[str] = []
    verb = req.verb
    if verb == "convert-bfm":
        steps = adapter.bfm_steps(req)
    elif verb in ("preprocess", "train"):
        steps = adapter.bfm_steps(req) + adapter.preprocess_steps(req)
        if verb == "train":
            steps += [adapter.validate_step(req)] + adapter.train_steps(req)
    elif verb == "train_only":
        steps = [adapter.validate_step(req)] + adapter.train_steps(req)
    elif verb == "check":
        steps = adapter.check_steps(req)
    elif verb == "validate":
        steps = [adapter.validate_step(req)]
    elif verb in ("infer", "extract-features"):
        stem = adapter.output_stem(req)
        if features_given(req):
            notes.append("the audio was given as features (.npy): nothing to extract, and the result is silent")
        else:
            # No audio at all: a render the model drives otherwise (adapter.audio_required), features of its own.
            steps = ([adapter.wav_step(req, stem)] if req.audio else []) + adapter.feature_steps(req, stem)
        if verb == "infer":
            steps += adapter.render_steps(req, stem)
            if req.paste_back:
                result = posixpath.join(req.paths.results_dir, f"{stem}.mp4")
                steps.append(adapter.paste_back_step(req, stem, result))
    elif verb == "paste-back":
        steps = [adapter.paste_back_step(req, result_stem(req), req.result or "")]
    return Plan(
        verb=verb, task=req.task, steps=tuple(steps), notes=tuple(notes), warnings=iteration_warnings(adapter, req)
    )


# How many times upstream's default --iterations counts as "far beyond" it.
FAR_BEYOND = 10


def iteration_warnings(adapter: Adapter, req: Request) -> Tuple[str, ...]:
    """An --iterations far beyond upstream's default trains for days or years while the plan's ETA, measured on
    the steps before training, says minutes: say how long it would really take, before it starts."""
    default = adapter.default_iterations
    if req.verb not in ("train", "train_only") or not (req.iterations and default and adapter.iterations_per_second):
        return ()
    if req.iterations <= FAR_BEYOND * default:
        return ()
    seconds = adapter.trained_iterations(req) / adapter.iterations_per_second
    speed = f"{adapter.iterations_per_second:g} iteration{'' if adapter.iterations_per_second == 1 else 's'}/s"
    return (
        f"--iterations {req.iterations} is {req.iterations // default}x {adapter.name}'s default of {default}: at "
        f"about {speed} on one recent GPU, training would take about {duration(seconds)} (pass a smaller "
        "--iterations, or leave it out for the default)",
    )


def duration(seconds: float) -> str:
    for unit, size in (("year", 365 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return plural(round(seconds / size), unit)
    return plural(round(seconds), "second")
