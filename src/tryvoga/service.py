"""Commands become events: validation, authorization, idempotency, then one append.

Every command runs inside one write transaction: catch up with the log, check the idempotency
key, validate against the current state, append the events, record the answer, commit. A
command that fails validation appends nothing; a retried command with the same idempotency
key returns the first answer and appends nothing.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import msgspec
from msgspec import UNSET

from tryvoga import approval
from tryvoga.commands import (
    MAX_COUNT,
    MAX_ID,
    MAX_REGIONS_PER_COMMAND,
    MAX_SHELTER_SECONDS,
    MAX_TEXT,
    CapRef,
    Command,
    ConfigureRegion,
    Declare,
    EndAlert,
    EndByRegion,
    ReportIncident,
    ThreatIn,
    UpdateAlert,
    UpdateIncident,
)
from tryvoga.domain.events import (
    AlertDeclared,
    AlertEnded,
    AlertUpdated,
    AlertWithdrawn,
    CapOrigin,
    Event,
    IncidentReported,
    IncidentUpdated,
    NewEvent,
    RegionConfigured,
    canonical_json,
    format_time,
    now_utc,
    parse_time,
)
from tryvoga.domain.model import (
    Alert,
    AlertStatus,
    AlertType,
    IncidentKind,
    IncidentStatus,
    Threat,
    ThreatLevel,
    ThreatType,
)
from tryvoga.domain.regions import COUNTRY, Catalogue
from tryvoga.domain.render import alert_json, incident_json
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from tryvoga.storage.base import IdempotencyRecord, Storage, TokenRecord, WriteTransaction

log = logging.getLogger(__name__)
E = TypeVar("E", bound=StrEnum)



@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking: a token's name and the region subtrees it may write in."""

    name: str
    scopes: tuple[str, ...] = (COUNTRY,)
    write: bool = True
    bound: bool = False  # a person: the two-person rule binds it (approval.py)
    approval: int | None = None  # the approved request this command carries out
    token: str | None = None  # the token's id; None for the CLI and the ingesters

    @property
    def principal(self) -> str:
        """Who owns what this actor makes (idempotency keys, webhooks, registrations): the
        token's id, so a new token that reuses a revoked one's name inherits nothing of it;
        the name for actors without a token."""
        return f"token:{self.token}" if self.token else self.name

    def may_write(self, catalogue: Catalogue, region: str) -> bool:
        return self.write and any(catalogue.is_within(region, s) for s in self.scopes)


OPERATOR = Actor("cli")


class Outcome(StrEnum):
    """What a command did, in the domain's words (the API maps it to a status: 201, 200)."""

    CREATED = "created"  # something new exists: an alert declared, an incident reported
    DONE = "done"  # applied, or there was nothing to change


# The idempotency table predates outcomes: its number column keeps the status the API
# answered with, and existing databases hold those numbers.
_STORED = {Outcome.CREATED: 201, Outcome.DONE: 200}


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    body: dict[str, Any]
    events: tuple[Event, ...] = ()
    replayed: bool = False

    @property
    def created(self) -> bool:
        return self.outcome is Outcome.CREATED


Decision = tuple[list[NewEvent], Callable[[State], tuple[Outcome, dict[str, Any]]]]
# Rows that belong with a command's events, written in the same commit (see ``run``).
Store = Callable[[WriteTransaction, Sequence[Event]], None]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ---- input checks shared by the API and the CLI ---------------------------------------------

def _enum(cls: type[E], value: Any, field_name: str) -> E:
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise BadRequest(f"{field_name}: {value!r} is not one of {choices}",
                         field=field_name) from None


def _key(raw: str) -> str:
    """An idempotency key as stored: whole (an HTTP client's is refused over 200 characters
    at the edge, ``api/http.py``), or, for an ingester's longer one, its SHA-256; never cut
    short, which would make two keys one."""
    text = _text(raw, "Idempotency-Key", required=True)
    if len(text) <= 200:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value: Any, field_name: str, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadRequest(f"{field_name} must be a string", field=field_name)
    text: str = value.strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{field_name} is not valid text (an undecodable byte or an unpaired "
                         "surrogate)", field=field_name) from None
    if required and not text:
        raise BadRequest(f"{field_name} is required", field=field_name)
    if len(text) > MAX_TEXT:
        raise BadRequest(f"{field_name} is longer than {MAX_TEXT} characters", field=field_name)
    return text


