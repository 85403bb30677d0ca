"""Operators, their console sessions, and two-person approval requests (migrations 8 and 9).

None of this enters the public log. Operators are people with an argon2 password hash, a role
(``operator`` or ``approver``) and a scope; a session is stored by the SHA-256 of the random id
in its cookie, with its CSRF token and expiry; an approval request holds a declaration that
waits for a second operator. Changes run inside a write transaction of the event writer
(``tx.operators()``) so that an approval is marked decided in the same commit as the events
it releases; reads use an :class:`OperatorReader` on a connection of its own (WAL: readers
never wait for the writer).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tryvoga.storage.engine import Conn, Database, SQLiteDatabase

MIGRATION: list[str] = [
    """CREATE TABLE operators (
        name TEXT PRIMARY KEY,
        password TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('operator', 'approver')),
        scopes TEXT NOT NULL,
        created TEXT NOT NULL,
        disabled TEXT,
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until REAL NOT NULL DEFAULT 0)""",
    """CREATE TABLE operator_sessions (
        id TEXT PRIMARY KEY,
        operator TEXT NOT NULL REFERENCES operators (name),
        csrf TEXT NOT NULL,
        created REAL NOT NULL,
        seen REAL NOT NULL,
        ended REAL)""",
    """CREATE TABLE approvals (
        id INTEGER PRIMARY KEY,
        requester TEXT NOT NULL REFERENCES operators (name),
        session TEXT NOT NULL,
        form_key TEXT NOT NULL,
        created TEXT NOT NULL,
        expires REAL NOT NULL,
        body TEXT NOT NULL,
        reasons TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'approved', 'rejected', 'cancelled')),
        decided_by TEXT,
        decided_at TEXT,
        reason TEXT,
        events TEXT,
        UNIQUE (requester, form_key))""",
    "CREATE INDEX approvals_by_state ON approvals (state, id)",
]

# The same tables on PostgreSQL (storage/postgres.py).
MIGRATION_POSTGRES: list[str] = [
    """CREATE TABLE operators (
        name ctext PRIMARY KEY,
        password ctext NOT NULL,
        role ctext NOT NULL CHECK (role IN ('operator', 'approver')),
        scopes ctext NOT NULL,
        created ctext NOT NULL,
        disabled ctext,
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until DOUBLE PRECISION NOT NULL DEFAULT 0)""",
    """CREATE TABLE operator_sessions (
        id ctext PRIMARY KEY,
        operator ctext NOT NULL REFERENCES operators (name),
        csrf ctext NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        seen DOUBLE PRECISION NOT NULL,
        ended DOUBLE PRECISION)""",
    """CREATE TABLE approvals (
        id BIGSERIAL PRIMARY KEY,
        requester ctext NOT NULL REFERENCES operators (name),
        session ctext NOT NULL,
        form_key ctext NOT NULL,
        created ctext NOT NULL,
        expires DOUBLE PRECISION NOT NULL,
        body ctext NOT NULL,
        reasons ctext NOT NULL,
        state ctext NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'approved', 'rejected', 'cancelled')),
        decided_by ctext,
        decided_at ctext,
        reason ctext,
        events ctext,
        UNIQUE (requester, form_key))""",
    "CREATE INDEX approvals_by_state ON approvals (state, id)",
]

# Tokens created as automated sources (``tryvoga token create --automated``) may declare alone
# what the two-person rule covers (approval.py).
AUTOMATED_TOKENS: list[str] = [
    "ALTER TABLE tokens ADD COLUMN automated INTEGER NOT NULL DEFAULT 0",
]  # the same statement on both engines

ROLES = ("operator", "approver")


@dataclass(frozen=True, slots=True)
class OperatorRecord:
    name: str
    password: str  # the argon2 hash
    role: str
    scopes: tuple[str, ...]
    created: str
    disabled: str | None
    failures: int
    locked_until: float


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str  # SHA-256 of the cookie's value
    operator: str
    csrf: str
    created: float
    seen: float
    ended: float | None


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    id: int
    requester: str
    session: str
    form_key: str
    created: str
    expires: float
    body: dict[str, Any]  # regions, type, threats, status, note
    reasons: tuple[str, ...]
    state: str
    decided_by: str | None
    decided_at: str | None
    reason: str | None
    events: tuple[int, ...]


_OPERATOR = "SELECT name, password, role, scopes, created, disabled, failures, locked_until " \
            "FROM operators"
_SESSION = "SELECT id, operator, csrf, created, seen, ended FROM operator_sessions"
_APPROVAL = ("SELECT id, requester, session, form_key, created, expires, body, reasons, state, "
             "decided_by, decided_at, reason, events FROM approvals")


def _operator(row: tuple[Any, ...]) -> OperatorRecord:
    return OperatorRecord(row[0], row[1], row[2], tuple(json.loads(row[3])), row[4], row[5],
                          row[6], row[7])


def _approval(row: tuple[Any, ...]) -> ApprovalRecord:
    return ApprovalRecord(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]),
                          tuple(json.loads(row[7])), row[8], row[9], row[10], row[11],
                          tuple(json.loads(row[12])) if row[12] else ())


class Queries:
    """Reads shared by the writer's tables and the reader."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    def operator(self, name: str) -> OperatorRecord | None:
        row = self._conn.execute(_OPERATOR + " WHERE name = ?", (name,)).fetchone()
        return None if row is None else _operator(row)

    def operators(self) -> list[OperatorRecord]:
        return [_operator(r) for r in self._conn.execute(_OPERATOR + " ORDER BY name").fetchall()]

    def session(self, session_id: str) -> SessionRecord | None:
        row = self._conn.execute(_SESSION + " WHERE id = ?", (session_id,)).fetchone()
        return None if row is None else SessionRecord(*row)

    def approval(self, approval_id: int) -> ApprovalRecord | None:
        row = self._conn.execute(_APPROVAL + " WHERE id = ?", (approval_id,)).fetchone()
        return None if row is None else _approval(row)

    def approvals(self, state: str | None = None, limit: int = 100) -> list[ApprovalRecord]:
        """Newest first."""
        if state is None:
            rows = self._conn.execute(_APPROVAL + " ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self._conn.execute(_APPROVAL + " WHERE state = ? ORDER BY id DESC LIMIT ?",
                                      (state, limit))
        return [_approval(r) for r in rows.fetchall()]

    def token_automated(self, token_id: str) -> bool:
        row = self._conn.execute("SELECT automated FROM tokens WHERE id = ?",
                                 (token_id,)).fetchone()
        return bool(row and row[0])


