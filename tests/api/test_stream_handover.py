"""A stream's connection is taken from aiohttp once its head is written (``api/streams.py``):
an open stream keeps no aiohttp handler, request or task, and still gets its frames, answers
a WebSocket ping, gives back its per-address count when it ends, and is told where to resume
at shutdown."""

from __future__ import annotations

import asyncio
import base64
import socket
from pathlib import Path

from tests.regions import KYIV_OBLAST
from tryvoga.api.app import create_app
from tryvoga.api.formats import webhook_formats
from tryvoga.api.front import FRONTS
from tryvoga.api.server import start
from tryvoga.commands import Declare
from tryvoga.domain.regions import Catalogue
from tryvoga.node import build_node
from tryvoga.service import OPERATOR
from tryvoga.settings import Settings

KEY = base64.b64encode(b"0123456789abcdef").decode()


async def open_stream(port: int, ws: bool) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if ws:
        writer.write(f"GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n"
                     f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
    else:
        writer.write(b"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    assert head.split(b" ", 2)[1] == (b"101" if ws else b"200"), head
    return reader, writer


async def read_until(reader: asyncio.StreamReader, marker: bytes) -> bytes:
    got = b""
    while marker not in got:
        chunk = await asyncio.wait_for(reader.read(65536), 30)
        assert chunk, got
        got += chunk
    return got


def handlers() -> list[str]:
    """The tasks that run aiohttp's connections and requests."""
    names = (t.get_coro().__qualname__ for t in asyncio.all_tasks())  # type: ignore[union-attr]
    return [name for name in names if name.startswith("RequestHandler.")]


async def test_an_open_stream_is_no_longer_aiohttps(tmp_path: Path,
                                                    catalogue: Catalogue) -> None:
    node = build_node(Settings(db=str(tmp_path / "s.db")), formats=webhook_formats(),
                      catalogue=catalogue)
    app = create_app(node)
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    runner = await start(app, sock, backlog=128, fast_reads=True, per_address=20)
    try:
        server = runner.server
        assert server is not None
        [front] = app[FRONTS]
        streams = [await open_stream(port, ws) for ws in (False, True, False, True)]
        for _ in range(100):  # each handler returns once its (empty) replay is done
            if not server.connections and not handlers():
                break
            await asyncio.sleep(0.02)
        assert server.connections == []  # aiohttp holds none of them
        assert handlers() == []  # and no task of a request is left
        assert len(node.hub) == 4
        assert front.by_address == {"127.0.0.1": 4}

        result = await node.command(node.service.handle, OPERATOR,
                                    Declare.of(regions=[KYIV_OBLAST], type="air_raid"))
        [event] = result.events
        for reader, _ in streams:
            assert b'"seq":%d' % event.seq in await read_until(reader, b"alert.declared")

        # A WebSocket ping (masked, as a client sends it) is answered with a pong.
        ws_reader, ws_writer = streams[1]
        mask = b"\x01\x02\x03\x04"
        ws_writer.write(b"\x89\x82" + mask + bytes(b ^ mask[i] for i, b in enumerate(b"hi")))
        assert b"\x8a\x02hi" in await read_until(ws_reader, b"\x8a\x02hi")

        # A client that goes away ends its stream and gives back its count.
        _, gone = streams.pop(0)
        gone.close()
        for _ in range(100):
            if len(node.hub) == 3 and front.by_address == {"127.0.0.1": 3}:
                break
            await asyncio.sleep(0.02)
        assert len(node.hub) == 3 and front.by_address == {"127.0.0.1": 3}
    finally:
        await runner.cleanup()
    # Shutdown: every stream still open is told where to resume, then closed.
    for reader, writer in streams:
        rest = await asyncio.wait_for(reader.read(), 30)
        assert b'"reason":"shutdown"' in rest
        writer.close()
    node.close()
