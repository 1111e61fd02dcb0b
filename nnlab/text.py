"""Small helpers for the words nnlab prints."""

from __future__ import annotations


def plural(n: object, word: str, many: str | None = None) -> str:
    """``n`` and ``word`` agreeing: "1 epoch", "2 epochs", "0 epochs" (``many`` for an irregular plural)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
