"""The proposals store: what statements proposed, waiting for an operator (ingest/proposals.py).

Proposals are not public: they live in these tables, never in the event log, until an operator
accepts one and the Service appends its events. A statement is kept once per SHA-256 of what was
sent, so sending the same statement again proposes nothing new. A proposal's decision is one
conditional UPDATE (``state = 'pending'``) in the same transaction as the events it applies, so a
proposal is applied at most once, whoever races for it. The tables come from migration 6 in
``sqlite.py``.

Write functions run on the event writer's connection inside its transaction; reads use a
:class:`ProposalReader`, a connection of its own (WAL: readers never wait for the writer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tryvoga.storage.engine import Conn, Database, own_database

MIGRATION: list[str] = [
    """CREATE TABLE statements (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        received TEXT NOT NULL,
        actor TEXT NOT NULL,
        source TEXT NOT NULL,
        text TEXT NOT NULL,
        unresolved TEXT NOT NULL)""",
    """CREATE TABLE proposals (
        id INTEGER PRIMARY KEY,
        statement INTEGER NOT NULL REFERENCES statements (id),
        position INTEGER NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'accepted', 'rejected')),
        decided_at TEXT,
        decided_by TEXT,
        reason TEXT,
        events TEXT,
        UNIQUE (statement, position))""",
    "CREATE INDEX proposals_by_state ON proposals (state, id)",
]

STATES = ("pending", "accepted", "rejected")


@dataclass(frozen=True, slots=True)
class StatementRecord:
    id: int
    received: str
    actor: str
    source: str
    unresolved: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ProposalRecord:
    id: int
    statement: int
    kind: str
    body: dict[str, Any]  # region, alert_type, threats, incident_kind, status, source, ...
    state: str
    received: str
    decided_at: str | None
    decided_by: str | None
    reason: str | None
    events: tuple[int, ...]


_SELECT = ("SELECT p.id, p.statement, p.kind, p.body, p.state, s.received, p.decided_at, "
           "p.decided_by, p.reason, p.events FROM proposals p JOIN statements s "
           "ON s.id = p.statement")


def _record(row: tuple[Any, ...]) -> ProposalRecord:
    return ProposalRecord(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6],
                          row[7], row[8], tuple(json.loads(row[9])) if row[9] else ())


def statement_by_sha(conn: Conn, sha256: str) -> StatementRecord | None:
    row = conn.execute("SELECT id, received, actor, source, unresolved FROM statements "
                       "WHERE sha256 = ?", (sha256,)).fetchone()
    return None if row is None else StatementRecord(row[0], row[1], row[2], row[3],
                                                    json.loads(row[4]))


def add_statement(conn: Conn, sha256: str, time: str, actor: str, source: str,
                  text: str, unresolved: list[dict[str, Any]],
                  proposals: Sequence[dict[str, Any]]) -> int:
    """Store a statement and its proposals (each with its ``kind``); returns its id."""
    row = conn.execute(
        "INSERT INTO statements (sha256, received, actor, source, text, unresolved) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (sha256, time, actor, source, text, json.dumps(unresolved, ensure_ascii=False)),
    ).fetchone()
    statement = int(row[0])
    conn.executemany(
        "INSERT INTO proposals (statement, position, kind, body) VALUES (?, ?, ?, ?)",
        [(statement, position, body["kind"], json.dumps(body, ensure_ascii=False))
         for position, body in enumerate(proposals)])
    return statement


def of_statement(conn: Conn, statement: int) -> list[ProposalRecord]:
    rows = conn.execute(_SELECT + " WHERE p.statement = ? ORDER BY p.position",
                        (statement,)).fetchall()
    return [_record(r) for r in rows]


def get(conn: Conn, proposal_id: int) -> ProposalRecord | None:
    row = conn.execute(_SELECT + " WHERE p.id = ?", (proposal_id,)).fetchone()
    return None if row is None else _record(row)


def decide(conn: Conn, proposal_id: int, state: str, time: str, actor: str,
           reason: str, events: Sequence[int]) -> bool:
    """Mark a pending proposal accepted or rejected; False if it was not pending."""
    cursor = conn.execute(
        "UPDATE proposals SET state = ?, decided_at = ?, decided_by = ?, reason = ?, "
        "events = ? WHERE id = ? AND state = 'pending'",
        (state, time, actor, reason or None, json.dumps(list(events)), proposal_id))
    return cursor.rowcount == 1


class ProposalReader:
    """Reads proposals on a connection of its own."""

    def __init__(self, source: str | Path | Database) -> None:
        # an SQLite path, a PostgreSQL URL, or a database already open
        self._database, self._owned = own_database(source)
        self._session = self._database.session()

    def get(self, proposal_id: int) -> ProposalRecord | None:
        with self._session.read() as conn:
            return get(conn, proposal_id)

    def list(self, state: str | None = None, limit: int = 100) -> list[ProposalRecord]:
        """Newest first."""
        sql = _SELECT
        params: tuple[Any, ...] = ()
        if state is not None:
            sql, params = sql + " WHERE p.state = ?", (state,)
        with self._session.read() as conn:
            rows = conn.execute(sql + " ORDER BY p.id DESC LIMIT ?",
                                (*params, limit)).fetchall()
        return [_record(r) for r in rows]

    def close(self) -> None:
        self._session.close()
        if self._owned:
            self._database.close()
