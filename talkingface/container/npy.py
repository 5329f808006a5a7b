"""Read the shape of a ``.npy`` file from its header, without numpy (the host side is stdlib-only)."""

from __future__ import annotations

import ast
import struct
from typing import Tuple


def npy_shape(path: str) -> Tuple[int, ...]:
    with open(path, "rb") as fh:
        magic = fh.read(8)
        if magic[:6] != b"\x93NUMPY":
            raise ValueError(f"{path} is not a .npy file")
        major = magic[6]
        size_format = "<H" if major == 1 else "<I"
        (length,) = struct.unpack(size_format, fh.read(struct.calcsize(size_format)))
        header = ast.literal_eval(fh.read(length).decode("latin1"))
    return tuple(int(d) for d in header["shape"])
