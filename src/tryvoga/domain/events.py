"""Events: the one source of truth, and the hash chain that makes the log tamper-evident.

Every kind of event is listed here, in one place, with the one typed class of its payload
(``AlertDeclared`` … ``HistoryImported``): commands build those classes, and every reader (the
state, the CAP projection, the webhook formats) reads them through ``Event.data``, so an
event's shape is written once. The log stores the payload as canonical JSON and hashes it; the
classes encode to exactly the JSON the log held before they existed (a field that may be
absent is ``UNSET`` and is then left out; one that is always written has a plain default only
so that old logs still read). An event's hash covers its sequence number, time, actor, kind,
payload and the previous event's hash, in a canonical JSON form, so that a changed byte
anywhere in the log breaks the chain from that event on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

import msgspec
import msgspec.json
from msgspec import UNSET, UnsetType

from tryvoga.domain.model import (
    AlertStatus,
    AlertType,
    IncidentKind,
    IncidentStatus,
    Threat,
)

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
    except OverflowError:  # 0001-01-01T00:00+03:00 is before the calendar's first day in UTC
        raise ValueError("time is outside the years 1-9999 in UTC") from None


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
    # The typed payload, decoded once on first use and shared by every reader of this event
    # (the writer's state, the follower, the CAP projection, the webhook formats).
    _data: Payload | None = field(default=None, compare=False, repr=False)

    @property
    def data(self) -> Payload:
        """The payload as its kind's typed class; ValueError for an unknown kind or a payload
        of the wrong shape."""
        data = self._data
        if data is None:
            data = decode_payload(self.kind, self.payload)
            object.__setattr__(self, "_data", data)
        return data

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


# ---- the payload of each kind ------------------------------------------------------------


class Payload(msgspec.Struct, frozen=True, kw_only=True):
    """What one kind of event says. ``KIND`` names the kind; ``to_json`` is what the log
    stores (and hashes)."""

    KIND: ClassVar[Kind]

    def to_json(self) -> dict[str, Any]:
        encoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self))
        return encoded

    def given(self) -> tuple[str, ...]:
        """The names (as stored) of the fields this payload carries, in stored order."""
        return tuple(self.to_json())


class CapOrigin(msgspec.Struct, frozen=True):
    """The CAP message a command came from (CAP ingest): later Updates and Cancels that
    reference it find the alert by it."""

    sender: str
    identifier: str
    sent: str


class AlertDeclared(Payload, frozen=True, kw_only=True):
    KIND = Kind.ALERT_DECLARED
    alert_id: int
    region: str
    type: AlertType
    status: AlertStatus
    threats: tuple[Threat, ...] = ()
    source: str = ""
    note: str = ""
    shelter_seconds: int | None = None
    started_at: str | UnsetType = UNSET
    cap: CapOrigin | UnsetType = UNSET
    # Who let a declaration the two-person rule covers go out (approval.py): "two-person"
    # with the approval request's number, or "automated" for an automated source's token.
    authorised: str | UnsetType = UNSET
    approval: int | UnsetType = UNSET


class AlertUpdated(Payload, frozen=True, kw_only=True):
    KIND = Kind.ALERT_UPDATED
    alert_id: int
    region: str
    type: AlertType
    threats: tuple[Threat, ...] | UnsetType = UNSET
    note: str | UnsetType = UNSET
    cap: CapOrigin | UnsetType = UNSET


class AlertEnded(Payload, frozen=True, kw_only=True):
    KIND = Kind.ALERT_ENDED
    alert_id: int
    region: str
    type: AlertType
    reason: str | UnsetType = UNSET
    ended_at: str | UnsetType = UNSET
    cap: CapOrigin | UnsetType = UNSET


class AlertWithdrawn(AlertEnded, frozen=True, kw_only=True):
    KIND = Kind.ALERT_WITHDRAWN


class IncidentReported(Payload, frozen=True, kw_only=True):
    KIND = Kind.INCIDENT_REPORTED
    incident_id: int
    kind: IncidentKind
    region: str
    status: IncidentStatus = IncidentStatus.PRELIMINARY
    source: str = ""
    description: str = ""
    address: str | UnsetType = UNSET
    latitude: float | UnsetType = UNSET
    longitude: float | UnsetType = UNSET
    killed: int | UnsetType = UNSET
    injured: int | UnsetType = UNSET
    embargo_until: str | UnsetType = UNSET
    alert_id: int | UnsetType = UNSET


class IncidentUpdated(Payload, frozen=True, kw_only=True):
    """Only the fields that changed; ``None`` clears an optional one."""

    KIND = Kind.INCIDENT_UPDATED
    incident_id: int
    kind: IncidentKind | UnsetType = UNSET
    region: str | UnsetType = UNSET
    status: IncidentStatus | UnsetType = UNSET
    source: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    address: str | UnsetType | None = UNSET
    latitude: float | UnsetType | None = UNSET
    longitude: float | UnsetType | None = UNSET
    killed: int | UnsetType | None = UNSET
    injured: int | UnsetType | None = UNSET
    embargo_until: str | UnsetType | None = UNSET
    alert_id: int | UnsetType | None = UNSET

    def changes(self) -> dict[str, Any]:
        """Field name → new value (enums as members) for every field the event carries."""
        return {name: getattr(self, name) for name in self.__struct_fields__
                if name != "incident_id" and getattr(self, name) is not UNSET}


class RegionConfigured(Payload, frozen=True, kw_only=True):
    """A region's settings; an absent field is left as it was, ``neighbours: null`` returns
    to the neighbours derived from geometry."""

    KIND = Kind.REGION_CONFIGURED
    region: str
    shelter_seconds: int | UnsetType | None = UNSET
    neighbours: tuple[str, ...] | UnsetType | None = UNSET


class ImportedPeriod(msgspec.Struct, frozen=True):
    from_: str = msgspec.field(name="from")
    to: str = ""


class HistoryImported(Payload, frozen=True, kw_only=True):
    """One import of a historical record; its rows live in the history store, keyed by it."""

    KIND = Kind.HISTORY_IMPORTED
    source: str
    file: str
    sha256: str
    rows: int
    resolved: int
    unresolved: int
    period: ImportedPeriod


PAYLOADS: dict[Kind, type[Payload]] = {
    cls.KIND: cls for cls in (AlertDeclared, AlertUpdated, AlertEnded, AlertWithdrawn,
                              IncidentReported, IncidentUpdated, RegionConfigured,
                              HistoryImported)
}
_BY_NAME: dict[str, type[Payload]] = {kind.value: cls for kind, cls in PAYLOADS.items()}
ALERT_KINDS = frozenset({Kind.ALERT_DECLARED, Kind.ALERT_UPDATED, Kind.ALERT_ENDED,
                         Kind.ALERT_WITHDRAWN})
INCIDENT_KINDS = frozenset({Kind.INCIDENT_REPORTED, Kind.INCIDENT_UPDATED})


def decode_payload(kind: str, payload: dict[str, Any]) -> Payload:
    """A stored payload as its kind's class; ValueError for an unknown kind or a payload that
    does not have its kind's shape."""
    cls = _BY_NAME.get(kind)
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    try:
        return msgspec.convert(payload, cls)
    except msgspec.ValidationError as error:
        raise ValueError(f"a {kind} payload of the wrong shape: {error}") from None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event that a command decided on, before the log gives it a place in the chain."""

    kind: Kind
    payload: Payload

    def __post_init__(self) -> None:
        if self.payload.KIND is not self.kind:
            raise ValueError(f"a {type(self.payload).__name__} payload is not a {self.kind}")

    @classmethod
    def of(cls, payload: Payload) -> NewEvent:
        return cls(payload.KIND, payload)


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
