"""The shared parsing of numbers from text at the edges (paths, queries, cursors, bodies).

Python's ``str.isdigit`` is true for digits of every script (``²``, ``٣``) that ``int`` then
refuses, ``int`` refuses more than 4,300 digits, and SQLite's integers stop at 2**63 - 1:
each was a 500 (issue 15). An id here is ASCII digits only, at most ``MAX_ID_DIGITS`` of them;
anything else is no id at all, and the caller answers its 4xx.
"""

from __future__ import annotations

MAX_ID_DIGITS = 18  # below 2**63: fits an SQLite integer


def whole_number(text: str, max_digits: int = MAX_ID_DIGITS) -> int | None:
    """``text`` as a whole number 0 or more, or None if it is not one (or too long)."""
    text = text.strip()
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


__all__ = ["MAX_ID_DIGITS", "whole_number"]
