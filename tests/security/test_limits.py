"""Issue 15: per-address and per-token limits on reads, writes and open streams
(``api/limits.py``), against real servers on 127.0.0.1.

All connections come from 127.0.0.1, so the server trusts it as a proxy
(``--trusted-proxies``) and the tests play distinct clients with ``X-Forwarded-For``; one test
checks that the header is ignored without that setting.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tryvoga.api.limits import ClientAddress, RateLimiter, address_key

from ..conftest import Server, start_server, stop_server
from ..regions import KYIV, LVIV_OBLAST

DEADLINE = 30.0
READS, TOKEN_READS, TOKEN_WRITES, STREAMS, TOKEN_STREAMS, KEYS = 5, 8, 3, 2, 3, 60
WRITES = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("limits"), "--trusted-proxies", "127.0.0.1/32",
        "--read-rate-address", str(READS), "--read-rate-token", str(TOKEN_READS),
        "--write-rate-token", str(TOKEN_WRITES), "--write-rate-address", str(WRITES),
        "--streams-per-address", str(STREAMS),
        "--streams-per-token", str(TOKEN_STREAMS), "--rate-limit-keys", str(KEYS),
        "--compat-rate-ip", "3")
    yield running
    stop_server(running)


def token(server: Server, *, write: bool = False) -> str:
    """A new token on the server's database (made in this process: a CLI each is slow)."""
    from tryvoga.cli.kit import open_service

    with open_service(str(server.db)) as service:
        return service.create_token(f"t{time.monotonic_ns()}", ["UA"], write,
                                    automated=write)[1]


def get(server: Server, path: str, client: str, secret: str | None = None) -> tuple[int, dict[
        str, str], bytes]:
    answer = server.get(path, token=secret, headers={"X-Forwarded-For": f"203.0.113.9, {client}"})
    return answer.status, answer.headers, answer.body


def assert_429(status: int, headers: dict[str, str], body: bytes, code: str = "rate_limited"
               ) -> None:
    import json

    assert status == 429, (status, body[:200])
    assert int(headers["Retry-After"]) >= 1
    error = json.loads(body)["error"]
    assert error["code"] == code and error["status"] == 429


def test_reads_per_address_bite_at_the_setting_front_and_aiohttp_alike(server: Server) -> None:
    # /api/v1/status is answered by the read front, /api/v1/events by aiohttp: one budget.
    for n in range(READS):
        path = "/api/v1/status" if n % 2 else "/api/v1/events?limit=1"
        assert get(server, path, "198.51.100.1")[0] == 200
    assert_429(*get(server, "/api/v1/status", "198.51.100.1"))
    assert_429(*get(server, "/api/v1/events?limit=1", "198.51.100.1"))
    # Other clients are not affected, nor is /healthz.
    assert get(server, "/api/v1/status", "198.51.100.2")[0] == 200
    assert get(server, "/healthz", "198.51.100.1")[0] == 200


def test_an_ipv6_client_is_counted_by_its_64(server: Server) -> None:
    for n in range(READS):
        assert get(server, "/api/v1/status", f"2001:db8:5::{n + 1}")[0] == 200
    assert_429(*get(server, "/api/v1/status", "2001:db8:5::ffff"))
    assert get(server, "/api/v1/status", "2001:db8:6::1")[0] == 200


def test_reads_per_token(server: Server) -> None:
    first, second = token(server), token(server)
    for n in range(TOKEN_READS):  # each from another address: the token's budget bites
        assert get(server, "/api/v1/events?limit=1", f"198.51.101.{n}", first)[0] == 200
    status, headers, body = get(server, "/api/v1/events?limit=1", "198.51.101.200", first)
    assert_429(status, headers, body)
    assert b"token" in body
    assert get(server, "/api/v1/events?limit=1", "198.51.101.201", second)[0] == 200


def test_writes_per_token(server: Server) -> None:
    writer, other = token(server, write=True), token(server, write=True)

    def declare(secret: str, region: str, n: int) -> tuple[int, dict[str, str], bytes]:
        answer = server.post("/api/v1/alerts", {"regions": [region], "type": "air_raid",
                                                "note": f"w{n}"}, token=secret,
                             headers={"X-Forwarded-For": f"198.51.102.{n}"})
        return answer.status, answer.headers, answer.body

    for n in range(TOKEN_WRITES):
        assert declare(writer, KYIV, n)[0] in (200, 201)
    refused = declare(writer, KYIV, 99)
    assert_429(*refused)
    assert "x-request-id" in {name.lower() for name in refused[1]}  # inside the id middleware
    assert declare(other, LVIV_OBLAST, 100)[0] in (200, 201)
    notes = [e["payload"].get("note") for e in server.get(
        "/api/v1/events?limit=1000", token=None,
        headers={"X-Forwarded-For": "198.51.102.250"}).json()["events"]]
    assert "w99" not in notes and "w100" in notes  # nothing of the refused one applied


def test_writes_per_address(server: Server) -> None:
    """Counted before the token is looked at: a flood of writes without a valid token is
    held to the address's budget too."""

    def post(client: str) -> tuple[int, dict[str, str], bytes]:
        answer = server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"},
                             token=f"not-a-token-{time.monotonic_ns()}",
                             headers={"X-Forwarded-For": client})
        return answer.status, answer.headers, answer.body

    for _ in range(WRITES):
        assert post("198.51.108.1")[0] == 401
    assert_429(*post("198.51.108.1"))
    assert post("198.51.108.2")[0] == 401
    # Reads are another budget.
    assert get(server, "/api/v1/status", "198.51.108.1")[0] == 200


