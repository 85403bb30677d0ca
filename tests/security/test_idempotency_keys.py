"""Issue 15, defect 7: an Idempotency-Key over the limit is refused, never cut short (two
keys sharing their first 200 characters were one command)."""

from __future__ import annotations

from tryvoga.commands import Declare, EndByRegion
from tryvoga.service import Actor, Service

from ..conftest import Server
from ..regions import KYIV

LONG = "k" * 200


def test_a_long_key_is_refused_over_http(server: Server) -> None:
    for path, body in (("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"}),
                       ("/api/v1/webhooks", {"url": "https://hooks.example.org/x"})):
        answer = server.post(path, body, headers={"Idempotency-Key": LONG + "-first"})
        assert answer.status == 400, answer.body
        error = answer.json()["error"]
        assert error["code"] == "idempotency_key_too_long"
        assert error["field"] == "Idempotency-Key" and error["status"] == 400
    # At the limit it is a key like any other.
    assert server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"},
                       headers={"Idempotency-Key": LONG}).status == 201


def test_long_internal_keys_are_not_merged(service: Service) -> None:
    """Ingesters may make longer keys (a CAP identifier is up to 500 characters): they are
    kept whole, so two that share a prefix are two commands."""
    admin = Actor("admin")
    first = service.handle(
        admin,
        Declare.of(regions=[KYIV], type="air_raid"),
        idempotency_key=LONG + "|a" + "x" * 300,
    )
    service.handle(admin, EndByRegion.of(region=KYIV, type="air_raid"))
    second = service.handle(
        admin,
        Declare.of(regions=[KYIV], type="air_raid"),
        idempotency_key=LONG + "|b" + "x" * 300,
    )
    assert not second.replayed and second.events != first.events
