"""Width and height of a JPEG or PNG from its header, with the standard library only (the host has no PIL)."""

from __future__ import annotations

import struct
from typing import Optional, Tuple

# Start-of-frame markers (baseline, progressive, ...) carry the size; DHT, JPG and DAC share the range but don't.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height), or None when the file is neither a readable JPEG nor PNG."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
                width, height = struct.unpack(">II", head[16:24])
                return int(width), int(height)
            if head[:2] != b"\xff\xd8":
                return None
            fh.seek(2)
            while True:
                marker = fh.read(2)
                if len(marker) < 2 or marker[0] != 0xFF:
                    return None
                if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:
                    continue
                length = struct.unpack(">H", fh.read(2))[0]
                if marker[1] in _SOF:
                    height, width = struct.unpack(">xHH", fh.read(5))
                    return int(width), int(height)
                fh.seek(length - 2, 1)
    except (OSError, struct.error):
        return None
