"""Every schema migration with its form for each engine, and the storage the settings name.

A migration is a number and, per engine, the statements that bring a database from the number
before it: the SQLite form lives with the SQLite engine (``storage/sqlite.py`` MIGRATIONS, run
whenever a file is opened) and the PostgreSQL form with the PostgreSQL engine
(``storage/postgres.py`` POSTGRES_MIGRATIONS, run by ``tryvoga migrate``). A migration that
has no PostgreSQL form yet is listed by :func:`unported`; a test fails until it is ported
(docs/architecture.md, "Migrations", says how).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tryvoga.storage.engine import PostgresDatabase
from tryvoga.storage.postgres import POSTGRES_MIGRATIONS, PostgresStorage
from tryvoga.storage.postgres import migrate as migrate_postgres
from tryvoga.storage.sql import SQLStorage
from tryvoga.storage.sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from tryvoga.storage.sqlite import SQLiteStorage


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    sqlite: Sequence[str]
    postgres: Sequence[str] | None  # None: not ported to PostgreSQL yet


def migrations() -> list[Migration]:
    versions = sorted(set(SQLITE_MIGRATIONS) | set(POSTGRES_MIGRATIONS))
    return [Migration(v, SQLITE_MIGRATIONS.get(v, ()), POSTGRES_MIGRATIONS.get(v))
            for v in versions]


def unported() -> list[int]:
    """SQLite migrations without a PostgreSQL form."""
    return [m.version for m in migrations() if m.postgres is None]


def open_storage(db: str | Path, database_url: str = "", *,
                 migrate: bool = False) -> SQLStorage:
    """The storage the settings name: PostgreSQL when ``database_url`` is set (its schema
    checked, or brought up to date with ``migrate``), else the SQLite file (always brought up
    to date, as an embedded database has no separate step)."""
    if database_url:
        return PostgresStorage(database_url, migrate_schema=migrate)
    return SQLiteStorage(db)


def migrate(db: str | Path, database_url: str = "") -> tuple[str, int, int]:
    """``tryvoga migrate``: (database name, version before, version after)."""
    if database_url:
        database = PostgresDatabase(database_url)
        try:
            before, after = migrate_postgres(database)
            return database.name, before, after
        finally:
            database.close()
    import sqlite3

    from tryvoga.storage.sqlite import SCHEMA_VERSION

    before = 0
    try:
        conn = sqlite3.connect(str(db))
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            before = int(row[0]) if row else 0
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        before = 0
    SQLiteStorage(db).close()
    return str(db), before, SCHEMA_VERSION


__all__ = ["Migration", "migrate", "migrations", "open_storage", "unported"]
