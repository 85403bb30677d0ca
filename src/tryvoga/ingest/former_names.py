"""Places renamed since the records and channel posts that name them were written: one table
for the historical record (``ingest/history.py``) and the channel (``ingest/channel/``).

Keys and values are normalized words (lowercase, one apostrophe); a name is rewritten word by
word, and only where the name as written found no region, so that a former name that is still
the name of another place elsewhere ("Первомайська") is unaffected.
"""

from __future__ import annotations

from tryvoga.domain.names import normalize

__all__ = ["FORMER_NAMES", "current_name"]

FORMER_NAMES: dict[str, str] = {
    "ватутіне": "багачеве",
    "ватутінська": "багачевська",
    "першотравенськ": "шахтарське",
    "першотравенська": "шахтарська",
    "южноукраїнськ": "південноукраїнськ",
    "южноукраїнська": "південноукраїнська",
    "новоград-волинський": "звягельський",
    "новоград-волинська": "звягельська",
    "красноградський": "берестинський",
    "красноградська": "берестинська",
    "синюхинобрідська": "синюшинобрідська",  # Синюшин Брід: the record's spelling differs
    "первомайська": "заводська",  # Первомайське -> Заводське, Mykolaiv raion
}


def current_name(text: str) -> str | None:
    """``text`` with its former names replaced by the current ones, or None if it has none."""
    words = normalize(text).split()
    if not any(w in FORMER_NAMES for w in words):
        return None
    return " ".join(FORMER_NAMES.get(w, w) for w in words)
