"""Requests that aiohttp's parser refuses before routing get the API's JSON shapes, from a real
``tryvoga serve``: ``{"message"}`` under the façades, ``{"error": {...}}`` elsewhere."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from ..conftest import HTTPResult, Server, start_server, stop_server
from .test_native import assert_error

LONG = "a" * 9000  # over 8190: refused by our own check, the path known
HUGE = "a" * 70000  # over what the parser reads at all: refused by the parser itself


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("protocol"))
    yield running
    stop_server(running)


def raw(server: Server, head: bytes) -> HTTPResult:
    """Send ``head`` as it is (no client would) and read the answer to the end."""
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return HTTPResult(int(lines[0].split()[1]), headers, body)


def get(target: str, *extra: str) -> bytes:
    return "\r\n".join([f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
                        *extra, "", ""]).encode("latin-1")


def message(result: HTTPResult, status: int) -> str:
    """The façades' shape: only a message."""
    assert result.status == status, result.body
    assert result.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = json.loads(result.body)
    assert set(body) == {"message"} and body["message"]
    text: str = body["message"]
    return text


@pytest.mark.parametrize("path", ["/v1/alerts/active.json",
                                  "/v2/iot/active_air_raid_alerts/31.json", "/api/v3/alerts",
                                  "/api/v3/alerts/status"])
def test_a_facade_target_too_long_is_a_message(srv: Server, path: str) -> None:
    # Through a real client, a little over the limit ...
    found = message(srv.get(f"{path}?token={LONG}", token=None), 414)
    assert "longer than 8190 bytes" in found and "Authorization header" in found
    # ... and far over what the parser reads.
    assert "longer than 8190 bytes" in message(raw(srv, get(f"{path}?token={HUGE}")), 414)


@pytest.mark.parametrize("path", ["/api/v1/status", "/api/v1/alerts/active", "/healthz",
                                  "/api/v1/nothing"])
def test_a_native_target_too_long_is_an_error(srv: Server, path: str) -> None:
    assert_error(srv.get(f"{path}?token={LONG}", token=None), 414, "request_target_too_long")
    assert_error(raw(srv, get(f"{path}?q={HUGE}")), 414, "request_target_too_long")


def test_the_limit_itself_is_accepted(srv: Server) -> None:
    for path in ("/api/v1/status?pad=", "/v1/alerts/active.json?pad="):
        target = path + "x" * (8190 - len(path))
        assert len(target) == 8190
        assert srv.get(target, token=None).status == 200
        assert srv.get(target + "x", token=None).status == 414


def test_other_refusals_of_the_parser_are_json(srv: Server) -> None:
    header = raw(srv, get("/api/v1/status", "X-Padding: " + "b" * 9000))
    assert_error(header, 431, "header_too_long")
    bad = raw(srv, b"G@T /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert_error(bad, 400, "malformed_request")
    assert "Invalid method" in json.loads(bad.body)["error"]["message"]
    assert_error(raw(srv, b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n"),
                 400, "malformed_request")
    # The server is none the worse, and its log holds no traceback nor any of the tokens.
    assert srv.get("/healthz", token=None).status == 200
    log = srv.log.read_text()
    assert "Traceback" not in log and "aaaaaaaa" not in log
