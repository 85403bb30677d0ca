"""ukrainealarm webhooks delivered: a real server, a real receiver process on 127.0.0.1, the real
``ua-alarm`` client registering, and alerts declared through the native API.

The receiver (``tests/delivery/receiver.py``) writes down every request it gets; the test
knows which event each region's subscriber must hear of, and checks that exactly those arrive,
each an ``AlertRegionModel`` that the client's own model reads, with every key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.polling import wait_for
from tryvoga.api.compat_common import CompatIds
from tryvoga.domain.regions import Catalogue
from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import Server, by_api_id, run_cli, start_server, stop_server
from ..delivery import test_processes
from ..delivery.test_processes import LOOPBACK, ReceiverProcess
from .conftest import KHARKIV_OBLAST, KYIV_CITY, LVIV_OBLAST, OpenClient, declare

receiver = test_processes.receiver  # the receiver process of the delivery tests, as a fixture

MODEL_KEYS = {"regionId", "regionType", "regionName", "regionEngName", "lastUpdate",
              "activeAlerts"}
ALERT_KEYS = {"regionId", "regionType", "type", "lastUpdate", "activeAlertLevels"}
LEVEL_KEYS = {"alertLevel", "reason", "createdAt"}


def reader(server: Server, name: str) -> str:
    return run_cli("token", "create", "--name", name,
                   db=server.db).stdout.strip().splitlines()[-1]


def register(server: Server, key: str, body: dict[str, Any],
             method: str = "POST") -> dict[str, Any]:
    """As the façade's clients do it: the raw key in Authorization, a JSON body."""
    answer = server.request(method, "/api/v3/webhook", token=None,
                            headers={"Authorization": key}, raw=json.dumps(body).encode())
    assert answer.status == 200, answer.body
    found: dict[str, Any] = answer.json()
    return found


def operator_listing(server: Server) -> list[dict[str, Any]]:
    """Every subscription, as the operator lists them (the façade's belong to the tokens
    that registered them, and no other token sees them)."""
    found: list[dict[str, Any]] = json.loads(
        run_cli("webhook", "list", "--json", db=server.db).stdout)["webhooks"]
    return found


def head(server: Server) -> int:
    """The sequence number of the last event: each command below appends one."""
    seq: int = server.get("/api/v3/alerts/status", token=None).json()["lastActionIndex"]
    return seq


def pending(db: Path) -> int:
    storage = SQLiteStorage(db)
    try:  # a plain read of the outbox
        count: int = storage.query("SELECT COUNT(*) FROM webhook_deliveries "
                                   "WHERE state = 'pending'")[0][0]
    finally:
        storage.close()
    return count


def assert_complete(model: dict[str, Any]) -> None:
    """Every key of every object, null where empty, as COMPAT.md asks."""
    assert set(model) == MODEL_KEYS, model
    for item in model["activeAlerts"]:
        assert set(item) == ALERT_KEYS, item
        assert item["activeAlertLevels"], item
        for level in item["activeAlertLevels"]:
            assert set(level) == LEVEL_KEYS, level


