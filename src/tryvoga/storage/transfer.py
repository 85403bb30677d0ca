"""``tryvoga migrate-data``: copy an SQLite installation into an empty PostgreSQL database.

The source's hash chains (events and audit) are verified before anything is copied, every
table is copied in one PostgreSQL transaction under the write lock (nodes started meanwhile
wait, and see all or nothing), and the chains are verified again as read back from PostgreSQL,
with the same head. A source table that PostgreSQL has no form for (a migration not ported
yet, ``storage/migrations.py``) stops the copy before it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tryvoga.domain.events import first_broken_link
from tryvoga.errors import BadRequest, StorageError
from tryvoga.storage.engine import PostgresDatabase
from tryvoga.storage.integrity import head_problem
from tryvoga.storage.postgres import PostgresStorage, migrate
from tryvoga.storage.sql import CorruptEvent, SQLStorage, set_meta
from tryvoga.storage.sqlite import SQLiteStorage

# Parents before children (foreign keys); any other table follows in name order.
ORDER = ("events", "idempotency", "tokens", "audit", "webhooks", "webhook_payloads",
         "webhook_deliveries", "webhook_attempts", "webhook_fanout", "history_imports",
         "history_alerts", "history_unresolved", "compat_webhooks", "statements", "proposals",
         "operators", "operator_sessions", "approvals")
BATCH = 5000


class AuditView:
    """An audit record seen through the event fields the chain check reads."""

    def __init__(self, record: Any) -> None:
        self.seq = record.seq
        self.time = record.time
        self.actor = record.actor
        self.kind = record.action
        self.payload = record.detail
        self.prev_hash = record.prev_hash
        self.hash = record.hash


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int
    head: tuple[int, str]
    audit: int
    broken: str | None  # what is wrong, or None


def check_chains(storage: SQLStorage) -> ChainReport:
    """The whole event log and audit log checked link by link, and the head recorded apart
    from the chain compared with the chain's end (``tryvoga verify``)."""
    count = 0
    head: tuple[int, str] = (0, "")

    def counted() -> Iterable[Any]:
        nonlocal count, head
        for event in storage.iter_events():
            count += 1
            head = (event.seq, event.hash)
            yield event

    broken_text: str | None = None
    try:
        broken = first_broken_link(counted())
    except CorruptEvent as exc:
        broken = (exc.seq, exc.message)
    if broken is None:
        # The head recorded apart from the chain: events cut from the end, or the last one
        # rewritten with its hash recomputed (storage/integrity.py).
        problem = head_problem(storage, head)
        if problem is not None:
            broken = (head[0] if "rewritten" in problem else head[0] + 1, problem)
    if broken is not None:
        broken_text = f"event log at sequence {broken[0]}: {broken[1]}"
    audit = storage.audit_records()
    audit_broken = first_broken_link([AuditView(a) for a in audit])
    if broken_text is None and audit_broken is not None:
        broken_text = f"audit log at record {audit_broken[0]}: {audit_broken[1]}"
    return ChainReport(count, head, len(audit), broken_text)


def _sqlite_tables(source: SQLiteStorage) -> list[str]:
    rows = source.query("SELECT name FROM sqlite_master WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite_%' AND name != 'meta'")
    names = {str(r[0]) for r in rows}
    return [t for t in ORDER if t in names] + sorted(names - set(ORDER))


def _columns(source: SQLiteStorage, table: str) -> list[str]:
    return [str(r[1]) for r in source.query(f"PRAGMA table_info({table})")]


@dataclass(frozen=True, slots=True)
class TransferReport:
    source: ChainReport
    target: ChainReport
    rows: dict[str, int]


def transfer(source_path: str | Path, url: str,
             progress: Callable[[str], None] = lambda _: None) -> TransferReport:
    path = Path(source_path)
    if not path.is_file():
        raise BadRequest(f"no SQLite database at {path}")
    source = SQLiteStorage(path)
    try:
        before = check_chains(source)
        if before.broken is not None:
            raise StorageError(f"{path}: BROKEN {before.broken}; nothing copied",
                               code="chain_broken")
        progress(f"source {path}: {before.events} events, audit {before.audit} records, "
                 "hash chains intact")
        database = PostgresDatabase(url)
        try:
            migrate(database)
            rows = _copy(source, database, progress)
        finally:
            database.close()
    finally:
        source.close()
    target = PostgresStorage(url)
    try:
        after = check_chains(target)
    finally:
        target.close()
    if after.broken is not None or after.head != before.head or after.events != before.events:
        raise StorageError(f"the copy in PostgreSQL does not verify: "
                           f"{after.broken or f'head {after.head} != {before.head}'}",
                           code="chain_broken")
    return TransferReport(before, after, rows)


def _copy(source: SQLiteStorage, database: PostgresDatabase,
          progress: Callable[[str], None]) -> dict[str, int]:
    tables = _sqlite_tables(source)
    with database.session().write() as conn:
        known = {str(r[0]) for r in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema()").fetchall()}
        missing = [t for t in tables if t not in known]
        if missing:
            raise StorageError(f"PostgreSQL has no form yet for the table(s) "
                               f"{', '.join(missing)} (a migration not ported, see "
                               "docs/architecture.md); nothing copied",
                               code="schema_unported")
        for table in tables:
            if conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
                raise StorageError(f"the PostgreSQL database is not empty (table {table} has "
                                   "rows); migrate-data copies into a fresh database only",
                                   code="target_not_empty")
        counts: dict[str, int] = {}
        for table in tables:
            columns = _columns(source, table)
            names = ", ".join(columns)
            marks = ", ".join("?" * len(columns))
            key = "seq" if "seq" in columns and table in ("events", "audit") else "rowid"
            last: Any = None
            total = 0
            while True:
                where = "" if last is None else f" WHERE {key} > ?"
                chunk = source.query(
                    f"SELECT {key}, {names} FROM {table}{where} ORDER BY {key} LIMIT ?",
                    ([] if last is None else [last]) + [BATCH])
                if not chunk:
                    break
                conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                                 [row[1:] for row in chunk])
                total += len(chunk)
                last = chunk[-1][0]
            sequence = conn.execute("SELECT pg_get_serial_sequence(?, 'id')",
                                    (table,)).fetchone() if "id" in columns else None
            if sequence is not None and sequence[0] is not None:
                # An identity column goes on after the highest id copied.
                conn.execute(f"SELECT setval(?, COALESCE((SELECT MAX(id) FROM {table}), 0) "
                             "+ 1, false)", (sequence[0],))
            counts[table] = total
            progress(f"copied {table}: {total} rows")
        for key_name in ("head", "webhooks_version"):
            found = source.query("SELECT value FROM meta WHERE key = ?", [key_name])
            if found:
                set_meta(conn, key_name, str(found[0][0]))
    return counts


__all__ = ["ChainReport", "TransferReport", "check_chains", "transfer"]
