"""The embedded default: an SQLite file in WAL mode, one writer at a time.

``synchronous=FULL`` makes every commit durable before it returns, so an acknowledged event
is on disk. Writers from several processes serialise on ``BEGIN IMMEDIATE``; each catches up
with the log inside its transaction before deciding anything. The connections are opened, and
their options set, in ``storage/engine.py``; the statements are shared with PostgreSQL in
``storage/sql.py``. The PostgreSQL form of each migration below is in ``storage/postgres.py``
(``POSTGRES_MIGRATIONS``, same numbers; see docs/architecture.md).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tryvoga.errors import StorageError
from tryvoga.storage import compat_webhooks, history, operators, proposals, webhooks
from tryvoga.storage.engine import SQLiteDatabase
from tryvoga.storage.sql import CorruptEvent, SQLStorage, SQLTransaction, get_meta, set_meta

META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"

# Schema version -> the statements that bring a database from the version before to it.
# Append a new version for every change; never edit a released one.
MIGRATIONS: dict[int, list[str]] = {1: [
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)""",
    """CREATE TABLE idempotency (
        key TEXT PRIMARY KEY,
        request_hash TEXT NOT NULL,
        status INTEGER NOT NULL,
        response TEXT NOT NULL,
        seq INTEGER NOT NULL,
        created TEXT NOT NULL)""",
    """CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL,
        write INTEGER NOT NULL,
        created TEXT NOT NULL,
        revoked TEXT)""",
    """CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)""",
]}
# Webhook subscriptions, outbox deliveries and attempts (issue 3; see storage/webhooks.py).
MIGRATIONS[2] = webhooks.MIGRATION
# Imported records of past alerts, keyed by their history.imported event (issue 6; see
# storage/history.py).
MIGRATIONS[3] = history.MIGRATION
# ukrainealarm webhook registrations (issue 4; see storage/compat_webhooks.py).
MIGRATIONS[5] = compat_webhooks.MIGRATION
# Statements and the events they propose, waiting for an operator (issue 6, statements; see
# storage/proposals.py).
MIGRATIONS[6] = proposals.MIGRATION
# The retry each webhook attempt scheduled (see storage/webhooks.py ATTEMPT_SCHEDULE).
MIGRATIONS[7] = webhooks.ATTEMPT_SCHEDULE
# Operators, console sessions and two-person approvals; automated tokens (issue 13; see
# storage/operators.py).
MIGRATIONS[8] = operators.MIGRATION
MIGRATIONS[9] = operators.AUTOMATED_TOKENS
# One outbox row per event for shared webhook formats, fanned out later (issue 15; see
# storage/webhooks.py FANOUT).
MIGRATIONS[10] = webhooks.FANOUT
# Webhooks and ukrainealarm registrations owned by token id, not name (issue 15; see
# storage/compat_webhooks.py OWNER_BY_TOKEN).
MIGRATIONS[11] = compat_webhooks.OWNER_BY_TOKEN
# Deliveries in sequence order per subscription: the pending rows of a subscription by
# sequence (issue 15; storage/webhooks.py ORDERED).
MIGRATIONS[15] = webhooks.ORDERED + compat_webhooks.BY_REGISTRATION

SCHEMA_VERSION = max(MIGRATIONS)


# The transaction class both engines share (``storage/sql.py``), under its old name.
SQLiteTransaction = SQLTransaction


class SQLiteStorage(SQLStorage):
    """The storage protocols on an SQLite file, created or upgraded when opened."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        database = SQLiteDatabase(self.path)
        try:
            super().__init__(database)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}",
                               code="database_unreadable") from exc

    def _migrate(self) -> None:
        with self._write.write() as conn:
            conn.execute(META)
            found = int(get_meta(conn, "schema_version") or 0)
            if found > SCHEMA_VERSION:
                raise StorageError(
                    f"database {self.path} was written by a newer Tryvoga (schema {found}; "
                    f"this one knows up to {SCHEMA_VERSION}); upgrade Tryvoga to open it",
                    code="schema_too_new")
            for version in sorted(v for v in MIGRATIONS if v > found):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
            if found < SCHEMA_VERSION:
                set_meta(conn, "schema_version", str(SCHEMA_VERSION))


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "CorruptEvent", "SQLiteStorage", "SQLiteTransaction"]
