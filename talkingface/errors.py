"""One error type whose message always names the problem and its fix."""

from __future__ import annotations


class TalkingfaceError(Exception):
    """A user-facing failure: printed as one line, exit status ``exit_code``."""

    def __init__(self, problem: str, *, fix: str, exit_code: int = 2) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.exit_code = exit_code

    def one_line(self) -> str:
        return f"error: {self.problem} -- fix: {self.fix}"


DISK_FULL_FIX = "free space on the disk holding the workspace, then run the same command again: it resumes"


def ffmpeg_failed(what: str, reason: str, *, fix: str) -> TalkingfaceError:
    """ffmpeg's last error line; a full disk gets the fix that applies to it, not the generic one."""
    if "No space left on device" in reason:
        return TalkingfaceError(f"the disk is full: ffmpeg could not {what}", fix=DISK_FULL_FIX, exit_code=1)
    return TalkingfaceError(f"ffmpeg could not {what}: {reason}", fix=fix, exit_code=1)
