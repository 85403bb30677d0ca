"""``tryvoga backup`` / ``restore`` with a real server writing all the while: each backup is a
whole, verified prefix of the live log, and a node started on a restored copy serves the same
state to the byte (same /api/v1/status body and ETag)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from tests.conftest import Server, run_cli, start_server, stop_server
from tests.regions import KYIV
from tryvoga.storage.sqlite import SQLiteStorage

LVIV = "UA46000000000026241"
ODESA = "UA51000000000030770"


def folder(tmp_path: Path, name: str) -> Path:
    made = tmp_path / name
    made.mkdir()
    return made


def head_of(path: Path) -> tuple[int, str]:
    storage = SQLiteStorage(path)
    try:
        return storage.head()
    finally:
        storage.close()


def hash_at(path: Path, seq: int) -> str:
    storage = SQLiteStorage(path)
    try:
        return storage.read_events(seq - 1, 1)[0].hash
    finally:
        storage.close()


class Writer(threading.Thread):
    """Declares and ends alerts on the server until stopped; counts what it wrote."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.stop = threading.Event()
        self.writes = 0
        self.failures: list[str] = []

    def run(self) -> None:
        regions = [KYIV, LVIV, ODESA]
        turn = 0
        while not self.stop.is_set():
            region = regions[turn % 3]
            turn += 1
            for path, body in (("/api/v1/alerts", {"regions": [region], "type": "air_raid"}),
                               ("/api/v1/alerts/end", {"region": region, "type": "air_raid"})):
                answer = self.server.post(path, body)
                if answer.status not in (200, 201):
                    self.failures.append(f"{path}: {answer.status} {answer.body[:200]!r}")
                self.writes += 1


def test_online_backup_while_writing_and_restore(tmp_path: Path) -> None:
    live = start_server(folder(tmp_path, "live"))
    writer = Writer(live)
    restored_servers: list[Server] = []
    try:
        writer.start()
        backups = []
        for number in range(3):
            # Wait for some writes between backups so that each is taken mid-stream.
            floor = writer.writes + 10
            while writer.writes < floor and writer.is_alive():
                threading.Event().wait(0.01)
            target = tmp_path / f"backup-{number}.db"
            result = run_cli("backup", str(target), db=live.db)
            assert result.stdout.startswith(f"backed up to {target}:"), result.stdout
            assert "hash chain intact" in result.stdout
            backups.append(target)
        assert writer.writes > 30 and writer.is_alive()
        for target in backups:
            seq, digest = head_of(target)
            assert seq > 0
            # A prefix of the live log: its head is the live log's event at that sequence.
            assert hash_at(live.db, seq) == digest
            assert run_cli("verify", db=target).stdout.startswith(f"ok: {seq} events")
            assert not Path(str(target) + "-wal").exists()  # one self-contained file
        # The backups were taken as the log grew, not all at its end.
        heads = [head_of(target)[0] for target in backups]
        assert heads == sorted(heads) and heads[0] < heads[-1]

        # A node on a mid-write backup serves exactly that backup's state.
        first = tmp_path / "restored-first.db"
        assert run_cli("restore", str(backups[0]), db=first).stdout.startswith(
            f"restored into {first}:")
        node = start_server(folder(tmp_path, "node-first"), db=first)
        restored_servers.append(node)
        assert node.get("/api/v1/status", token=None).json()["version"] == heads[0]
        assert node.get("/readyz", token=None).status == 200

        writer.stop.set()
        writer.join(timeout=60)
        assert not writer.failures, writer.failures[:3]

        # Quiet now: a backup, restored into a fresh node, serves the same bytes and ETag.
        final = tmp_path / "backup-final.db"
        run_cli("backup", str(final), db=live.db)
        fresh = tmp_path / "restored.db"
        run_cli("restore", str(final), db=fresh)
        copy = start_server(folder(tmp_path, "node-final"), db=fresh)
        restored_servers.append(copy)
        for path in ("/api/v1/status", "/api/v1/alerts/active", "/api/v1/regions/UA"):
            original, restored = live.get(path, token=None), copy.get(path, token=None)
            assert original.status == restored.status == 200
            assert original.body == restored.body, path
            if path != "/api/v1/regions/UA":  # the polled reads carry validators
                assert original.headers["ETag"] == restored.headers["ETag"], path
                assert original.headers["Last-Modified"] == restored.headers["Last-Modified"]
        assert copy.get("/readyz", token=None).status == 200
        assert run_cli("verify", db=fresh).returncode == 0
    finally:
        writer.stop.set()
        for server in [live, *restored_servers]:
            stop_server(server)


def test_backup_and_restore_refuse_what_they_should(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    run_cli("alert", "declare", KYIV, db=db)
    run_cli("alert", "end", "--region", KYIV, db=db)
    target = tmp_path / "b.db"
    run_cli("backup", str(target), db=db)
    again = run_cli("backup", str(target), db=db, check=False)
    assert again.returncode == 1 and "exists" in again.stderr
    missing = run_cli("backup", str(tmp_path / "c.db"), db=tmp_path / "none.db", check=False)
    assert missing.returncode == 1 and "no database" in missing.stderr
    over = run_cli("restore", str(target), db=db, check=False)
    assert over.returncode == 1 and "exists" in over.stderr
    # A backup altered after it was taken is not restored, and nothing is left behind.
    conn = sqlite3.connect(target)
    conn.execute("UPDATE events SET payload = replace(payload, 'air_raid', 'nuclear') "
                 "WHERE seq = 1")
    conn.commit()
    conn.close()
    bad = run_cli("restore", str(target), db=tmp_path / "d.db", check=False)
    assert bad.returncode == 2 and "event log at sequence 1" in bad.stderr
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("d.db")]