def open_stream(server: Server, client: str, secret: str | None = None) -> tuple[
        socket.socket, bytes]:
    host, port = server.base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    auth = f"Authorization: Bearer {secret}\r\n" if secret else ""
    sock.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {client}\r\n"
                 f"{auth}\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        ready, _, _ = select.select([sock], [], [], DEADLINE)
        chunk = sock.recv(65536) if ready else b""
        if not chunk:
            break
        head += chunk
    return sock, head


def test_streams_per_address(server: Server) -> None:
    held = [open_stream(server, "198.51.103.1") for _ in range(STREAMS)]
    assert all(head.startswith(b"HTTP/1.1 200") for _, head in held)
    extra, head = open_stream(server, "198.51.103.1")
    extra.close()
    assert head.startswith(b"HTTP/1.1 429") and b"too_many_streams" in head
    assert b"Retry-After: " in head
    other, head = open_stream(server, "198.51.103.2")
    other.close()
    assert head.startswith(b"HTTP/1.1 200")
    held.pop()[0].close()
    # The slot is free once the server has seen the close (asynchronously: retry a while).
    for _ in range(100):
        again, head = open_stream(server, "198.51.103.1")
        again.close()
        if head.startswith(b"HTTP/1.1 200"):
            break
        select.select([], [], [], 0.1)
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    for sock, _ in held:
        sock.close()


def test_streams_per_token(server: Server) -> None:
    mine, theirs = token(server), token(server)
    held = [open_stream(server, f"198.51.104.{n}", mine) for n in range(TOKEN_STREAMS)]
    assert all(head.startswith(b"HTTP/1.1 200") for _, head in held)
    extra, head = open_stream(server, "198.51.104.100", mine)
    extra.close()
    assert head.startswith(b"HTTP/1.1 429") and b"too_many_streams" in head
    other, head = open_stream(server, "198.51.104.101", theirs)
    other.close()
    assert head.startswith(b"HTTP/1.1 200")
    for sock, _ in held:
        sock.close()


def test_the_facades_keep_their_own_limit_and_honour_the_proxy(server: Server) -> None:
    path = "/v1/iot/active_air_raid_alerts.json"
    for _ in range(3):
        assert get(server, path, "198.51.105.1")[0] == 200
    status, headers, body = get(server, path, "198.51.105.1")
    assert status == 429 and int(headers["Retry-After"]) >= 1 and b'"message"' in body
    assert get(server, path, "198.51.105.2")[0] == 200


def test_memory_is_bounded_under_many_addresses(server: Server) -> None:
    """At most --rate-limit-keys addresses are tracked: a flood of new ones makes the server
    forget the least recently seen (which then start again with a full budget)."""
    for _ in range(READS):
        get(server, "/api/v1/status", "198.51.106.1")
    assert_429(*get(server, "/api/v1/status", "198.51.106.1"))
    for n in range(KEYS + 10):
        assert get(server, "/api/v1/status", f"10.{n // 250}.{n % 250}.7")[0] == 200
    assert get(server, "/api/v1/status", "198.51.106.1")[0] == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(tmp_path: Path) -> None:
    plain = start_server(tmp_path, "--read-rate-address", "3")
    try:
        for n in range(3):
            assert get(plain, "/api/v1/status", f"198.51.107.{n}")[0] == 200
        assert_429(*get(plain, "/api/v1/status", "198.51.107.99"))
    finally:
        stop_server(plain)


def test_limiter_units() -> None:
    limiter = RateLimiter(per_minute=60, max_keys=1000)
    for n in range(100_000):
        limiter.take(f"k{n}", n / 1000)
    assert len(limiter) == 1000
    proxies = ClientAddress(("127.0.0.1/32", "10.0.0.0/8"))
    assert proxies.of("127.0.0.1", "1.2.3.4, 10.1.1.1") == "1.2.3.4"
    assert proxies.of("127.0.0.1", "6.6.6.6, 1.2.3.4") == "1.2.3.4"  # the left is forgeable
    assert proxies.of("127.0.0.1", "junk, 1.2.3.4") == "1.2.3.4"
    assert proxies.of("127.0.0.1", "1.2.3.4, junk") == "127.0.0.1"
    assert proxies.of("192.0.2.1", "1.2.3.4") == "192.0.2.1"  # not a trusted peer
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert address_key("::ffff:1.2.3.4") == "1.2.3.4"


def test_an_address_over_its_limit_is_answered_after_a_pause(server: Server) -> None:
    """Its 429 comes only after ``REFUSAL_PAUSE`` (so a client that sends again at once costs
    a request a second per connection), while everyone else is answered meanwhile."""
    for _ in range(READS):
        assert get(server, "/api/v1/status", "198.51.100.77")[0] == 200
    host, port = server.base.removeprefix("http://").split(":")
    refused = socket.create_connection((host, int(port)), timeout=DEADLINE)
    try:
        refused.sendall(b"GET /api/v1/events?limit=1 HTTP/1.1\r\nHost: x\r\n"
                        b"X-Forwarded-For: 198.51.100.77\r\n\r\n")
        # Another client's read is answered while the refused one still waits.
        assert get(server, "/api/v1/events?limit=1", "198.51.100.78")[0] == 200
        assert select.select([refused], [], [], 0)[0] == []
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += refused.recv(4096)
        assert answer.startswith(b"HTTP/1.1 429 ") and b"Retry-After: " in answer
    finally:
        refused.close()
