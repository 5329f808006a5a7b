"""Small wording helpers for user-facing messages."""

from __future__ import annotations

from typing import Optional


def plural(count: int, word: str, many: Optional[str] = None) -> str:
    """``1 weight file``, ``2 weight files``; ``many`` for words that do not just take an s (``1 process``)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"
