"""The state projection: what the log says is true now, advanced one event at a time.

``State.apply`` is the only way the state changes, so rebuilding from the log and following
it live give the same state. Derived views (effective status per region) are computed on
demand and cached per sequence number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from msgspec import UNSET, UnsetType

from tryvoga.domain.events import (
    AlertDeclared,
    AlertEnded,
    AlertUpdated,
    AlertWithdrawn,
    Event,
    HistoryImported,
    IncidentReported,
    IncidentUpdated,
    RegionConfigured,
)
from tryvoga.domain.model import (
    Alert,
    AlertStatus,
    AlertType,
    Incident,
    ThreatLevel,
    alert_level,
)
from tryvoga.domain.regions import COUNTRY, PARTITIONING_LEVELS, Catalogue

Effective = Literal["A", "P", "N"]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RegionSettings:
    shelter_seconds: int | None = None
    neighbours: tuple[str, ...] | None = None  # None: derived from geometry


@dataclass
class State:
    catalogue: Catalogue
    seq: int = 0
    last_hash: str = "0" * 64
    last_time: str | None = None
    alerts: dict[int, Alert] = field(default_factory=dict)
    # (region, type, status) -> alert id, for every alert not yet ended.
    active_index: dict[tuple[str, AlertType, AlertStatus], int] = field(default_factory=dict)
    incidents: dict[int, Incident] = field(default_factory=dict)
    settings: dict[str, RegionSettings] = field(default_factory=dict)
    next_alert_id: int = 1
    next_incident_id: int = 1
    # Unix second for HTTP Last-Modified: one more for every command (its events share a
    # time), so two states within one clock second never share it and If-Modified-Since
    # cannot answer 304 for a newer state; it runs ahead of the clock only during bursts of
    # more than one command a second, and meets it again after.
    _effective_cache: dict[tuple[int, AlertType], dict[str, Effective]] = field(
        default_factory=dict, repr=False)

    # ---- applying events -------------------------------------------------------------

    def apply(self, event: Event) -> None:
        if event.seq != self.seq + 1:
            raise ValueError(f"event {event.seq} applied out of order after {self.seq}")
        try:
            data = event.data
        except ValueError as error:
            raise ValueError(f"event {event.seq}: {error}") from None
        match data:
            case AlertDeclared():
                self._declared(event, data)
            case AlertUpdated():
                self._updated(event, data)
            case AlertEnded():  # and AlertWithdrawn, its subclass
                self._close(event, data, withdrawn=isinstance(data, AlertWithdrawn))
            case IncidentReported():
                self._incident_reported(event, data)
            case IncidentUpdated():
                self._incident_updated(event, data)
            case RegionConfigured():
                self._region_configured(event, data)
            case HistoryImported():
                pass  # imported history is kept apart (the history store): state untouched
        self.seq = event.seq
        self.last_hash = event.hash
        self.last_time = event.time
        self._effective_cache.clear()

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def _declared(self, event: Event, p: AlertDeclared) -> None:
        alert = Alert(
            id=p.alert_id,
            region=p.region,
            type=p.type,
            status=p.status,
            threats=p.threats,
            source=p.source,
            note=p.note,
            started_at=p.started_at or event.time,
            updated_at=event.time,
            shelter_seconds=p.shelter_seconds,
            declared_seq=event.seq,
            last_seq=event.seq,
        )
        self.alerts[alert.id] = alert
        self.active_index[(alert.region, alert.type, alert.status)] = alert.id
        self.next_alert_id = max(self.next_alert_id, alert.id + 1)

    def _updated(self, event: Event, p: AlertUpdated) -> None:
        alert = self.alerts[p.alert_id]
        changes: dict[str, Any] = {"updated_at": event.time, "last_seq": event.seq}
        if p.threats is not UNSET:
            changes["threats"] = p.threats
        if p.note is not UNSET:
            changes["note"] = p.note
        self.alerts[alert.id] = alert.with_changes(**changes)

    def _close(self, event: Event, p: AlertEnded, *, withdrawn: bool) -> None:
        alert = self.alerts[p.alert_id]
        self.alerts[alert.id] = alert.with_changes(
            ended_at=p.ended_at or event.time,
            updated_at=event.time,
            withdrawn=withdrawn,
            end_reason=p.reason or None,
            last_seq=event.seq,
        )
        self.active_index.pop((alert.region, alert.type, alert.status), None)

    def _incident_reported(self, event: Event, p: IncidentReported) -> None:
        def given(value: _T | UnsetType) -> _T | None:
            return None if value is UNSET else value

        incident = Incident(
            id=p.incident_id,
            kind=p.kind,
            region=p.region,
            status=p.status,
            source=p.source,
            description=p.description,
            reported_at=event.time,
            updated_at=event.time,
            address=given(p.address),
            latitude=given(p.latitude),
            longitude=given(p.longitude),
            killed=given(p.killed),
            injured=given(p.injured),
            embargo_until=given(p.embargo_until),
            alert_id=given(p.alert_id),
            history=({"seq": event.seq, "time": event.time, "status": p.status.value},),
            last_seq=event.seq,
        )
        self.incidents[incident.id] = incident
        self.next_incident_id = max(self.next_incident_id, incident.id + 1)

    def _incident_updated(self, event: Event, p: IncidentUpdated) -> None:
        incident = self.incidents[p.incident_id]
        changes = p.changes()
        changes["updated_at"] = event.time
        changes["last_seq"] = event.seq
        changes["history"] = (*incident.history,
                              {"seq": event.seq, "time": event.time, **event.payload})
        self.incidents[incident.id] = incident.with_changes(**changes)

    def _region_configured(self, event: Event, p: RegionConfigured) -> None:
        current = self.settings.get(p.region, RegionSettings())
        shelter = current.shelter_seconds
        neighbours = current.neighbours
        if p.shelter_seconds is not UNSET:
            shelter = p.shelter_seconds
        if p.neighbours is not UNSET:
            neighbours = p.neighbours
        self.settings[p.region] = RegionSettings(shelter, neighbours)

    # ---- queries -----------------------------------------------------------------------

    def active_alerts(self) -> list[Alert]:
        return [self.alerts[i] for i in sorted(self.active_index.values())]

    def find_active(self, region: str, type_: AlertType, status: AlertStatus) -> Alert | None:
        alert_id = self.active_index.get((region, type_, status))
        return None if alert_id is None else self.alerts[alert_id]

    def shelter_seconds(self, region: str) -> int | None:
        """The region's own setting, else the nearest ancestor's."""
        for code in (region, *self.catalogue.ancestors(region)):
            setting = self.settings.get(code)
            if setting is not None and setting.shelter_seconds is not None:
                return setting.shelter_seconds
        return None

    def neighbours(self, region: str) -> tuple[str, ...]:
        setting = self.settings.get(region)
        if setting is not None and setting.neighbours is not None:
            return setting.neighbours
        return self.catalogue.neighbours.get(region, ())

    def covering_alerts(self, region: str, *, include_drills: bool = True) -> list[Alert]:
        """Active alerts declared on the region or any of its ancestors."""
        chain = {region, *self.catalogue.ancestors(region)}
        return [a for a in self.active_alerts()
                if a.region in chain and (include_drills or a.status is AlertStatus.ACTUAL)]

    def effective(self, type_: AlertType) -> dict[str, Effective]:
        """Regions that are 'A' (covered) or 'P' (partly covered) by actual alerts of a type.

        A region is covered if it or an ancestor has an alert, or if every one of its children
        is covered and they divide it among them (raions of an oblast, hromadas of a raion,
        districts of a city). Exercises and tests never count.
        """
        key = (self.seq, type_)
        cached = self._effective_cache.get(key)
        if cached is not None:
            return cached
        catalogue = self.catalogue
        result: dict[str, Effective] = {}
        declared = [a.region for a in self.active_alerts()
                    if a.type is type_ and a.status is AlertStatus.ACTUAL]
        for region in declared:
            result[region] = "A"
            for code in catalogue.descendants(region):
                result[code] = "A"
        for region in declared:
            for code in catalogue.ancestors(region):
                if result.get(code) == "A":
                    continue
                result[code] = "P"
        # Roll up: a partly covered region whose partitioning children are all covered.
        changed = True
        while changed:
            changed = False
            for code, value in list(result.items()):
                if value != "P" or code == COUNTRY:
                    continue
                kids = [c for c in catalogue.children.get(code, ())
                        if catalogue[c].level in PARTITIONING_LEVELS]
                if kids and all(result.get(k) == "A" for k in kids):
                    result[code] = "A"
                    changed = True
        self._effective_cache[key] = result
        return result

    def effective_of(self, region: str, type_: AlertType) -> Effective:
        return self.effective(type_).get(region, "N")

    def effective_level(self, region: str) -> ThreatLevel | None:
        """The highest threat level of actual air-raid alerts covering a region or inside it."""
        best: ThreatLevel | None = None
        for alert in self.active_alerts():
            if alert.type is not AlertType.AIR_RAID or alert.status is not AlertStatus.ACTUAL:
                continue
            if not (self.catalogue.is_within(region, alert.region)
                    or self.catalogue.is_within(alert.region, region)):
                continue
            level = alert_level(alert.threats) or ThreatLevel.RED
            if level is ThreatLevel.RED:
                return level
            best = level
        return best

    def snapshot(self) -> dict[str, Any]:
        """A plain, comparable picture of everything the state holds (rebuild == live)."""
        return {
            "seq": self.seq,
            "last_hash": self.last_hash,
            "alerts": {k: v for k, v in sorted(self.alerts.items())},
            "active": sorted((r, t.value, s.value, i)
                             for (r, t, s), i in self.active_index.items()),
            "incidents": dict(sorted(self.incidents.items())),
            "settings": dict(sorted(self.settings.items())),
            "next": (self.next_alert_id, self.next_incident_id),
        }

