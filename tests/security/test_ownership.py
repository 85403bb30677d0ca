"""Issue 15, defect 10: what a token makes is its own. A write token does not read proposals
outside its scope, nor see or delete another token's webhooks; a new token that reuses a
revoked token's name inherits neither its idempotency keys nor its façade registrations; the
channel's events say which token sent them (in the audit log). A real server throughout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import Server, run_cli, start_server, stop_server
from ..ingest.test_statements import EXAMPLE
from ..regions import KYIV, LVIV_OBLAST


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("owners"))
    yield running
    stop_server(running)


def token(srv: Server, name: str, *args: str) -> str:
    return run_cli("token", "create", "--name", name, *args, db=srv.db).stdout.splitlines()[-1]


def test_proposals_outside_a_tokens_scope_are_not_its_to_read(srv: Server) -> None:
    made = srv.post("/api/v1/ingest/statement", {"text": EXAMPLE.read_text("utf-8")})
    assert made.status == 201, made.body
    kyiv = next(p for p in made.json()["proposals"] if p["region"] == KYIV)
    lviv = token(srv, "lviv-writer", "--scope", LVIV_OBLAST, "--write")
    kyiv_writer = token(srv, "kyiv-writer", "--scope", KYIV, "--write")
    assert srv.get(f"/api/v1/proposals/{kyiv['id']}", token=lviv).status == 404
    assert srv.get("/api/v1/proposals", token=lviv).json()["proposals"] == []
    assert srv.get(f"/api/v1/proposals/{kyiv['id']}", token=kyiv_writer).status == 200
    listed = srv.get("/api/v1/proposals", token=kyiv_writer).json()["proposals"]
    assert kyiv["id"] in [p["id"] for p in listed]


def test_another_tokens_webhooks_are_neither_seen_nor_deleted(srv: Server) -> None:
    mine = token(srv, "hook-owner", "--scope", KYIV, "--write")
    made = srv.post("/api/v1/webhooks", {"url": "https://hooks.example.org/owner",
                                         "regions": [KYIV]}, token=mine)
    assert made.status == 201, made.body
    hook = made.json()["webhook"]["id"]
    other = token(srv, "country-writer", "--scope", "UA", "--write")
    assert hook not in [w["id"] for w in srv.get("/api/v1/webhooks", token=other)
                        .json()["webhooks"]]
    assert srv.get(f"/api/v1/webhooks/{hook}", token=other).status == 404
    assert srv.request("DELETE", f"/api/v1/webhooks/{hook}", token=other).status == 404
    assert srv.get(f"/api/v1/webhooks/{hook}", token=mine).status == 200


def test_a_reused_name_inherits_nothing(srv: Server) -> None:
    first = token(srv, "app", "--scope", "UA", "--write")
    body = {"regions": [KYIV], "type": "artillery_shelling"}
    assert srv.post("/api/v1/alerts", body, token=first,
                    headers={"Idempotency-Key": "k-1"}).status == 201
    registered = srv.request("POST", "/api/v3/webhook", token=None,
                             headers={"Authorization": first},
                             raw=json.dumps({"webHookUrl": "https://a.example.org/h"}).encode())
    assert registered.status == 200, registered.body
    run_cli("token", "revoke", "app", db=srv.db)
    second = token(srv, "app", "--scope", "UA", "--write")
    # The same key with another request: the old token's key is not this one's.
    other = {"regions": [KYIV], "type": "urban_fights"}
    answer = srv.post("/api/v1/alerts", other, token=second, headers={"Idempotency-Key": "k-1"})
    assert answer.status == 201, answer.body
    listed = srv.request("GET", "/api/v3/webhook", token=None,
                         headers={"Authorization": second})
    assert listed.status == 200 and listed.json()["webHooks"] == []


def test_channel_events_record_the_token_that_sent_them(srv: Server) -> None:
    sender = token(srv, "channel-bot", "--scope", "UA", "--write")
    answer = srv.post("/api/v1/ingest/channel", {
        "channel": "air_alert_ua", "id": 901, "date": "2024-03-01T10:00:00+02:00",
        "text": "🔴 10:00 Повітряна тривога в Львівська область"}, token=sender)
    assert answer.status == 200, answer.body
    assert answer.json()["summary"].get("applied", 0) >= 1, answer.body
    storage = SQLiteStorage(srv.db)
    try:  # the audit log as it is stored
        sent = [a for a in storage.audit_records() if a.action == "channel.post"]
    finally:
        storage.close()
    assert sent and sent[-1].actor == "channel-bot"
    assert sent[-1].detail["post"] == "901" and sent[-1].detail["events"]


def test_migration_11_gives_existing_webhooks_to_the_token_that_made_them(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    run_cli("token", "create", "--name", "old", db=db)
    storage = SQLiteStorage(db)
    try:
        with storage.writer() as tx:
            conn = tx.conn
            conn.execute("INSERT INTO compat_webhooks (owner, url, region_ids, created, updated) "
                         "VALUES ('old', 'https://a.example.org', NULL, '9999-01-01T00:00:00Z', "
                         "'9999-01-01T00:00:00Z')")
            conn.execute("UPDATE meta SET value = '10' WHERE key = 'schema_version'")
        token_id = storage.tokens()[0].id
    finally:
        storage.close()
    storage = SQLiteStorage(db)  # migrates 10 -> 11
    try:
        owner = storage.query("SELECT owner FROM compat_webhooks")[0][0]
    finally:
        storage.close()
    assert owner == f"token:{token_id}"