def _optional_text(value: Any, field_name: str) -> str | None:
    text = _text(value, field_name)
    return text or None


def _time(value: Any, field_name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{field_name} must be an ISO-8601 time string", field=field_name)
    try:
        moment = parse_time(value)
    except ValueError:
        raise BadRequest(f"{field_name}: {value!r} is not an ISO-8601 time with an offset, "
                         "e.g. 2023-05-20T00:41:31+03:00", field=field_name) from None
    return format_time(moment)


def _cap_origin(cap: CapRef | None) -> dict[str, str] | None:
    """The CAP message a command came from (ingest): sender, identifier and sent, kept in the
    payload so that later Updates and Cancels that reference it find the alert."""
    if cap is None:
        return None
    origin = {"sender": cap.sender, "identifier": cap.identifier, "sent": cap.sent}
    for name, text in origin.items():
        if (not isinstance(text, str) or not text or len(text) > 500
                or any(c.isspace() or c in ",<&" for c in text)):
            raise BadRequest(f"cap.{name} must be non-empty text without spaces, commas, < or &",
                             field=f"cap.{name}")
    return origin


def _int(value: Any, field_name: str, low: int, high: int, *, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{field_name} must be a whole number", field=field_name)
    if not low <= value <= high:
        raise BadRequest(f"{field_name} must be between {low} and {high}", field=field_name)
    return value


def _coordinate(value: Any, field_name: str, limit: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{field_name} must be a number", field=field_name)
    if not -limit <= value <= limit:
        raise BadRequest(f"{field_name} must be between {-limit} and {limit}", field=field_name)
    return float(value)


def parse_threats(value: Sequence[ThreatIn] | None) -> tuple[Threat, ...]:
    """A command's threats as the domain holds them: one per type (the last given wins), in
    the order of ``ThreatType``."""
    if value is None:
        return ()
    threats: dict[ThreatType, Threat] = {}
    for index, item in enumerate(value):
        name = f"threats[{index}]"
        kind = _enum(ThreatType, item.type, f"{name}.type")
        level = _enum(ThreatLevel, item.level, f"{name}.level")
        threats[kind] = Threat(kind, level)
    return tuple(threats[k] for k in ThreatType if k in threats)


class Outbox(Protocol):
    """Where a command's events are handed inside its own transaction: the webhook outbox
    (``delivery/outbox.py``), given with its renderers by whoever assembles the service, so
    that the write path imports no room above it."""

    def enqueue(self, tx: WriteTransaction, state: State, events: Sequence[Event]) -> int: ...


def _id(value: Any) -> Any:
    """An id as given (a path's text, a CLI argument): ASCII digits of an id that can exist
    become the number; anything else is left for the caller to refuse (never int("²"))."""
    if (isinstance(value, str) and value.isascii() and value.isdigit()
            and len(value) <= len(str(MAX_ID))):
        return int(value)
    return value


class Service:
    approval_policy = approval.Policy()  # the node sets it from its settings

    def __init__(self, storage: Storage, catalogue: Catalogue, *, outbox: Outbox,
                 state: State | None = None) -> None:
        """``state``: the log already applied (``tryvoga.node`` reads it once for every
        projection); without it the service reads the log itself."""
        self.storage = storage
        self.catalogue = catalogue
        self.outbox = outbox
        self.state = state if state is not None else self._rebuild()
        self.listeners: list[Callable[[Sequence[Event]], None]] = []
        self.appended = 0  # events this service appended (not caught up): /metrics

    def _rebuild(self) -> State:
        state = State(self.catalogue)
        state.apply_all(self.storage.iter_events())
        return state

    def catch_up(self) -> list[Event]:
        """Apply events other processes appended; returns them."""
        events = self.storage.read_events(self.state.seq)
        self.state.apply_all(events)
        if events:
            self._notify(events)
        return events

    def _notify(self, events: Sequence[Event]) -> None:
        for listener in self.listeners:
            try:
                listener(events)
            except Exception:
                log.exception("event listener failed")

    # ---- the one write path ------------------------------------------------------------

    def _execute(self, actor: Actor, idempotency_key: str | None, request: dict[str, Any],
                 decide: Callable[[State, str], Decision],
                 store: Callable[[WriteTransaction, Sequence[Event]], None] | None = None
                 ) -> Result:
        if idempotency_key is not None:
            idempotency_key = _key(idempotency_key)
        request_hash = hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()
        caught_up: list[Event] = []
        appended: list[Event] = []
        try:
            with self.storage.writer() as tx:
                caught_up = tx.events_since(self.state.seq)
                self.state.apply_all(caught_up)
                key = (None if idempotency_key is None
                       else f"{actor.principal}\x1f{idempotency_key}")
                if key is not None:
                    record = tx.idempotency_get(key)
                    if record is not None:
                        if record.request_hash != request_hash:
                            raise Conflict("this Idempotency-Key was already used for a "
                                           "different request", code="idempotency_key_reused",
                                           field="Idempotency-Key")
                        outcome = Outcome.CREATED if record.status == 201 else Outcome.DONE
                        return Result(outcome, record.response, (), replayed=True)
                time = now_utc()
                if self.state.last_time is not None and time <= self.state.last_time:
                    # Strictly after the last command, across hosts too: a command's events
                    # share a time of their own, and no two commands look like one.
                    time = format_time(parse_time(self.state.last_time)
                                       + timedelta(milliseconds=1))
                new_events, respond = decide(self.state, time)
                for new in new_events:
                    event = tx.append(time, actor.name, new.kind.value, new.payload.to_json())
                    self.state.apply(event)
                    appended.append(event)
                if appended:  # webhook deliveries for these events, in the same commit
                    self.outbox.enqueue(tx, self.state, appended)
                if store is not None:
                    store(tx, appended)  # rows that belong with these events, same commit
                outcome, body = respond(self.state)
                if key is not None:
                    tx.idempotency_put(key, IdempotencyRecord(request_hash, _STORED[outcome],
                                                              body), self.state.seq, time)
        except BaseException:
            if appended:
                # The transaction was rolled back after events were applied in memory.
                try:
                    self.state = self._rebuild()
                except Exception:  # the database is unreachable: the next command's
                    self.state = State(self.catalogue)  # transaction reads the whole log
            raise
        finally:
            if caught_up:
                self._notify(caught_up)
        if appended:
            self.appended += len(appended)
            self._notify(appended)
        return Result(outcome, body, tuple(appended))

    def run(self, actor: Actor, request: dict[str, Any],
            decide: Callable[[State, str], Decision], *, idempotency_key: str | None = None,
            store: Callable[[WriteTransaction, Sequence[Event]], None] | None = None
            ) -> Result:
        """A command composed outside this module (an ingester), on the same write path.

        ``decide`` is called inside the write transaction with the caught-up state and the
        event time; ``store`` may write rows that belong with the appended events (e.g. the
        imported history keyed by its ``history.imported`` event) in the same commit.
        """
        decide = approval.guarded(self.approval_policy, self.catalogue, actor, decide)
        return self._execute(actor, idempotency_key, request, decide, store)

    def _check_region(self, actor: Actor, code: Any, field_name: str = "region") -> str:
        if not isinstance(code, str) or not code.strip():
            raise BadRequest(f"{field_name} must be a KATOTTG code such as "
                             "UA80000000000093317, or UA for the whole country", field=field_name)
        code_text: str = code.strip().upper()
        if code_text not in self.catalogue:
            raise NotFound(f"{field_name}: unknown region {code.strip()!r} (expected a KATOTTG "
                           "code; find one with GET /api/v1/regions?q=NAME)",
                           code="region_not_found", field=field_name)
        code = code_text
        if not actor.write:
            raise Forbidden(f"token {actor.name!r} is read-only", code="token_read_only")
        if not actor.may_write(self.catalogue, code):
            region = self.catalogue[code]
            raise Forbidden(f"token {actor.name!r} may not write in {region.name_en} ({code}); "
                            f"its scope is {', '.join(actor.scopes)}", code="out_of_scope",
                            field=field_name)
        return code_text

    def _alert(self, alert_id: Any) -> Alert:
        alert_id = _id(alert_id)
        if isinstance(alert_id, bool) or not isinstance(alert_id, int):
            raise BadRequest("alert id must be a whole number", field="id")
        alert = self.state.alerts.get(alert_id)
        if alert is None:
            self.catch_up()  # another process may have declared it a moment ago
            alert = self.state.alerts.get(alert_id)
        if alert is None:
            raise NotFound(f"no alert with id {alert_id}", code="alert_not_found")
        return alert

    # ---- commands (commands.py): the one way in ------------------------------------------

    def handle(self, actor: Actor, command: Command, target: int | str | None = None, *,
               idempotency_key: str | None = None, cap: CapRef | None = None,
               store: Store | None = None) -> Result:
        """Run a command: parsed at the edge from a body (``commands.parse``) or built in
        Python and checked the same way (``Command.of``: the CLI, the console, the ingesters).
        ``target`` is what the path names (an alert or incident id, a region code) for the
        commands that act on one thing; ``cap`` the CAP message a command carries out
        (``cap/ingest.py``); ``store`` writes rows that belong with the events in the same
        commit (a proposal's decision). The answer is a domain ``Result``: an ``Outcome`` and
        a body, no HTTP."""
        origin = _cap_origin(cap)
        match command:
            case Declare():
                return self._declare(actor, command, idempotency_key, origin, store)
            case EndByRegion():
                return self._end(actor, command, None, idempotency_key, origin, store)
            case EndAlert():
                if target is None:
                    raise BadRequest("name the alert by id, or by region and type", field="id")
                return self._end(actor, command, target, idempotency_key, origin, store)
            case UpdateAlert():
                return self._update(actor, command, target, idempotency_key, origin, store)
            case ReportIncident():
                return self._report_incident(actor, command, idempotency_key, store)
            case UpdateIncident():
                return self._update_incident(actor, command, target, idempotency_key, store)
            case ConfigureRegion():
                return self._configure_region(actor, command, target, idempotency_key, store)
        raise TypeError(f"no handler for {type(command).__name__}")

    # ---- alerts ------------------------------------------------------------------------

    def _declare(self, actor: Actor, command: Declare, idempotency_key: str | None,
                 origin: dict[str, str] | None, store: Store | None) -> Result:
        regions = command.codes
        if not regions:
            raise BadRequest("regions must be a non-empty list of KATOTTG codes",
                             field="regions")
        if len(regions) > MAX_REGIONS_PER_COMMAND:
            raise BadRequest(f"at most {MAX_REGIONS_PER_COMMAND} regions per declaration",
                             field="regions")
        codes = list(dict.fromkeys(self._check_region(actor, code, f"regions[{i}]")
                                   for i, code in enumerate(regions)))
        alert_type = _enum(AlertType, command.type, "type")
        alert_status = _enum(AlertStatus, command.status or "actual", "status")
        parsed_threats = parse_threats(command.threats)
        source_text = _text(command.source, "source")
        note_text = _text(command.note, "note")
        start = _time(command.started_at, "started_at")
        stamp = approval.authorise(self.approval_policy, self.catalogue, actor, codes,
                                   alert_type, alert_status)
        request: dict[str, Any] = {"op": "declare", "regions": codes, "type": alert_type.value,
                   "threats": [t.to_json() for t in parsed_threats],
                   "status": alert_status.value, "source": source_text, "note": note_text,
                   "started_at": start}
        if origin is not None:
            request["cap"] = origin

        def decide(state: State, time: str) -> Decision:
            events: list[NewEvent] = []
            ids: list[tuple[int, bool]] = []
            next_id = state.next_alert_id
            for code in codes:
                existing = state.find_active(code, alert_type, alert_status)
                if existing is not None:
                    ids.append((existing.id, False))
                    continue
                if start is not None and start > time:
                    raise BadRequest("started_at is in the future", field="started_at")
                events.append(NewEvent.of(AlertDeclared(
                    alert_id=next_id, region=code, type=alert_type, status=alert_status,
                    threats=parsed_threats, source=source_text, note=note_text,
                    shelter_seconds=state.shelter_seconds(code),
                    started_at=UNSET if start is None else start,
                    cap=UNSET if origin is None else CapOrigin(**origin), **stamp)))
                ids.append((next_id, True))
                next_id += 1

            def respond(after: State) -> tuple[Outcome, dict[str, Any]]:
                alerts = [dict(alert_json(after.alerts[i], after), created=created)
                          for i, created in ids]
                created = any(c for _, c in ids)
                return (Outcome.CREATED if created else Outcome.DONE), {"alerts": alerts}

            return events, respond

        return self._execute(actor, idempotency_key, request, decide, store)

    def _end(self, actor: Actor, command: EndAlert, alert_id: int | str | None,
             idempotency_key: str | None, origin: dict[str, str] | None,
             store: Store | None) -> Result:
        withdraw = command.withdraw
        reason_text = _text(command.reason, "reason")
        end_time = _time(command.ended_at, "ended_at")
        key: tuple[str, AlertType, AlertStatus] | None = None
        target_id: int | None = None
        if isinstance(command, EndByRegion):
            code = self._check_region(actor, command.region)
            key = (code, _enum(AlertType, command.type, "type"),
                   _enum(AlertStatus, command.status or "actual", "status"))
        else:
            alert = self._alert(alert_id)
            self._check_region(actor, alert.region)
            target_id = alert.id
        request: dict[str, Any] = {"op": "withdraw" if withdraw else "end", "id": target_id,
                   "key": None if key is None else [key[0], key[1].value, key[2].value],
                   "reason": reason_text, "ended_at": end_time}
        if origin is not None:
            request["cap"] = origin

        def decide(state: State, time: str) -> Decision:
            if target_id is not None:
                alert = state.alerts[target_id]
                if not alert.active:
                    raise Conflict(f"alert {alert.id} is not active: it ended at "
                                   f"{alert.ended_at}", code="alert_not_active")
            else:
                assert key is not None
                found = state.find_active(*key)
                if found is None:
                    name = self.catalogue[key[0]].name_en
                    raise Conflict(f"no active {key[2].value} {key[1].value} alert in {name} "
                                   f"({key[0]})", code="alert_not_active")
                alert = found
            if end_time is not None and not alert.started_at <= end_time <= time:
                raise BadRequest("ended_at must lie between the alert's start and now",
                                 field="ended_at")
            payload_class = AlertWithdrawn if withdraw else AlertEnded
            payload = payload_class(
                alert_id=alert.id, region=alert.region, type=alert.type,
                reason=reason_text or UNSET, ended_at=UNSET if end_time is None else end_time,
                cap=UNSET if origin is None else CapOrigin(**origin))
            alert_id_final = alert.id
            return [NewEvent.of(payload)], lambda after: (
                Outcome.DONE, {"alert": alert_json(after.alerts[alert_id_final], after)})

        return self._execute(actor, idempotency_key, request, decide, store)

    def _update(self, actor: Actor, command: UpdateAlert, alert_id: int | str | None,
                idempotency_key: str | None, origin: dict[str, str] | None,
                store: Store | None) -> Result:
        alert = self._alert(alert_id)
        self._check_region(actor, alert.region)
        if command.threats is None and command.note is None:
            raise BadRequest("nothing to update: give threats and/or note", field="threats")
        new_threats = None if command.threats is None else parse_threats(command.threats)
        new_note = None if command.note is None else _text(command.note, "note")
        request: dict[str, Any] = {"op": "update", "id": alert.id,
                   "threats": None if new_threats is None else [t.to_json() for t in
                                                                new_threats],
                   "note": new_note}
        if origin is not None:
            request["cap"] = origin

        def decide(state: State, time: str) -> Decision:
            current = state.alerts[alert.id]
            if not current.active:
                raise Conflict(f"alert {current.id} is not active: it ended at "
                               f"{current.ended_at}", code="alert_not_active")
            threats_changed = new_threats is not None and new_threats != current.threats
            note_changed = new_note is not None and new_note != current.note
            changed = threats_changed or note_changed
            payload = AlertUpdated(
                alert_id=current.id, region=current.region, type=current.type,
                threats=new_threats if threats_changed and new_threats is not None else UNSET,
                note=new_note if note_changed and new_note is not None else UNSET,
                cap=UNSET if origin is None or not changed else CapOrigin(**origin))
            events = [NewEvent.of(payload)] if changed else []
            return events, lambda after: (Outcome.DONE, {"alert": alert_json(
                after.alerts[current.id], after)})

        return self._execute(actor, idempotency_key, request, decide, store)

    # ---- incidents ---------------------------------------------------------------------

    def _report_incident(self, actor: Actor, command: ReportIncident,
                         idempotency_key: str | None, store: Store | None) -> Result:
        code = self._check_region(actor, command.region)
        payload: dict[str, Any] = {
            "kind": _enum(IncidentKind, command.kind, "kind").value,
            "region": code,
            "status": _enum(IncidentStatus, command.status or "preliminary", "status").value,
            "source": _text(command.source, "source", required=True),
            "description": _text(command.description, "description"),
            "address": _optional_text(command.address, "address"),
            "latitude": _coordinate(command.latitude, "latitude", 90),
            "longitude": _coordinate(command.longitude, "longitude", 180),
            "killed": _int(command.killed, "killed", 0, MAX_COUNT),
            "injured": _int(command.injured, "injured", 0, MAX_COUNT),
            "embargo_until": _time(command.embargo_until, "embargo_until"),
            "alert_id": None,
        }
        if payload["status"] == IncidentStatus.RETRACTED.value:
            raise BadRequest("a new incident cannot start retracted", field="status")
        if (payload["latitude"] is None) != (payload["longitude"] is None):
            raise BadRequest("give both latitude and longitude, or neither", field="latitude")
        if command.alert_id is not None:
            payload["alert_id"] = self._alert(command.alert_id).id
        payload = {k: v for k, v in payload.items() if v is not None}
        request = {"op": "incident.report", **payload}

        def decide(state: State, time: str) -> Decision:
            incident_id = state.next_incident_id
            event = NewEvent.of(msgspec.convert({"incident_id": incident_id, **payload},
                                                IncidentReported))
            return [event], lambda after: (Outcome.CREATED, {"incident": incident_json(
                after.incidents[incident_id], after)})

        return self._execute(actor, idempotency_key, request, decide, store)

    def _update_incident(self, actor: Actor, command: UpdateIncident,
                         incident_id: int | str | None, idempotency_key: str | None,
                         store: Store | None) -> Result:
        number = _id(incident_id)
        if not isinstance(number, int) or isinstance(number, bool):
            raise BadRequest("incident id must be a whole number", field="id")
        if number not in self.state.incidents:
            self.catch_up()  # another process may have reported it a moment ago
        incident = self.state.incidents.get(number)
        if incident is None:
            raise NotFound(f"no incident with id {number}", code="incident_not_found")
        self._check_region(actor, incident.region)
        changes = command.changes()
        if not changes:
            raise BadRequest("nothing to update", field="status")
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "kind":
                clean[name] = _enum(IncidentKind, value, name).value
            elif name == "status":
                clean[name] = _enum(IncidentStatus, value, name).value
            elif name == "region":
                clean[name] = self._check_region(actor, value)
            elif name in ("source", "description"):
                clean[name] = _text(value, name, required=name == "source")
            elif name == "address":
                clean[name] = _optional_text(value, name)
            elif name in ("latitude", "longitude"):
                clean[name] = _coordinate(value, name, 90 if name == "latitude" else 180)
            elif name in ("killed", "injured"):
                clean[name] = _int(value, name, 0, MAX_COUNT)
            elif name == "embargo_until":
                clean[name] = _time(value, name)
            elif name == "alert_id":
                clean[name] = None if value is None else self._alert(value).id
        request = {"op": "incident.update", "id": incident.id, **clean}

        def decide(state: State, time: str) -> Decision:
            current = state.incidents[incident.id]
            new_status = clean.get("status")
            if current.status is IncidentStatus.RETRACTED:
                raise Conflict(f"incident {current.id} was retracted; report a new one",
                               code="incident_retracted")
            if (new_status == IncidentStatus.PRELIMINARY.value
                    and current.status is IncidentStatus.CONFIRMED):
                raise Conflict("a confirmed incident cannot go back to preliminary",
                               code="incident_status_backwards", field="status")
            changed = {k: v for k, v in clean.items() if getattr(current, k) != (
                IncidentStatus(v) if k == "status" else IncidentKind(v) if k == "kind" else v)}
            events = ([NewEvent.of(msgspec.convert({"incident_id": current.id, **changed},
                                                   IncidentUpdated))]
                      if changed else [])
            return events, lambda after: (Outcome.DONE, {"incident": incident_json(
                after.incidents[current.id], after)})

        return self._execute(actor, idempotency_key, request, decide, store)

    # ---- regions -----------------------------------------------------------------------

    def _configure_region(self, actor: Actor, command: ConfigureRegion,
                          region: int | str | None, idempotency_key: str | None,
                          store: Store | None) -> Result:
        code = self._check_region(actor, region)
        payload: dict[str, Any] = {"region": code}
        if command.shelter_seconds is not UNSET:
            payload["shelter_seconds"] = _int(command.shelter_seconds, "shelter_seconds", 0,
                                              MAX_SHELTER_SECONDS)
        if command.neighbours is not UNSET:
            if command.neighbours is None:
                payload["neighbours"] = None
            else:
                checked = []
                for i, other in enumerate(command.neighbours):
                    name = f"neighbours[{i}]"
                    if not isinstance(other, str) or other.strip().upper() not in self.catalogue:
                        raise NotFound(f"{name}: unknown region {other!r}",
                                       code="region_not_found", field=name)
                    if other.strip().upper() == code:
                        raise BadRequest(f"{name}: a region is not its own neighbour",
                                         field=name)
                    checked.append(other.strip().upper())
                payload["neighbours"] = sorted(set(checked))
        if len(payload) == 1:
            raise BadRequest("nothing to configure: give shelter_seconds and/or neighbours",
                             field="shelter_seconds")
        request = {"op": "region.configure", **payload}

        def decide(state: State, time: str) -> Decision:
            return [NewEvent.of(msgspec.convert(payload, RegionConfigured))], lambda after: (
                Outcome.DONE, {"region": code, "shelter_seconds": after.shelter_seconds(code),
                      "neighbours": list(after.neighbours(code))})

        return self._execute(actor, idempotency_key, request, decide, store)

    # ---- tokens (kept out of the public log; recorded in the audit log) ------------------

    def create_token(self, name: str, scopes: Iterable[str], write: bool,
                     by: str = "cli", automated: bool = False) -> tuple[TokenRecord, str]:
        name = _text(name, "name", required=True)
        checked = []
        for scope in scopes or [COUNTRY]:
            code = scope.strip().upper()
            if code not in self.catalogue:
                raise NotFound(f"scope: unknown region {scope!r}", code="region_not_found",
                               field="scope")
            checked.append(code)
        secret = "tv_" + secrets.token_urlsafe(32)
        time = now_utc()
        record = TokenRecord(id="tok_" + secrets.token_hex(6), name=name,
                             scopes=tuple(dict.fromkeys(checked)), write=write,
                             created=time, revoked=None)
        with self.storage.writer() as tx:
            if any(t.name == name and t.revoked is None for t in self.storage.tokens()):
                raise Conflict(f"a token named {name!r} already exists",
                               code="token_name_taken", field="name")
            tx.token_insert(record, hash_token(secret))
            if automated:
                tx.operators().token_mark_automated(record.id)
            tx.audit(time, by, "token.created", {"id": record.id, "name": name,
                                                 "scopes": list(record.scopes),
                                                 "write": write, "automated": automated})
        return record, secret

    def revoke_token(self, token_id: str, by: str = "cli") -> None:
        time = now_utc()
        with self.storage.writer() as tx:
            if not tx.token_revoke(token_id, time):
                raise NotFound(f"no active token with id or name {token_id!r}",
                               code="token_not_found")
            tx.audit(time, by, "token.revoked", {"token": token_id})

    def authenticate(self, secret: str | None) -> Actor:
        if not secret:
            raise Unauthorized("this needs a bearer token: Authorization: Bearer <token>",
                               code="token_missing")
        record = self.storage.token_by_hash(hash_token(secret.strip()))
        if record is None or record.revoked is not None:
            raise Unauthorized("unknown or revoked token", code="token_invalid")
        return Actor(record.name, record.scopes, record.write,
                     bound=not self.storage.token_automated(record.id), token=record.id)


__all__ = ["OPERATOR", "Actor", "Outcome", "Result", "Service", "hash_token", "parse_threats"]
