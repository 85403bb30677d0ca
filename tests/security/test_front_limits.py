"""Issue 15, defect 5: the read front closes a request head trickled byte by byte after a
bounded time, and one client address cannot hold more than its share of connections.

Real server processes on 127.0.0.1, raw sockets.
"""

from __future__ import annotations

import select
import socket
from pathlib import Path

from ..conftest import Server, start_server, stop_server

DEADLINE = 30.0


def address(server: Server) -> tuple[str, int]:
    host, port = server.base.removeprefix("http://").split(":")
    return host, int(port)


def closed_by_server(sock: socket.socket, wait: float) -> bool:
    """Whether the server closed the connection (EOF or reset) within ``wait`` seconds."""
    ready, _, _ = select.select([sock], [], [], wait)
    if not ready:
        return False
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def test_a_trickled_request_head_is_closed(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--header-timeout", "2")
    try:
        sock = socket.create_connection(address(server))
        # A head that never ends: one byte every 0.25 s, for far longer than the deadline.
        head = b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 400
        closed = False
        for byte in head:
            try:
                sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if closed_by_server(sock, 0.25):
                closed = True
                break
        sock.close()
        assert closed, "the server still holds a request head trickled for 100 s"
        # Normal requests are not affected.
        assert server.get("/api/v1/status", token=None).status == 200
    finally:
        stop_server(server)


def test_connections_per_address_are_capped(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--connections-per-address", "5")
    try:
        held = [socket.create_connection(address(server)) for _ in range(5)]
        # Each of the five is served, by the front (a polled read) or by aiohttp (the rest:
        # those connections are handed over, and still count).
        for n, sock in enumerate(held):
            path = b"/api/v1/status" if n % 2 else b"/api/v1/events?limit=1"
            sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            ready, _, _ = select.select([sock], [], [], DEADLINE)
            assert ready and sock.recv(65536).startswith(b"HTTP/1.1 200")
        extra = socket.create_connection(address(server))
        assert closed_by_server(extra, DEADLINE), "a sixth connection was kept"
        extra.close()
        held.pop().close()
        # A slot is free again once a connection ends (closing is seen at once, but the
        # server learns of it asynchronously: retry within the deadline).
        for _ in range(100):
            again = socket.create_connection(address(server))
            again.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
            ready, _, _ = select.select([again], [], [], DEADLINE)
            answer = again.recv(65536) if ready else b""
            again.close()
            if answer.startswith(b"HTTP/1.1 200"):
                break
        else:
            raise AssertionError("no connection was accepted after one was closed")
        for sock in held:
            sock.close()
    finally:
        stop_server(server)
