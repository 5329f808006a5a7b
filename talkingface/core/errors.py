"""One error type whose message always names the problem and its fix."""

from __future__ import annotations

import errno
import os
from typing import Optional


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


def disk_error(exc: OSError, path: str) -> Optional[TalkingfaceError]:
    """A write that failed because of the disk or its permissions, as one line; None for any other OSError.

    ``path`` names the folder written to when the error itself names no file (a failed ``write`` names none).
    """
    where = exc.filename or path
    if exc.errno == errno.EROFS:
        return TalkingfaceError(
            f"{where} is on a read-only file system: the workspace must be writable",
            fix="mount it read-write (or pass --workspace with a writable folder), then run the same command again: "
            "it resumes",
            exit_code=1,
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return TalkingfaceError(
            f"no permission to write {where} (running as uid {os.getuid()})",
            fix="make the workspace writable by this user (chown/chmod), or pass --workspace with a folder you own, "
            "then run the same command again: it resumes",
            exit_code=1,
        )
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        quota = " (or its quota is used up)" if exc.errno == errno.EDQUOT else ""
        return TalkingfaceError(f"the disk is full{quota} writing {where}", fix=DISK_FULL_FIX, exit_code=1)
    if exc.errno == errno.EFBIG:
        return TalkingfaceError(
            f"a file under {where} reached the file size limit (ulimit -f)",
            fix="raise the limit (ulimit -f unlimited), then run the same command again: it resumes",
            exit_code=1,
        )
    return None


# The last words of a step that died of one of the errors above (a Python traceback or a C library's perror).
DISK_ERROR_WORDS = {
    "No space left on device": errno.ENOSPC,
    "Disk quota exceeded": errno.EDQUOT,
    "Read-only file system": errno.EROFS,
    "File too large": errno.EFBIG,
}
