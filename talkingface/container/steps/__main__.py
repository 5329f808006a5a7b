"""Dispatch ``python -m talkingface.container.steps <name> ...`` to one small step module."""

from __future__ import annotations

import errno
import importlib
import sys
from typing import List, Optional

from ...core.errors import DISK_FULL_FIX, TalkingfaceError

NO_SPACE = "No space left on device"
STEPS = {
    "mkdirs": "mkdirs",
    "stage-input": "stage_input",
    "to-wav": "to_wav",
    "au-from-landmarks": "au_from_landmarks",
    "mux": "mux",
    "validate": "validate",
    "check-input": "check_input",
    "normalize": "normalize",
    "frames-landmarks": "frames_landmarks",
    "extend-poses": "extend_poses",
    "derive-config": "derive_config",
    "retarget-configs": "retarget_configs",
    "link": "link",
    "extend-dataset": "extend_dataset",
    "paste-back": "paste_back",
    "ffhq-align": "ffhq_align",
    "silence": "silence",
}


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in STEPS:
        print(f"usage: python -m talkingface.container.steps {{{','.join(STEPS)}}} ...", file=sys.stderr)
        return 2
    module = importlib.import_module(f"talkingface.container.steps.{STEPS[args[0]]}")
    try:
        return int(module.main(args[1:]) or 0)
    except TalkingfaceError as exc:
        if NO_SPACE in exc.problem and exc.fix != DISK_FULL_FIX:
            # A tool said the disk filled up (ffmpeg's last line): the fix is space, not another input file.
            exc = TalkingfaceError(f"the disk is full: {exc.problem}", fix=DISK_FULL_FIX, exit_code=1)
        print(exc.one_line(), file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        where = f" writing {exc.filename}" if exc.filename else ""
        print(TalkingfaceError(f"the disk is full{where}", fix=DISK_FULL_FIX).one_line(), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
