"""CAP in: messages become events through the Service; chains, duplicates and refusals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.regions import KYIV, LVIV_OBLAST
from tryvoga.api.formats import outbox
from tryvoga.cap.ingest import Ingester
from tryvoga.cap.projection import CapProjection
from tryvoga.cap.render import Publisher
from tryvoga.commands import Declare, EndAlert, UpdateAlert
from tryvoga.domain.regions import Catalogue
from tryvoga.service import Actor, Service
from tryvoga.storage.sqlite import SQLiteStorage

from .conftest import kyiv_night

PUBLISHER = Publisher(sender="cap@a.test", sender_name="Authority A")


@pytest.fixture
def other(tmp_path: Path, catalogue: Catalogue) -> Service:
    """Tryvoga B: a second log that ingests what A publishes."""
    return Service(SQLiteStorage(tmp_path / "b.db"), catalogue, outbox=outbox(catalogue))


def published(service: Service, catalogue: Catalogue) -> list[bytes]:
    projection = CapProjection(catalogue)
    projection.apply_all(service.storage.iter_events())
    return [PUBLISHER.render(m, catalogue) for m in projection.messages.values()]


def active(service: Service) -> set[tuple[str, str, str, tuple[str, ...]]]:
    service.catch_up()
    return {(a.region, a.type.value, a.status.value,
             tuple(f"{t.type.value}:{t.level.value}" for t in a.threats))
            for a in service.state.active_alerts()}


def test_a_night_published_by_a_and_ingested_by_b_gives_the_same_active_alerts(
        service: Service, admin: Actor, other: Service, catalogue: Catalogue) -> None:
    ingester = Ingester(other)
    kyiv = service.handle(
        admin,
        Declare.of(
            regions=[KYIV],
            threats=[{"type": "drones", "level": "yellow"}],
            type="air_raid",
        ),
    ).body["alerts"][0]["id"]
    lviv = service.handle(
        admin,
        Declare.of(regions=[LVIV_OBLAST], type="air_raid"),
    ).body["alerts"][0]["id"]
    outcomes = [ingester.ingest_bytes(m) for m in published(service, catalogue)]
    assert [o.verdict for o in outcomes] == ["ingested", "ingested"], outcomes
    assert active(other) == active(service)
    b_alert = next(a for a in other.state.active_alerts() if a.region == KYIV)
    assert b_alert.source == "Authority A"
    assert other.storage.read_events()[0].actor == "cap:cap@a.test"

    service.handle(
        admin,
        UpdateAlert.of(threats=[{"type": "ballistic", "level": "red"}], note="Ballistic threat"),
        kyiv,
    )
    service.handle(admin, EndAlert.of(withdraw=True, reason="wrong oblast"), lviv)
    messages = published(service, catalogue)
    outcomes = [ingester.ingest_bytes(m) for m in messages]
    assert [o.verdict for o in outcomes] == ["ignored", "ignored", "ingested", "ingested"]
    assert outcomes[0].detail == "seen before"
    assert active(other) == active(service)
    withdrawn = next(a for a in other.state.alerts.values() if a.region == LVIV_OBLAST)
    assert withdrawn.withdrawn and not withdrawn.active
    assert next(a for a in other.state.active_alerts()).note == "Ballistic threat"

    service.handle(admin, EndAlert.of(), kyiv)
    before = other.storage.head()[0]
    outcomes = [ingester.ingest_bytes(m) for m in published(service, catalogue)]
    assert outcomes[-1].verdict == "ingested" and "ended alert" in outcomes[-1].detail
    assert active(other) == set() == active(service)
    assert other.storage.head()[0] == before + 1
    # Everything again: all seen, nothing appended.
    again = [ingester.ingest_bytes(m) for m in published(service, catalogue)]
    assert {o.verdict for o in again} == {"ignored"}
    assert other.storage.head()[0] == before + 1


def test_drills_and_incidents(service: Service, admin: Actor, other: Service,
                              catalogue: Catalogue) -> None:
    kyiv_night(service, admin)
    outcomes = [Ingester(other).ingest_bytes(m) for m in published(service, catalogue)]
    verdicts = [o.verdict for o in outcomes]
    assert "rejected" not in verdicts, outcomes
    assert any("incident report" in o.detail for o in outcomes)
    assert active(other) == active(service)
    assert {s for _, _, s, _ in active(other)} == {"exercise", "test"}


def mutate(body: bytes, old: bytes, new: bytes) -> bytes:
    assert old in body
    return body.replace(old, new)


def test_bad_messages_are_rejected_and_nothing_is_appended(
        service: Service, admin: Actor, other: Service, catalogue: Catalogue) -> None:
    service.handle(admin, Declare.of(regions=[KYIV, LVIV_OBLAST], type="air_raid"))
    kyiv_message, lviv_message = published(service, catalogue)
    ingester = Ingester(other)
    cases = {
        "schema": (mutate(kyiv_message, b"<status>Actual</status>", b"<status>Real</status>"),
                   "not a valid CAP 1.2 message"),
        "time with Z": (re.sub(rb"<sent>[^<]*</sent>", b"<sent>2023-05-19T21:41:31Z</sent>",
                               kyiv_message), "not a valid CAP 1.2 message"),
        "unknown KATOTTG": (mutate(lviv_message, LVIV_OBLAST.encode(), b"UA99000000000000001"),
                            "unknown KATOTTG code 'UA99000000000000001'"),
        "no geocode": (mutate(mutate(lviv_message, b"<valueName>KATOTTG</valueName>",
                                     b"<valueName>FIPS</valueName>"),
                              b"<valueName>ISO3166-2</valueName>", b"<valueName>X</valueName>"),
                       "names no KATOTTG or ISO 3166-2 geocode"),
        "not CAP": (b"<html/>", "not a CAP 1.2 message"),
        "not XML": (b"<alert", "not well-formed XML"),
        "entities": (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                     b"<a>&x;</a>", "DOCTYPE"),
        "system status": (mutate(kyiv_message, b"<status>Actual</status>",
                                 b"<status>System</status>"), "not a public warning"),
        "restricted": (mutate(kyiv_message, b"<scope>Public</scope>",
                              b"<scope>Private</scope>"), "not for the public"),
    }
    for name, (body, reason) in cases.items():
        outcome = ingester.ingest_bytes(body)
        assert outcome.verdict == "rejected", name
        assert reason in outcome.detail, (name, outcome.detail)
        assert outcome.events == []
    assert other.storage.head()[0] == 0


def test_a_foreign_message_with_names_and_iso_codes(other: Service) -> None:
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>LVIV-2023-0042</identifier><sender>ova@lviv.example</sender>
  <sent>2023-05-20T00:41:31+03:00</sent><status>Actual</status><msgType>Alert</msgType>
  <scope>Public</scope>
  <info><language>en-US</language><category>Security</category><event>Air Raid Warning</event>
    <urgency>Immediate</urgency><severity>Extreme</severity><certainty>Observed</certainty>
    <senderName>Lviv Oblast Military Administration</senderName>
    <area><areaDesc>Lviv oblast</areaDesc>
      <geocode><valueName>ISO 3166-2</valueName><value>UA-46</value></geocode></area>
  </info>
</alert>"""
    outcome = Ingester(other).ingest_bytes(body)
    assert outcome.verdict == "ingested", outcome
    alert = other.state.active_alerts()[0]
    assert (alert.region, alert.type.value, alert.source) == (
        LVIV_OBLAST, "air_raid", "Lviv Oblast Military Administration")
    assert alert.started_at == "2023-05-19T21:41:31.000Z"
    unknown_event = body.replace(b"LVIV-2023-0042", b"LVIV-2023-0043").replace(
        b"Air Raid Warning", b"Heat wave")
    outcome = Ingester(other).ingest_bytes(unknown_event)
    assert outcome.verdict == "rejected" and "cannot tell which alert" in outcome.detail


