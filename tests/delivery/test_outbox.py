"""The outbox: deliveries queued in the event's own transaction, by the streams' filters."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.regions import DROHOBYCH_RAION, KYIV, LVIV_OBLAST
from tests.regions import KYIV_DARNYTSKYI as DARNYTSKYI
from tryvoga.commands import Declare, EndAlert, ReportIncident
from tryvoga.delivery.safety import Policy
from tryvoga.delivery.store import DeliveryStore
from tryvoga.delivery.subscriptions import Webhooks
from tryvoga.domain.events import AlertDeclared, NewEvent
from tryvoga.domain.model import AlertStatus, AlertType
from tryvoga.domain.regions import COUNTRY, Catalogue
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, Forbidden, NotFound
from tryvoga.service import Actor, Decision, Outcome, Service

URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def hooks(db_path: Path, catalogue: Catalogue, service: Service) -> Iterator[Webhooks]:
    store = DeliveryStore(db_path)
    yield Webhooks(store, catalogue, Policy(["127.0.0.0/8"]))
    store.close()


def subscribe(hooks: Webhooks, actor: Actor, **body: Any) -> str:
    result = hooks.create(actor, {"url": URL, **body})
    answer = result.body
    assert result.created and answer["secret"].startswith("whsec_")
    webhook_id: str = answer["webhook"]["id"]
    return webhook_id


def queued(db_path: Path) -> dict[str, list[int]]:
    """webhook id -> event sequence numbers queued for it."""
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT webhook, event_seq FROM webhook_deliveries "
                            "ORDER BY event_seq").fetchall()
    out: dict[str, list[int]] = {}
    for webhook, seq in rows:
        out.setdefault(webhook, []).append(seq)
    return out


def test_filters_select_by_subtree_inheritance_type_and_kind(
        service: Service, hooks: Webhooks, admin: Actor, db_path: Path) -> None:
    everything = subscribe(hooks, admin)
    kyiv = subscribe(hooks, admin, regions=[KYIV])
    district = subscribe(hooks, admin, regions=[DARNYTSKYI])
    raion = subscribe(hooks, admin, regions=[DROHOBYCH_RAION])
    air_raid = subscribe(hooks, admin, types=["air_raid"])
    endings = subscribe(hooks, admin, kinds=["alert.ended"])
    incidents = subscribe(hooks, admin, kinds=["incident.*"], regions=[KYIV])

    country = service.handle(admin, Declare.of(regions=[COUNTRY], type="air_raid")).events[0].seq
    oblast = service.handle(
        admin,
        Declare.of(regions=[LVIV_OBLAST], type="artillery_shelling"),
    ).events[0].seq
    in_kyiv = service.handle(admin, Declare.of(regions=[KYIV], type="urban_fights")).events[0]
    ended = service.handle(admin, EndAlert.of(), in_kyiv.payload["alert_id"]).events[0].seq
    reported = service.handle(
        admin,
        ReportIncident.of(kind="fire", region=DARNYTSKYI, source="KCMA"),
    ).events[0].seq

    got = queued(db_path)
    assert got[everything] == [country, oblast, in_kyiv.seq, ended, reported]
    # Alerts declared above a subscribed region are inherited by it.
    assert got[kyiv] == [country, in_kyiv.seq, ended, reported]
    assert got[district] == [country, in_kyiv.seq, ended, reported]
    assert got[raion] == [country, oblast]
    # A type filter narrows alert events only; the incident carries no alert type.
    assert got[air_raid] == [country, reported]
    assert got[endings] == [ended]
    assert got[incidents] == [reported]


def test_outbox_rows_commit_and_roll_back_with_the_event(
        service: Service, hooks: Webhooks, admin: Actor, db_path: Path) -> None:
    webhook_id = subscribe(hooks, admin)
    with pytest.raises(NotFound):
        service.handle(admin, Declare.of(regions=["UA999"], type="air_raid"))
    assert queued(db_path) == {}

    def decide(state: State, time: str) -> Decision:
        event = NewEvent.of(AlertDeclared(
            alert_id=state.next_alert_id, region=KYIV, type=AlertType.AIR_RAID,
            status=AlertStatus.ACTUAL))

        def respond(after: State) -> tuple[Outcome, dict[str, Any]]:
            raise BadRequest("fails after the event and its deliveries were written")

        return [event], respond

    with pytest.raises(BadRequest):
        service._execute(admin, None, {"op": "test"}, decide)
    assert queued(db_path) == {} and service.storage.read_events() == []

    seq = service.handle(admin, Declare.of(regions=[KYIV], type="air_raid")).events[0].seq
    assert queued(db_path) == {webhook_id: [seq]}


def test_a_subscription_made_elsewhere_is_seen_by_the_next_event(
        service: Service, catalogue: Catalogue, admin: Actor, db_path: Path) -> None:
    first = service.handle(
        admin,
        Declare.of(regions=[KYIV], type="air_raid"),
    ).events[0].seq  # caches "no webhooks"
    other_process = DeliveryStore(db_path)
    try:
        webhook_id = subscribe(Webhooks(other_process, catalogue, Policy(["127.0.0.0/8"])),
                               admin, regions=[KYIV])
    finally:
        other_process.close()
    second = service.handle(admin, Declare.of(regions=[KYIV], type="nuclear")).events[0].seq
    assert queued(db_path) == {webhook_id: [second]} and first < second

    hooks = Webhooks(DeliveryStore(db_path), catalogue, Policy())
    hooks.delete(admin, webhook_id)
    service.handle(admin, Declare.of(regions=[KYIV], type="chemical"))
    assert queued(db_path) == {webhook_id: [second]}  # and the pending one was cancelled
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT state FROM webhook_deliveries").fetchall() == [
            ("cancelled",)]
    hooks.store.close()


def test_an_embargoed_incident_is_held_back_until_the_embargo_ends(
        service: Service, hooks: Webhooks, admin: Actor, db_path: Path) -> None:
    subscribe(hooks, admin)
    service.handle(
        admin,
        ReportIncident.of(
            kind="debris",
            region=DARNYTSKYI,
            source="KCMA",
            embargo_until="2099-01-01T00:00:00Z",
        ),
    )
    service.handle(admin, ReportIncident.of(kind="fire", region=DARNYTSKYI, source="KCMA"))
    with sqlite3.connect(db_path) as conn:
        dues = [row[0] for row in conn.execute(
            "SELECT due FROM webhook_deliveries ORDER BY event_seq")]
    assert dues[0] == 4070908800.0 and dues[1] < dues[0]


def test_scope_validation_and_visibility(hooks: Webhooks, admin: Actor) -> None:
    kyiv_writer = Actor("kyiv", (KYIV,))
    own = subscribe(hooks, kyiv_writer)  # no regions: the token's scope
    assert hooks.get(kyiv_writer, own)["regions"] == [KYIV]
    country = subscribe(hooks, admin)
    with pytest.raises(Forbidden) as refused:
        hooks.create(kyiv_writer, {"url": URL, "regions": [LVIV_OBLAST]})
    assert refused.value.code == "out_of_scope"
    assert [w["id"] for w in hooks.list(kyiv_writer)] == [own]
    assert {w["id"] for w in hooks.list(admin)} == {own, country}
    with pytest.raises(NotFound):
        hooks.delete(kyiv_writer, country)
    with pytest.raises(Forbidden) as read_only:
        hooks.list(Actor("reader", (COUNTRY,), write=False))
    assert read_only.value.code == "token_read_only"
    cases: list[tuple[dict[str, Any], str]] = [
                        ({"url": "ftp://example.org/"}, "url"),
                        ({"url": URL, "types": ["rain"]}, "types"),
                        ({"url": URL, "kinds": ["alert.nope"]}, "kinds"),
                        ({"url": URL, "format": "xml"}, "format"),
                        ({"url": URL, "colour": "red"}, "colour")]
    for body, field in cases:
        with pytest.raises(BadRequest) as bad:
            hooks.create(admin, body)
        assert bad.value.field == field


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/hook", "http://192.168.1.10:8080/", "http://169.254.169.254/latest",
    "http://[::1]/", "http://0.0.0.0/", "https://localhost/", "http://[::ffff:127.0.0.1]/",
    "http://100.64.0.1/"])
def test_private_destinations_are_refused_unless_allowed(hooks: Webhooks, admin: Actor,
                                                         url: str) -> None:
    strict = Webhooks(hooks.store, hooks.catalogue, Policy())
    with pytest.raises(BadRequest) as refused:
        strict.create(admin, {"url": url})
    assert refused.value.code == "webhook_destination_refused"


@pytest.mark.parametrize("url", ["http://127.1/", "http://2130706433/", "http://0x7f.1/",
                                 "http://user:pw@example.org/", "http:///nohost",
                                 "mailto:someone@example.org"])
def test_odd_urls_are_refused(hooks: Webhooks, admin: Actor, url: str) -> None:
    with pytest.raises(BadRequest) as refused:
        hooks.create(admin, {"url": url})
    assert refused.value.code == "webhook_url_invalid" and refused.value.field == "url"
