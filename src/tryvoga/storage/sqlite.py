"""The embedded default: an SQLite file in WAL mode, one writer at a time.

``synchronous=FULL`` makes every commit durable before it returns, so an acknowledged event
is on disk. Writers from several processes serialise on ``BEGIN IMMEDIATE``; each catches up
with the log inside its transaction before deciding anything.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tryvoga.domain.events import GENESIS_HASH, Event, canonical_json, event_hash, make_event
from tryvoga.errors import StorageError
from tryvoga.storage import compat_webhooks, history, proposals, webhooks
from tryvoga.storage.base import (
    AuditRecord,
    IdempotencyRecord,
    TokenRecord,
    WebhookRecord,
)

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
# One outbox row per event for shared webhook formats, fanned out later (issue 15; see
# storage/webhooks.py FANOUT).
MIGRATIONS[10] = webhooks.FANOUT
# Webhooks and ukrainealarm registrations owned by token id, not name (issue 15; see
# storage/compat_webhooks.py OWNER_BY_TOKEN).
MIGRATIONS[11] = compat_webhooks.OWNER_BY_TOKEN

SCHEMA_VERSION = max(MIGRATIONS)


class CorruptEvent(StorageError):
    """A stored event that cannot even be read back (its payload is not JSON)."""

    def __init__(self, seq: int) -> None:
        super().__init__(f"event {seq} is corrupt: its payload is not JSON",
                         code="event_corrupt")
        self.seq = seq


def _event(row: tuple[Any, ...]) -> Event:
    try:
        payload = json.loads(row[4])
    except (TypeError, json.JSONDecodeError):
        raise CorruptEvent(row[0]) from None
    return Event(row[0], row[1], row[2], row[3], payload, row[5], row[6])


def _token(row: tuple[Any, ...]) -> TokenRecord:
    return TokenRecord(row[0], row[1], tuple(json.loads(row[2])), bool(row[3]), row[4], row[5])


class SQLiteTransaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def head(self) -> tuple[int, str]:
        row = self._conn.execute(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, GENESIS_HASH) if row is None else (row[0], row[1])

    def events_since(self, seq: int) -> list[Event]:
        rows = self._conn.execute(
            "SELECT seq, time, actor, kind, payload, prev_hash, hash FROM events "
            "WHERE seq > ? ORDER BY seq", (seq,)).fetchall()
        return [_event(r) for r in rows]

    def append(self, time: str, actor: str, kind: str, payload: dict[str, Any]) -> Event:
        seq, prev = self.head()
        event = make_event(seq + 1, time, actor, kind, payload, prev)
        self._conn.execute(
            "INSERT INTO events (seq, time, actor, kind, payload, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (event.seq, event.time, event.actor, event.kind, canonical_json(event.payload),
             event.prev_hash, event.hash))
        # The head is kept apart from the chain: a chain alone cannot show that events were
        # cut from its end.
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('head', ?)",
                           (f"{event.seq} {event.hash}",))
        return event

    def idempotency_get(self, key: str) -> IdempotencyRecord | None:
        row = self._conn.execute(
            "SELECT request_hash, status, response FROM idempotency WHERE key = ?",
            (key,)).fetchone()
        return None if row is None else IdempotencyRecord(row[0], row[1], json.loads(row[2]))

    def idempotency_put(self, key: str, record: IdempotencyRecord, seq: int, time: str) -> None:
        self._conn.execute(
            "INSERT INTO idempotency (key, request_hash, status, response, seq, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, record.request_hash, record.status, canonical_json(record.response), seq,
             time))

    def audit(self, time: str, actor: str, action: str, detail: dict[str, Any]) -> None:
        row = self._conn.execute(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (0, GENESIS_HASH) if row is None else (row[0], row[1])
        digest = event_hash(seq + 1, time, actor, action, detail, prev)
        self._conn.execute(
            "INSERT INTO audit (seq, time, actor, action, detail, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq + 1, time, actor, action, canonical_json(detail), prev, digest))

    def token_insert(self, record: TokenRecord, token_hash: str) -> None:
        self._conn.execute(
            "INSERT INTO tokens (id, name, hash, scopes, write, created, revoked) "
            "VALUES (?, ?, ?, ?, ?, ?, NULL)",
            (record.id, record.name, token_hash, json.dumps(list(record.scopes)),
             int(record.write), record.created))

    def token_revoke(self, token_id: str, time: str) -> bool:
        cursor = self._conn.execute(
            "UPDATE tokens SET revoked = ? WHERE (id = ? OR name = ?) AND revoked IS NULL",
            (time, token_id, token_id))
        return cursor.rowcount > 0

    def webhooks_version(self) -> int:
        return webhooks.version(self._conn)

    def webhooks_active(self) -> list[WebhookRecord]:
        return webhooks.active(self._conn)

    def outbox_add(self, event_seq: int, format_name: str, content_type: str, body: bytes,
                   webhook_ids: Sequence[str], due: float) -> None:
        webhooks.outbox_add(self._conn, event_seq, format_name, content_type, body,
                            webhook_ids, due)

    def webhooks_shared_formats(self) -> list[str]:
        return webhooks.shared_formats(self._conn)

    def outbox_fanout(self, event_seq: int, format_name: str, content_type: str, body: bytes,
                      due: float) -> None:
        webhooks.outbox_fanout(self._conn, event_seq, format_name, content_type, body, due)

    def history_add(self, seq: int, time: str, batch: history.HistoryBatch) -> int:
        return history.add(self._conn, seq, time, batch)

    def history_import(self, sha256: str) -> history.ImportRecord | None:
        return history.import_by_sha(self._conn, sha256)

    def statement_by_sha(self, sha256: str) -> proposals.StatementRecord | None:
        return proposals.statement_by_sha(self._conn, sha256)

    def statement_add(self, sha256: str, time: str, actor: str, source: str, text: str,
                      unresolved: list[dict[str, Any]],
                      bodies: Sequence[dict[str, Any]]) -> int:
        return proposals.add_statement(self._conn, sha256, time, actor, source, text,
                                       unresolved, bodies)

    def proposals_of(self, statement: int) -> list[proposals.ProposalRecord]:
        return proposals.of_statement(self._conn, statement)

    def proposal_get(self, proposal_id: int) -> proposals.ProposalRecord | None:
        return proposals.get(self._conn, proposal_id)

    def proposal_decide(self, proposal_id: int, state: str, time: str, actor: str, reason: str,
                        events: Sequence[int]) -> bool:
        return proposals.decide(self._conn, proposal_id, state, time, actor, reason, events)

    def ukrainealarm_registrations(self) -> compat_webhooks.Registrations:
        """The ukrainealarm façade's webhook registrations and their delivery subscriptions,
        changed inside this transaction."""
        return compat_webhooks.Registrations(self._conn)


def create_private(path: str) -> None:
    """Create the database file readable and writable by its owner only (it holds webhook
    secrets and token hashes); SQLite gives its WAL and shared-memory files the same mode. An
    existing file keeps the mode it has."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StorageError(f"cannot create database {path}: {exc.strerror}",
                           code="database_path") from None


