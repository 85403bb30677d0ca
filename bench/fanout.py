"""Fan-out: N subscribers over SSE and WebSocket, Tryvoga next to nginx + nchan.

For each target, format and N: start a fresh server; connect N subscribers (load-client
processes, raw sockets); publish R messages one after another, each waiting until every
subscriber has it; then drop and reconnect everyone. Reported per case:

- last receipt: from the publish's HTTP response to the moment the last subscriber had the
  message (p50, p99, max over the R publishes); also from the request's start;
- server CPU per publish (all threads, /proc/<pid>/task/*/schedstat; nginx: its worker);
- memory per idle connection: server RSS after connecting minus before, over N;
- connect-all and reconnect-all times.

Tryvoga publishes are real declarations (and ends) of an alert whose note or reason carries
the marker; nchan publishes a message of the same size to one channel.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from common import (
    BENCH,
    PYTHON,
    Nginx,
    Tryvoga,
    cpu_seconds,
    rss_bytes,
    start_nginx,
    start_tryvoga,
    stop,
)

KYIV = "UA80000000000093317"
NCHAN_BLOCK = """
        location = /sub { nchan_subscriber eventsource websocket; nchan_channel_id bench; }
        location = /pub { nchan_publisher; nchan_channel_id bench;
                          nchan_message_buffer_length 16; nchan_message_timeout 60s; }
