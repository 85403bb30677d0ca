"""Streams under churn (issue 15, "The suite that proves the guarantees"): 500 subscribers,
SSE and WebSocket, dropped at random and resumed during a burst of 5,000 events, each end with
the complete sequence their filter asks for: no gap, no duplicate, in log order, every frame
the log's event (its hash).

A real ``tryvoga serve`` on 127.0.0.1; the subscribers are raw sockets held by one other
process (``stream_client.py``) from 32 source addresses, so the server's loop is not shared
with them. A fifth of the subscribers take every event; the others one oblast's. Each drops its
connection with probability ``CHURN`` after a read that brought events (three in ten of them
with a reset rather than a close), waits up to 0.2 s and resumes from the last event it has:
``Last-Event-ID`` on SSE, ``since=`` on a WebSocket.

``TRYVOGA_SOAK=1`` (``make soak``) runs the bigger variant: 1,000 subscribers, half of them
unfiltered, and 7,000 events.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tryvoga.domain.regions import Catalogue, Level

from ..conftest import Server, start_server, stop_server

SOAK = os.environ.get("TRYVOGA_SOAK", "") not in ("", "0")
SUBSCRIBERS = 1000 if SOAK else 500
EVENTS = 7_000 if SOAK else 5_000
UNFILTERED_EVERY = 2 if SOAK else 5  # every n-th subscriber takes every event
CHURN = 0.08
PER_COMMAND = 50  # regions declared by one command: one event each
TYPES = ("air_raid", "artillery_shelling", "urban_fights", "chemical", "nuclear")
CLIENT = Path(__file__).with_name("stream_client.py")


def all_events(server: Server, since: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = server.get(f"/api/v1/events?since={since}&limit=1000").json()
        out.extend(page["events"])
        if page["next"] is None:
            return out
        since = page["next"]


def declarations(catalogue: Catalogue, events: int) -> list[dict[str, Any]]:
    """Commands that append ``events`` declarations: hromada and alert type pairs in a shuffled
    order (there are 7,345 of them), ``PER_COMMAND`` a command."""
    hromadas = sorted(r.code for r in catalogue.at_level(Level.HROMADA))
    pairs = [(code, kind) for kind in TYPES for code in hromadas]
    assert len(pairs) >= events, "not enough distinct declarations for the burst"
    rng = random.Random(15)
    rng.shuffle(pairs)
    pairs = pairs[:events]
    commands: list[dict[str, Any]] = []
    for start in range(0, events, PER_COMMAND):
        chunk = pairs[start:start + PER_COMMAND]
        by_type: dict[str, list[str]] = {}
        for code, kind in chunk:
            by_type.setdefault(kind, []).append(code)
        commands.extend({"regions": codes, "type": kind, "source": "churn test"}
                        for kind, codes in by_type.items())
    return commands


def oblast_of(catalogue: Catalogue, code: str) -> str:
    top = catalogue.top_of(code)
    assert top is not None
    return top


def test_500_subscribers_dropped_and_resumed_during_a_burst_get_every_event_once(
        tmp_path: Path, catalogue: Catalogue) -> None:
    server = start_server(tmp_path, "--stream-keepalive", "2")
    fleet = subprocess.Popen([sys.executable, str(CLIENT)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert fleet.stdin is not None and fleet.stdout is not None

    def ask(command: dict[str, Any]) -> dict[str, Any]:
        assert fleet.stdin is not None and fleet.stdout is not None
        fleet.stdin.write((json.dumps(command) + "\n").encode())
        fleet.stdin.flush()
        line = fleet.stdout.readline()
        errors = fleet.stderr.read() if fleet.stderr and not line else b""
        assert line, f"the subscriber process ended: {errors!r}"
        answer: dict[str, Any] = json.loads(line)
        return answer

    try:
        oblasts = sorted({oblast_of(catalogue, r.code)
                          for r in catalogue.at_level(Level.HROMADA)})
        start = server.get("/api/v1/events?since=0&limit=1").json()["version"]
        filters = ["" if i % UNFILTERED_EVERY == 0 else f"region={oblasts[i % len(oblasts)]}"
                   for i in range(SUBSCRIBERS)]
        subscribers = [{"fmt": "sse" if i % 2 == 0 else "ws", "query": f, "since": start}
                       for i, f in enumerate(filters)]
        ready = ask({"op": "start", "base": server.base.removeprefix("http://"),
                     "subscribers": subscribers, "churn": CHURN, "seed": 15})
        assert ready["ready"] == SUBSCRIBERS

        failures: list[str] = []

        def burst() -> None:
            for command in declarations(catalogue, EVENTS):
                answer = server.post("/api/v1/alerts", command)
                if answer.status not in (200, 201):
                    failures.append(f"{answer.status} {answer.body[:200]!r}")

        writer = threading.Thread(target=burst)
        writer.start()
        writer.join(timeout=300)
        assert not writer.is_alive(), "the burst did not end"
        assert not failures, failures[:3]

        logged = all_events(server, start)
        assert len(logged) == EVENTS
        expected: dict[str, list[dict[str, Any]]] = {"": logged}
        for oblast in oblasts:
            expected[f"region={oblast}"] = [
                e for e in logged if catalogue.is_within(e["payload"]["region"], oblast)]
        targets = [expected[f][-1]["seq"] if expected[f] else start for f in filters]
        report = ask({"op": "finish", "targets": targets,
                      "seconds": 300 if SOAK else 60})["subscribers"]
    finally:
        if fleet.poll() is None:
            fleet.kill()
        fleet.wait()
        for pipe in (fleet.stdin, fleet.stdout, fleet.stderr):
            if pipe is not None:
                pipe.close()
        stop_server(server)

    connections = sum(s["connections"] for s in report)
    resumed = connections - SUBSCRIBERS
    frames = sum(len(s["seqs"]) for s in report)
    print(f"{SUBSCRIBERS} subscribers, {EVENTS} events, {frames} frames received, "
          f"{resumed} resumptions, "
          f"{sum(s['reconnect_frames'] for s in report)} reconnect frames from the server")
    # The churn is real: every subscriber was dropped and resumed several times on average.
    assert resumed >= 2 * SUBSCRIBERS, f"only {resumed} resumptions"
    for index, (sub, chosen) in enumerate(zip(report, filters, strict=True)):
        want = [e["seq"] for e in expected[chosen]]
        got = sub["seqs"]
        assert not sub["errors"], (index, sub["errors"][:3])
        if got != want:
            first = next((i for i, (a, b) in enumerate(zip(got, want, strict=False))
                          if a != b),
                         min(len(got), len(want)))
            raise AssertionError(
                f"subscriber {index} ({subscribers[index]['fmt']}, {chosen or 'everything'}): "
                f"{len(got)} frames for {len(want)} events; first difference at {first}: "
                f"{got[first:first + 3]} for {want[first:first + 3]}")
        assert sub["hashes"] == [e["hash"] for e in expected[chosen]], index
