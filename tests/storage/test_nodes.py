"""Several ``tryvoga serve`` nodes on one PostgreSQL database (each test's own): they agree,
they write concurrently without a gap, fork or duplicate, and they ride out a database that
goes away. The delay of the acceptance test is printed, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import Server, stop_server
from ..pg import fresh_database
from ..regions import KYIV
from .nodes import Proxy, create_token, migrate, start_node, verify

OBLASTS = ["UA05000000000010236", "UA07000000000024379", "UA12000000000090473",
           "UA14000000000091971", "UA18000000000041385", "UA21000000000011690"]
ROOT = Path(__file__).resolve().parents[2]
# Projections every node must serve byte for byte alike at the same version.
SAME_EVERYWHERE = ["/api/v1/status", "/api/v1/alerts/active", "/api/v1/history?limit=20",
                   "/cap/feed.atom", "/v1/alerts/active.json", "/api/v3/alerts",
                   "/api/v1/events?since=0&limit=100"]


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[str, list[Server]]]:
    started: list[Server] = []
    with fresh_database() as url:
        migrate(url)
        token = create_token(url)
        try:
            for _ in range(3):
                # The CAP feeds' links are absolute: one public URL for all nodes.
                started.append(start_node(tmp_path, url, token, "--cap-base-url",
                                          "https://warnings.example.org"))
            yield url, started
        finally:
            for node in started:
                stop_server(node)


def until(check: object, what: str, deadline: float = 30.0) -> None:
    """Wait for a condition (liveness, not timing: the deadline only ends a hung test)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.002)
    raise AssertionError(f"never: {what}")


