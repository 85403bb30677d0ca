"""CAP from other authorities → commands on the Service, with the sender as the actor.

    Alert                       declare the alert type on every area
    Update                      change threats and note of the alerts of its chain; declare
                                areas the chain does not have yet
    Update, AllClear or Past    end the chain's active alerts
    Cancel                      withdraw the chain's active alerts (declared in error)

A chain is found through ``references``: every declared, updated, ended or withdrawn event that
came from CAP carries ``{"cap": {"sender", "identifier", "sent"}}`` in its payload, so the log
itself says which alerts a referenced message made. Each command carries an idempotency key made
from the message's identifier, so a message seen before changes nothing, even when several
server processes poll the same feed. Everything that can be checked before writing is checked
first (schema, status, type, areas, threats), so a rejected message appends nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from tryvoga.cap import texts
from tryvoga.cap.parse import MAX_IDENTIFIER, CapMessage, CapRejected, Info, parse_message
from tryvoga.cap.render import (
    G_ISO,
    G_ISO_COUNTRY,
    G_KATOTTG,
    P_INCIDENT_KIND,
    P_NOTE,
    P_THREAT,
    P_TYPE,
)
from tryvoga.commands import CapRef, Declare, EndAlert, UpdateAlert
from tryvoga.domain.events import (
    AlertDeclared,
    AlertEnded,
    AlertUpdated,
    Event,
    format_time,
    now_utc,
    parse_time,
)
from tryvoga.domain.model import AlertStatus, AlertType
from tryvoga.domain.regions import COUNTRY, Catalogue
from tryvoga.errors import TryvogaError
from tryvoga.service import Actor, Result, Service
from tryvoga.storage.base import Storage

log = logging.getLogger(__name__)

SHOWN_IDENTIFIER = 120
STATUSES = {"Actual": AlertStatus.ACTUAL, "Exercise": AlertStatus.EXERCISE,
            "Test": AlertStatus.TEST}
# Event names other publishers use for the alert types, besides Tryvoga's own.
EVENT_NAMES: dict[str, AlertType] = {
    **{name.lower(): kind for lang in texts.ALERT_NAMES.values()
       for kind, name in lang.items()},
    "air raid": AlertType.AIR_RAID, "air raid warning": AlertType.AIR_RAID,
    "air alert": AlertType.AIR_RAID, "повітряна тривога": AlertType.AIR_RAID,
    "artillery shelling": AlertType.ARTILLERY_SHELLING, "urban fights": AlertType.URBAN_FIGHTS,
    "chemical": AlertType.CHEMICAL, "nuclear": AlertType.NUCLEAR,
}


@dataclass
class Outcome:
    """What became of one message: ingested, ignored (nothing to do) or rejected."""

    identifier: str
    verdict: str
    detail: str
    events: list[Event] = field(default_factory=list)

    # The write failed part-way (another writer won a race, the database was busy): the steps
    # done keep their idempotency keys, so taking the message again completes it.
    retry: bool = False

    def line(self) -> str:
        name = self.identifier or "(no identifier)"
        if len(name) > SHOWN_IDENTIFIER:  # a refused over-long identifier is not echoed whole
            name = name[:SHOWN_IDENTIFIER - 1] + "…"
        return f"{self.verdict}: {name}: {self.detail}"


class OriginIndex:
    """(sender, identifier) of a CAP message → the alerts its events made or changed."""

    def __init__(self) -> None:
        self.seq = 0
        self.alerts: dict[tuple[str, str], set[int]] = {}

    def add(self, events: Iterable[Event]) -> None:
        for event in events:
            if event.seq <= self.seq:
                continue
            data = event.data
            if isinstance(data, AlertDeclared | AlertUpdated | AlertEnded) and data.cap:
                key = (data.cap.sender, data.cap.identifier)
                self.alerts.setdefault(key, set()).add(data.alert_id)
            self.seq = event.seq

    def refresh(self, storage: Storage) -> None:
        while True:
            events = storage.read_events(self.seq, 5000)
            self.add(events)
            if len(events) < 5000:
                return


@dataclass(frozen=True, slots=True)
class Plan:
    """What a message asks for, checked against the catalogue before anything is written."""

    action: str  # declare, update, end, withdraw
    regions: tuple[str, ...]
    type: AlertType | None
    status: AlertStatus
    threats: list[dict[str, str]] | None
    note: str
    source: str
    onset: str | None


def _log_time(text: str, name: str) -> str:
    try:
        return format_time(parse_time(text))
    except ValueError:
        raise CapRejected(f"{name}: {text!r} is not a time") from None


def _alert_type(infos: tuple[Info, ...]) -> AlertType:
    for info in infos:
        for value in info.codes(P_TYPE):
            try:
                return AlertType(value)
            except ValueError:
                raise CapRejected(f"eventCode {P_TYPE}: unknown alert type {value!r}; "
                                  f"expected one of {', '.join(AlertType)}") from None
    for info in infos:
        found = EVENT_NAMES.get(info.event.strip().lower())
        if found is not None:
            return found
    events = ", ".join(repr(i.event) for i in infos)
    raise CapRejected(f"cannot tell which alert this is from event {events}: give eventCode "
                      f"{P_TYPE} (one of {', '.join(AlertType)}) or a known event name")


def _regions(infos: tuple[Info, ...], catalogue: Catalogue) -> tuple[str, ...]:
    by_iso = {r.iso.upper(): r.code for r in catalogue if r.iso}
    codes: list[str] = []
    for info in infos:
        for area in info.areas:
            found: str | None = None
            named = []
            for name, value in area.geocodes:
                key = name.replace(" ", "").upper()
                value = value.strip().upper()
                if key == G_KATOTTG:
                    named.append(f"KATOTTG {value}")
                    if value not in catalogue or value == COUNTRY:
                        raise CapRejected(f"area {area.desc!r}: unknown KATOTTG code {value!r}",
                                          code="cap_unknown_area")
                    found = value
                elif key in (G_ISO, "ISO3166"):
                    named.append(f"ISO 3166-2 {value}")
                    if value not in by_iso:
                        raise CapRejected(f"area {area.desc!r}: unknown ISO 3166-2 code "
                                          f"{value!r}", code="cap_unknown_area")
                    found = found or by_iso[value]
                elif key == G_ISO_COUNTRY:
                    if value != "UA":
                        raise CapRejected(f"area {area.desc!r}: {value!r} is not Ukraine",
                                          code="cap_unknown_area")
                    found = found or COUNTRY
            if found is None:
                raise CapRejected(f"area {area.desc!r} names no KATOTTG or ISO 3166-2 geocode, "
                                  "so it cannot be placed", code="cap_unknown_area")
            codes.append(found)
    if not codes:
        raise CapRejected("the message names no area", code="cap_unknown_area")
    return tuple(dict.fromkeys(codes))


def plan(message: CapMessage, catalogue: Catalogue, now: str) -> Plan | str:
    """The plan for a message, a reason to ignore it (str), or CapRejected."""
    for name, value in (("identifier", message.identifier), ("sender", message.sender)):
        if len(value) > MAX_IDENTIFIER:
            raise CapRejected(f"the {name} is {len(value)} characters long; at most "
                              f"{MAX_IDENTIFIER} are taken")
        if not value or any(c.isspace() or c in ",<&" for c in value):
            raise CapRejected(f"{name} {value!r} must be non-empty, without spaces, commas, "
                              "< or &")
    _log_time(message.sent, "sent")
    status = STATUSES.get(message.status)
    if status is None:
        raise CapRejected(f"status {message.status} is not a public warning; Actual, Exercise "
                          "and Test are taken")
    if message.scope != "Public":
        raise CapRejected(f"scope {message.scope} is not for the public; only Public is taken")
    if message.msg_type not in ("Alert", "Update", "Cancel"):
        return f"msgType {message.msg_type} carries no warning"
    infos = message.infos
    if any(info.codes(P_INCIDENT_KIND) for info in infos):
        return "an incident report; only alerts are ingested from CAP"
    if message.msg_type == "Cancel":
        return Plan("withdraw", (), None, status, None, message.note, "", None)
    if not infos:
        raise CapRejected(f"an {message.msg_type} needs at least one <info>")
    all_clear = any("AllClear" in i.response_types or i.urgency == "Past" for i in infos)
    regions = _regions(infos, catalogue)
    if all_clear:
        return Plan("end", regions, None, status, None, "", "", None)
    for info in infos:
        if info.expires and _log_time(info.expires, "expires") <= now:
            return f"expired at {info.expires}"
    alert_type = _alert_type(infos)
    threats = [{"type": t.partition(":")[0], "level": t.partition(":")[2] or "red"}
               for t in next((i.params(P_THREAT) for i in infos if i.params(P_THREAT)), [])]
    try:
        UpdateAlert.of(threats=threats)  # the command's own check of the threats
    except TryvogaError as exc:
        raise CapRejected(f"parameter {P_THREAT}: {exc.message}") from None
    note = next((v for i in infos for v in i.params(P_NOTE)), "")
    source = next((i.sender_name for i in infos if i.sender_name), None) or message.sender
    # When the danger began: onset, else effective, else when the message was sent.
    onset = next((t for i in infos for t in (i.onset, i.effective) if t), message.sent)
    onset_time: str | None = _log_time(onset, "onset")
    if onset_time is not None and onset_time > now:
        onset_time = None  # the other clock runs ahead: start now
    action = "declare" if message.msg_type == "Alert" else "update"
    return Plan(action, regions, alert_type, status, threats, note, source, onset_time)


class Ingester:
    """Runs on the Service's thread (the writer): every write goes through the Service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.index = OriginIndex()

    def ingest_bytes(self, data: bytes) -> Outcome:
        try:
            message = parse_message(data)
        except CapRejected as exc:
            return Outcome("", "rejected", exc.message)
        return self.ingest(message)

    def ingest(self, message: CapMessage) -> Outcome:
        service = self.service
        service.catch_up()
        self.index.refresh(service.storage)
        now = now_utc()
        try:
            decided = plan(message, service.catalogue, now)
        except CapRejected as exc:
            return Outcome(message.identifier, "rejected", exc.message)
        if isinstance(decided, str):
            return Outcome(message.identifier, "ignored", decided)
        if (message.sender, message.identifier) in self.index.alerts:
            return Outcome(message.identifier, "ignored", "seen before")
        actor = Actor(f"cap:{message.sender}")
        origin = CapRef(sender=message.sender, identifier=message.identifier,
                        sent=message.sent)
        key = f"cap|{message.identifier}"
        chain = sorted({alert_id for sender, identifier, _ in message.references
                        for alert_id in self.index.alerts.get((sender, identifier), ())})
        results: list[tuple[str, Result]] = []
        try:
            if decided.action in ("end", "withdraw"):
                self._close(decided, chain, actor, key, origin, message, results)
            else:
                self._declare_or_update(decided, chain, actor, key, origin, results)
        except TryvogaError as exc:
            # Only a race with another writer gets here (everything else was checked first);
            # the steps already done keep their idempotency keys, so a retry completes it.
            done = [e for _, r in results for e in r.events]
            return Outcome(message.identifier, "rejected", exc.message, done, retry=True)
        events = [e for _, r in results for e in r.events]
        if results and all(r.replayed for _, r in results):
            return Outcome(message.identifier, "ignored", "seen before")
        if not results:
            return Outcome(message.identifier, "ignored",
                           "nothing to do: no alert of its chain is active here")
        summary = "; ".join(what for what, _ in results)
        return Outcome(message.identifier, "ingested", summary, events)

    def _declare_or_update(self, decided: Plan, chain: list[int], actor: Actor, key: str,
                           origin: CapRef, results: list[tuple[str, Result]]) -> None:
        state = self.service.state
        assert decided.type is not None
        by_region = {state.alerts[i].region: state.alerts[i] for i in chain
                     if state.alerts[i].type is decided.type
                     and state.alerts[i].status is decided.status}
        new = [r for r in decided.regions if r not in by_region]
        if new:
            command = Declare.of(regions=list(new), type=decided.type, threats=decided.threats,
                                 status=decided.status, source=decided.source,
                                 note=decided.note, started_at=decided.onset)
            result = self.service.handle(actor, command, idempotency_key=f"{key}|declare",
                                         cap=origin)
            ids = [f"{a['id']}{'' if a['created'] else ' (already active)'}"
                   for a in result.body["alerts"]]
            results.append((f"declared {decided.type.value} alert {', '.join(ids)}", result))
        for region in decided.regions:
            alert = by_region.get(region)
            if alert is None or not alert.active:
                continue
            update = UpdateAlert.of(threats=decided.threats, note=decided.note)
            result = self.service.handle(actor, update, alert.id,
                                         idempotency_key=f"{key}|update|{alert.id}", cap=origin)
            results.append((f"updated alert {alert.id}", result))

    def _close(self, decided: Plan, chain: list[int], actor: Actor, key: str,
               origin: CapRef, message: CapMessage,
               results: list[tuple[str, Result]]) -> None:
        state = self.service.state
        withdraw = decided.action == "withdraw"
        sent = _log_time(message.sent, "sent")
        for alert_id in chain:
            alert = state.alerts[alert_id]
            if not alert.active:
                continue
            if decided.regions and alert.region not in decided.regions:
                continue
            ended_at = sent if alert.started_at <= sent <= now_utc() else None
            command = EndAlert.of(reason=decided.note if withdraw else "", withdraw=withdraw,
                                  ended_at=ended_at)
            result = self.service.handle(
                actor, command, alert.id, idempotency_key=f"{key}|{decided.action}|{alert.id}",
                cap=origin)
            results.append((f"{'withdrew' if withdraw else 'ended'} alert {alert.id}", result))
