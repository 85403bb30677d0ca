"""The history store: imported records of past alerts, apart from the live state.

An import is one ``history.imported`` event in the public log; its rows live here, keyed by that
event's sequence number and written in the same transaction, so the public stream carries one
event per import, not one per row. Rows are unique per (source, region, type, start): importing
the same record twice, or the Ukrainian and English copies of one record, adds nothing the
second time. Rows whose place could not be resolved are kept in ``history_unresolved`` so that
they are listed, never dropped silently. The tables come from migration 3 in ``sqlite.py``.

Write functions run on the event writer's connection inside its transaction; reads use a
:class:`HistoryReader`, a connection of its own (WAL: readers never wait for the writer).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tryvoga.storage.engine import Conn, Database, own_database

MIGRATION: list[str] = [
    """CREATE TABLE history_imports (
        seq INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        file_name TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        rows INTEGER NOT NULL,
        added INTEGER NOT NULL,
        unresolved INTEGER NOT NULL,
        period_from TEXT,
        period_to TEXT,
        imported_at TEXT NOT NULL)""",
    """CREATE TABLE history_alerts (
        id INTEGER PRIMARY KEY,
        import_seq INTEGER NOT NULL REFERENCES history_imports (seq),
        row INTEGER NOT NULL,
        region TEXT NOT NULL,
        type TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT NOT NULL,
        source TEXT NOT NULL,
        place TEXT NOT NULL,
        naive INTEGER NOT NULL DEFAULT 0,
        UNIQUE (source, region, type, started_at))""",
    "CREATE INDEX history_alerts_by_start ON history_alerts (started_at, id)",
    "CREATE INDEX history_alerts_by_region ON history_alerts (region, started_at)",
    """CREATE TABLE history_unresolved (
        import_seq INTEGER NOT NULL REFERENCES history_imports (seq),
        row INTEGER NOT NULL,
        place TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (import_seq, row))""",
]


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One past alert from a record: times in the log's format (UTC, ms, Z)."""

    row: int  # line in the source file (the header is line 1)
    region: str
    type: str
    started_at: str
    ended_at: str
    source: str  # official | volunteer
    place: str  # the record's own words for the place
    naive: bool = False  # the end is a guess (the volunteer record's naive=True)


@dataclass(frozen=True, slots=True)
class Unresolved:
    row: int
    place: str
    reason: str


@dataclass(frozen=True, slots=True)
class HistoryBatch:
    """Everything one import writes beside its event."""

    source: str
    file_name: str
    sha256: str
    total_rows: int
    rows: Sequence[HistoryRow]
    unresolved: Sequence[Unresolved]
    period_from: str | None
    period_to: str | None


@dataclass(frozen=True, slots=True)
class ImportRecord:
    seq: int
    source: str
    file_name: str
    sha256: str
    rows: int
    added: int
    unresolved: int
    period_from: str | None
    period_to: str | None
    imported_at: str


@dataclass(frozen=True, slots=True)
class ImportedAlert:
    id: int
    import_seq: int
    row: int
    region: str
    type: str
    started_at: str
    ended_at: str
    source: str
    place: str
    naive: bool


def add(conn: Conn, seq: int, time: str, batch: HistoryBatch) -> int:
    """Write an import's rows under its event ``seq``; returns how many rows were new."""
    conn.execute(
        "INSERT INTO history_imports (seq, source, file_name, sha256, rows, added, unresolved,"
        " period_from, period_to, imported_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
        (seq, batch.source, batch.file_name, batch.sha256, batch.total_rows,
         len(batch.unresolved), batch.period_from, batch.period_to, time))
    added = conn.executemany(
        "INSERT INTO history_alerts (import_seq, row, region, type, started_at,"
        " ended_at, source, place, naive) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        ((seq, r.row, r.region, r.type, r.started_at, r.ended_at, r.source, r.place,
          int(r.naive)) for r in batch.rows)).rowcount
    added = max(added, 0)
    conn.executemany(
        "INSERT INTO history_unresolved (import_seq, row, place, reason) VALUES (?, ?, ?, ?)",
        ((seq, u.row, u.place, u.reason) for u in batch.unresolved))
    conn.execute("UPDATE history_imports SET added = ? WHERE seq = ?", (added, seq))
    return added


def import_by_sha(conn: Conn, sha256: str) -> ImportRecord | None:
    row = conn.execute(f"SELECT {_IMPORT_COLUMNS} FROM history_imports WHERE sha256 = ?",
                       (sha256,)).fetchone()
    return None if row is None else ImportRecord(*row)


