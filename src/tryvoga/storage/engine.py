"""The one place that opens database connections and sets their options, for both engines.

Everything that reads or writes the database goes through a :class:`Database` (what
``open_database`` returns for the settings): it hands out :class:`Session` objects, each one
logical connection with a lock, offering

- ``write()``: a write transaction. On SQLite ``BEGIN IMMEDIATE`` (one writer at a time across
  processes, ``synchronous=FULL``, WAL); on PostgreSQL a READ COMMITTED transaction that first
  takes the transaction-level advisory lock :data:`WRITE_LOCK`, so writers on every node
  serialise exactly as SQLite's do, and every read after the lock sees every commit before it.
  ``write(exclusive=False)`` skips the lock for work that is safe concurrently (webhook claims,
  which use ``FOR UPDATE SKIP LOCKED`` instead).
- ``read()``: a connection outside any write transaction, for queries.

Both yield a :class:`Conn`: ``execute(sql, params)`` with ``?`` placeholders on either engine
(the PostgreSQL connection turns them into ``%s``), returning a cursor with ``fetchone``,
``fetchall`` and ``rowcount``. SQL that differs between the engines branches on
``conn.dialect``.

On PostgreSQL a connection failure (the server restarting or unreachable) becomes
:class:`DatabaseUnavailable` (503 with ``Retry-After``); the pool reconnects by itself.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, NoReturn, Protocol

from tryvoga.errors import StorageError

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the one write lock: "tryvoga" in ASCII, as a 64-bit number.
WRITE_LOCK = 0x747279766F6761
# The channel a committed append notifies, with the new head sequence as its payload.
EVENTS_CHANNEL = "tryvoga_events"
RETRY_AFTER = 2  # seconds a client is told to wait when the database is unreachable


class DatabaseUnavailable(StorageError):
    """The database cannot be reached now; the request changed nothing and may be retried."""

    default_code = "database_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, code="database_unavailable")
        self.retry_after = RETRY_AFTER


DISK_FULL_RETRY_AFTER = 10  # seconds: a full disk does not empty itself at once


class DiskFull(StorageError):
    """SQLite could not write: its disk is full (or it met an I/O error writing). The
    transaction was rolled back; nothing of the request was applied and it may be retried."""

    default_code = "disk_full"

    def __init__(self, message: str, code: str = "disk_full") -> None:
        super().__init__(message, code=code)
        self.retry_after = DISK_FULL_RETRY_AFTER


def _write_failure(exc: sqlite3.OperationalError) -> StorageError | None:
    """The 503 for an SQLite write that failed for want of disk (or an I/O error); None for
    any other failure."""
    primary = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if primary == sqlite3.SQLITE_FULL or "disk is full" in str(exc):
        return DiskFull(f"the database's disk is full; nothing was applied: {exc}")
    if primary == sqlite3.SQLITE_IOERR:
        return DiskFull(f"the database could not be written; nothing was applied: {exc}",
                        code="database_io_error")
    return None


def _rollback(raw: sqlite3.Connection) -> None:
    """Roll back what is open, if anything (a failed COMMIT may already have)."""
    if raw.in_transaction:
        try:
            raw.execute("ROLLBACK")
        except sqlite3.Error as exc:  # the failure that brought us here is the one to report
            log.warning("rollback after a failed write failed too: %s", exc)


def _failed(raw: sqlite3.Connection, exc: sqlite3.OperationalError) -> NoReturn:
    """Roll back after a write (or its COMMIT) failed, and raise what the caller is to see:
    the 503 for a full disk or an I/O error (logged), else the failure itself."""
    _rollback(raw)
    failure = _write_failure(exc)
    if failure is None:
        raise exc
    log.error("%s", failure.message)
    raise failure from exc


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Conn(Protocol):
    """A connection as the storage modules use it, on either engine."""

    @property
    def dialect(self) -> str: ...  # "sqlite" or "postgres"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor: ...


class Session(Protocol):
    def write(self, *, exclusive: bool = True) -> AbstractContextManager[Conn]: ...

    def read(self) -> AbstractContextManager[Conn]: ...

    def close(self) -> None: ...


class Database(Protocol):
    @property
    def dialect(self) -> str: ...

    @property
    def name(self) -> str: ...  # for messages: the file, or the URL without a password

    def session(self) -> Session: ...

    def close(self) -> None: ...


# ---- SQLite ----------------------------------------------------------------------------------

class SQLiteConn:
    dialect = "sqlite"

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.raw.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self.raw.executemany(sql, rows)

    @property
    def data_version(self) -> int:
        value = self.raw.execute("PRAGMA data_version").fetchone()[0]
        assert isinstance(value, int)
        return value


def sqlite_connect(path: str) -> sqlite3.Connection:
    """A connection to an SQLite database with the options every Tryvoga connection has."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class SQLiteSession:
    """One SQLite connection and its lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.conn = SQLiteConn(sqlite_connect(path))
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open database {path}: {exc}",
                               code="database_unreadable") from exc
        self.lock = threading.Lock()

    @contextmanager
    def write(self, *, exclusive: bool = True) -> Iterator[SQLiteConn]:
        # SQLite has one writer at a time whatever is asked: BEGIN IMMEDIATE.
        with self.lock:
            raw = self.conn.raw
            try:
                raw.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StorageError(f"database is busy: {exc}", code="database_busy") from exc
            try:
                yield self.conn
            except sqlite3.OperationalError as exc:
                _failed(raw, exc)
            except BaseException:
                _rollback(raw)
                raise
            try:
                raw.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                _failed(raw, exc)

    @contextmanager
    def read(self) -> Iterator[SQLiteConn]:
        with self.lock:
            yield self.conn

    def close(self) -> None:
        self.conn.raw.close()


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


class SQLiteDatabase:
    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            parent = Path(self.path).expanduser().resolve().parent
            if not parent.is_dir():
                raise StorageError(f"cannot open database {self.path}: "
                                   f"folder {parent} does not exist", code="database_path")
            create_private(self.path)

    @property
    def name(self) -> str:
        return self.path

    def session(self) -> SQLiteSession:
        return SQLiteSession(self.path)

    def close(self) -> None:
        pass  # each session closes its own connection


# ---- PostgreSQL ------------------------------------------------------------------------------

def _placeholders(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled). The storage modules'
    SQL never has a ``?`` inside a string literal."""
    return sql.replace("%", "%%").replace("?", "%s")


