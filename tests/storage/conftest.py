"""Both engines behind one fixture: every contract test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tryvoga.storage.engine import Database, PostgresDatabase, SQLiteDatabase
from tryvoga.storage.migrations import open_storage
from tryvoga.storage.sql import SQLStorage

from ..pg import fresh_database


@dataclass
class Backend:
    """One database on one engine; ``open()`` is another node (or process) on it."""

    engine: str
    db: Path
    url: str = ""
    opened: list[Any] = field(default_factory=list)

    def open(self) -> SQLStorage:
        storage = open_storage(self.db, self.url, migrate=True)
        self.opened.append(storage)
        return storage

    def database(self) -> Database:
        database: Database = PostgresDatabase(self.url) if self.url else SQLiteDatabase(self.db)
        self.opened.append(database)
        return database

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        """A change made behind Tryvoga's back (tampering, tests of refusals)."""
        database = self.database()
        with database.session().write(exclusive=False) as conn:
            conn.execute(sql, params)

    def close(self) -> None:
        for item in reversed(self.opened):
            item.close()
        self.opened.clear()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database()) if request.param == "postgres" else ""
        found = Backend(request.param, tmp_path / "contract.db", url)
        try:
            yield found
        finally:
            found.close()