def test_a_node_refuses_a_database_without_the_current_schema(tmp_path: Path) -> None:
    with fresh_database() as url:
        result = subprocess.run([sys.executable, "-m", "tryvoga.cli", "serve", "--port", "0",
                                 "--database-url", url], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode != 0 and "run `tryvoga migrate" in result.stderr
        migrate(url)
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
        result = subprocess.run([sys.executable, "-m", "tryvoga.cli", "serve", "--port", "0",
                                 "--database-url", url], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode != 0 and "newer than this Tryvoga" in result.stderr


def test_a_declaration_on_one_node_is_on_the_other_with_the_same_etag(
        nodes: tuple[str, list[Server]]) -> None:
    _, (a, b, _) = nodes
    delays = []
    for index in range(40):
        # declare on one node, end on the other, and the next pair the other way round
        writer, reader = (a, b) if (index + index // 2) % 2 == 0 else (b, a)
        if index % 2 == 0:
            answer = writer.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
            assert answer.status == 201
        else:
            answer = writer.post("/api/v1/alerts/end", {"region": KYIV, "type": "air_raid"})
            assert answer.status == 200, answer.body
        acknowledged = time.monotonic()
        version = writer.get("/api/v1/status", token=None)
        seen: list[float] = []

        def there(reader: Server = reader, version: object = version,
                  seen: list[float] = seen) -> bool:
            got = reader.get("/api/v1/status", token=None)
            if got.json()["version"] < version.json()["version"]:  # type: ignore[attr-defined]
                return False
            seen.append(time.monotonic())
            assert got.headers["ETag"] == version.headers["ETag"]  # type: ignore[attr-defined]
            assert got.body == version.body  # type: ignore[attr-defined]
            return True

        until(there, "the other node has the change")
        delays.append(seen[0] - acknowledged)
    delays.sort()
    print(f"\nother node's /api/v1/status had the change after: median "
          f"{delays[len(delays) // 2] * 1000:.1f} ms, max {delays[-1] * 1000:.1f} ms "
          f"({len(delays)} commands; scripts/two_nodes.py measures the p99 over 1,000)")


def test_many_processes_on_three_nodes_one_history(nodes: tuple[str, list[Server]]) -> None:
    url, servers = nodes
    rounds = 8
    clients = [subprocess.Popen(
        [sys.executable, "-m", "tests.storage.load_client", servers[0].token, region,
         str(rounds), *(s.base for s in servers)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for region in OBLASTS]
    outputs = []
    for client in clients:
        out, err = client.communicate(timeout=600)
        assert client.returncode == 0, err
        outputs.append(json.loads(out))
    checked = verify(url)
    assert checked.returncode == 0, checked.stderr
    # Every command applied exactly once although each was sent to two nodes at once.
    expected = len(OBLASTS) * rounds * 2
    assert f"ok: {expected} events" in checked.stdout
    every_id = [i for o in outputs for i in o["declared"]]
    assert len(every_id) == len(set(every_id)) == len(OBLASTS) * rounds
    # And every node serves the same bytes for the same version.
    until(lambda: {s.get("/api/v1/status", token=None).json()["version"]
                   for s in servers} == {expected}, "every node caught up")
    for path in SAME_EVERYWHERE:
        answers = [s.get(path, token=None) for s in servers]
        assert {a.status for a in answers} == {200}, path
        assert len({a.body for a in answers}) == 1, path
        assert len({a.headers.get("ETag") for a in answers}) == 1, path


def test_a_database_that_goes_away(tmp_path: Path) -> None:
    with fresh_database() as direct:
        migrate(direct)
        token = create_token(direct)
        name = direct.rpartition("/")[2]
        proxy = Proxy(("127.0.0.1", 5432))
        node = start_node(tmp_path, proxy.url(name), token)
        other = start_node(tmp_path, direct, token)  # a node that keeps its database
        try:
            acknowledged = []
            first = node.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
            assert first.status == 201
            acknowledged.append(first.json()["alerts"][0]["id"])
            before = node.get("/api/v1/status", token=None)
            proxy.cut()
            refused = node.post("/api/v1/alerts", {"regions": [OBLASTS[0]],
                                                   "type": "air_raid"},
                                headers={"Idempotency-Key": "during"})
            assert refused.status == 503, refused.body
            assert int(refused.headers["Retry-After"]) >= 1
            error = refused.json()["error"]
            assert error["code"] == "database_unavailable" and error["status"] == 503
            # Reads keep serving the last state, repeatedly.
            for _ in range(3):
                still = node.get("/api/v1/status", token=None)
                assert still.status == 200 and still.body == before.body
            # /readyz fails, saying why and how old the state the reads serve is.
            ready = node.get("/readyz", token=None)
            assert ready.status == 503 and "database unreachable" in ready.json()["reason"]
            assert "reads serve the log as read" in ready.json()["reason"]
            proxy.restore()
            answers: list[int] = []

            def retried() -> bool:
                again = node.post("/api/v1/alerts", {"regions": [OBLASTS[0]],
                                                     "type": "air_raid"},
                                  headers={"Idempotency-Key": "during"})
                answers.append(again.status)
                if again.status == 201:
                    acknowledged.append(again.json()["alerts"][0]["id"])
                return again.status == 201

            until(retried, "the node reconnected by itself")
            assert set(answers) <= {201, 503}
            # It follows the other node's writes again (its LISTEN and its poll are back).
            third = other.post("/api/v1/alerts", {"regions": [OBLASTS[1]],
                                                  "type": "air_raid"})
            assert third.status == 201
            acknowledged.append(third.json()["alerts"][0]["id"])
            until(lambda: node.get("/api/v1/status", token=None).body
                  == other.get("/api/v1/status", token=None).body, "the node follows again")
        finally:
            stop_server(node)
            stop_server(other)
            proxy.close()
        checked = verify(direct)
        assert checked.returncode == 0 and "ok: 3 events" in checked.stdout, checked.stdout
        import psycopg

        with psycopg.connect(direct) as conn:
            stored = [json.loads(r[0])["alert_id"] for r in conn.execute(
                "SELECT payload FROM events WHERE kind = 'alert.declared' ORDER BY seq")]
        assert stored == acknowledged


def test_webhook_workers_on_three_nodes_deliver_each_event_once(tmp_path: Path) -> None:
    from ..conftest import free_port
    from ..delivery.test_processes import RECEIVER, port_open

    port = free_port()
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text("{}", "utf-8")
    out = tmp_path / "received.jsonl"
    with (tmp_path / "receiver.log").open("wb") as log:
        receiver = subprocess.Popen([sys.executable, str(RECEIVER), str(port), str(out),
                                     str(secrets_file), "--delay", "0.005"], stdout=log,
                                    stderr=subprocess.STDOUT)
    started: list[Server] = []
    try:
        until(lambda: port_open(port), "the receiver listens")
        with fresh_database() as url:
            migrate(url)
            token = create_token(url)
            for _ in range(3):
                started.append(start_node(tmp_path, url, token,
                                          "--webhook-allow-networks", "127.0.0.0/8"))
            made = started[0].post("/api/v1/webhooks",
                                   {"url": f"http://127.0.0.1:{port}/hook"})
            assert made.status == 201, made.body
            secrets_file.write_text(json.dumps({made.json()["webhook"]["id"]:
                                                made.json()["secret"]}), "utf-8")
            for index in range(12):
                node = started[index % 3]
                assert node.post("/api/v1/alerts", {"regions": [KYIV],
                                                    "type": "air_raid"}).status == 201
                assert node.post("/api/v1/alerts/end", {"region": KYIV,
                                                        "type": "air_raid"}).status == 200

            def records() -> list[dict[str, object]]:
                lines = out.read_text("utf-8").splitlines() if out.exists() else []
                return [json.loads(line) for line in lines if line.endswith("}")]

            import psycopg

            def written_back() -> bool:  # workers record their attempts in batches
                with psycopg.connect(url) as conn:
                    row = conn.execute("SELECT count(*) FROM webhook_deliveries "
                                       "WHERE state = 'delivered'").fetchone()
                return row is not None and row[0] >= 24

            until(lambda: len(records()) >= 24 and written_back(), "every event delivered",
                  deadline=120)
            with psycopg.connect(url) as conn:
                attempts = conn.execute("SELECT delivery, count(*), count(DISTINCT worker) "
                                        "FROM webhook_attempts GROUP BY delivery").fetchall()
                states = conn.execute("SELECT state, count(*) FROM webhook_deliveries "
                                      "GROUP BY state").fetchall()
            got = records()
            assert len(got) == 24 and len({r["event_id"] for r in got}) == 24
            assert all(r["signature_ok"] for r in got)
            assert len(attempts) == 24 and all(n == 1 for _, n, _ in attempts)
            assert states == [("delivered", 24)]
    finally:
        for node in started:
            stop_server(node)
        receiver.terminate()
        receiver.wait(timeout=10)