class OperatorTables(Queries):
    """Changes, on the writer's connection inside its transaction."""

    def operator_insert(self, name: str, password: str, role: str, scopes: Sequence[str],
                        created: str) -> None:
        self._conn.execute(
            "INSERT INTO operators (name, password, role, scopes, created) "
            "VALUES (?, ?, ?, ?, ?)", (name, password, role, json.dumps(list(scopes)), created))

    def operator_disable(self, name: str, time: str) -> bool:
        cursor = self._conn.execute(
            "UPDATE operators SET disabled = ? WHERE name = ? AND disabled IS NULL", (time, name))
        if cursor.rowcount:
            self._conn.execute("UPDATE operator_sessions SET ended = ? WHERE operator = ? "
                               "AND ended IS NULL", (0.0, name))
        return cursor.rowcount == 1

    def operator_password(self, name: str, password: str) -> None:
        self._conn.execute("UPDATE operators SET password = ? WHERE name = ?", (password, name))

    def login_failed(self, name: str, failures: int, locked_until: float) -> None:
        self._conn.execute("UPDATE operators SET failures = ?, locked_until = ? WHERE name = ?",
                           (failures, locked_until, name))

    def session_start(self, session_id: str, operator: str, csrf: str, now: float) -> None:
        self._conn.execute("UPDATE operators SET failures = 0, locked_until = 0 WHERE name = ?",
                           (operator,))
        self._conn.execute(
            "INSERT INTO operator_sessions (id, operator, csrf, created, seen) "
            "VALUES (?, ?, ?, ?, ?)", (session_id, operator, csrf, now, now))

    def session_seen(self, session_id: str, now: float) -> None:
        self._conn.execute("UPDATE operator_sessions SET seen = ? WHERE id = ?",
                           (now, session_id))

    def session_end(self, session_id: str, now: float) -> bool:
        cursor = self._conn.execute("UPDATE operator_sessions SET ended = ? WHERE id = ? AND "
                                    "ended IS NULL", (now, session_id))
        return cursor.rowcount == 1

    def approval_add(self, requester: str, session: str, form_key: str, created: str,
                     expires: float, body: dict[str, Any], reasons: Sequence[str]) -> int:
        row = self._conn.execute(
            "INSERT INTO approvals (requester, session, form_key, created, expires, body, "
            "reasons) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (requester, session, form_key, created, expires,
             json.dumps(body, ensure_ascii=False), json.dumps(list(reasons)))).fetchone()
        return int(row[0])

    def approval_by_form(self, requester: str, form_key: str) -> ApprovalRecord | None:
        row = self._conn.execute(_APPROVAL + " WHERE requester = ? AND form_key = ?",
                                 (requester, form_key)).fetchone()
        return None if row is None else _approval(row)

    def approval_decide(self, approval_id: int, state: str, by: str, time: str, reason: str,
                        events: Sequence[int], now: float) -> bool:
        """Mark a pending, unexpired request decided; False if it was not (any more)."""
        cursor = self._conn.execute(
            "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ?, reason = ?, "
            "events = ? WHERE id = ? AND state = 'pending' AND (expires > ? OR ? != 'approved')",
            (state, by, time, reason or None, json.dumps(list(events)), approval_id, now, state))
        return cursor.rowcount == 1

    def token_mark_automated(self, token_id: str) -> None:
        self._conn.execute("UPDATE tokens SET automated = 1 WHERE id = ?", (token_id,))


class OperatorReader:
    """Reads operators, sessions and approvals on a session of its own (on SQLite, WAL:
    readers never wait for the writer)."""

    def __init__(self, source: str | Path | Database) -> None:
        database = SQLiteDatabase(source) if isinstance(source, str | Path) else source
        self._session = database.session()
        self.lock = threading.Lock()

    def operator(self, name: str) -> OperatorRecord | None:
        with self._session.read() as conn:
            return Queries(conn).operator(name)

    def operators(self) -> list[OperatorRecord]:
        with self._session.read() as conn:
            return Queries(conn).operators()

    def session(self, session_id: str) -> SessionRecord | None:
        with self._session.read() as conn:
            return Queries(conn).session(session_id)

    def approval(self, approval_id: int) -> ApprovalRecord | None:
        with self._session.read() as conn:
            return Queries(conn).approval(approval_id)

    def approvals(self, state: str | None = None, limit: int = 100) -> list[ApprovalRecord]:
        """Newest first."""
        with self._session.read() as conn:
            return Queries(conn).approvals(state, limit)

    def token_automated(self, token_id: str) -> bool:
        with self._session.read() as conn:
            return Queries(conn).token_automated(token_id)

    def close(self) -> None:
        self._session.close()
