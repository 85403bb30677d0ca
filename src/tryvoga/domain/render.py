"""The native JSON form of alerts, incidents and regions (pure functions of the state)."""

from __future__ import annotations

from typing import Any

from tryvoga.domain.events import Event, IncidentReported, IncidentUpdated, parse_time
from tryvoga.domain.model import Alert, AlertStatus, Incident, alert_level, threats_to_json
from tryvoga.domain.regions import Region
from tryvoga.domain.state import State


def duration_seconds(started_at: str, ended_at: str | None) -> int | None:
    if ended_at is None:
        return None
    return int((parse_time(ended_at) - parse_time(started_at)).total_seconds())


def region_brief(region: Region) -> dict[str, Any]:
    return {"code": region.code, "name_uk": region.name_uk, "name_en": region.name_en,
            "level": region.level.value, "parent": region.parent}


def alert_json(alert: Alert, state: State) -> dict[str, Any]:
    region = state.catalogue[alert.region]
    level = alert_level(alert.threats)
    shelter = state.shelter_seconds(alert.region) if alert.active else alert.shelter_seconds
    return {
        "id": alert.id,
        "region": alert.region,
        "region_name_uk": region.name_uk,
        "region_name_en": region.name_en,
        "region_level": region.level.value,
        "type": alert.type.value,
        "status": alert.status.value,
        "actual": alert.status is AlertStatus.ACTUAL,
        "active": alert.active,
        "threats": threats_to_json(alert.threats),
        "level": None if level is None else level.value,
        "source": alert.source,
        "note": alert.note,
        "shelter_seconds": shelter,
        "started_at": alert.started_at,
        "updated_at": alert.updated_at,
        "ended_at": alert.ended_at,
        "duration_seconds": duration_seconds(alert.started_at, alert.ended_at),
        "withdrawn": alert.withdrawn,
        "end_reason": alert.end_reason,
    }


def incident_json(incident: Incident, state: State) -> dict[str, Any]:
    region = state.catalogue[incident.region]
    return {
        "id": incident.id,
        "kind": incident.kind.value,
        "region": incident.region,
        "region_name_uk": region.name_uk,
        "region_name_en": region.name_en,
        "status": incident.status.value,
        "source": incident.source,
        "description": incident.description,
        "address": incident.address,
        "latitude": incident.latitude,
        "longitude": incident.longitude,
        "killed": incident.killed,
        "injured": incident.injured,
        "embargo_until": incident.embargo_until,
        "alert_id": incident.alert_id,
        "reported_at": incident.reported_at,
        "updated_at": incident.updated_at,
        "history": list(incident.history),
    }


def public_event_json(event: Event, state: State, now: str) -> dict[str, Any]:
    """An event as the public sees it: an incident under embargo shows only that it exists.

    The event itself is in the log, hash and all; its content is withheld until the embargo
    ends, so a reader cannot verify that one event's hash before then.
    """
    body = event.to_json()
    data = event.data
    if isinstance(data, IncidentReported | IncidentUpdated):
        incident = state.incidents.get(data.incident_id)
        if incident is not None and not incident.public_at(now):
            body["payload"] = {"incident_id": incident.id, "embargoed": True,
                               "embargo_until": incident.embargo_until}
    return body
