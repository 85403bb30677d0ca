"""Reading an input file the same way for every ingester: UTF-8 (a BOM allowed), clear errors."""

from __future__ import annotations

from pathlib import Path

from tryvoga.errors import BadRequest


def read_text(path: Path, format_code: str) -> tuple[bytes, str]:
    """The file's bytes (to hash) and text; an unreadable file or one that is not UTF-8 is a
    one-line error."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror}", code="file_unreadable") from None
    try:
        return raw, raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest(f"{path} is not UTF-8 text", code=format_code) from None
