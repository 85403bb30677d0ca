"""Online backup and restore of a SQLite installation (``tryvoga backup`` / ``restore``).

``backup`` copies the live database with SQLite's backup API in one step: the copy is read
inside one read transaction, so it is the database exactly as it was at one commit, while
servers go on writing (WAL mode: a reader never blocks a writer, and a writer never changes
what an open read transaction sees). The copy is written next to the target as
``<target>.partial``, checked (``PRAGMA integrity_check``, the whole event hash chain and the
audit chain), flushed to disk, and only then renamed to the target, so a target that exists
is always a whole, verified backup.

``restore`` makes a new database file from a backup the same way (it refuses to overwrite an
existing file) and checks it again; a node started on it serves the state of the backup.

For PostgreSQL use ``pg_dump`` / ``pg_restore`` (``docs/deploy.md``).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from tryvoga.errors import BadRequest, StorageError
from tryvoga.storage.sqlite import SQLiteStorage
from tryvoga.storage.transfer import check_chains


@dataclass(frozen=True, slots=True)
class Copied:
    path: str
    events: int
    head_seq: int
    head_hash: str
    size: int


def verify_file(path: str) -> tuple[int, int, str]:
    """(events, head seq, head hash) of a database whose chains are whole; else StorageError."""
    conn = sqlite3.connect(path)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    if problems != ["ok"]:
        raise StorageError(f"{path}: integrity check failed: {'; '.join(problems[:5])}",
                           code="backup_corrupt")
    storage = SQLiteStorage(path)
    try:
        report = check_chains(storage)  # both chains and the recorded head (transfer.py)
    finally:
        storage.close()
    if report.broken is not None:
        raise StorageError(f"{path}: {report.broken}", code="backup_corrupt")
    return report.events, report.head[0], report.head[1]


def _copy(source: str, target: str) -> Copied:
    if not os.path.isfile(source):
        raise BadRequest(f"no database at {source}")
    target_path = Path(target).expanduser()
    if target_path.exists():
        raise BadRequest(f"{target} exists; give a new file name")
    if not target_path.resolve().parent.is_dir():
        raise BadRequest(f"folder {target_path.resolve().parent} does not exist")
    partial = str(target_path) + ".partial"
    for leftover in (partial, partial + "-wal", partial + "-shm", partial + "-journal"):
        if os.path.exists(leftover):
            os.remove(leftover)
    try:
        src = sqlite3.connect(source, timeout=30.0)  # reads only
        dst = sqlite3.connect(partial)
        try:
            # pages=-1: every page in one step, under one read transaction of the source.
            src.backup(dst, pages=-1)
        finally:
            dst.close()
            src.close()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot copy {source}: {exc}", code="backup_failed") from exc
    try:
        events, seq, digest = verify_file(partial)
        # One self-contained file: no WAL beside it (a server reopens it in WAL mode).
        conn = sqlite3.connect(partial)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target_path)
        folder = os.open(target_path.resolve().parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except BaseException:
        for leftover in (partial, partial + "-wal", partial + "-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
        raise
    return Copied(str(target_path), events, seq, digest, target_path.stat().st_size)


def backup(database: str, target: str) -> Copied:
    """A verified copy of the live ``database`` at ``target`` (which must not exist)."""
    return _copy(database, target)


def restore(backup_file: str, database: str) -> Copied:
    """A new ``database`` file made from ``backup_file`` (verified before and after)."""
    if not os.path.isfile(backup_file):
        raise BadRequest(f"no backup at {backup_file}")
    return _copy(backup_file, database)


__all__ = ["Copied", "backup", "restore", "verify_file"]
