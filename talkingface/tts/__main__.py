"""``python -m talkingface.tts [--host 127.0.0.1] [--port 5003] [--weights DIR]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m talkingface.tts", description="the talkingface TTS service")
    p.add_argument("--host", default=os.environ.get("TALKINGFACE_TTS_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("TALKINGFACE_TTS_PORT", "5003")))
    p.add_argument("--weights", default=os.environ.get("TALKINGFACE_WEIGHTS"), help="folder with tts/piper/*.onnx")
    p.add_argument("--allow-remote", action="store_true", help="bind a non-loopback address (in a container)")
    args = p.parse_args(argv)
    if args.host not in LOOPBACK and not args.allow_remote:
        print(
            f"error: --host {args.host} would let other machines use the service -- fix: bind 127.0.0.1, or pass "
            "--allow-remote where a container's port mapping limits who reaches it",
            file=sys.stderr,
        )
        return 2
    import uvicorn

    from .app import create_app

    app = create_app(weights=Path(args.weights) if args.weights else None)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
