"""Commands: lifecycle, hierarchy roll-up, idempotency, authorization, incidents, settings."""

from __future__ import annotations

from typing import Any

import pytest

from tests.regions import KYIV
from tryvoga.api.formats import outbox
from tryvoga.commands import (
    ConfigureRegion,
    Declare,
    EndAlert,
    EndByRegion,
    ReportIncident,
    UpdateAlert,
    UpdateIncident,
)
from tryvoga.domain.model import AlertType
from tryvoga.domain.regions import COUNTRY, Catalogue, Level
from tryvoga.errors import BadRequest, Conflict, Forbidden, NotFound
from tryvoga.service import Actor, Service

from .conftest import by_api_id

DRONES_YELLOW = [{"type": "drones", "level": "yellow"}]


def children_at(catalogue: Catalogue, code: str, level: Level) -> list[str]:
    return [c for c in catalogue.children[code] if catalogue[c].level is level]


def test_declare_update_end_lifecycle(service: Service, admin: Actor) -> None:
    seq0 = service.state.seq
    result = service.handle(
        admin,
        Declare.of(regions=[KYIV], threats=DRONES_YELLOW, source="KCMA", type="air_raid"),
    )
    assert result.created
    alert = result.body["alerts"][0]
    assert alert["region"] == KYIV and alert["type"] == "air_raid" and alert["created"]
    assert alert["threats"] == [{"type": "drones", "level": "yellow"}]
    assert alert["level"] == "yellow" and alert["active"] and alert["ended_at"] is None
    assert service.state.seq == seq0 + 1

    threats = [{"type": "missiles", "level": "red"}, {"type": "drones", "level": "yellow"}]
    updated = service.handle(admin, UpdateAlert.of(threats=threats), alert["id"])
    assert [t["type"] for t in updated.body["alert"]["threats"]] == ["drones", "missiles"]
    assert updated.body["alert"]["level"] == "red"

    ended = service.handle(admin, EndAlert.of(), alert["id"])
    body = ended.body["alert"]
    assert not body["active"] and body["ended_at"] is not None
    assert body["duration_seconds"] >= 0
    assert service.state.seq == seq0 + 3
    assert service.state.active_alerts() == []


def test_declaring_an_active_type_returns_the_existing_alert(service: Service,
                                                             admin: Actor) -> None:
    first = service.handle(admin, Declare.of(regions=[KYIV], type="air_raid"))
    seq = service.state.seq
    again = service.handle(admin, Declare.of(regions=[KYIV], type="air_raid"))
    assert not again.created
    assert again.body["alerts"][0]["id"] == first.body["alerts"][0]["id"]
    assert not again.body["alerts"][0]["created"]
    assert again.events == () and service.state.seq == seq


def test_ending_an_inactive_alert_is_a_conflict(service: Service, admin: Actor) -> None:
    alert_id = service.handle(
        admin,
        Declare.of(regions=[KYIV], type="air_raid"),
    ).body["alerts"][0]["id"]
    service.handle(admin, EndAlert.of(), alert_id)
    seq = service.state.seq
    with pytest.raises(Conflict) as info:
        service.handle(admin, EndAlert.of(), alert_id)
    assert info.value.status == 409 and info.value.code == "alert_not_active"
    with pytest.raises(Conflict):
        service.handle(admin, EndByRegion.of(region=KYIV, type="air_raid"))
    assert service.state.seq == seq


def test_end_by_region_and_type(service: Service, admin: Actor) -> None:
    service.handle(admin, Declare.of(regions=[KYIV], type="artillery_shelling"))
    result = service.handle(admin, EndByRegion.of(region=KYIV, type="artillery_shelling"))
    assert result.body["alert"]["type"] == "artillery_shelling"
    assert not result.body["alert"]["active"]


def test_idempotency_key_replays_the_first_answer(service: Service, admin: Actor) -> None:
    first = service.handle(
        admin,
        Declare.of(regions=[KYIV], type="air_raid"),
        idempotency_key="k-1",
    )
    seq = service.state.seq
    alert_id = first.body["alerts"][0]["id"]
    service.handle(admin, EndAlert.of(), alert_id)
    # The retry arrives after the end: it must not declare a second alert.
    retry = service.handle(
        admin,
        Declare.of(regions=[KYIV], type="air_raid"),
        idempotency_key="k-1",
    )
    assert retry.replayed and retry.created and retry.body == first.body
    assert service.state.seq == seq + 1
    assert service.state.active_alerts() == []
    with pytest.raises(Conflict) as info:
        service.handle(admin, Declare.of(regions=[KYIV], type="nuclear"), idempotency_key="k-1")
    assert info.value.code == "idempotency_key_reused"