_IMPORT_COLUMNS = ("seq, source, file_name, sha256, rows, added, unresolved, period_from, "
                   "period_to, imported_at")
_ALERT_COLUMNS = "id, import_seq, row, region, type, started_at, ended_at, source, place, naive"


def _alert(row: tuple[object, ...]) -> ImportedAlert:
    values = list(row)
    values[-1] = bool(values[-1])
    return ImportedAlert(*values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """Which imported alerts: regions (None: all), type, status and a time window."""

    regions: frozenset[str] | None = None
    type: str | None = None
    start: str | None = None  # alerts that had not ended before this
    end: str | None = None  # alerts that had started by this
    source: str | None = None

    def where(self, dialect: str = "sqlite") -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if self.regions is not None:
            clauses.append("region IN (SELECT value FROM json_each(?))" if dialect == "sqlite"
                           else "region IN (SELECT jsonb_array_elements_text(?::jsonb))")
            params.append(json.dumps(sorted(self.regions)))
        if self.type is not None:
            clauses.append("type = ?")
            params.append(self.type)
        if self.start is not None:
            clauses.append("ended_at >= ?")
            params.append(self.start)
        if self.end is not None:
            clauses.append("started_at <= ?")
            params.append(self.end)
        if self.source is not None:
            clauses.append("source = ?")
            params.append(self.source)
        return (" AND ".join(clauses) or "1 = 1"), params


class HistoryReader:
    """Read-only queries on the history store, on a session of its own: an SQLite file's
    path, a PostgreSQL URL, or the database a server already has open (``storage/engine.py``)."""

    def __init__(self, source: str | Path | Database) -> None:
        database, self._owned = own_database(source)  # a path, a PostgreSQL URL, or open
        self._database = database
        self.path = database.name
        self.dialect = database.dialect
        self._session = database.session()

    def close(self) -> None:
        self._session.close()
        if self._owned:
            self._database.close()

    def _rows(self, sql: str, params: Iterable[object] = ()) -> list[tuple[object, ...]]:
        with self._session.read() as conn:
            return [tuple(r) for r in conn.execute(sql, tuple(params)).fetchall()]

    def imports(self) -> list[ImportRecord]:
        return [ImportRecord(*r) for r in self._rows(  # type: ignore[arg-type]
            f"SELECT {_IMPORT_COLUMNS} FROM history_imports ORDER BY seq")]

    def by_sha(self, sha256: str) -> ImportRecord | None:
        with self._session.read() as conn:
            return import_by_sha(conn, sha256)

    def unresolved(self, import_seq: int) -> list[Unresolved]:
        return [Unresolved(*r) for r in self._rows(  # type: ignore[arg-type]
            "SELECT row, place, reason FROM history_unresolved WHERE import_seq = ? "
            "ORDER BY row", (import_seq,))]

    def count(self, where: HistoryFilter | None = None) -> int:
        clause, params = (where or HistoryFilter()).where(self.dialect)
        value = self._rows(f"SELECT count(*) FROM history_alerts WHERE {clause}", params)[0][0]
        assert isinstance(value, int)
        return value

    def page(self, where: HistoryFilter, before: tuple[str, int, int] | None,
             limit: int) -> list[ImportedAlert]:
        """Newest first by (started_at, id), strictly before a history cursor.

        A cursor is (started_at, rank, id) with rank 0 for imported alerts and 1 for live
        ones, so that one order runs through both: at equal start, live alerts come first.
        """
        clause, params = where.where(self.dialect)
        if before is not None:
            started, rank, ident = before
            clause += (" AND (started_at < ? OR (started_at = ? AND (? = 1 OR id < ?)))")
            params += [started, started, rank, ident]
        return [_alert(r) for r in self._rows(
            f"SELECT {_ALERT_COLUMNS} FROM history_alerts WHERE {clause} "
            "ORDER BY started_at DESC, id DESC LIMIT ?", [*params, limit])]

    def alerts(self, where: HistoryFilter | None = None) -> list[ImportedAlert]:
        """Every matching alert, oldest first."""
        clause, params = (where or HistoryFilter()).where(self.dialect)
        return [_alert(r) for r in self._rows(
            f"SELECT {_ALERT_COLUMNS} FROM history_alerts WHERE {clause} "
            "ORDER BY started_at, id", params)]


__all__ = ["MIGRATION", "HistoryBatch", "HistoryFilter", "HistoryReader", "HistoryRow",
           "ImportRecord", "ImportedAlert", "Unresolved", "add", "import_by_sha"]
