"""A stream load client: holds thousands of SSE or WebSocket subscriptions on raw sockets.

Run by ``bench/fanout.py``, one process per share of the subscribers, and driven by JSON
commands on stdin, one per line; it answers each on stdout:

    {"op": "connect", "query": "since=5"}   -> {"ready": N, "seconds": t}
    {"op": "expect", "mark": K}             -> {"mark": K, "got": n, "first": t0, "last": t1,
                                                "p50": t}   (monotonic receipt times)
    {"op": "close"}                         -> {"closed": N}
    {"op": "quit"}

Receipt is detected by a marker ``M<6 digits>Z`` that each published message carries. Only
127.0.0.0/8 is ever connected to.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import re
import resource
import sys
import time
from typing import Any

MARK = re.compile(rb"M(\d{6})Z")
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


class Subscription(asyncio.Protocol):
    __slots__ = ("client", "last", "ready", "request", "tail", "transport")

    def __init__(self, client: Client, request: bytes) -> None:
        self.client = client
        self.request = request
        self.ready = False
        self.tail = b""
        self.last = -1
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if not self.ready:
            self.tail += data
            end = self.tail.find(b"\r\n\r\n")
            if end < 0:
                return
            status = self.tail.split(b" ", 2)[1]
            if status not in (b"200", b"101"):
                self.client.failed(self, self.tail[:200])
                return
            self.ready = True
            data = self.tail[end + 4:]
            self.tail = b""
            self.client.on_ready(self)
        buffer = self.tail + data
        for match in MARK.finditer(buffer):
            mark = int(match.group(1))
            if mark > self.last:
                self.last = mark
                self.client.on_receipt(mark, now)
        self.tail = buffer[-10:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.on_lost(self)


class Client:
    def __init__(self, host: str, port: int, path: str, fmt: str, count: int,
                 source: str) -> None:
        if not ipaddress.ip_address(host).is_loopback or not ipaddress.ip_address(
                source).is_loopback:
            raise SystemExit("the load client only connects within 127.0.0.0/8")
        self.host, self.port, self.path, self.fmt = host, port, path, fmt
        self.count = count
        self.source = source
        self.subs: set[Subscription] = set()
        self.ready = 0
        self.receipts: dict[int, list[float]] = {}
        self.waiters: dict[str, asyncio.Future[None]] = {}
        self.errors = 0

    def request(self, query: str) -> bytes:
        target = self.path + (("&" if "?" in self.path else "?") + query if query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.fmt == "ws":
            lines += ["Upgrade: websocket", "Connection: Upgrade",
                      f"Sec-WebSocket-Key: {WS_KEY}", "Sec-WebSocket-Version: 13"]
        else:
            lines += ["Accept: text/event-stream"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _wake(self, name: str) -> None:
        waiter = self.waiters.get(name)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_ready(self, sub: Subscription) -> None:
        self.ready += 1
        if self.ready >= self.count:
            self._wake("ready")

    def failed(self, sub: Subscription, head: bytes) -> None:
        self.errors += 1
        print(json.dumps({"log": f"subscription refused: {head!r}"}), file=sys.stderr)
        if sub.transport is not None:
            sub.transport.close()

    def on_receipt(self, mark: int, now: float) -> None:
        times = self.receipts.setdefault(mark, [])
        times.append(now)
        if len(times) >= self.count:
            self._wake(f"mark{mark}")

    def on_lost(self, sub: Subscription) -> None:
        self.subs.discard(sub)
        if sub.ready:
            self.ready -= 1
        if not self.subs:
            self._wake("closed")

    async def connect(self, query: str, in_flight: int = 200) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        request = self.request(query)
        self.waiters["ready"] = loop.create_future()
        gate = asyncio.Semaphore(in_flight)
        started = time.monotonic()

        async def one() -> None:
            async with gate:
                for _ in range(20):
                    try:
                        _, sub = await loop.create_connection(
                            lambda: Subscription(self, request), self.host, self.port,
                            local_addr=(self.source, 0))
                        self.subs.add(sub)
                        return
                    except OSError:
                        await asyncio.sleep(0.05)
                self.errors += 1

        await asyncio.gather(*(one() for _ in range(self.count)))
        try:
            async with asyncio.timeout(60):
                await self.waiters["ready"]
        except TimeoutError:
            pass
        return {"ready": self.ready, "seconds": time.monotonic() - started,
                "errors": self.errors}

    async def expect(self, mark: int, timeout: float = 20.0) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        if len(self.receipts.get(mark, ())) < self.count:
            self.waiters[f"mark{mark}"] = loop.create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self.waiters[f"mark{mark}"]
            except TimeoutError:
                pass
        times = sorted(self.receipts.pop(mark, []))
        if not times:
            return {"mark": mark, "got": 0}
        return {"mark": mark, "got": len(times), "first": times[0], "last": times[-1],
                "p50": times[len(times) // 2]}

    async def close(self) -> dict[str, Any]:
        count = len(self.subs)
        if self.subs:
            self.waiters["closed"] = asyncio.get_running_loop().create_future()
            for sub in list(self.subs):
                if sub.transport is not None:
                    sub.transport.close()
            try:
                async with asyncio.timeout(30):
                    await self.waiters["closed"]
            except TimeoutError:
                pass
        self.ready = 0
        return {"closed": count}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--fmt", choices=("sse", "ws"), required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--source", default="127.0.0.1")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    client = Client(args.host, args.port, args.path, args.fmt, args.count, args.source)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        op = command["op"]
        if op == "connect":
            answer = await client.connect(command.get("query", ""))
        elif op == "expect":
            answer = await client.expect(command["mark"], command.get("timeout", 20.0))
        elif op == "close":
            answer = await client.close()
        else:
            await client.close()
            return
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
