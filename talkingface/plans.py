"""Compose a verb's plan from the adapter's steps. Pure: it reads no files, so the host can print it."""

from __future__ import annotations

from typing import List

from .adapters.base import Adapter, features_given
from .names import safe_stem
from .plan import Plan, Step
from .request import Request


def audio_stem(req: Request) -> str:
    name = (req.audio or "").rsplit("/", 1)[-1]
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
        stem = audio_stem(req)
        if features_given(req):
            notes.append("the audio was given as features (.npy): nothing to extract, and the result is silent")
        else:
            steps = [adapter.wav_step(req, stem)] + adapter.feature_steps(req, stem)
        if verb == "infer":
            steps += adapter.render_steps(req, stem)
    return Plan(verb=verb, task=req.task, steps=tuple(steps), notes=tuple(notes))
