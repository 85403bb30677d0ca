"""Real processes: a server killed with SIGKILL in the middle of deliveries loses nothing, and
two ``tryvoga worker`` processes on one database never deliver the same row twice.

The receiver is its own process (``receiver.py``) on 127.0.0.1 that verifies signatures and
writes every request it gets to a file.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.polling import wait_for
from tests.regions import KYIV
from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import TRYVOGA, Server, free_port, start_server, stop_server

RECEIVER = Path(__file__).with_name("receiver.py")
LOOPBACK = {"TRYVOGA_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}


@dataclass
class ReceiverProcess:
    port: int
    out: Path
    secrets: Path
    process: subprocess.Popen[bytes]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def records(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        lines = self.out.read_text("utf-8").splitlines()
        return [json.loads(line) for line in lines if line.endswith("}")]

    def add_secret(self, webhook_id: str, secret: str) -> None:
        known = json.loads(self.secrets.read_text("utf-8"))
        known[webhook_id] = secret
        tmp = self.secrets.with_suffix(".tmp")
        tmp.write_text(json.dumps(known), "utf-8")
        tmp.replace(self.secrets)



def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def receiver(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ReceiverProcess]:
    delay = getattr(request, "param", 0.005)
    port = free_port()
    secrets = tmp_path / "secrets.json"
    secrets.write_text("{}", "utf-8")
    out = tmp_path / "received.jsonl"
    log = (tmp_path / "receiver.log").open("wb")
    process = subprocess.Popen([sys.executable, str(RECEIVER), str(port), str(out),
                                str(secrets), "--delay", str(delay)], stdout=log,
                               stderr=subprocess.STDOUT)
    found = ReceiverProcess(port, out, secrets, process)
    wait_for(lambda: port_open(port) or process.poll() is not None, "the receiver", 30)
    assert process.poll() is None, (tmp_path / "receiver.log").read_text()
    yield found
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.mark.parametrize("receiver", [0.02], indirect=True)  # slow enough to kill mid-way
def test_sigkill_in_the_middle_of_deliveries_loses_nothing(
        tmp_path: Path, receiver: ReceiverProcess) -> None:
    env = {**LOOPBACK, "TRYVOGA_WEBHOOK_CONCURRENCY": "2", "TRYVOGA_WEBHOOK_BACKOFF": "0.05"}
    server = start_server(tmp_path, env=env)
    try:
        hooks = []
        for path in ("/a", "/b"):
            created = server.post("/api/v1/webhooks", {"url": receiver.url(path)}).json()
            receiver.add_secret(created["webhook"]["id"], created["secret"])
            hooks.append(created["webhook"]["id"])
        declared = []
        for index in range(60):
            kind = ("air_raid", "artillery_shelling", "chemical")[index % 3]
            result = server.post("/api/v1/alerts", {"regions": [KYIV], "type": kind})
            assert result.status in (200, 201), result.body
            alert_id = result.json()["alerts"][0]["id"]
            assert server.post(f"/api/v1/alerts/{alert_id}/end").status == 200
            declared.append(alert_id)
        wait_for(lambda: len(receiver.records()) >= 10, what="the first deliveries")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        at_kill = len(receiver.records())
    finally:
        if server.process.poll() is None:
            stop_server(server)
    events = [e["seq"] for e in _events(server.db)]
    assert len(events) == 120
    expected = {(h, str(seq)) for h in hooks for seq in events}
    assert at_kill < len(expected), "the kill came after every delivery: nothing was tested"

    restarted = start_server(tmp_path, env=env, db=server.db)
    try:
        def all_received() -> bool:
            got = {(r["webhook_id"], r["event_id"]) for r in receiver.records()
                   if r["status"] == 200}
            return expected <= got

        wait_for(all_received, what="every event at every subscription after the restart")
    finally:
        stop_server(restarted)
    records = receiver.records()
    assert all(r["signature_ok"] for r in records)
    # A receiver drops duplicates by event id; what is left is exactly the log, in full.
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        unique.setdefault((record["webhook_id"], record["event_id"]), record)
    assert set(unique) == expected
    for (webhook_id, event_id), record in unique.items():
        assert record["body"]["seq"] == int(event_id)
        assert record["path"] == ("/a" if webhook_id == hooks[0] else "/b")


def test_two_worker_processes_never_deliver_the_same_row_twice(
        tmp_path: Path, receiver: ReceiverProcess) -> None:
    db = tmp_path / "shared.db"
    server = start_server(tmp_path, "--webhook-worker", "false", env=LOOPBACK, db=db)
    expected = 10 * 80
    env = {**os.environ, **LOOPBACK, "TRYVOGA_WEBHOOK_CONCURRENCY": "8"}
    logs = [(tmp_path / f"worker-{n}.log").open("wb") for n in range(2)]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(10):
            created = server.post("/api/v1/webhooks", {"url": receiver.url(f"/w{index}")})
            receiver.add_secret(created.json()["webhook"]["id"], created.json()["secret"])
        # Both workers run before the first event, so they compete for every row.
        workers = [subprocess.Popen([*TRYVOGA, "worker", "--db", str(db), "--poll-interval",
                                     "0.01"], stdout=log, stderr=subprocess.STDOUT, env=env)
                   for log in logs]
        wait_for(lambda: all("delivering webhooks" in (tmp_path / f"worker-{n}.log").read_text()
                          for n in range(2)), what="both workers")
        for index in range(40):
            alert = server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
            assert server.post(f"/api/v1/alerts/{alert.json()['alerts'][0]['id']}/end"
                               ).status == 200, index
        stop_server(server)
        wait_for(lambda: len(receiver.records()) >= expected, what="every delivery")
        wait_for(lambda: _attempts(db) == expected, what="every attempt recorded")
    finally:
        if server.process.poll() is None:
            stop_server(server)
        for process in workers:
            process.terminate()
        for process, log in zip(workers, logs, strict=True):
            assert process.wait(timeout=20) == 0
            log.close()
    records = receiver.records()
    counts = collections.Counter((r["webhook_id"], r["event_id"]) for r in records)
    assert len(counts) == expected and set(counts.values()) == {1}
    assert all(r["signature_ok"] and r["status"] == 200 for r in records)
    storage = SQLiteStorage(db)
    try:
        # a plain read of the attempt log
        per_delivery = storage.query("SELECT delivery, COUNT(*) FROM webhook_attempts "
                                     "GROUP BY delivery")
        by_worker = storage.query("SELECT COUNT(DISTINCT worker) FROM webhook_attempts")[0][0]
    finally:
        storage.close()
    assert len(per_delivery) == expected and {c for _, c in per_delivery} == {1}
    assert by_worker == 2
    assert "stopped:" in (tmp_path / "worker-0.log").read_text()


def _events(db: Path) -> list[dict[str, Any]]:
    storage = SQLiteStorage(db)
    try:
        return [e.to_json() for e in storage.read_events()]
    finally:
        storage.close()


def _attempts(db: Path) -> int:
    storage = SQLiteStorage(db)
    try:
        count: int = storage.query("SELECT COUNT(*) FROM webhook_attempts")[0][0]
        return count
    finally:
        storage.close()


__all__ = ["Server"]