def test_idempotency_keys_are_per_token(service: Service) -> None:
    a = service.handle(
        Actor("a"),
        Declare.of(regions=[KYIV], type="air_raid"),
        idempotency_key="same",
    )
    service.handle(Actor("a"), EndAlert.of(), a.body["alerts"][0]["id"])
    b = service.handle(
        Actor("b"),
        Declare.of(regions=[KYIV], type="air_raid"),
        idempotency_key="same",
    )
    assert not b.replayed and b.body["alerts"][0]["id"] != a.body["alerts"][0]["id"]


def test_scope_limits_writes(service: Service, catalogue: Catalogue) -> None:
    lviv = by_api_id(catalogue, 27).code
    kyiv_ops = Actor("kyiv-ops", (KYIV,))
    district = catalogue.children[KYIV][0]
    assert service.handle(kyiv_ops, Declare.of(regions=[district], type="air_raid")).created
    seq = service.state.seq
    with pytest.raises(Forbidden) as info:
        service.handle(kyiv_ops, Declare.of(regions=[KYIV, lviv], type="air_raid"))
    assert info.value.code == "out_of_scope" and info.value.field == "regions[1]"
    assert service.state.seq == seq  # nothing half-applied
    with pytest.raises(Forbidden):
        service.handle(
            Actor("reader", (COUNTRY,), write=False),
            Declare.of(regions=[KYIV], type="air_raid"),
        )
    other = service.handle(
        Actor("lviv", (lviv,)),
        Declare.of(regions=[lviv], type="air_raid"),
    ).body["alerts"][0]
    with pytest.raises(Forbidden):
        service.handle(kyiv_ops, EndAlert.of(), other["id"])


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"regions": ["UA00000000000000000"], "type_": "air_raid"}, "regions[0]"),
    ({"regions": [], "type_": "air_raid"}, "regions"),
    ({"regions": [KYIV], "type_": "tornado"}, "type"),
    ({"regions": [KYIV], "type_": "air_raid", "status": "real"}, "status"),
    ({"regions": [KYIV], "type_": "air_raid", "threats": [{"type": "ufo"}]}, "threats[0].type"),
    ({"regions": [KYIV], "type_": "air_raid",
      "threats": [{"type": "drones", "level": "green"}]}, "threats[0].level"),
    ({"regions": [KYIV], "type_": "air_raid", "started_at": "yesterday"}, "started_at"),
    ({"regions": [KYIV], "type_": "air_raid", "source": 5}, "source"),
])
def test_bad_declarations_name_the_field_and_append_nothing(
        service: Service, admin: Actor, kwargs: dict[str, Any], field: str) -> None:
    kwargs["type"] = kwargs.pop("type_")
    with pytest.raises((BadRequest, NotFound)) as info:
        service.handle(admin, Declare.of(**kwargs))
    assert info.value.field == field
    assert service.state.seq == 0


def test_hierarchy_roll_up(service: Service, admin: Actor, catalogue: Catalogue) -> None:
    oblast = by_api_id(catalogue, 22).code  # Kharkiv oblast
    raions = children_at(catalogue, oblast, Level.RAION)
    hromada = children_at(catalogue, raions[0], Level.HROMADA)[0]
    service.handle(admin, Declare.of(regions=[hromada], type="air_raid"))
    state = service.state
    assert state.effective_of(hromada, AlertType.AIR_RAID) == "A"
    assert state.effective_of(raions[0], AlertType.AIR_RAID) == "P"
    assert state.effective_of(oblast, AlertType.AIR_RAID) == "P"
    assert state.effective_of(COUNTRY, AlertType.AIR_RAID) == "P"
    assert state.effective_of(raions[1], AlertType.AIR_RAID) == "N"
    assert state.effective_of(oblast, AlertType.ARTILLERY_SHELLING) == "N"
    # Every raion under alert: the oblast as a whole is.
    service.handle(admin, Declare.of(regions=raions, type="air_raid"))
    assert service.state.effective_of(oblast, AlertType.AIR_RAID) == "A"
    # An oblast-level alert covers every descendant, down to city districts.
    kyiv_oblast = by_api_id(catalogue, 14).code
    service.handle(admin, Declare.of(regions=[kyiv_oblast], type="air_raid"))
    for code in list(catalogue.descendants(kyiv_oblast))[:50]:
        assert service.state.effective_of(code, AlertType.AIR_RAID) == "A"
    assert service.state.effective_of(KYIV, AlertType.AIR_RAID) == "N"  # a separate region