def test_registrations_are_delivered_as_region_models(
        tmp_path: Path, catalogue: Catalogue, receiver: ReceiverProcess,
        open_client: OpenClient) -> None:
    oblast = by_api_id(catalogue, KHARKIV_OBLAST)
    raion = next(catalogue[c] for c in catalogue.children[oblast.code]
                 if catalogue[c].api_id is not None)
    hromada = next(catalogue[c] for c in catalogue.children[raion.code]
                   if catalogue[c].api_id is not None)
    assert hromada.api_id is not None
    community = str(hromada.api_id)
    server = start_server(tmp_path, env=LOOPBACK)
    try:
        # A: an app with the real client, for one community; B: a map, by plain HTTP, for
        # every region, keeping the signing secret it is given.
        app = open_client("ua-alarm", server, reader(server, "app"))
        subscribed = app.call("subscribe", data={"webHookUrl": receiver.url("/a"),
                                                 "regionIds": [community]})
        assert subscribed == {"webHookUrl": receiver.url("/a")}
        map_key = reader(server, "map")
        created = register(server, map_key, {"webHookUrl": receiver.url("/b")})
        assert created["regionIds"] is None
        subscriptions = [w for w in operator_listing(server)
                         if w["url"] == receiver.url("/b")]
        assert len(subscriptions) == 27  # one per State: a country-wide alert changes 27
        for subscription in subscriptions:
            receiver.add_secret(subscription["id"], created["signingSecret"])

        expected: set[tuple[str, int, str]] = set()  # (path, event, regionId)
        oblast_alert = declare(server, catalogue, KHARKIV_OBLAST, "air_raid",
                               [{"type": "missiles", "level": "red"}])
        on_oblast = head(server)
        expected |= {("/a", on_oblast, community), ("/b", on_oblast, "22")}
        community_alert = declare(server, catalogue, hromada.api_id, "artillery_shelling")
        on_community = head(server)
        expected |= {("/a", on_community, community), ("/b", on_community, community)}
        declare(server, catalogue, KYIV_CITY, "air_raid")
        expected.add(("/b", head(server), str(KYIV_CITY)))
        declare(server, catalogue, LVIV_OBLAST, "air_raid", status="exercise")  # never sent
        wait_for(lambda: len(receiver.records()) >= len(expected), "the first deliveries", 30)

        # The client moves its only registration to a new URL.
        assert app.call("update", data={"webHookUrl": receiver.url("/a2"),
                                        "regionIds": [community]}) is None
        ended = server.post(f"/api/v1/alerts/{oblast_alert}/end")
        assert ended.status == 200, ended.body
        expected |= {("/a2", head(server), community), ("/b", head(server), "22")}
        wait_for(lambda: len(receiver.records()) >= len(expected), "the end of the alert", 30)

        # Unsubscribed: the next change reaches the map only.
        assert app.call("unsubscribe", data={"webHookUrl": receiver.url("/a2")}) is None
        assert server.post(f"/api/v1/alerts/{community_alert}/end").status == 200
        expected.add(("/b", head(server), community))
        wait_for(lambda: len(receiver.records()) >= len(expected), "the last delivery", 30)
        wait_for(lambda: pending(server.db) == 0, "an empty outbox", 30)

        records = receiver.records()
        got = [(r["path"], int(r["event_id"]), r["body"]["regionId"]) for r in records]
        assert sorted(got) == sorted(expected)  # each once, nothing else
        for record in records:
            assert record["status"] == 200
            assert_complete(record["body"])
            parsed = app.call("region_model", body=record["body"])
            assert parsed["regionId"] == record["body"]["regionId"]
            if record["path"] == "/b":
                assert record["signature_ok"], record
        by_key = {(r["path"], int(r["event_id"])): r["body"] for r in records}

        # The community hears of its oblast's alert, inherited, and then of its own.
        first = by_key[("/a", on_oblast)]
        assert (first["regionType"], first["regionName"], first["regionEngName"]) == (
            "Community", CompatIds(catalogue).title(hromada), hromada.name_en)
        assert [(a["regionId"], a["regionType"], a["type"],
                 [(v["alertLevel"], v["reason"]) for v in a["activeAlertLevels"]])
                for a in first["activeAlerts"]] == [
            ("22", "State", "AIR", [("Red", "missiles")])]
        second = by_key[("/a", on_community)]
        assert {(a["regionId"], a["type"]) for a in second["activeAlerts"]} == {
            ("22", "AIR"), (community, "ARTILLERY")}
        moved = next(body for (path, _), body in by_key.items() if path == "/a2")
        assert [(a["regionId"], a["type"]) for a in moved["activeAlerts"]] == [
            (community, "ARTILLERY")]
        assert by_key[("/b", on_oblast)]["regionType"] == "State"
        # The last body of each region is what /api/v3/alerts/{regionId} says now.
        for region_id in ("22", community, str(KYIV_CITY)):
            last = max((seq, body) for (path, seq), body in by_key.items()
                       if path == "/b" and body["regionId"] == region_id)[1]
            assert [last] == server.get(f"/api/v3/alerts/{region_id}", token=None).json()

        # An alert on the whole country is shown on all 27 States: the map hears of each.
        assert server.post("/api/v1/alerts", {"regions": ["UA"], "type": "air_raid"}
                           ).status == 201
        country = head(server)
        wait_for(lambda: len(receiver.records()) >= len(expected) + 27, "27 States", 30)
        states = {r["body"]["regionId"]: r["body"] for r in receiver.records()
                  if int(r["event_id"]) == country}
        assert set(states) == {CompatIds.ukrainealarm_id(r) for r in catalogue.top_level()}
        for region_id, body in states.items():
            assert body["regionType"] == "State"
            own = 2 if region_id == str(KYIV_CITY) else 1  # Kyiv's own alert, and the country's
            assert [(a["regionId"], a["type"]) for a in body["activeAlerts"]] == [
                (region_id, "AIR")] * own
    finally:
        stop_server(server)
    # Registrations stay out of the public log; the audit log has them.
    storage = SQLiteStorage(server.db)
    try:
        log_text = json.dumps([e.to_json() for e in storage.read_events()])
        audit = [(r.actor, r.action) for r in storage.audit_records()
                 if r.action.startswith("compat.")]
    finally:
        storage.close()
    assert str(receiver.port) not in log_text and "webhook" not in log_text
    assert created["signingSecret"] not in log_text
    assert audit == [("app", "compat.webhook.registered"), ("map", "compat.webhook.registered"),
                     ("app", "compat.webhook.updated"), ("app", "compat.webhook.deleted")]


def test_loopback_only_where_allowed(tmp_path: Path, catalogue: Catalogue,
                                     receiver: ReceiverProcess) -> None:
    db = tmp_path / "hooks.db"
    allowed = start_server(tmp_path, env=LOOPBACK, db=db)
    try:
        key = reader(allowed, "map")
        created = register(allowed, key, {"webHookUrl": receiver.url("/kyiv"),
                                          "regionIds": [str(KYIV_CITY)]})
        assert created["signingSecret"]
    finally:
        stop_server(allowed)
    # The same registration on a server that does not allow loopback: refused, recorded.
    strict = start_server(tmp_path, db=db)
    try:
        refused = strict.request("POST", "/api/v3/webhook", token=None,
                                 headers={"Authorization": key},
                                 raw=json.dumps({"webHookUrl": receiver.url("/x")}).encode())
        assert refused.status == 400
        assert "TRYVOGA_WEBHOOK_ALLOW_NETWORKS" in refused.json()["message"]
        declare(strict, catalogue, KYIV_CITY, "air_raid")
        [subscription] = [w for w in operator_listing(strict)
                          if w["url"] == receiver.url("/kyiv")]

        def refusal() -> list[dict[str, Any]]:
            # The operator's view: the subscriptions are the registration's token's, not the
            # server's admin token's (issue 15).
            found = json.loads(run_cli("webhook", "attempts", subscription["id"], "--json",
                                       db=strict.db).stdout)
            attempts: list[dict[str, Any]] = found["attempts"]
            return attempts

        wait_for(lambda: bool(refusal()), "the refused attempt", 30)
        [attempt] = refusal()
        assert attempt["status"] is None and not attempt["delivered"]
        assert attempt["error"].startswith("refused:"), attempt
        assert attempt["next_attempt_at"] is not None  # retried, as every failed delivery
    finally:
        stop_server(strict)
    assert receiver.records() == []
