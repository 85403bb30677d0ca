"""Issue 15, defect 10: the database holds webhook secrets and token hashes, so it is created
readable by its owner only (and SQLite gives its WAL and shared-memory files the same mode)."""

from __future__ import annotations

import stat
from pathlib import Path

from tryvoga.api.formats import outbox
from tryvoga.commands import Declare
from tryvoga.domain.regions import load_catalogue
from tryvoga.service import Actor, Service
from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import run_cli
from ..regions import KYIV


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_is_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    storage = SQLiteStorage(db)
    try:
        catalogue = load_catalogue()
        Service(storage, catalogue, outbox=outbox(catalogue)).handle(
            Actor("a"),
            Declare.of(regions=[KYIV], type="air_raid"),
        )
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert mode(path) == 0o600, (path, oct(mode(path)))
    finally:
        storage.close()


def test_the_cli_creates_it_owner_only_too(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    run_cli("token", "create", "--name", "x", db=db)
    assert mode(db) == 0o600


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    SQLiteStorage(db).close()
    db.chmod(0o640)  # the operator's choice, e.g. for a backup group
    SQLiteStorage(db).close()
    assert mode(db) == 0o640
