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


MAX_JSON_DEPTH = 64  # arrays and objects inside each other; no command needs a tenth of it


def depth_ok(raw: bytes) -> bool:
    """Whether ``raw`` nests arrays and objects at most MAX_JSON_DEPTH deep (brackets inside
    strings are skipped), checked before parsing: Python's parser recurses, and a body of
    100,000 ``[`` ends in RecursionError deep inside it."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def integral(value: object) -> object:
    """A decoded JSON value with every float that is a whole number (``46.0``) made an int:
    JSON Schema counts ``46.0`` as an integer, so a body may write one so."""
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**63 else value
    if isinstance(value, list):
        return [integral(item) for item in value]
    if isinstance(value, dict):
        return {key: integral(item) for key, item in value.items()}
    return value


__all__ = ["MAX_ID_DIGITS", "MAX_JSON_DEPTH", "depth_ok", "integral", "whole_number"]
