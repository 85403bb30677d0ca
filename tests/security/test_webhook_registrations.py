"""Issue 15, defect 1: ukrainealarm webhook registrations cannot slow every declaration.

Registrations are bounded per token and in total (settings), whether a read-only token may
register at all is a setting, and a declaration writes one outbox row per body inside its
transaction however many registrations want that body: the worker fans each row out to the
subscriptions later, in short transactions of its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tryvoga.api.compat_common import CompatIds
from tryvoga.api.ukrainealarm_webhooks import deliveries
from tryvoga.commands import Declare
from tryvoga.delivery.store import DeliveryStore
from tryvoga.domain.regions import COUNTRY, Catalogue
from tryvoga.service import Actor, Service
from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import Server, run_cli, start_server, stop_server

ADMIN = Actor("admin")


def count(storage: SQLiteStorage, sql: str) -> int:
    found: int = storage.query(sql)[0][0]
    return found


def test_a_declaration_writes_one_row_per_body_not_per_registration(
        service: Service, storage: SQLiteStorage, catalogue: Catalogue, db_path: Path) -> None:
    ids = CompatIds.of(catalogue)
    registrations = 40
    for n in range(registrations):
        with storage.writer() as tx:
            tx.ukrainealarm_registrations().put(
                f"app-{n}", f"https://hooks.example.org/{n}", None, "2024-01-01T00:00:00Z",
                f"https://hooks.example.org/{n}", deliveries(ids, None), f"whsec_{n}")
    service.handle(ADMIN, Declare.of(regions=[COUNTRY], type="air_raid"))
    # Inside the declaration's transaction: no delivery row, one fan-out row per State's body.
    assert count(storage, "SELECT COUNT(*) FROM webhook_deliveries") == 0
    assert count(storage, "SELECT COUNT(*) FROM webhook_fanout") == 27
    # The worker's claims fan them out, a bounded number of rows per transaction.
    store = DeliveryStore(db_path)
    try:
        claimed = 0
        for _ in range(200):
            claimed += len(store.claim("w#1", 1e12, 2e12, 100))
            if count(storage, "SELECT COUNT(*) FROM webhook_fanout") == 0 and claimed >= 27 * 40:
                break
    finally:
        store.close()
    assert count(storage, "SELECT COUNT(*) FROM webhook_fanout") == 0
    assert count(storage, "SELECT COUNT(*) FROM webhook_deliveries") == 27 * registrations
    assert count(storage, "SELECT COUNT(DISTINCT webhook) FROM webhook_deliveries") == (
        27 * registrations)


def test_a_registration_finds_its_subscriptions_through_an_index(
        storage: SQLiteStorage) -> None:
    # Issue 15, defect 1: the lookup ran twice per registration inside the write transaction
    # and scanned every subscription, so each registration cost more than the one before and
    # declarations queued behind them. The plan must search the index, not scan the table.
    from tryvoga.storage.compat_webhooks import FAMILY, SUBSCRIPTIONS

    plan = " | ".join(str(row[-1]) for row in storage.query(
        "EXPLAIN QUERY PLAN " + SUBSCRIPTIONS,
        ("ukrainealarm registration 1", FAMILY, FAMILY[:-1] + ";")))
    assert "webhooks_by_description" in plan, plan
    assert "SCAN webhooks" not in plan, plan


def test_a_subscription_made_after_the_event_does_not_get_it(
        service: Service, storage: SQLiteStorage, catalogue: Catalogue, db_path: Path) -> None:
    ids = CompatIds.of(catalogue)

    def put(n: int) -> None:
        with storage.writer() as tx:
            tx.ukrainealarm_registrations().put(
                f"app-{n}", f"https://h.example.org/{n}", None, "2024-01-01T00:00:00Z",
                f"https://h.example.org/{n}", deliveries(ids, None), "whsec_x")

    put(1)
    service.handle(ADMIN, Declare.of(regions=[COUNTRY], type="air_raid"))
    put(2)  # after the event, before the worker fans it out
    store = DeliveryStore(db_path)
    try:
        while count(storage, "SELECT COUNT(*) FROM webhook_fanout"):
            store.claim("w#1", 1e12, 2e12, 1000)
    finally:
        store.close()
    assert count(storage, "SELECT COUNT(*) FROM webhook_deliveries") == 27


def reader(server: Server, name: str) -> str:
    return run_cli("token", "create", "--name", name,
                   db=server.db).stdout.strip().splitlines()[-1]


def register(server: Server, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = server.request("POST", "/api/v3/webhook", token=None,
                            headers={"Authorization": key}, raw=json.dumps(body).encode())
    found: dict[str, Any] = answer.json()
    return answer.status, found


def test_registrations_are_bounded_per_token_and_in_total(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--ukrainealarm-webhooks-per-token", "3",
                          "--ukrainealarm-webhooks-total", "5")
    try:
        first, second = reader(server, "one"), reader(server, "two")
        for n in range(3):
            status, _ = register(server, first, {"webHookUrl": f"https://a.example.org/{n}",
                                                 "regionIds": None})
            assert status == 200
        # Posting an existing registration again is not a new one.
        assert register(server, first, {"webHookUrl": "https://a.example.org/0"})[0] == 200
        status, body = register(server, first, {"webHookUrl": "https://a.example.org/3",
                                                "regionIds": None})
        # The façade's own error shape (docs/compat.md): {"message": ...}.
        assert status == 409 and "most allowed" in body["message"], body
        for n in range(2):
            assert register(server, second, {"webHookUrl": f"https://b.example.org/{n}"})[0] == 200
        status, body = register(server, second, {"webHookUrl": "https://b.example.org/2"})
        assert status == 409 and "most it allows" in body["message"], body
        listed = run_cli("compat", "webhooks", "--json", db=server.db).stdout
        assert len(json.loads(listed)["webHooks"]) == 5
    finally:
        stop_server(server)


def test_read_only_tokens_may_be_refused(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--ukrainealarm-webhooks-read-only", "false")
    try:
        status, body = register(server, reader(server, "ro"),
                                {"webHookUrl": "https://a.example.org/x"})
        assert status == 403 and "read-only" in body["message"], body
        writer = run_cli("token", "create", "--name", "rw", "--write", "--scope", "UA",
                         db=server.db).stdout.strip().splitlines()[-1]
        assert register(server, writer, {"webHookUrl": "https://a.example.org/x"})[0] == 200
    finally:
        stop_server(server)
