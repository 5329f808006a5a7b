"""One client for every OpenAI-compatible chat endpoint (GLM, DeepSeek, Qwen, Ollama, vLLM, OpenAI).

Settings come from TALKINGFACE_LLM_* variables or a JSON file only its owner can read (mode 0600): a key is never
typed into the page, and the page never sees it.
"""

from __future__ import annotations

import json
import socket
import stat
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from ..core.errors import TalkingfaceError
from .errors import WebError, check_http_url

DEFAULT_PROMPT = "You are a friendly assistant. Answer in one or two short spoken sentences."


@dataclass(frozen=True)
class LLMConfig:
    base_url: str = ""
    api_key: str = ""
    model: str = ""
    system_prompt: str = DEFAULT_PROMPT
    timeout_s: float = 60.0

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)

    def describe(self) -> str:
        return f"{self.model} at {self.base_url}" if self.configured else "none configured"


def load_llm_config(path: Optional[str], environ: Mapping[str, str]) -> LLMConfig:
    values: Dict[str, object] = {}
    if path:
        file = Path(path)
        try:
            mode = file.stat().st_mode
        except OSError as exc:
            raise TalkingfaceError(
                f"the LLM config {path} can't be read ({exc.strerror})", fix="check the path"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise TalkingfaceError(
                f"the LLM config {path} is readable by other users (mode {stat.S_IMODE(mode):o}) and holds a key",
                fix=f"chmod 600 {path}",
            )
        try:
            values = dict(json.loads(file.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise TalkingfaceError(f"the LLM config {path} is not a JSON object ({exc})", fix="fix its JSON") from None
    for key in ("base_url", "api_key", "model", "system_prompt", "timeout_s"):
        env = environ.get(f"TALKINGFACE_LLM_{key.upper()}")
        if env:
            values[key] = env
    return LLMConfig(
        base_url=check_http_url("LLM", str(values.get("base_url", "")).rstrip("/")),
        api_key=str(values.get("api_key", "")),
        model=str(values.get("model", "")),
        system_prompt=str(values.get("system_prompt") or DEFAULT_PROMPT),
        timeout_s=float(values.get("timeout_s", 60.0)),  # type: ignore[arg-type]
    )


def chat(config: LLMConfig, history: Sequence[Dict[str, str]], text: str) -> str:
    """The assistant's answer to ``text`` after ``history`` (role/content pairs), or a WebError naming the cause."""
    if not config.configured:
        raise WebError(
            "no LLM is configured",
            fix="set TALKINGFACE_LLM_BASE_URL and TALKINGFACE_LLM_MODEL (or --llm_config), or use the repeat mode",
        )
    messages: List[Dict[str, str]] = [{"role": "system", "content": config.system_prompt}]
    messages += [{"role": m["role"], "content": m["content"]} for m in history]
    messages.append({"role": "user", "content": text})
    body = json.dumps({"model": config.model, "messages": messages, "stream": False}).encode()
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    request = urllib.request.Request(f"{config.base_url}/chat/completions", data=body, headers=headers)  # noqa: S310 - http(s) only, checked in config
    where = f"the LLM at {config.base_url}"
    try:
        with urllib.request.urlopen(request, timeout=config.timeout_s) as response:  # noqa: S310 - configured URL
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        raise WebError(
            f"{where} answered HTTP {exc.code}: {detail}",
            fix="check the model name and key (TALKINGFACE_LLM_MODEL, TALKINGFACE_LLM_API_KEY), or use the repeat mode",
            status=502,
        ) from None
    except (socket.timeout, TimeoutError):
        raise WebError(
            f"{where} did not answer within {config.timeout_s:g} s",
            fix="try again, raise TALKINGFACE_LLM_TIMEOUT_S, or use the repeat mode",
            status=504,
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise WebError(
                f"{where} did not answer within {config.timeout_s:g} s",
                fix="try again, raise TALKINGFACE_LLM_TIMEOUT_S, or use the repeat mode",
                status=504,
            ) from None
        raise WebError(
            f"{where} can't be reached ({reason})", fix="start it or fix TALKINGFACE_LLM_BASE_URL", status=502
        ) from None
    try:
        content = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise WebError(f"{where} sent no answer ({str(answer)[:200]})", fix="check the endpoint", status=502) from None
    text_out = str(content or "").strip()
    if not text_out:
        raise WebError(f"{where} sent an empty answer", fix="ask again, or use the repeat mode", status=502)
    return text_out