def test_exercise_is_flagged_and_not_counted(service: Service, admin: Actor) -> None:
    drill = service.handle(
        admin,
        Declare.of(regions=[KYIV], status="exercise", type="air_raid"),
    ).body["alerts"][0]
    assert drill["status"] == "exercise" and drill["actual"] is False
    assert service.state.effective_of(KYIV, AlertType.AIR_RAID) == "N"
    # A real alert during a drill is a separate alert, never merged into the drill.
    real = service.handle(admin, Declare.of(regions=[KYIV], type="air_raid")).body["alerts"][0]
    assert real["id"] != drill["id"] and real["actual"] is True
    assert service.state.effective_of(KYIV, AlertType.AIR_RAID) == "A"


def test_withdrawn_alert_is_marked(service: Service, admin: Actor) -> None:
    alert_id = service.handle(
        admin,
        Declare.of(regions=[KYIV], type="chemical"),
    ).body["alerts"][0]["id"]
    body = service.handle(admin, EndAlert.of(withdraw=True, reason="sent in error"), alert_id).body
    assert body["alert"]["withdrawn"] and body["alert"]["end_reason"] == "sent in error"


def test_shelter_seconds_inherit(service: Service, admin: Actor, catalogue: Catalogue) -> None:
    district = catalogue.children[KYIV][0]
    service.handle(admin, ConfigureRegion.of(shelter_seconds=120), KYIV)
    assert service.state.shelter_seconds(district) == 120
    service.handle(admin, ConfigureRegion.of(shelter_seconds=60), district)
    assert service.state.shelter_seconds(district) == 60
    alert = service.handle(admin, Declare.of(regions=[district], type="air_raid")).body["alerts"][0]
    assert alert["shelter_seconds"] == 60
    with pytest.raises(BadRequest):
        service.handle(admin, ConfigureRegion.of(shelter_seconds=-1), KYIV)


def test_neighbours_default_from_geometry_and_editable(service: Service, admin: Actor,
                                                       catalogue: Catalogue) -> None:
    kyiv_oblast = by_api_id(catalogue, 14).code
    assert service.state.neighbours(KYIV) == (kyiv_oblast,)
    lviv = by_api_id(catalogue, 27).code
    service.handle(admin, ConfigureRegion.of(neighbours=[kyiv_oblast, lviv]), KYIV)
    assert set(service.state.neighbours(KYIV)) == {kyiv_oblast, lviv}
    service.handle(admin, ConfigureRegion.of(neighbours=None), KYIV)
    assert service.state.neighbours(KYIV) == (kyiv_oblast,)


def test_incident_lifecycle(service: Service, admin: Actor, catalogue: Catalogue) -> None:
    district = catalogue.children[KYIV][0]
    alert_id = service.handle(
        admin,
        Declare.of(regions=[KYIV], type="air_raid"),
    ).body["alerts"][0]["id"]
    report = service.handle(
        admin,
        ReportIncident.of(
            kind="fire",
            region=district,
            source="Kyiv City Military Administration",
            description="fire in a 10-storey building",
            alert_id=alert_id,
        ),
    )
    incident = report.body["incident"]
    assert report.created and incident["status"] == "preliminary"
    assert incident["alert_id"] == alert_id
    confirmed = service.handle(
        admin,
        UpdateIncident.of(status="confirmed", injured=2),
        incident["id"],
    )
    assert confirmed.body["incident"]["status"] == "confirmed"
    assert confirmed.body["incident"]["injured"] == 2
    with pytest.raises(Conflict):
        service.handle(admin, UpdateIncident.of(status="preliminary"), incident["id"])
    service.handle(admin, UpdateIncident.of(status="retracted"), incident["id"])
    with pytest.raises(Conflict):
        service.handle(admin, UpdateIncident.of(status="confirmed"), incident["id"])
    with pytest.raises(BadRequest):
        service.handle(
            admin,
            ReportIncident.of(kind="fire", region=district, source="x", killed=-1),
        )
    with pytest.raises(BadRequest):
        service.handle(admin, ReportIncident.of(kind="fire", region=district))


def test_state_survives_a_restart(storage: object, db_path: object, catalogue: Catalogue,
                                  admin: Actor) -> None:
    from tryvoga.storage.sqlite import SQLiteStorage

    first = SQLiteStorage(str(db_path))
    service = Service(first, catalogue, outbox=outbox(catalogue))
    alert_id = service.handle(
        admin,
        Declare.of(regions=[KYIV], type="air_raid"),
    ).body["alerts"][0]["id"]
    first.close()
    second = SQLiteStorage(str(db_path))
    reopened = Service(second, catalogue, outbox=outbox(catalogue))
    assert [a.id for a in reopened.state.active_alerts()] == [alert_id]
    assert reopened.state.snapshot() == service.state.snapshot()
    second.close()