def _param(value: Any) -> Any:
    # The schema keeps SQLite's INTEGER flags; psycopg would send a bool as boolean.
    return int(value) if isinstance(value, bool) else value


class PostgresConn:
    dialect = "postgres"

    def __init__(self, raw: Any) -> None:  # a psycopg.Connection
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if params:
            return self.raw.execute(_placeholders(sql), [_param(p) for p in params])
        return self.raw.execute(sql)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        cursor = self.raw.cursor()
        batch = [[_param(p) for p in row] for row in rows]
        if batch:
            cursor.executemany(_placeholders(sql), batch)
        return cursor


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "postgresql://(unparsable URL)"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, "", ""))


def _unavailable(name: str, exc: BaseException) -> DatabaseUnavailable:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DatabaseUnavailable(f"the database ({name}) is unavailable: {detail}")


LOOP_WAIT = 0.25  # seconds a call on an event loop waits for a pooled connection


def _on_event_loop() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class PostgresSession:
    """Connections borrowed from the database's pool, one transaction at a time."""

    def __init__(self, database: PostgresDatabase) -> None:
        self.database = database

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        import psycopg
        import psycopg_pool

        db = self.database
        db.check_reachable()
        # On a server's event loop wait for a connection only briefly: the loop serves every
        # reader and stream. (Token lookups are off the loop: api/tokens.py.)
        timeout = db.connect_timeout if not _on_event_loop() else LOOP_WAIT
        try:
            with db.pool.connection(timeout=timeout) as raw:
                yield raw
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout,
                psycopg.errors.AdminShutdown) as exc:
            db.mark_unreachable()
            raise _unavailable(db.name, exc) from exc
        except psycopg.InterfaceError as exc:  # a connection closed under us
            db.mark_unreachable()
            raise _unavailable(db.name, exc) from exc
        db.mark_reachable()

    @contextmanager
    def write(self, *, exclusive: bool = True) -> Iterator[PostgresConn]:
        with self._connection() as raw, raw.transaction():
            if exclusive:
                raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield PostgresConn(raw)

    @contextmanager
    def read(self) -> Iterator[PostgresConn]:
        with self._connection() as raw:
            yield PostgresConn(raw)

    def close(self) -> None:
        pass  # the pool belongs to the database


