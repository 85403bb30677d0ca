"""What the native API answers, as typed models: the source of the OpenAPI response schemas.

The handlers build their answers with the renderers in ``domain/render.py`` (plain dicts, so
that a polled read costs one ``dumps``); these models say what those answers hold, field for
field (an unknown field is refused, ``additionalProperties: false``), and
``tests/api/test_openapi.py`` checks real answers of every documented path against the schemas
generated from them, so a renderer and its description cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from tryvoga.domain.events import Kind
from tryvoga.domain.model import (
    AlertStatus,
    AlertType,
    IncidentKind,
    IncidentStatus,
    ThreatLevel,
    ThreatType,
)
from tryvoga.domain.regions import Level

Effective = Literal["A", "P", "N"]
Seq = Annotated[int, Meta(ge=0)]


class View(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class ErrorDetail(View, frozen=True, kw_only=True):
    code: str
    message: str
    status: Annotated[int, Meta(ge=400, le=599)]
    field: str | None = None


class Error(View, frozen=True, kw_only=True):
    """Every error answer, from every endpoint (``docs/errors.md``)."""

    error: ErrorDetail


class RegionBrief(View, frozen=True, kw_only=True):
    code: str
    name_uk: str
    name_en: str
    level: Level
    parent: str | None


class RegionListed(RegionBrief, frozen=True, kw_only=True):
    iso: str | None
    api_id: int | None


class RegionList(View, frozen=True, kw_only=True):
    regions: list[RegionListed]
    ambiguous: bool


class ThreatView(View, frozen=True, kw_only=True):
    type: ThreatType
    level: ThreatLevel


class AlertView(View, frozen=True, kw_only=True):
    id: int
    region: str
    region_name_uk: str
    region_name_en: str
    region_level: Level
    type: AlertType
    status: AlertStatus
    actual: bool
    active: bool
    threats: list[ThreatView]
    level: ThreatLevel | None
    source: str
    note: str
    shelter_seconds: int | None
    started_at: str
    updated_at: str
    ended_at: str | None
    duration_seconds: int | None
    withdrawn: bool
    end_reason: str | None


class AlertCovering(AlertView, frozen=True, kw_only=True):
    inherited: bool


class AlertCreated(AlertView, frozen=True, kw_only=True):
    created: bool


class LiveHistoryAlert(AlertView, frozen=True, kw_only=True):
    imported: Literal[False]


class ImportedHistoryAlert(View, frozen=True, kw_only=True):
    """An alert of an imported historical record (id ``h<n>``)."""

    id: Annotated[str, Meta(pattern=r"^h[0-9]+$")]
    region: str
    region_name_uk: str
    region_name_en: str
    region_level: Level
    type: AlertType
    status: Literal["actual"]
    actual: Literal[True]
    active: Literal[False]
    threats: list[ThreatView]
    level: None
    source: str
    note: str
    shelter_seconds: None
    started_at: str
    updated_at: str
    ended_at: str
    duration_seconds: int
    withdrawn: Literal[False]
    end_reason: None
    imported: Literal[True]
    import_: int = msgspec.field(name="import")
    place: str
    end_estimated: bool


class RegionDetail(RegionListed, frozen=True, kw_only=True):
    ancestors: list[RegionBrief]
    children: list[RegionBrief]
    shelter_seconds: int | None
    neighbours: list[RegionBrief]
    status: dict[str, Effective]
    alerts: list[AlertCovering]
    alerts_inside: list[AlertView]
    version: Seq


class RegionSettings(View, frozen=True, kw_only=True):
    region: str
    shelter_seconds: int | None
    neighbours: list[str]


class ActiveAlerts(View, frozen=True, kw_only=True):
    version: Seq
    alerts: list[AlertView]


class Declared(View, frozen=True, kw_only=True):
    alerts: list[AlertCreated]


class OneAlert(View, frozen=True, kw_only=True):
    alert: AlertView


class Status(View, frozen=True, kw_only=True):
    version: Seq
    updated_at: str | None
    regions: dict[str, dict[str, Effective]]


class HistoryPage(View, frozen=True, kw_only=True):
    # LiveHistoryAlert or ImportedHistoryAlert (msgspec cannot type an untagged union of two
    # models; openapi.py writes the anyOf).
    alerts: list[dict[str, Any]]
    next: str | None
    version: Seq


class IncidentView(View, frozen=True, kw_only=True):
    id: int
    kind: IncidentKind
    region: str
    region_name_uk: str
    region_name_en: str
    status: IncidentStatus
    source: str
    description: str
    address: str | None
    latitude: float | None
    longitude: float | None
    killed: int | None
    injured: int | None
    embargo_until: str | None
    alert_id: int | None
    reported_at: str
    updated_at: str
    history: list[dict[str, Any]]


class OneIncident(View, frozen=True, kw_only=True):
    incident: IncidentView


class Incidents(View, frozen=True, kw_only=True):
    incidents: list[IncidentView]
    version: Seq


class EventView(View, frozen=True, kw_only=True):
    """One event of the log as stored and hashed (``domain/events.py`` types each kind's
    payload); an incident under embargo shows ``{incident_id, embargoed, embargo_until}``."""

    seq: Annotated[int, Meta(ge=1)]
    time: str
    actor: str
    kind: Kind
    payload: dict[str, Any]
    prev_hash: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
    hash: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]


class Events(View, frozen=True, kw_only=True):
    events: list[EventView]
    next: Seq | None
    version: Seq


VIEWS: tuple[type[View], ...] = (
    LiveHistoryAlert, ImportedHistoryAlert, Error, RegionList, RegionDetail, RegionSettings,
    ActiveAlerts, Declared, OneAlert, Status, HistoryPage, OneIncident, Incidents, Events)

__all__ = ["VIEWS", "View"]
