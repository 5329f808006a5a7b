"""The site's settings: where jobs run and what the browser may touch, from flags and TALKINGFACE_WEB_* variables."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ..adapters import ADAPTERS
from ..core.cuda_lines import LINE_CHOICES
from ..core.errors import TalkingfaceError
from .errors import check_http_url
from .llm import LLMConfig, load_llm_config

LOOPBACK = ("127.0.0.1", "::1", "localhost")
RUNTIMES = ("docker", "native", "apptainer")
BACKENDS = ("local", "slurm")
# The examples in error messages name a model the adapters define, not one written here.
EXAMPLE = next(iter(ADAPTERS))


@dataclass(frozen=True)
class WebConfig:
    workspace_root: Path
    inputs: Path
    host: str = "127.0.0.1"
    port: int = 5001
    token: Optional[str] = None
    runtime: str = "docker"
    # slurm: train and infer jobs are submitted with the CLI's --backend slurm and followed through the CLI's own
    # job record; the video's check still runs here, on the login node, before anything is submitted.
    backend: str = "local"
    slurm_args: Tuple[str, ...] = ()
    line: Optional[str] = None
    native_envs: Tuple[Tuple[str, str], ...] = ()
    images: Tuple[Tuple[str, str], ...] = ()
    bfm_dir: Optional[str] = None
    weights_dir: Optional[str] = None
    gpus: Tuple[str, ...] = ("GPU0",)
    tts_url: str = "http://127.0.0.1:5003"
    max_upload_bytes: int = 500 * 1024 * 1024
    llm: LLMConfig = LLMConfig()
    eval_runtime: str = "docker"
    check_timeout_s: float = 300.0

    @property
    def state_dir(self) -> Path:
        """The queue's database and the jobs' logs: the site's own files, beside the models' workspaces."""
        return self.workspace_root / ".web"

    def workspace(self, model: str) -> Path:
        return self.workspace_root / model

    def native_env(self, model: str) -> Optional[str]:
        return dict(self.native_envs).get(model)

    def image(self, model: str) -> Optional[str]:
        return dict(self.images).get(model)


def env_default(name: str, default: Optional[str] = None) -> Optional[str]:
    return os.environ.get(f"TALKINGFACE_WEB_{name}", default)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m talkingface.web", description="the talkingface web studio")
    p.add_argument("--host", default=env_default("HOST", "127.0.0.1"), help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(env_default("PORT", "5001") or 5001))
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="bind a non-loopback address without --token: only in a container published on 127.0.0.1 (compose)",
    )
    p.add_argument("--token", default=env_default("TOKEN"), help="required on every request; needed off loopback")
    p.add_argument("--workspace", default=env_default("WORKSPACE", "workspace"), help="holds <model>/ workspaces")
    p.add_argument("--inputs", default=env_default("INPUTS", "input"), help="videos and audio the browser may use")
    p.add_argument("--runtime", choices=RUNTIMES, default=env_default("RUNTIME", "docker"))
    p.add_argument("--backend", choices=BACKENDS, default=env_default("BACKEND", "local"), help="where jobs run")
    p.add_argument("--partition", default=env_default("PARTITION"), help="--backend slurm: sbatch --partition")
    p.add_argument("--time", default=env_default("TIME"), help="--backend slurm: sbatch --time, per job")
    p.add_argument("--account", default=env_default("ACCOUNT"), help="--backend slurm: sbatch --account")
    p.add_argument(
        "--sbatch_opt",
        action="append",
        default=[],
        metavar="OPTION",
        help="--backend slurm: any other sbatch option, passed as it is (repeat: --sbatch_opt=--qos=high)",
    )
    lines = ", ".join(LINE_CHOICES)
    p.add_argument("--line", default=env_default("LINE"), help=f"image line for docker jobs ({lines})")
    p.add_argument(
        "--native_env",
        action="append",
        default=[],
        metavar="MODEL=PREFIX",
        help="environment for --runtime native, once per model (default: the CLI's own default)",
    )
    p.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="MODEL=IMAGE",
        help="image for a model's docker jobs, once per model (default: talkingface/<model>:<version>-<line>)",
    )
    p.add_argument("--bfm_dir", default=env_default("BFM_DIR"))
    p.add_argument("--weights_dir", default=env_default("WEIGHTS_DIR"))
    p.add_argument("--gpus", default=env_default("GPUS", "GPU0"), help="GPUs offered, comma-separated, or CPU")
    p.add_argument("--tts_url", default=env_default("TTS_URL", "http://127.0.0.1:5003"))
    p.add_argument("--max_upload_mb", type=float, default=float(env_default("MAX_UPLOAD_MB", "500") or 500))
    p.add_argument("--llm_config", default=env_default("LLM_CONFIG"), help="JSON file, mode 0600: base_url, ...")
    p.add_argument("--eval_runtime", choices=("docker", "python"), default=env_default("EVAL_RUNTIME", "docker"))
    return p


def parse_pairs(flag: str, items: Sequence[str], example: str) -> Tuple[Tuple[str, str], ...]:
    pairs: List[Tuple[str, str]] = []
    for item in items:
        model, sep, value = item.partition("=")
        if not sep or model not in ADAPTERS or not value:
            raise TalkingfaceError(
                f"{flag} {item!r} is not MODEL=VALUE",
                fix=f"use e.g. {flag} {example} (models: {', '.join(ADAPTERS)})",
            )
        pairs.append((model, value))
    return tuple(pairs)


def slurm_flags(args: argparse.Namespace) -> Tuple[str, ...]:
    """The CLI's own Slurm flags, passed through unchanged: the studio's jobs are the commands a user would type."""
    out: List[str] = []
    for flag in ("partition", "time", "account"):
        value = getattr(args, flag)
        if value:
            out += [f"--{flag}", value]
    out += [f"--sbatch_opt={option}" for option in args.sbatch_opt]
    return tuple(out)


def from_args(argv: Optional[Sequence[str]] = None, *, environ: Optional[Dict[str, str]] = None) -> WebConfig:
    args = build_parser().parse_args(argv)
    if args.host not in LOOPBACK and not args.token and not args.allow_remote:
        raise TalkingfaceError(
            f"--host {args.host} would let other machines reach the studio without a password",
            fix="pass --token SECRET (every request must then carry it), or bind 127.0.0.1",
        )
    gpus = tuple(g.strip() for g in args.gpus.split(",") if g.strip()) or ("GPU0",)
    slurm_args = slurm_flags(args)
    if slurm_args and args.backend != "slurm":
        raise TalkingfaceError(
            f"{slurm_args[0]} is an sbatch option, but jobs run here (--backend local)",
            fix="add --backend slurm, or drop the Slurm options",
        )
    return WebConfig(
        workspace_root=Path(os.path.abspath(args.workspace)),
        inputs=Path(os.path.abspath(args.inputs)),
        host=args.host,
        port=args.port,
        token=args.token or None,
        runtime=args.runtime,
        backend=args.backend,
        slurm_args=slurm_args,
        line=args.line,
        native_envs=tuple(
            (m, os.path.abspath(p))
            for m, p in parse_pairs("--native_env", args.native_env, f"{EXAMPLE}=/opt/envs/{EXAMPLE}")
        ),
        images=parse_pairs("--image", args.image, f"{EXAMPLE}=talkingface/{EXAMPLE}:0.1.0-cu118"),
        bfm_dir=os.path.abspath(args.bfm_dir) if args.bfm_dir else None,
        weights_dir=os.path.abspath(args.weights_dir) if args.weights_dir else None,
        gpus=gpus,
        tts_url=check_http_url("TTS service", args.tts_url.rstrip("/")),
        max_upload_bytes=max(1, int(args.max_upload_mb * 1024 * 1024)),
        llm=load_llm_config(args.llm_config, environ if environ is not None else dict(os.environ)),
        eval_runtime=args.eval_runtime,
    )
