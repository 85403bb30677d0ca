"""Typed events: each kind's class writes exactly the payload the log has always stored."""

from __future__ import annotations

from typing import Any

import pytest

from tryvoga.commands import (
    CapRef,
    ConfigureRegion,
    Declare,
    EndAlert,
    EndByRegion,
    ReportIncident,
    UpdateAlert,
    UpdateIncident,
)
from tryvoga.domain.events import (
    PAYLOADS,
    AlertDeclared,
    AlertEnded,
    Kind,
    NewEvent,
    decode_payload,
)
from tryvoga.domain.model import AlertStatus, AlertType
from tryvoga.domain.state import State
from tryvoga.service import Actor, Service

from ..regions import KYIV

CAP_FIELDS = {"sender": "test@example.org", "identifier": "id-1",
              "sent": "2023-05-20T00:41:31+03:00"}
CAP = CapRef(**CAP_FIELDS)


def payloads(service: Service) -> list[tuple[str, dict[str, Any]]]:
    return [(e.kind, e.payload) for e in service.storage.iter_events()]


def test_stored_payloads_keep_their_shape(service: Service, admin: Actor) -> None:
    """The JSON each command stores, key for key (it is hashed: a changed shape would change
    the chain of every new event)."""
    service.handle(admin, ConfigureRegion.of(shelter_seconds=90), KYIV)
    service.handle(
        admin,
        Declare.of(
            regions=[KYIV],
            threats=[{"type": "drones", "level": "yellow"}],
            source="s",
            note="n",
            started_at="2020-01-01T00:00:00+00:00",
            type="air_raid",
        ),
        cap=CAP,
    )
    service.handle(admin, UpdateAlert.of(note="later"), 1)
    service.handle(admin, UpdateAlert.of(threats=[{"type": "missiles"}]), 1, cap=CAP)
    service.handle(admin, EndAlert.of(), 1)
    service.handle(admin, Declare.of(regions=[KYIV], status="exercise", type="air_raid"))
    service.handle(
        admin,
        EndByRegion.of(
            region=KYIV,
            status="exercise",
            withdraw=True,
            reason="mistake",
            type="air_raid",
        ),
    )
    service.handle(
        admin,
        ReportIncident.of(
            kind="debris",
            region=KYIV,
            source="police",
            latitude=50.45,
            longitude=30.52,
            killed=0,
        ),
    )
    service.handle(admin, UpdateIncident.of(status="confirmed", address=None, killed=2), 1)
    service.handle(admin, ConfigureRegion.of(neighbours=None), KYIV)
    got = payloads(service)
    times = [e.time for e in service.storage.iter_events()]
    assert got == [
        ("region.configured", {"region": KYIV, "shelter_seconds": 90}),
        ("alert.declared", {"alert_id": 1, "region": KYIV, "type": "air_raid",
                            "status": "actual", "threats": [{"type": "drones",
                                                             "level": "yellow"}],
                            "source": "s", "note": "n", "shelter_seconds": 90,
                            "started_at": "2020-01-01T00:00:00.000Z", "cap": CAP_FIELDS}),
        ("alert.updated", {"alert_id": 1, "region": KYIV, "type": "air_raid",
                           "note": "later"}),
        ("alert.updated", {"alert_id": 1, "region": KYIV, "type": "air_raid",
                           "threats": [{"type": "missiles", "level": "red"}], "cap": CAP_FIELDS}),
        ("alert.ended", {"alert_id": 1, "region": KYIV, "type": "air_raid"}),
        ("alert.declared", {"alert_id": 2, "region": KYIV, "type": "air_raid",
                            "status": "exercise", "threats": [], "source": "", "note": "",
                            "shelter_seconds": 90}),
        ("alert.withdrawn", {"alert_id": 2, "region": KYIV, "type": "air_raid",
                             "reason": "mistake"}),
        ("incident.reported", {"incident_id": 1, "kind": "debris", "region": KYIV,
                               "status": "preliminary", "source": "police",
                               "description": "", "latitude": 50.45, "longitude": 30.52,
                               "killed": 0}),
        ("incident.updated", {"incident_id": 1, "status": "confirmed", "killed": 2}),
        ("region.configured", {"region": KYIV, "neighbours": None}),
    ]
    assert len(set(times)) == len(times)


def test_every_payload_reads_back_as_its_class_and_writes_the_same(
        service: Service, admin: Actor) -> None:
    service.handle(admin, Declare.of(regions=[KYIV], type="air_raid"), cap=CAP)
    service.handle(admin, EndAlert.of(reason="over"), 1)
    service.handle(
        admin,
        ReportIncident.of(
            kind="fire",
            region=KYIV,
            source="x",
            alert_id=1,
            embargo_until="2030-01-01T00:00:00Z",
        ),
    )
    service.handle(admin, UpdateIncident.of(address="street", latitude=1, longitude=2), 1)
    seen = set()
    for event in service.storage.iter_events():
        data = event.data
        assert isinstance(data, PAYLOADS[Kind(event.kind)])
        assert data.to_json() == event.payload
        seen.add(event.kind)
    assert len(seen) == 4
    rebuilt = State(service.catalogue)
    rebuilt.apply_all(service.storage.iter_events())
    assert rebuilt.snapshot() == service.state.snapshot()
    assert rebuilt.incidents[1].latitude == 1.0


def test_a_payload_of_the_wrong_shape_or_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        decode_payload("alert.teleported", {})
    with pytest.raises(ValueError, match="wrong shape"):
        decode_payload("alert.declared", {"alert_id": "1", "region": KYIV,
                                          "type": "air_raid", "status": "actual"})
    with pytest.raises(ValueError, match="wrong shape"):
        decode_payload("alert.ended", {"alert_id": 1, "region": KYIV, "type": "meteor"})
    declared = AlertDeclared(alert_id=1, region=KYIV, type=AlertType.AIR_RAID,
                             status=AlertStatus.ACTUAL)
    with pytest.raises(ValueError, match=r"not a alert\.ended"):
        NewEvent(Kind.ALERT_ENDED, declared)
    assert NewEvent.of(declared).kind is Kind.ALERT_DECLARED
    assert AlertEnded(alert_id=1, region=KYIV, type=AlertType.NUCLEAR).to_json() == {
        "alert_id": 1, "region": KYIV, "type": "nuclear"}


def test_every_kind_has_one_class() -> None:
    assert set(PAYLOADS) == set(Kind)
    assert all(cls.KIND is kind for kind, cls in PAYLOADS.items())
