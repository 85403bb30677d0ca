"""The CAP projection: one message per change of an alert or an incident, from the log alone.

The projection keeps its own ``State`` and applies events one at a time, so a message captures
exactly what the log said right after its event, whatever batches the events arrived in: a
rebuild from the log gives the same messages, and so the same bytes.

    alert.declared     Alert
    alert.updated      Update (threats or note changed), references the whole chain
    alert.ended        Update with responseType AllClear and urgency Past
    alert.withdrawn    Cancel (declared in error)
    incident.reported  Alert (category Fire or Safety)
    incident.updated   Update, or Cancel when the report is retracted

A message is identified by its event's sequence number; its CAP identifier is made from that and
the configured sender (``render.Publisher.identifier``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from tryvoga.domain.events import (
    AlertDeclared,
    AlertEnded,
    AlertUpdated,
    AlertWithdrawn,
    Event,
    IncidentReported,
    IncidentUpdated,
    format_time,
    parse_time,
)
from tryvoga.domain.model import Alert, Incident, IncidentStatus
from tryvoga.domain.regions import Catalogue
from tryvoga.domain.state import State


class Phase(StrEnum):
    DECLARED = "declared"
    UPDATED = "updated"
    ENDED = "ended"
    WITHDRAWN = "withdrawn"
    REPORTED = "reported"
    REVISED = "revised"
    RETRACTED = "retracted"

    @property
    def msg_type(self) -> str:
        if self in (Phase.DECLARED, Phase.REPORTED):
            return "Alert"
        if self in (Phase.WITHDRAWN, Phase.RETRACTED):
            return "Cancel"
        return "Update"

    @property
    def closing(self) -> bool:
        """The last word of a chain: nothing to do any more."""
        return self in (Phase.ENDED, Phase.WITHDRAWN, Phase.RETRACTED)


@dataclass(frozen=True, slots=True)
class Message:
    seq: int
    time: str  # the event's log time (UTC); CAP's sent is made from it
    phase: Phase
    chain: str  # "alert:12" or "incident:3"
    region: str
    references: tuple[tuple[int, str], ...]  # (seq, time) of every earlier message of the chain
    alert: Alert | None = None
    incident: Incident | None = None
    shelter_seconds: int | None = None
    incidents: tuple[int, ...] = ()  # incident ids linked to the alert and public by then
    changed: tuple[str, ...] = ()  # for an Update: the fields that changed


class CapProjection:
    def __init__(self, catalogue: Catalogue) -> None:
        self.state = State(catalogue)
        self.messages: dict[int, Message] = {}
        self.chains: dict[str, list[int]] = {}
        # chain → its newest message; a chain moves to the end when it changes, so reading the
        # dict backwards walks the chains newest first.
        self.latest: dict[str, int] = {}
        self.linked: dict[int, list[int]] = {}  # alert id → ids of incidents linked to it

    @property
    def seq(self) -> int:
        return self.state.seq

    def apply_all(self, events: Iterable[Event]) -> list[Message]:
        out = []
        for event in events:
            message = self.apply(event)
            if message is not None:
                out.append(message)
        return out

    def apply(self, event: Event) -> Message | None:
        before = self.state
        data = event.data
        old_incident: Incident | None = None
        if isinstance(data, IncidentUpdated):
            old_incident = before.incidents.get(data.incident_id)
        self.state.apply(event)
        state = self.state
        message: Message | None = None
        if isinstance(data, AlertDeclared | AlertUpdated | AlertEnded):
            alert = state.alerts[data.alert_id]
            phase = (Phase.DECLARED if isinstance(data, AlertDeclared)
                     else Phase.UPDATED if isinstance(data, AlertUpdated)
                     else Phase.WITHDRAWN if isinstance(data, AlertWithdrawn)
                     else Phase.ENDED)
            shelter = (data.shelter_seconds if isinstance(data, AlertDeclared)
                       else state.shelter_seconds(alert.region))
            incidents = tuple(sorted(
                i for i in self.linked.get(alert.id, ())
                if state.incidents[i].public_at(event.time)))
            changed = data.given() if isinstance(data, AlertUpdated) else ()
            message = self._add(event, phase, f"alert:{alert.id}", alert.region, alert=alert,
                                shelter_seconds=shelter, incidents=incidents,
                                changed=tuple(k for k in ("threats", "note") if k in changed))
        elif isinstance(data, IncidentReported):
            incident = state.incidents[data.incident_id]
            if incident.alert_id is not None:
                self.linked.setdefault(incident.alert_id, []).append(incident.id)
            message = self._add(event, Phase.REPORTED, f"incident:{incident.id}",
                                incident.region, incident=incident, incidents=(incident.id,))
        elif isinstance(data, IncidentUpdated):
            incident = state.incidents[data.incident_id]
            if old_incident is not None and old_incident.alert_id != incident.alert_id:
                if old_incident.alert_id is not None:
                    self.linked[old_incident.alert_id].remove(incident.id)
                if incident.alert_id is not None:
                    self.linked.setdefault(incident.alert_id, []).append(incident.id)
            phase = (Phase.RETRACTED if incident.status is IncidentStatus.RETRACTED
                     else Phase.REVISED)
            message = self._add(event, phase, f"incident:{incident.id}", incident.region,
                                incident=incident, incidents=(incident.id,),
                                changed=tuple(sorted(data.changes())))
        return message

    def _add(self, event: Event, phase: Phase, chain: str, region: str, *,
             alert: Alert | None = None, incident: Incident | None = None,
             shelter_seconds: int | None = None, incidents: tuple[int, ...] = (),
             changed: tuple[str, ...] = ()) -> Message:
        earlier = self.chains.setdefault(chain, [])
        message = Message(
            seq=event.seq, time=event.time, phase=phase, chain=chain, region=region,
            references=tuple((s, self.messages[s].time) for s in earlier), alert=alert,
            incident=incident, shelter_seconds=shelter_seconds, incidents=incidents,
            changed=changed if phase in (Phase.UPDATED, Phase.REVISED) else ())
        self.messages[event.seq] = message
        earlier.append(event.seq)
        self.latest.pop(chain, None)
        self.latest[chain] = event.seq
        return message

    # ---- reading ----------------------------------------------------------------------------

    def public(self, message: Message, now: str) -> bool:
        """An incident's messages stay hidden while the incident is under embargo."""
        if message.incident is None:
            return True
        current = self.state.incidents[message.incident.id]
        return current.public_at(now) and message.incident.public_at(now)

    def hidden_count(self, now: str) -> int:
        """How many incidents are still under embargo: part of the feed's cache key."""
        return sum(1 for i in self.state.incidents.values() if not i.public_at(now))

    def feed(self, now: str, recent_seconds: int) -> list[Message]:
        """The newest message of every active alert (and of the incidents linked to it) and
        of every chain that changed within ``recent_seconds`` before the last change; newest
        first."""
        state = self.state
        chosen: set[int] = set()
        for alert in state.active_alerts():
            chosen.add(self.latest[f"alert:{alert.id}"])
            for incident_id in self.linked.get(alert.id, ()):
                chosen.add(self.latest[f"incident:{incident_id}"])
        if state.last_time is not None:
            cutoff = format_time(parse_time(state.last_time) - timedelta(seconds=recent_seconds))
            for seq in reversed(self.latest.values()):
                if self.messages[seq].time < cutoff:
                    break
                chosen.add(seq)
        # Newest first in log order: the feed's pages are cut by sequence number.
        return [self.messages[s] for s in sorted(chosen, reverse=True)
                if self.public(self.messages[s], now)]

    def feed_time(self, now: str) -> str | None:
        """When the feed last changed: the last event, or an embargo that ended since. (An
        incident that comes out of embargo may land on a later page of the feed; its first
        page must still change, or a reader holding its ETag would never look further.)"""
        times = [i.embargo_until for i in self.state.incidents.values()
                 if i.embargo_until is not None and i.embargo_until <= now]
        last = self.state.last_time
        return max([*times, *([last] if last else [])], default=None)