class SQLiteStorage:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            parent = Path(self.path).expanduser().resolve().parent
            if not parent.is_dir():
                raise StorageError(f"cannot open database {self.path}: "
                                   f"folder {parent} does not exist", code="database_path")
            create_private(self.path)
        try:
            self._write = self._connect()
            self._read = self._connect()
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}",
                               code="database_unreadable") from exc
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._data_version: int | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _migrate(self) -> None:
        conn = self._write
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(META)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            found = int(row[0]) if row else 0
            if found > SCHEMA_VERSION:
                raise StorageError(
                    f"database {self.path} was written by a newer Tryvoga (schema {found}; "
                    f"this one knows up to {SCHEMA_VERSION}); upgrade Tryvoga to open it",
                    code="schema_too_new")
            for version in sorted(v for v in MIGRATIONS if v > found):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
            if found < SCHEMA_VERSION:
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES "
                             "('schema_version', ?)", (str(SCHEMA_VERSION),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def schema_version(self) -> int:
        with self._read_lock:
            row = self._read.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0])

    @contextmanager
    def writer(self) -> Iterator[SQLiteTransaction]:
        with self._write_lock:
            conn = self._write
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StorageError(f"database is busy: {exc}", code="database_busy") from exc
            try:
                yield SQLiteTransaction(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def read_events(self, since: int = 0, limit: int | None = None) -> list[Event]:
        sql = ("SELECT seq, time, actor, kind, payload, prev_hash, hash FROM events "
               "WHERE seq > ? ORDER BY seq")
        params: tuple[int, ...] = (since,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (since, limit)
        with self._read_lock:
            rows = self._read.execute(sql, params).fetchall()
        return [_event(r) for r in rows]

    def iter_events(self, since: int = 0, batch: int = 5000) -> Iterator[Event]:
        while True:
            chunk = self.read_events(since, batch)
            yield from chunk
            if len(chunk) < batch:
                return
            since = chunk[-1].seq

    def head(self) -> tuple[int, str]:
        with self._read_lock:
            row = self._read.execute(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, GENESIS_HASH) if row is None else (row[0], row[1])

    def recorded_head(self) -> tuple[int, str] | None:
        """The sequence and hash of the last event appended, as the meta table records it."""
        with self._read_lock:
            row = self._read.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
        if row is None:
            return None
        seq, _, digest = str(row[0]).partition(" ")
        return int(seq), digest

    def changed(self) -> bool:
        with self._read_lock:
            version = self._read.execute("PRAGMA data_version").fetchone()[0]
        previous, self._data_version = self._data_version, version
        return previous is None or version != previous

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        with self._read_lock:
            row = self._read.execute(
                "SELECT id, name, scopes, write, created, revoked FROM tokens WHERE hash = ?",
                (token_hash,)).fetchone()
        return None if row is None else _token(row)

    def tokens(self) -> list[TokenRecord]:
        with self._read_lock:
            rows = self._read.execute(
                "SELECT id, name, scopes, write, created, revoked FROM tokens "
                "ORDER BY created, id").fetchall()
        return [_token(r) for r in rows]

    def audit_records(self) -> list[AuditRecord]:
        with self._read_lock:
            rows = self._read.execute(
                "SELECT seq, time, actor, action, detail, prev_hash, hash FROM audit "
                "ORDER BY seq").fetchall()
        return [AuditRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6])
                for r in rows]

    def close(self) -> None:
        self._write.close()
        self._read.close()
