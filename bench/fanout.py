"""Fan-out: N subscribers over SSE and WebSocket, Tryvoga next to nginx + nchan.

For each target, format and N: start a fresh server; connect N subscribers (load-client
processes, raw sockets); publish R messages one after another, each waiting until every
subscriber has it; then drop and reconnect everyone. Reported per case:

- last receipt: from the publish's HTTP response to the moment the last subscriber had the
  message (p50, p99, max over the R publishes); also from the request's start. Both ends are
  the kernel's receive times on the sockets (``SO_TIMESTAMPNS``: the publisher's connection
  here, each subscriber's in ``loadclient.py``), read the same way for both servers; so is
  "last read": when the load-client processes, then the publishing process, had read them;
- server CPU per publish (all threads, /proc/<pid>/task/*/schedstat; nginx: its worker);
- memory per idle connection: server RSS after connecting minus before, over N;
- connect-all and reconnect-all times.

Tryvoga publishes are real declarations (and ends) of an alert whose note or reason carries
the marker; nchan publishes a message of the same size to one channel.
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import struct
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
    """Load-client processes, each holding a share of the subscriptions: two (one per core),
    so that the clients' own reading competes with the server being measured as little as
    it can."""

    def __init__(self, port: int, path: str, fmt: str, count: int, case: int,
                 processes: int = 2) -> None:
        shares = max(1, min(processes, count // 1000))
        self.procs: list[subprocess.Popen[str]] = []
        for index in range(shares):
            share = count // shares + (1 if index < count % shares else 0)
            source = f"127.{1 + case // 250}.{case % 250}.{index + 1}"
            self.procs.append(subprocess.Popen(
                [PYTHON, str(BENCH / "loadclient.py"), "--port", str(port), "--path", path,
                 "--fmt", fmt, "--count", str(share), "--source", source],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1))

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

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


SO_TIMESTAMPNS = 35  # Linux; see loadclient.py
CMSG = socket.CMSG_SPACE(16)


class Publisher:
    """One keep-alive HTTP/1.1 connection that publishes. The response's arrival is the
    kernel's receive time of its first bytes (``SO_TIMESTAMPNS``): the same clock and the same
    kind of reading as the subscribers' receipts in ``loadclient.py``."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def post(self, path: str, body: Any, headers: dict[str, str]
             ) -> tuple[int, bytes, float, float, float]:
        """(status, body, sent, answered, read): Unix times of the request's sending, of the
        response's arrival (kernel) and of this process having read all of it."""
        data = json.dumps(body).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                   f"application/json\r\nContent-Length: {len(data)}\r\n{head}\r\n"
                   ).encode() + data
        sent = time.time()
        self.sock.sendall(request)
        buffer = b""
        answered = 0.0
        while True:
            chunk, ancillary, _, _ = self.sock.recvmsg(65536, CMSG)
            if not chunk:
                raise ConnectionError("the server closed the publishing connection")
            if not answered:
                answered = time.time()
                for level, kind, value in ancillary:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        seconds, nanoseconds = struct.unpack_from("qq", value)
                        answered = seconds + nanoseconds / 1e9
            buffer += chunk
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                continue
            lines = buffer[:end].decode("latin-1").split("\r\n")
            fields = {k.strip().lower(): v.strip() for k, _, v in
                      (line.partition(":") for line in lines[1:])}
            rest = buffer[end + 4:]
            if "content-length" in fields:
                if len(rest) < int(fields["content-length"]):
                    continue
                rest = rest[:int(fields["content-length"])]
            elif fields.get("transfer-encoding") == "chunked" and not rest.endswith(
                    b"0\r\n\r\n"):
                continue
            return int(lines[0].split()[1]), rest, sent, answered, time.time()

    def close(self) -> None:
        self.sock.close()


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
    conn = Publisher(server.port)
    auth = {"Authorization": f"Bearer {server.token}"} if isinstance(server, Tryvoga) else {}
    alert_id: int | None = None
    pad = "x" * 380  # nchan's message: about the size of a Tryvoga event frame

    def publish(mark: int) -> tuple[float, float, float]:
        """One publish: Unix times of the request sent, the response received (kernel) and
        the response read (by this process)."""
        nonlocal alert_id
        marker = f"M{mark:06d}Z"
        if isinstance(server, Tryvoga):
            if alert_id is None:
                status, body, sent, answered, read = conn.post("/api/v1/alerts", {
                    "regions": [KYIV], "type": "air_raid", "note": marker}, auth)
                assert status == 201, body
                alert_id = json.loads(body)["alerts"][0]["id"]
            else:
                status, body, sent, answered, read = conn.post(
                    f"/api/v1/alerts/{alert_id}/end", {"reason": marker}, auth)
                assert status == 200, body
                alert_id = None
        else:
            status, body, sent, answered, read = conn.post(
                "/pub", {"mark": marker, "pad": pad}, {})
            assert status in (200, 201, 202), (status, body)
        return sent, answered, read

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
        client_cpu_before = cpu_seconds(clients.pids)
        from_response: list[float] = []
        from_request: list[float] = []
        p50s: list[float] = []
        firsts: list[float] = []
        answers: list[float] = []
        read_lags: list[float] = []
        missing = 0
        for mark in range(2, publishes + 2):
            sent, answered, read = publish(mark)
            got = clients.ask({"op": "expect", "mark": mark})
            received = sum(a["got"] for a in got)
            missing += connected - received
            if received:
                last = max(a["last"] for a in got if a["got"])
                from_response.append((last - answered) * 1000)
                from_request.append((last - sent) * 1000)
                p50s.append((statistics.median(a["p50"] for a in got if a["got"])
                             - answered) * 1000)
                firsts.append((min(a["first"] for a in got if a["got"]) - answered) * 1000)
                answers.append((answered - sent) * 1000)
                read_lags.append((max(a["read"] for a in got if a["got"]) - read) * 1000)
            time.sleep(0.05)
        cpu_per_publish = (cpu_seconds(pids) - cpu_before) / publishes
        client_cpu_per_publish = (cpu_seconds(clients.pids) - client_cpu_before) / publishes
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
        "response_ms_p50": _percentile(answers, 0.5),
        "last_read_ms_p50": _percentile(read_lags, 0.5),
        "last_read_ms_p99": _percentile(read_lags, 0.99),
        "client_cpu_ms_per_publish": client_cpu_per_publish * 1000,
        # per publish, in order: ms from the response to the last and to the first receipt,
        # and from the request's start to the response
        "samples": {"last": [round(v, 2) for v in from_response],
                    "first": [round(v, 2) for v in firsts],
                    "response": [round(v, 2) for v in answers],
                    "read": [round(v, 2) for v in read_lags]},
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