"""


class Clients:
    """Load-client processes, each holding a share of the subscriptions."""

    def __init__(self, port: int, path: str, fmt: str, count: int, case: int) -> None:
        shares = max(1, min(4, count // 2500))
        self.procs: list[subprocess.Popen[str]] = []
        for index in range(shares):
            share = count // shares + (1 if index < count % shares else 0)
            source = f"127.{1 + case // 250}.{case % 250}.{index + 1}"
            self.procs.append(subprocess.Popen(
                [PYTHON, str(BENCH / "loadclient.py"), "--port", str(port), "--path", path,
                 "--fmt", fmt, "--count", str(share), "--source", source],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1))

    def ask(self, command: dict[str, Any]) -> list[dict[str, Any]]:
        line = json.dumps(command) + "\n"
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(line)
            proc.stdin.flush()
        answers = []
        for proc in self.procs:
            assert proc.stdout is not None
            answers.append(json.loads(proc.stdout.readline()))
        return answers

    def quit(self) -> None:
        for proc in self.procs:
            try:
                assert proc.stdin is not None
                proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                proc.stdin.close()
            except OSError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run_case(target: str, fmt: str, count: int, publishes: int, folder: Path,
             case: int) -> dict[str, Any]:
    server: Tryvoga | Nginx
    if target == "tryvoga":
        server = start_tryvoga(folder, "--stream-keepalive", "3600")
        path = "/api/v1/stream" if fmt == "sse" else "/api/v1/ws"
    else:
        server = start_nginx(folder, NCHAN_BLOCK, nchan=True)
        path = "/sub"
    pids = server.pids
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    alert_id: int | None = None
    pad = ""

    def publish(mark: int) -> tuple[float, float]:
        nonlocal alert_id, pad
        marker = f"M{mark:06d}Z"
        sent = time.monotonic()
        if isinstance(server, Tryvoga):
            if alert_id is None:
                status, body = server.request("POST", "/api/v1/alerts", {
                    "regions": [KYIV], "type": "air_raid", "note": marker}, conn)
                assert status == 201, body
                alert_id = json.loads(body)["alerts"][0]["id"]
            else:
                status, body = server.request("POST", f"/api/v1/alerts/{alert_id}/end",
                                              {"reason": marker}, conn)
                assert status == 200, body
                alert_id = None
        else:
            if not pad:
                pad = "x" * 380  # about the size of a Tryvoga event frame
            conn.request("POST", "/pub", json.dumps({"mark": marker, "pad": pad}),
                         {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            assert response.status in (200, 201, 202), response.status
        return sent, time.monotonic()

    clients = Clients(server.port, path, fmt, count, case)
    try:
        time.sleep(0.5)
        rss_before = rss_bytes(pids)
        started = time.monotonic()
        ready = clients.ask({"op": "connect", "query": ""})
        connect_s = time.monotonic() - started
        connected = sum(a["ready"] for a in ready)
        time.sleep(1.0)
        rss_after = rss_bytes(pids)
        # one publish to warm up caches and code paths, not counted
        publish(1)
        clients.ask({"op": "expect", "mark": 1})
        cpu_before = cpu_seconds(pids)
        from_response: list[float] = []
        from_request: list[float] = []
        p50s: list[float] = []
        missing = 0
        for mark in range(2, publishes + 2):
            sent, answered = publish(mark)
            got = clients.ask({"op": "expect", "mark": mark})
            received = sum(a["got"] for a in got)
            missing += connected - received
            if received:
                last = max(a["last"] for a in got if a["got"])
                from_response.append((last - answered) * 1000)
                from_request.append((last - sent) * 1000)
                p50s.append((statistics.median(a["p50"] for a in got if a["got"])
                             - answered) * 1000)
            time.sleep(0.05)
        cpu_per_publish = (cpu_seconds(pids) - cpu_before) / publishes
        clients.ask({"op": "close"})
        query = ""
        if isinstance(server, Tryvoga):
            _, body = server.request("GET", "/api/v1/events?since=0&limit=1")
            query = f"since={json.loads(body)['version']}"
        started = time.monotonic()
        again = clients.ask({"op": "connect", "query": query})
        reconnect_s = time.monotonic() - started
        reconnected = sum(a["ready"] for a in again)
    finally:
        clients.quit()
        conn.close()
        stop(server.process)
    return {
        "target": target, "format": fmt, "subscribers": count, "connected": connected,
        "reconnected": reconnected, "publishes": publishes, "missing": missing,
        "last_ms_p50": _percentile(from_response, 0.5),
        "last_ms_p99": _percentile(from_response, 0.99),
        "last_ms_max": max(from_response),
        "last_from_request_ms_p50": _percentile(from_request, 0.5),
        "last_from_request_ms_p99": _percentile(from_request, 0.99),
        "median_subscriber_ms_p50": _percentile(p50s, 0.5),
        "cpu_ms_per_publish": cpu_per_publish * 1000,
        "kib_per_connection": (rss_after - rss_before) / max(connected, 1) / 1024,
        "connect_s": connect_s, "reconnect_s": reconnect_s,
    }


def wake_latency(folder: Path, publishes: int = 40) -> dict[str, Any]:
    """Two workers on one database: delivery to each worker's subscribers, measured from
    the declaration's response (the writing worker and the other, woken, one)."""
    import asyncio

    import aiohttp

    server = start_tryvoga(folder, "--workers", "2", "--stream-keepalive", "3600")

    async def measure() -> dict[str, Any]:
        by_worker: dict[str, aiohttp.ClientResponse] = {}
        sessions = []
        deadline = time.monotonic() + 30  # the second worker may still be starting
        while len(by_worker) < 2 and time.monotonic() < deadline:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
            sessions.append(session)
            response = await session.get(f"http://127.0.0.1:{server.port}/api/v1/stream")
            worker = response.headers["X-Tryvoga-Worker"]
            if worker in by_worker:
                response.close()
                await session.close()
                await asyncio.sleep(0.05)
            else:
                by_worker[worker] = response
        if len(by_worker) < 2:
            for session in sessions:
                await session.close()
            raise RuntimeError("both workers should take streams")
        loop = asyncio.get_running_loop()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        same: list[float] = []
        other: list[float] = []
        alert_id = None
        for _ in range(publishes):
            receipts: dict[str, float] = {}

            async def read(worker: str, response: aiohttp.ClientResponse,
                           receipts: dict[str, float] = receipts) -> None:
                while True:
                    line = await response.content.readline()
                    if line.startswith(b"data:"):
                        receipts[worker] = time.monotonic()
                        return

            readers = [asyncio.create_task(read(w, r)) for w, r in by_worker.items()]

            def post() -> tuple[int, float, str]:
                nonlocal alert_id
                if alert_id is None:
                    path, body = "/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"}
                else:
                    path, body = f"/api/v1/alerts/{alert_id}/end", {}
                conn.request("POST", path, json.dumps(body),
                             {"Authorization": f"Bearer {server.token}",
                              "Content-Type": "application/json"})
                response = conn.getresponse()
                data = json.loads(response.read())
                alert_id = data["alerts"][0]["id"] if alert_id is None else None
                return response.status, time.monotonic(), response.getheader(
                    "X-Tryvoga-Worker") or ""

            _, answered, _ = await loop.run_in_executor(None, post)
            await asyncio.wait_for(asyncio.gather(*readers), 10)
            # The writing worker's subscriber has the frame before the response is sent;
            # the other worker's is woken by the datagram.
            first, second = sorted(receipts.values())
            same.append((first - answered) * 1000)
            other.append((second - answered) * 1000)
            await asyncio.sleep(0.02)
        conn.close()
        for response in by_worker.values():
            response.close()
        for session in sessions:
            await session.close()
        return {"publishes": publishes,
                "first_ms_p50": _percentile(same, 0.5),
                "second_ms_p50": _percentile(other, 0.5),
                "second_ms_p99": _percentile(other, 0.99),
                "second_ms_max": max(other)}

    try:
        return asyncio.run(measure())
    finally:
        stop(server.process)
