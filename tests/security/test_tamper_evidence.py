"""Issue 15, defect 8: tamper evidence in three layers (``integrity.py``): the chain, the
recorded head (sequence and hash), and heads anchored outside the database.

Each test edits the database file as an attacker with write access to it would (plain
``sqlite3``, recomputing hashes with the project's own function), then runs the real CLI or
server.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from tryvoga.api.formats import outbox
from tryvoga.commands import Declare, EndByRegion
from tryvoga.domain.events import GENESIS_HASH, canonical_json, event_hash
from tryvoga.domain.regions import load_catalogue
from tryvoga.service import Actor, Service
from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import TRYVOGA, Server, free_port, run_cli, start_server, stop_server
from ..regions import KYIV
from .test_supervision import until

ADMIN = Actor("admin")


def declare(db: Path, count: int) -> None:
    """Declare and end ``count`` alerts through the real write path (another process may be
    serving the same file)."""
    storage = SQLiteStorage(db)
    try:
        catalogue = load_catalogue()
        service = Service(storage, catalogue, outbox=outbox(catalogue))
        for n in range(count):
            service.handle(ADMIN, Declare.of(regions=[KYIV], note=f"n{n}", type="air_raid"))
            service.handle(ADMIN, EndByRegion.of(region=KYIV, type="air_raid"))
    finally:
        storage.close()


def rewrite(db: Path, from_seq: int, *, head_too: bool) -> None:
    """Change the note of every event from ``from_seq`` on, recompute their hashes and links,
    and (``head_too``) the recorded head as well: a chain consistent in itself."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT seq, time, actor, kind, payload, prev_hash FROM events "
                            "ORDER BY seq").fetchall()
        prev = GENESIS_HASH
        for seq, time, actor, kind, payload_text, _ in rows:
            if seq < from_seq:
                prev = conn.execute("SELECT hash FROM events WHERE seq = ?",
                                    (seq,)).fetchone()[0]
                continue
            payload = json.loads(payload_text)
            payload["note"] = "forged"
            digest = event_hash(seq, time, actor, kind, payload, prev)
            conn.execute("UPDATE events SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                         (canonical_json(payload), prev, digest, seq))
            prev = digest
        if head_too:
            conn.execute("UPDATE meta SET value = ? WHERE key = 'head'",
                         (f"{rows[-1][0]} {prev}",))
        conn.commit()
    finally:
        conn.close()


def test_verify_checks_the_heads_hash(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    declare(db, 2)
    last = int(run_cli("verify", db=db).stdout.split("head ")[1].split()[0])
    rewrite(db, last, head_too=False)  # the last event edited, its own hash recomputed
    result = run_cli("verify", db=db, check=False)
    assert result.returncode == 1, result.stdout
    assert f"BROKEN: event log at sequence {last}" in result.stderr
    assert "rewritten" in result.stderr


def test_the_server_refuses_a_broken_tail_unless_told(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    declare(db, 2)
    rewrite(db, 4, head_too=False)
    port = free_port()
    refused = subprocess.run([*TRYVOGA, "serve", "--port", str(port), "--db", str(db)],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "the event log is broken at sequence 4" in refused.stderr
    assert "--allow-broken-chain" in refused.stderr
    server = start_server(tmp_path, "--allow-broken-chain", "true", db=db)
    try:
        assert server.get("/api/v1/status", token=None).status == 200
        assert "serving anyway" in server.log.read_text()
    finally:
        stop_server(server)


def test_anchors_outside_the_database_show_a_rewritten_chain(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    anchors = tmp_path / "anchors" / "head.txt"
    anchors.parent.mkdir()
    server = start_server(tmp_path, "--anchor-file", str(anchors), "--anchor-interval", "0.1",
                          db=db)
    try:
        declare(db, 2)  # four events, written by another process: the server follows
        until(lambda: server.get("/api/v1/head", token=None).json()["seq"] == 4,
              "the server to follow the log")
        head = server.get("/api/v1/head", token=None).json()
        until(lambda: anchors.exists() and f"{head['seq']} {head['hash']}" in
              anchors.read_text(), "the head to be anchored")
    finally:
        stop_server(server)
    (tmp_path / "published.txt").write_text(f"{head['seq']} {head['hash']}\n")
    assert run_cli("verify", "--anchor", str(anchors), db=db).returncode == 0
    rewrite(db, 1, head_too=True)  # the whole chain and the head: consistent in itself
    assert "hash chain intact" in run_cli("verify", db=db).stdout
    for anchor_file in (anchors, tmp_path / "published.txt"):
        result = run_cli("verify", "--anchor", str(anchor_file), db=db, check=False)
        assert result.returncode == 1, result.stdout
        assert "the chain was rewritten" in result.stderr


def test_the_head_endpoint(server: Server) -> None:
    server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
    head = server.get("/api/v1/head", token=None).json()
    assert head["seq"] == 1 and len(head["hash"]) == 64
