"""PostgreSQL backups as docs/deploy.md gives them: ``pg_dump -Fc`` taken while a node writes,
restored with ``pg_restore`` into a new database, which ``tryvoga verify`` passes and whose
head is the live log's event of that number; and a dump at rest, served by a second node,
gives the first node's bytes and ETag."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from ..conftest import stop_server
from ..pg import fresh_database, require_postgres
from ..regions import KYIV, LVIV_OBLAST
from .nodes import create_token, migrate, start_node, verify


def dump(url: str, target: Path) -> None:
    result = subprocess.run(["pg_dump", "-Fc", "--no-owner", "-d", url, "-f", str(target)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def restore(source: Path, url: str) -> None:
    result = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "-d", url,
                             str(source)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_pg_dump_during_writes_and_at_rest_restores_a_whole_log(tmp_path: Path) -> None:
    require_postgres()
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.fail("pg_dump/pg_restore missing: install postgresql-client "
                    "(system-packages.txt)")
    with fresh_database() as source:
        migrate(source)
        token = create_token(source)
        node = start_node(tmp_path, source, token)
        try:
            stop = threading.Event()
            written: list[int] = []

            def write() -> None:  # declare and end without pause until told to stop
                while not stop.is_set():
                    region = KYIV if len(written) % 4 < 2 else LVIV_OBLAST
                    if len(written) % 2 == 0:
                        answer = node.post("/api/v1/alerts",
                                           {"regions": [region], "type": "air_raid"})
                    else:
                        answer = node.post("/api/v1/alerts/end",
                                           {"region": region, "type": "air_raid"})
                    assert answer.status in (200, 201), answer.body
                    written.append(answer.status)

            writer = threading.Thread(target=write)
            writer.start()
            try:
                while len(written) < 10:  # the dump starts with writes under way
                    threading.Event().wait(0.01)
                during = tmp_path / "during.dump"
                dump(source, during)
            finally:
                stop.set()
                writer.join(timeout=60)
            assert len(written) > 10

            with fresh_database() as restored:
                restore(during, restored)
                checked = verify(restored)
                assert checked.returncode == 0, checked.stderr
                found = re.search(r"ok: (\d+) events.*head (\d+) ([0-9a-f]{64})", checked.stdout)
                assert found, checked.stdout
                seq, digest = int(found.group(2)), found.group(3)
                assert seq >= 10
                live = node.get(f"/api/v1/events?since={seq - 1}&limit=1", token=None).json()
                assert live["events"][0]["seq"] == seq
                assert live["events"][0]["hash"] == digest  # a prefix of the live log

            at_rest = tmp_path / "rest.dump"
            dump(source, at_rest)
            with fresh_database() as restored:
                restore(at_rest, restored)
                assert verify(restored).returncode == 0
                second = start_node(tmp_path, restored, token)
                try:
                    for path in ("/api/v1/status", "/api/v1/alerts/active"):
                        mine = node.get(path, token=None)
                        theirs = second.get(path, token=None)
                        assert theirs.body == mine.body, path
                        assert theirs.headers["ETag"] == mine.headers["ETag"], path
                finally:
                    stop_server(second)
        finally:
            stop_server(node)
