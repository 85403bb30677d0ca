"""The storage protocols (``storage/base.py``) implemented once in SQL, for both engines.

``SQLStorage`` runs on a :class:`~tryvoga.storage.engine.Database`: an SQLite file
(``storage/sqlite.py``) or PostgreSQL (``storage/postgres.py``). The statements are the same
on both except where ``conn.dialect`` says otherwise. Every write goes through one
``writer()`` transaction, which on either engine admits one writer at a time (SQLite's
``BEGIN IMMEDIATE``, PostgreSQL's advisory lock) and reads the head of the log inside it: the
sequence stays gap-free and the hash chain unbroken whatever the number of writers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tryvoga.domain.events import GENESIS_HASH, Event, canonical_json, event_hash, make_event
from tryvoga.errors import StorageError
from tryvoga.storage import compat_webhooks, history, operators, proposals, webhooks
from tryvoga.storage.base import AuditRecord, IdempotencyRecord, TokenRecord, WebhookRecord
from tryvoga.storage.engine import EVENTS_CHANNEL, Conn, Database, Session


class CorruptEvent(StorageError):
    """A stored event that cannot even be read back (its payload is not JSON)."""

    def __init__(self, seq: int) -> None:
        super().__init__(f"event {seq} is corrupt: its payload is not JSON",
                         code="event_corrupt")
        self.seq = seq


_EVENT_COLUMNS = "seq, time, actor, kind, payload, prev_hash, hash"


def _event(row: Sequence[Any]) -> Event:
    try:
        payload = json.loads(row[4])
    except (TypeError, json.JSONDecodeError):
        raise CorruptEvent(row[0]) from None
    return Event(row[0], row[1], row[2], row[3], payload, row[5], row[6])


def _token(row: Sequence[Any]) -> TokenRecord:
    return TokenRecord(row[0], row[1], tuple(json.loads(row[2])), bool(row[3]), row[4], row[5])


def set_meta(conn: Conn, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def get_meta(conn: Conn, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def head_of(conn: Conn) -> tuple[int, str]:
    row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))


class SQLTransaction:
    """One write transaction: the head is read inside it, under the engine's write lock."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn
        self.appended = 0

    @property
    def conn(self) -> Conn:
        return self._conn

    def head(self) -> tuple[int, str]:
        return head_of(self._conn)

    def events_since(self, seq: int) -> list[Event]:
        rows = self._conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq",
            (seq,)).fetchall()
        return [_event(r) for r in rows]

    def append(self, time: str, actor: str, kind: str, payload: dict[str, Any]) -> Event:
        seq, prev = self.head()
        event = make_event(seq + 1, time, actor, kind, payload, prev)
        self._conn.execute(
            f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (event.seq, event.time, event.actor, event.kind, canonical_json(event.payload),
             event.prev_hash, event.hash))
        # The head is kept apart from the chain: a chain alone cannot show that events were
        # cut from its end.
        set_meta(self._conn, "head", f"{event.seq} {event.hash}")
        self.appended = event.seq
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

    def operators(self) -> operators.OperatorTables:
        """Operators, sessions and approvals, changed inside this transaction."""
        return operators.OperatorTables(self._conn)


class SQLStorage:
    """The event log, idempotency records, tokens and the audit log on a database.

    Two sessions: the writer's and the readers'. ``remote`` tells the server whether a read
    can wait on the network (then it is made off the event loop).
    """

    remote = False

    def __init__(self, database: Database) -> None:
        self.database = database
        self._write: Session = database.session()
        try:
            self._read: Session = database.session()
        except BaseException:
            self._write.close()
            raise
        self._data_version: int | None = None

    @property
    def dialect(self) -> str:
        return self.database.dialect

    @contextmanager
    def writer(self) -> Iterator[SQLTransaction]:
        with self._write.write() as conn:
            tx = SQLTransaction(conn)
            yield tx
            if tx.appended and conn.dialect == "postgres":
                # Delivered at commit to every node's LISTEN connection (live/notify.py).
                conn.execute("SELECT pg_notify(?, ?)", (EVENTS_CHANNEL, str(tx.appended)))

    def read_events(self, since: int = 0, limit: int | None = None) -> list[Event]:
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq"
        params: tuple[int, ...] = (since,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (since, limit)
        with self._read.read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_event(r) for r in rows]

    def iter_events(self, since: int = 0, batch: int = 5000) -> Iterator[Event]:
        while True:
            chunk = self.read_events(since, batch)
            yield from chunk
            if len(chunk) < batch:
                return
            since = chunk[-1].seq

    def head(self) -> tuple[int, str]:
        with self._read.read() as conn:
            return head_of(conn)

    def recorded_head(self) -> tuple[int, str] | None:
        """The sequence and hash of the last event appended, as the meta table records it."""
        with self._read.read() as conn:
            value = get_meta(conn, "head")
        if value is None:
            return None
        seq, _, digest = value.partition(" ")
        return int(seq), digest

    def schema_version(self) -> int:
        with self._read.read() as conn:
            value = get_meta(conn, "schema_version")
        return int(value or 0)

    def changed(self) -> bool:
        """Whether another connection committed since the last call. SQLite answers from
        ``PRAGMA data_version``; PostgreSQL always says yes (the read that follows is one
        index probe, and LISTEN/NOTIFY decides when it is made)."""
        with self._read.read() as conn:
            version = getattr(conn, "data_version", None)
        if version is None:
            return True
        previous, self._data_version = self._data_version, version
        return previous is None or version != previous

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A plain read on the readers' session, ``?`` placeholders (tools and tests)."""
        with self._read.read() as conn:
            return [tuple(r) for r in conn.execute(sql, params).fetchall()]

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        with self._read.read() as conn:
            row = conn.execute(
                "SELECT id, name, scopes, write, created, revoked FROM tokens WHERE hash = ?",
                (token_hash,)).fetchone()
        return None if row is None else _token(row)

    def token_automated(self, token_id: str) -> bool:
        """Whether the token was created as an automated source (approval.py)."""
        with self._read.read() as conn:
            return operators.Queries(conn).token_automated(token_id)

    def tokens(self) -> list[TokenRecord]:
        with self._read.read() as conn:
            rows = conn.execute(
                "SELECT id, name, scopes, write, created, revoked FROM tokens "
                "ORDER BY created, id").fetchall()
        return [_token(r) for r in rows]

    def audit_records(self) -> list[AuditRecord]:
        with self._read.read() as conn:
            rows = conn.execute(
                "SELECT seq, time, actor, action, detail, prev_hash, hash FROM audit "
                "ORDER BY seq").fetchall()
        return [AuditRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6])
                for r in rows]

    def close(self) -> None:
        self._write.close()
        self._read.close()
        self.database.close()


__all__ = ["CorruptEvent", "SQLStorage", "SQLTransaction", "get_meta", "head_of", "set_meta"]
