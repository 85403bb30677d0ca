"""The two-person rule binds the API too: bearer tokens are people unless created automated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, run_cli, start_server, stop_server
from tests.regions import KYIV
from tryvoga.storage.sqlite import SQLiteStorage

LVIV = "UA46000000000026241"
KYIV_OBLAST = "UA32000000000030281"
BUCHA_RAION = "UA32080000000084076"


def token(server: Server, name: str, *extra: str) -> str:
    return run_cli("token", "create", "--name", name, "--scope", "UA", "--write", *extra,
                   db=server.db).stdout.strip().splitlines()[-1]


@pytest.fixture
def strict_server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path, "--approval-all-actual", "true")
    yield running
    stop_server(running)


def test_a_person_token_cannot_declare_what_the_rule_covers(server: Server) -> None:
    person = token(server, "duty-officer")
    for body in ({"regions": [KYIV], "type": "chemical"},
                 {"regions": [KYIV], "type": "nuclear", "status": "exercise"},
                 {"regions": [KYIV, LVIV], "type": "air_raid"},
                 {"regions": ["UA"], "type": "air_raid", "status": "test"}):
        answer = server.post("/api/v1/alerts", body, token=person)
        assert answer.status == 403, body
        assert answer.json()["error"]["code"] == "approval_required"
    assert server.get("/api/v1/alerts/active").json()["alerts"] == []
    # Within one oblast (an oblast and a raion inside it) and not chemical: alone is fine.
    answer = server.post("/api/v1/alerts", {"regions": [KYIV_OBLAST, BUCHA_RAION],
                                            "type": "air_raid"}, token=person)
    assert answer.status == 201, answer.body
    declared = [e for e in SQLiteStorage(server.db).read_events() if e.kind == "alert.declared"]
    assert declared and all("authorised" not in e.payload for e in declared)


def test_an_automated_token_declares_alone_and_says_so(server: Server) -> None:
    robot = token(server, "cap-bridge", "--automated")
    answer = server.post("/api/v1/alerts", {"regions": [KYIV, LVIV], "type": "chemical"},
                         token=robot)
    assert answer.status == 201, answer.body
    declared = [e for e in SQLiteStorage(server.db).read_events() if e.kind == "alert.declared"]
    assert [e.payload["authorised"] for e in declared] == ["automated", "automated"]
    created = [r for r in SQLiteStorage(server.db).audit_records()
               if r.action == "token.created" and r.detail["name"] == "cap-bridge"]
    assert created[0].detail["automated"] is True


def test_every_actual_alert_by_setting(strict_server: Server) -> None:
    person = token(strict_server, "duty-officer")
    answer = strict_server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"},
                                token=person)
    assert answer.status == 403 and answer.json()["error"]["code"] == "approval_required"
    answer = strict_server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid",
                                                   "status": "exercise"}, token=person)
    assert answer.status == 201


def test_accepting_a_proposal_is_bound_too(server: Server) -> None:
    """A proposal accepted through the API declares through the same rule."""
    person = token(server, "reader-desk")
    text = ("Увага! Хімічна загроза у місті Київ. Повітряна тривога у Львівській області "
            "та у Київській області.")
    answer = server.post("/api/v1/ingest/statement", {"text": text, "source": "test"},
                         token=person)
    assert answer.status in (200, 201), answer.body
    refused = 0
    for proposal in answer.json()["proposals"]:
        if proposal["kind"] != "alert" or proposal.get("alert_type") not in ("chemical",
                                                                             "nuclear"):
            continue
        decided = server.post(f"/api/v1/proposals/{proposal['id']}/accept", token=person)
        assert decided.status == 403 and decided.json()["error"]["code"] == "approval_required"
        refused += 1
    assert refused >= 1, answer.body


def test_channel_posts_by_a_person_are_bound_too(server: Server) -> None:
    """The channel ingester composes its own events (Service.run): the rule checks them."""
    posts: list[dict[str, Any]] = [
        {"id": 1, "date": "2024-08-22T08:40:01+03:00",
         "text": "🔴 08:39 Повітряна тривога в м. Київ\n#м_Київ"},
        {"id": 2, "date": "2024-08-22T08:41:01+03:00",
         "text": "🔴 08:40 Хімічна загроза в Львівська область"}]
    batch = {"channel": "air_alert_ua", "posts": posts}
    person = token(server, "channel-desk")
    answer = server.post("/api/v1/ingest/channel", batch, token=person).json()
    # Each post is a command of its own: the air-raid alert in Kyiv goes out, the chemical
    # one in Lviv oblast is refused and nothing of it is appended.
    assert answer["summary"]["applied"] == 1, answer["posts"]
    assert "approval_required" in str(answer["posts"][1]), answer
    active = server.get("/api/v1/alerts/active").json()["alerts"]
    assert [(a["region"], a["type"]) for a in active] == [
        ("UA80000000000093317", "air_raid")]
    robot = token(server, "channel-bot", "--automated")
    posts[1]["id"] = 3
    applied = server.post("/api/v1/ingest/channel", batch, token=robot).json()
    assert applied["summary"]["applied"] == 1, applied
    declared = [e for e in SQLiteStorage(server.db).read_events() if e.kind == "alert.declared"]
    assert [e.payload["type"] for e in declared] == ["air_raid", "chemical"]
