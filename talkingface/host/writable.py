"""The host's check that the workspace can be written, before a container (or the native run) starts.

Inside the container a read-only, foreign or full workspace only shows once a step writes; here it costs one
small file, written and removed, and the message names the host path.
"""

from __future__ import annotations

import errno
import os
import tempfile

from ..core.errors import TalkingfaceError, disk_error

# Enough to need a block of its own: an empty file fits on a disk that is already full.
PROBE = b"talkingface write probe\n" * 200


def check_writable(folder: str) -> None:
    """Create ``folder`` if need be and write a probe file in it; a failure is one line naming the folder."""
    try:
        os.makedirs(folder, exist_ok=True)
        # os.access first: it names a permission or read-only problem without writing anything.
        if not os.access(folder, os.W_OK | os.X_OK):
            code = errno.EROFS if _read_only(folder) else errno.EACCES
            raise OSError(code, os.strerror(code), folder)
        fd, probe = tempfile.mkstemp(prefix=".talkingface-probe-", dir=folder)
        try:
            with os.fdopen(fd, "wb", buffering=0) as fh:
                fh.write(PROBE)
                os.fsync(fh.fileno())
        finally:
            os.unlink(probe)
    except OSError as exc:
        mapped = disk_error(exc, folder)
        if mapped is None:
            raise TalkingfaceError(
                f"can't write {folder}: {exc.strerror}", fix="pass --workspace with a writable folder"
            ) from None
        raise mapped from None


def _read_only(folder: str) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