class PostgresDatabase:
    """A psycopg connection pool on one PostgreSQL database.

    Connections are autocommit outside ``write()`` (every read sees the latest commits) and
    READ COMMITTED inside it. After a connection failure, requests fail at once for
    ``FAIL_FAST`` seconds instead of each waiting for the connect timeout, so a server's
    event loop is never held up for long by a database that is down; the pool keeps
    reconnecting in the background.
    """

    dialect = "postgres"
    FAIL_FAST = 0.5

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 8,
                 connect_timeout: float = 3.0) -> None:
        from psycopg_pool import ConnectionPool

        self.url = url
        self._name = redact(url)
        self.connect_timeout = connect_timeout
        self._down_since: float | None = None
        self._lock = threading.Lock()

        def configure(conn: Any) -> None:
            conn.autocommit = True

        self.pool = ConnectionPool(
            url, min_size=min_size, max_size=max_size, open=False, configure=configure,
            check=ConnectionPool.check_connection, reconnect_timeout=10.0,
            # A server that stops answering (a network partition rather than a refusal) is
            # noticed within seconds: TCP keepalives, and unacknowledged data aborts the
            # connection after TCP_USER_TIMEOUT.
            kwargs={"connect_timeout": max(1, int(connect_timeout)),
                    "application_name": "tryvoga", "keepalives": 1, "keepalives_idle": 5,
                    "keepalives_interval": 2, "keepalives_count": 3,
                    "tcp_user_timeout": 5000},
            name="tryvoga")
        try:
            self.pool.open(wait=True, timeout=connect_timeout)
        except Exception as exc:
            self.pool.close()
            raise StorageError(f"cannot connect to the database {self._name}: "
                               f"{str(exc).strip() or type(exc).__name__}",
                               code="database_unavailable") from exc

    @property
    def name(self) -> str:
        return self._name

    def session(self) -> PostgresSession:
        return PostgresSession(self)

    def check_reachable(self) -> None:
        down = self._down_since
        if down is not None and time.monotonic() - down < self.FAIL_FAST:
            raise DatabaseUnavailable(f"the database ({self._name}) is unavailable; "
                                      "reconnecting")

    def mark_unreachable(self) -> None:
        with self._lock:
            if self._down_since is None:
                log.warning("database %s unreachable; reconnecting", self._name)
            self._down_since = time.monotonic()

    def mark_reachable(self) -> None:
        if self._down_since is not None:
            with self._lock:
                if self._down_since is not None:
                    log.warning("database %s reachable again", self._name)
                self._down_since = None

    @property
    def reachable(self) -> bool:
        return self._down_since is None

    def connect(self, *, autocommit: bool = True) -> Any:
        """A connection of its own, outside the pool (LISTEN, migrations)."""
        import psycopg

        return psycopg.connect(self.url, autocommit=autocommit,
                               connect_timeout=max(1, int(self.connect_timeout)),
                               application_name="tryvoga")

    def close(self) -> None:
        self.pool.close()


def is_postgres_url(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))


def own_database(source: str | Path | Database) -> tuple[Database, bool]:
    """The database a store or reader was given: a PostgreSQL URL or an SQLite path (opened
    here, so the caller closes it: True), or a database already open (False)."""
    if isinstance(source, str) and is_postgres_url(source):
        return PostgresDatabase(source), True
    if isinstance(source, str | Path):
        return SQLiteDatabase(source), True
    return source, False


def open_database(db: str | Path, database_url: str = "") -> SQLiteDatabase | PostgresDatabase:
    """The database the settings name: PostgreSQL when a URL is given, else the SQLite file."""
    if database_url:
        return PostgresDatabase(database_url)
    return SQLiteDatabase(db)


__all__ = ["EVENTS_CHANNEL", "WRITE_LOCK", "Conn", "Cursor", "Database", "DatabaseUnavailable",
           "PostgresDatabase", "SQLiteDatabase", "Session", "is_postgres_url", "open_database",
           "redact", "sqlite_connect"]
