"""Two sites of one application, in a thread with its own event loop: one with the read front
(``api/front.py``), one plain aiohttp, both on real 127.0.0.1 sockets. They share the state and
its renderings, so whatever one answers the other must answer to the byte (but for ``Date``)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from tryvoga.api.app import create_app
from tryvoga.api.formats import outbox, webhook_formats
from tryvoga.api.front import FAST_READS, FrontSite, ReadFront
from tryvoga.eventloop import new_event_loop
from tryvoga.node import build_node
from tryvoga.service import Service
from tryvoga.settings import Settings
from tryvoga.storage.sqlite import SQLiteStorage

T = TypeVar("T")


def listening() -> socket.socket:
    sock = socket.create_server(("127.0.0.1", 0), backlog=128)
    sock.set_inheritable(False)
    return sock


class Pair:
    def __init__(self, db: Path, loop_name: str, keepalive_timeout: float = 75.0,
                 **settings: Any) -> None:
        storage = SQLiteStorage(db)
        from tryvoga.domain.regions import load_catalogue

        catalogue = load_catalogue()
        service = Service(storage, catalogue, outbox=outbox(catalogue))
        # An automated source: it declares over several oblasts alone (approval.py).
        _, self.token = service.create_token("front-test", ["UA"], True, automated=True)
        storage.close()
        self.settings = Settings(db=str(db), **settings)
        self.loop = new_event_loop(loop_name)
        self.keepalive_timeout = keepalive_timeout
        self.front_sock, self.plain_sock = listening(), listening()
        self.front_port = self.front_sock.getsockname()[1]
        self.plain_port = self.plain_sock.getsockname()[1]
        self.site: FrontSite | None = None
        self.runner: web.AppRunner | None = None
        ready: Future[None] = Future()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.result(timeout=30)

    def _run(self, ready: Future[None]) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            app = create_app(build_node(self.settings, formats=webhook_formats()))
            self.runner = web.AppRunner(app, access_log=None,
                                        keepalive_timeout=self.keepalive_timeout)
            await self.runner.setup()
            self.site = FrontSite(self.runner, self.front_sock, app[FAST_READS], backlog=128,
                                  keepalive_timeout=self.keepalive_timeout)
            await self.site.start()
            await web.SockSite(self.runner, self.plain_sock, backlog=128).start()

        try:
            self.loop.run_until_complete(start())
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        self.loop.run_forever()

    def call(self, function: Callable[[], T]) -> T:
        """``function()`` on the server's loop (its state is the loop's alone)."""
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(function())
            except BaseException as exc:
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(timeout=10)

    @property
    def answered(self) -> int:
        assert self.site is not None and self.site.front is not None
        front = self.site.front
        return self.call(lambda: front.answered)

    def connections(self) -> list[ReadFront]:
        assert self.site is not None and self.site.front is not None
        front = self.site.front
        return self.call(lambda: list(front.connections))

    def stop_sites(self) -> None:
        """What ``tryvoga serve`` does on SIGTERM: the runner's cleanup."""
        assert self.runner is not None
        runner = self.runner
        asyncio.run_coroutine_threadsafe(runner.cleanup(), self.loop).result(timeout=30)
        self.runner = None

    def close(self) -> None:
        if self.runner is not None:
            self.stop_sites()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def write(self, method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
        """The request with this pair's token, as bytes to send."""
        data = b"" if body is None else json.dumps(body).encode()
        return (f"{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {self.token}"
                f"\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
                ).encode() + data

    def call_api(self, method: str, path: str, body: dict[str, Any] | None = None
                 ) -> tuple[int, Any]:
        answer = exchange(self.plain_port, [self.write(method, path, body)])[0]
        head, _, data = answer.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), json.loads(data)

    def declare(self, region: str, type_: str = "air_raid") -> dict[str, Any]:
        status, body = self.call_api("POST", "/api/v1/alerts",
                                     {"regions": [region], "type": type_})
        assert status == 201, body
        alert: dict[str, Any] = body["alerts"][0]
        return alert


# ---- a raw HTTP/1.1 client --------------------------------------------------------------


def read_answers(sock: socket.socket, count: int, head_request: bool = False) -> list[bytes]:
    """Up to ``count`` whole answers (head and body), fewer if the server closes first;
    an answer to HEAD (``head_request``), 1xx, 204 or 304 has no body."""
    data = b""
    answers: list[bytes] = []
    while len(answers) < count:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            head = data[:end]
            match = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
            bodiless = head_request or data[9:10] == b"1" or data[9:12] in (b"204", b"304")
            total = end + 4 + (int(match.group(1)) if match and not bodiless else 0)
            if len(data) >= total:
                answers.append(data[:total])
                data = data[total:]
                continue
        chunk = sock.recv(1 << 20)
        if not chunk:
            if data:
                answers.append(data)  # a partial answer is an answer too, to compare
            break
        data += chunk
    return answers


def exchange(port: int, writes: list[bytes], count: int | None = None,
             split: Callable[[socket.socket], None] | None = None) -> list[bytes]:
    """Send ``writes`` on one new connection and read ``count`` answers (as many as writes
    by default), or until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for data in writes:
            sock.sendall(data)
            if split is not None:
                split(sock)
        # A HEAD's answer has no body; the method may arrive cut across the writes.
        return read_answers(sock, len(writes) if count is None else count,
                            head_request=b"".join(writes).startswith(b"HEAD "))


def normal(answers: list[bytes]) -> list[bytes]:
    """The answers without their Date (two servers answer in different seconds) and the
    request ids aiohttp gives each request it answers (``api/ops.py``)."""
    return [re.sub(rb"\r\nX-Request-Id: [^\r]*", b"\r\nX-Request-Id: -",
                   re.sub(rb"\r\nDate: [^\r]*", b"\r\nDate: -", a)) for a in answers]

