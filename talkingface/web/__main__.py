"""``python -m talkingface.web``: the studio at http://127.0.0.1:5001 (flags: --help)."""

from __future__ import annotations

import sys
from typing import List, Optional

from ..core.errors import TalkingfaceError


def main(argv: Optional[List[str]] = None) -> int:
    from .config import from_args

    try:
        config = from_args(argv)
    except TalkingfaceError as exc:
        print(exc.one_line(), file=sys.stderr)
        return 2
    import uvicorn

    from .app import create_app

    config.workspace_root.mkdir(parents=True, exist_ok=True)
    config.inputs.mkdir(parents=True, exist_ok=True)
    suffix = f"/?token={config.token}" if config.token else ""
    print(f"talkingface studio: http://{config.host}:{config.port}{suffix}", flush=True)
    where = f"{config.runtime} on {config.backend}"
    print(f"  jobs: {where}, workspace {config.workspace_root}, inputs {config.inputs}", flush=True)
    print(f"  TTS {config.tts_url}, LLM {config.llm.describe()}", flush=True)
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
