"""The SQLite event log: schema versions, the hash chain, durability."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

import pytest

from tests.regions import KYIV
from tryvoga.api.formats import outbox
from tryvoga.commands import Declare, EndAlert, EndByRegion, UpdateAlert
from tryvoga.domain.events import first_broken_link
from tryvoga.domain.regions import Catalogue
from tryvoga.errors import StorageError
from tryvoga.service import Actor, Service
from tryvoga.storage.sqlite import SCHEMA_VERSION, SQLiteStorage


def test_wal_and_full_sync(storage: SQLiteStorage) -> None:
    conn = sqlite3.connect(storage.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert storage.schema_version() == SCHEMA_VERSION


def test_refuses_a_database_from_a_newer_schema(db_path: Path) -> None:
    SQLiteStorage(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                 (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(StorageError) as info:
        SQLiteStorage(db_path)
    assert info.value.code == "schema_too_new"


def test_chain_links_every_event(service: Service, admin: Actor) -> None:
    for _ in range(3):
        alert_id = service.handle(
            admin,
            Declare.of(regions=[KYIV], type="air_raid"),
        ).body["alerts"][0]["id"]
        service.handle(admin, EndAlert.of(), alert_id)
    events = service.storage.read_events()
    assert [e.seq for e in events] == list(range(1, 7))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert first_broken_link(events) is None


@pytest.mark.parametrize("column", ["payload", "time", "actor", "hash"])
def test_verify_names_a_tampered_event(db_path: Path, catalogue: Catalogue,
                                       column: str) -> None:
    storage = SQLiteStorage(db_path)
    service = Service(storage, catalogue, outbox=outbox(catalogue))
    for _ in range(4):
        alert_id = service.handle(
            Actor("a"),
            Declare.of(regions=[KYIV], type="air_raid"),
        ).body["alerts"][0]["id"]
        service.handle(Actor("a"), EndAlert.of(), alert_id)
    storage.close()
    conn = sqlite3.connect(db_path)
    value = {"payload": '{"alert_id":99}', "time": "2020-01-01T00:00:00.000Z",
             "actor": "mallory", "hash": "f" * 64}[column]
    conn.execute(f"UPDATE events SET {column} = ? WHERE seq = 5", (value,))
    conn.commit()
    conn.close()
    reopened = SQLiteStorage(db_path)
    broken = first_broken_link(reopened.iter_events())
    reopened.close()
    assert broken is not None
    # A changed hash is caught at the event itself or at the next link.
    assert broken[0] in ((5,) if column != "hash" else (5, 6))


def test_deleted_event_is_a_gap(db_path: Path, catalogue: Catalogue) -> None:
    storage = SQLiteStorage(db_path)
    service = Service(storage, catalogue, outbox=outbox(catalogue))
    for _ in range(3):
        service.handle(Actor("a"), Declare.of(regions=[KYIV], note="x", type="air_raid"))
        service.handle(Actor("a"), EndByRegion.of(region=KYIV, type="air_raid"))
    storage.close()
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM events WHERE seq = 3")
    conn.commit()
    conn.close()
    reopened = SQLiteStorage(db_path)
    assert first_broken_link(reopened.iter_events()) == (3, "sequence gap: expected 3, found 4")
    reopened.close()


def test_two_services_on_one_database_never_fork_the_log(db_path: Path,
                                                        catalogue: Catalogue) -> None:
    a = Service(SQLiteStorage(db_path), catalogue, outbox=outbox(catalogue))
    b = Service(SQLiteStorage(db_path), catalogue, outbox=outbox(catalogue))
    c = Service(SQLiteStorage(db_path), catalogue, outbox=outbox(catalogue))
    first = a.handle(Actor("x"), Declare.of(regions=[KYIV], type="air_raid")).body["alerts"][0]
    # b has not seen a's event yet; its command catches up inside the transaction.
    again = b.handle(Actor("y"), Declare.of(regions=[KYIV], type="air_raid")).body["alerts"][0]
    assert again["id"] == first["id"] and not again["created"]
    # c has never seen the alert, yet can update it by id.
    assert first["id"] not in c.state.alerts
    c.handle(Actor("z"), UpdateAlert.of(note="seen by c"), first["id"])
    b.handle(Actor("y"), EndAlert.of(), first["id"])
    with pytest.raises(Exception, match="not active"):
        a.handle(Actor("x"), EndAlert.of(), first["id"])
    assert first_broken_link(a.storage.iter_events()) is None
    assert a.state.snapshot() == b.state.snapshot()
    a.storage.close()
    b.storage.close()
    c.storage.close()


def test_a_fresh_event_equals_the_same_event_read_back(service: Service, admin: Actor) -> None:
    fresh = service.handle(
        admin,
        Declare.of(
            regions=[KYIV],
            threats=[{"type": "drones", "level": "red"}],
            source="s",
            note="n",
            type="air_raid",
        ),
    ).events
    stored = service.storage.read_events()
    assert list(fresh) == stored
    assert json.dumps(fresh[0].to_json()) == json.dumps(stored[0].to_json())
