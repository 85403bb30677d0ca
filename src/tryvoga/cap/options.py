"""Parsers for the CAP settings (``settings.SETTINGS`` uses them; no imports from there)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

SENDER_RE = re.compile(r"^[A-Za-z0-9._@:-]{1,200}$")
LANGUAGES = ("uk", "en")  # the languages Tryvoga has CAP texts in


def parse_sender(text: str) -> str:
    value = text.strip()
    if not SENDER_RE.match(value):
        raise ValueError("a CAP sender is 1-200 letters, digits and . _ @ : - (no spaces or "
                         "commas), e.g. cap@warnings.example.org")
    return value


def parse_languages(text: str) -> tuple[str, ...]:
    langs = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    if not langs or any(lang not in LANGUAGES for lang in langs):
        raise ValueError(f"expected a comma-separated list of {', '.join(LANGUAGES)}")
    return langs


def parse_pem(text: str) -> str:
    """PEM text, checked when the signer loads it: never echoed back in an error, as a
    setting's bad value would be."""
    return text.strip()


def _http_url(text: str) -> str:
    try:
        parts = urlsplit(text)
        _ = parts.port  # a port that is not a number raises here, not at the first fetch
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r} is not an http(s) URL")
    return text


def parse_feeds(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_http_url(p) for p in re.split(r"[\s,]+", text) if p))


def parse_base_url(text: str) -> str:
    value = text.strip().rstrip("/")
    return _http_url(value) if value else ""
