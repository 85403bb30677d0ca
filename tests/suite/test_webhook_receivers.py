"""Webhook receivers that misbehave (issue 15, "The suite that proves the guarantees"): one
that is down (its port closed), one that answers 500, one that never answers, and one that
answers slowly. Once each recovers it has every event exactly once, in sequence order, with
valid signatures.

A real ``tryvoga serve`` on 127.0.0.1 with small retry settings (backoff 0.2 s, connect and
answer timeouts 1 s), and the receivers in a process of their own (``misbehaving_receiver.py``),
which writes down every request it gets before answering it. 30 events are declared while
three of the receivers fail, then they recover, then 30 more. For each subscription:

- the events it accepted (answered 2xx) are every event of the log after the start, each
  once, in sequence order, and each body is the log's event;
- every request it got, failed ones included, came in sequence order (a retry repeats the
  event it is at; no later event is sent before an earlier one is accepted: docs/webhooks.md,
  "Delivery");
- every signature held.

``TRYVOGA_SOAK=1`` runs 300 events before and 300 after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.polling import wait_for
from tryvoga.domain.regions import Catalogue, Level

from ..conftest import Server, free_port, start_server, stop_server
from .test_stream_churn import all_events

SOAK = os.environ.get("TRYVOGA_SOAK", "") not in ("", "0")
EVENTS = 300 if SOAK else 30  # before the receivers recover, and as many after
PER_COMMAND = 3
RECEIVER = Path(__file__).with_name("misbehaving_receiver.py")
LOOPBACK = {"TRYVOGA_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}
NAMES = ("down", "error", "hang", "slow")


def records(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text("utf-8").splitlines()
            if line.endswith("}")]


def declare(server: Server, regions: list[str]) -> None:
    for start in range(0, len(regions), PER_COMMAND):
        answer = server.post("/api/v1/alerts", {"regions": regions[start:start + PER_COMMAND],
                                                "type": "air_raid", "source": "receivers"})
        assert answer.status in (200, 201), answer.body[:200]


def test_misbehaving_receivers_get_every_event_once_in_order_after_they_recover(
        tmp_path: Path, catalogue: Catalogue) -> None:
    hromadas = sorted(r.code for r in catalogue.at_level(Level.HROMADA))[:2 * EVENTS]
    port, down_port = free_port(), free_port()
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text("{}", "utf-8")
    out = tmp_path / "received.jsonl"
    receiver = subprocess.Popen(
        [sys.executable, str(RECEIVER), str(port), str(down_port), str(out), str(secrets_file)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert receiver.stdout is not None
    server: Server | None = None
    try:
        assert receiver.stdout.readline() == b"ready\n"
        server = start_server(tmp_path, "--webhook-backoff", "0.2",
                              "--webhook-connect-timeout", "1", "--webhook-read-timeout", "1",
                              env=LOOPBACK)
        hooks: dict[str, str] = {}
        secrets: dict[str, str] = {}
        for name in NAMES:
            url = f"http://127.0.0.1:{down_port if name == 'down' else port}/{name}"
            created = server.post("/api/v1/webhooks", {"url": url})
            assert created.status == 201, created.body
            hooks[name] = created.json()["webhook"]["id"]
            secrets[hooks[name]] = created.json()["secret"]
        secrets_file.write_text(json.dumps(secrets), "utf-8")
        start = server.get("/api/v1/events?since=0&limit=1").json()["version"]
        running = server

        declare(running, hromadas[:EVENTS])

        def failing() -> bool:
            got = records(out)
            attempts = running.get(f"/api/v1/webhooks/{hooks['down']}/attempts").json()
            return (sum(r["answer"] == "500" for r in got) >= 3
                    and sum(r["answer"] == "hung" for r in got) >= 2
                    and len(attempts["attempts"]) >= 3)

        wait_for(failing, "three failures of each failing receiver", seconds=60)
        subprocess.run([sys.executable, "-c", (
            "import urllib.request; urllib.request.urlopen(urllib.request.Request("
            f"'http://127.0.0.1:{port}/recover', data=b'', method='POST'), timeout=10)")],
            check=True, timeout=30)

        declare(running, hromadas[EVENTS:])

        def delivered() -> bool:
            return all(running.get(f"/api/v1/webhooks/{hook}").json()["webhook"]["deliveries"][
                "delivered"] == 2 * EVENTS for hook in hooks.values())

        # The slow receiver takes 0.3 s an event, one at a time (order): 18 s, 180 s soaking.
        wait_for(delivered, "every delivery", seconds=900 if SOAK else 120)
        logged = all_events(running, start)
    finally:
        if server is not None:
            stop_server(server)
        receiver.kill()
        receiver.wait()
        receiver.stdout.close()

    assert len(logged) == 2 * EVENTS
    got = records(out)
    for name in NAMES:
        mine = [r for r in got if r["path"] == f"/{name}"]
        accepted = [r for r in mine if r["answer"] == "200"]
        failed = len(mine) - len(accepted)
        print(f"/{name}: {len(mine)} requests, {failed} failed, {len(accepted)} accepted")
        assert all(r["webhook_id"] == hooks[name] for r in mine)
        assert all(r["signature_ok"] for r in mine), name
        assert [r["event_id"] for r in accepted] == [e["seq"] for e in logged], name
        assert [r["body"] for r in accepted] == logged, name
        sent = [r["event_id"] for r in mine]
        assert sent == sorted(sent), f"/{name} got events out of order: {sent}"
    assert not any(r["answer"] != "200" for r in got if r["path"] in ("/down", "/slow"))
