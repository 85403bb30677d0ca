"""Events: the one source of truth, and the hash chain that makes the log tamper-evident.

Every kind of event is listed here, in one place. An event's hash covers its sequence number,
time, actor, kind, payload and the previous event's hash, in a canonical JSON form, so that a
changed byte anywhere in the log breaks the chain from that event on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64


class Kind(StrEnum):
    ALERT_DECLARED = "alert.declared"
    ALERT_UPDATED = "alert.updated"
    ALERT_ENDED = "alert.ended"
    ALERT_WITHDRAWN = "alert.withdrawn"
    INCIDENT_REPORTED = "incident.reported"
    INCIDENT_UPDATED = "incident.updated"
    REGION_CONFIGURED = "region.configured"
    # One per import of a historical record; its rows live in the history store, keyed by it.
    HISTORY_IMPORTED = "history.imported"


def canonical_json(value: Any) -> str:
    """The exact text that is hashed and stored: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_time(moment: datetime) -> str:
    """UTC with milliseconds and Z: the one time format inside the log."""
    moment = moment.astimezone(UTC)
    # The year by hand: strftime writes year 1 as "1", which no ISO-8601 parser reads back.
    return (f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%S.")
            + f"{moment.microsecond // 1000:03d}Z")


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 time; a time without an offset is refused (ValueError)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("time must carry a UTC offset, e.g. 2023-05-20T00:41:31+03:00")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+03:00 is before the first representable time
        raise ValueError("time is out of range") from None


def now_utc() -> str:
    return format_time(datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    time: str
    actor: str
    kind: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "kind": self.kind,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def event_hash(seq: int, time: str, actor: str, kind: str, payload: dict[str, Any],
               prev_hash: str) -> str:
    body = canonical_json(
        {"seq": seq, "time": time, "actor": actor, "kind": kind, "payload": payload,
         "prev_hash": prev_hash}
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def make_event(seq: int, time: str, actor: str, kind: str, payload: dict[str, Any],
               prev_hash: str) -> Event:
    # The payload as the log stores it (sorted keys, lists not tuples): an event fresh from a
    # command and the same event read back from the log are then equal, byte for byte.
    stored = json.loads(canonical_json(payload))
    return Event(seq, time, actor, kind, stored, prev_hash,
                 event_hash(seq, time, actor, kind, stored, prev_hash))


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event that a command decided on, before the log gives it a place in the chain."""

    kind: Kind
    payload: dict[str, Any]


def first_broken_link(events: Any, start_prev: str = GENESIS_HASH,
                      start_seq: int = 1) -> tuple[int, str] | None:
    """Walk events in order; return (seq, reason) of the first broken link, or None."""
    prev = start_prev
    expected_seq = start_seq
    for event in events:
        if event.seq != expected_seq:
            return expected_seq, f"sequence gap: expected {expected_seq}, found {event.seq}"
        if event.prev_hash != prev:
            return event.seq, "previous-hash does not match the hash of the event before it"
        recomputed = event_hash(event.seq, event.time, event.actor, event.kind, event.payload,
                                event.prev_hash)
        if recomputed != event.hash:
            return event.seq, "content does not match its hash (the event was altered)"
        prev = event.hash
        expected_seq += 1
    return None