def test_rejections_say_it_plainly_once(service: Service, admin: Actor, other: Service,
                                        catalogue: Catalogue) -> None:
    ingester = Ingester(other)
    junk = ingester.ingest_bytes(b"junk")
    assert junk.line() == ("rejected: (no identifier): not well-formed XML: line 1, column 1: "
                           "Start tag expected, '<' not found")
    service.handle(admin, Declare.of(regions=[KYIV], type="air_raid"))
    (body,) = published(service, catalogue)
    identifier = re.search(rb"<identifier>([^<]*)</identifier>", body)
    assert identifier is not None
    for length in (501, 5000):
        long_one = body.replace(identifier.group(0),
                                b"<identifier>" + b"x" * length + b"</identifier>")
        outcome = ingester.ingest_bytes(long_one)
        assert outcome.verdict == "rejected"
        assert outcome.detail == (f"the identifier is {length} characters long; at most 500 "
                                  "are taken")
        assert len(outcome.line()) < 250  # the identifier is not echoed whole
    sender = body.replace(b"<sender>cap@a.test</sender>", b"<sender>" + b"s" * 600 + b"</sender>")
    assert ingester.ingest_bytes(sender).detail == ("the sender is 600 characters long; at most "
                                                    "500 are taken")
    exactly = body.replace(identifier.group(0), b"<identifier>" + b"x" * 500 + b"</identifier>")
    assert ingester.ingest_bytes(exactly).verdict == "ingested"
    assert other.storage.head()[0] == 1
