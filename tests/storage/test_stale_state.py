"""A node cut off from PostgreSQL (the TCP proxy of ``nodes.py``): every read and stream says
how old the state it serves is, the façades' 503s and 429s carry ``Retry-After``, and token
checks follow revocations on every node at once."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tryvoga.api.tokens import TTL

from ..conftest import TRYVOGA, Server, stop_server
from ..pg import fresh_database
from ..polling import wait_for
from ..regions import KYIV
from .nodes import Proxy, _env, create_token, migrate, start_node

STATE_AGE = "X-State-Age"
# Polled reads of every kind served from the projection: the read front's two, another
# native one, both façades, CAP. (History reads the database: 503 with Retry-After meanwhile.)
READS = ["/api/v1/status", "/api/v1/alerts/active", "/api/v1/regions/UA",
         "/v1/alerts/active.json",
         "/v1/iot/active_air_raid_alerts_by_oblast.json", "/api/v3/alerts",
         "/api/v3/alerts/status", "/cap/feed.atom"]
STALE_FRAME = re.compile(rb"event: stale\ndata: (\{[^\n]*\})\n\n")
STALE_LINE = re.compile(rb"(\{\"stale\":[^\n]*\})\n")


def until(check: Callable[[], bool], what: str, deadline: float = 60.0) -> None:
    """Wait for a condition (liveness, not timing: the deadline only ends a hung test)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


class Stream:
    """A raw stream connection, read as bytes (the chunk framing left in: each frame is one
    chunk, so a frame's text is whole)."""

    def __init__(self, node: Server, path: str) -> None:
        host, port = node.base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        self.data = b""

    def head(self) -> bytes:
        while b"\r\n\r\n" not in self.data:
            self.read()
        return self.data.split(b"\r\n\r\n", 1)[0]

    def read(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, "the stream ended"
        self.data += chunk

    def wait_for(self, pattern: re.Pattern[bytes]) -> dict[str, int]:
        while (found := pattern.search(self.data)) is None:
            self.read()
        stale: dict[str, int] = json.loads(found.group(1))["stale"]
        return stale

    def close(self) -> None:
        self.sock.close()


def ws_stale(node: Server) -> dict[str, int]:
    """The first ``stale`` message a WebSocket subscriber of ``node`` gets."""
    import aiohttp

    async def receive() -> dict[str, int]:
        async with aiohttp.ClientSession() as session, session.ws_connect(
                node.base.replace("http://", "ws://") + "/api/v1/ws",
                autoping=True) as ws:
            async with asyncio.timeout(60):  # liveness only: ends a hung test
                async for message in ws:
                    if message.type is aiohttp.WSMsgType.TEXT and '"stale"' in message.data:
                        stale: dict[str, int] = json.loads(message.data)["stale"]
                        return stale
        raise AssertionError("the WebSocket ended without a stale message")

    return asyncio.run(receive())


def test_a_cut_off_node_says_how_old_its_state_is(tmp_path: Path) -> None:
    with fresh_database() as direct:
        migrate(direct)
        token = create_token(direct)
        name = direct.rpartition("/")[2]
        proxy = Proxy(("127.0.0.1", 5432))
        common = ("--cap-base-url", "https://warnings.example.org")
        node = start_node(tmp_path, proxy.url(name), token, "--stream-keepalive", "0.5",
                          *common)
        other = start_node(tmp_path, direct, token, *common)  # keeps its database
        streams: list[Stream] = []
        try:
            assert node.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"}
                             ).status == 201
            until(lambda: other.get("/api/v1/status", token=None).body
                  == node.get("/api/v1/status", token=None).body, "the other node follows")
            fresh = {path: node.get(path, token=None) for path in READS}
            for path, answer in fresh.items():
                # A current state: no header, the same bytes and ETag as every node.
                assert answer.status == 200 and STATE_AGE not in answer.headers, path
                same = other.get(path, token=None)
                assert (same.body, same.headers.get("ETag")) == (
                    answer.body, answer.headers.get("ETag")), path
            sse = Stream(node, "/api/v1/stream")
            ndjson = Stream(node, "/api/v1/stream.ndjson")
            streams += [sse, ndjson]
            assert b"200 OK" in sse.head() and b"200 OK" in ndjson.head()

            proxy.cut()
            until(lambda: STATE_AGE in node.get("/api/v1/status", token=None).headers,
                  "the cut-off node calls its state stale")
            for path in READS:
                stale = node.get(path, token=None)
                # The last state, byte for byte, saying how old it is.
                assert stale.status == 200 and stale.body == fresh[path].body, path
                assert stale.headers.get("ETag") == fresh[path].headers.get("ETag"), path
                assert int(stale.headers[STATE_AGE]) >= 2, path
            etag = fresh["/api/v1/status"].headers["ETag"]
            unchanged = node.get("/api/v1/status", token=None,
                                 headers={"If-None-Match": etag})
            assert unchanged.status == 304 and int(unchanged.headers[STATE_AGE]) >= 2
            # The other node's state is current: no header there.
            assert STATE_AGE not in other.get("/api/v1/status", token=None).headers
            # Open streams get a stale frame at their keepalives; a new one says it at once.
            assert sse.wait_for(STALE_FRAME)["seq"] == 1
            said = ndjson.wait_for(STALE_LINE)
            assert said["seq"] == 1 and said["age_seconds"] >= 2
            assert ws_stale(node)["seq"] == 1
            late = Stream(node, "/api/v1/stream")
            streams.append(late)
            assert re.search(rb"(?i)x-state-age: \d+", late.head())

            # Every 503 says when to try again, in each API's own shape.
            native = node.get("/api/v1/webhooks")
            assert native.status == 503 and int(native.headers["Retry-After"]) >= 1
            assert native.json()["error"]["code"] == "database_unavailable"
            # A read's token looked up lately is remembered (api/tokens.py): the last state,
            # saying its age; one that must be looked up cannot be checked now.
            remembered = node.get("/v1/alerts/active.json")
            assert remembered.status == 200 and int(remembered.headers[STATE_AGE]) >= 2
            alerts_in_ua = node.get("/v1/alerts/active.json", token=None,
                                    headers={"Authorization": "Bearer tv_never_looked_up"})
            assert alerts_in_ua.status == 503 and int(alerts_in_ua.headers["Retry-After"]) >= 1
            assert set(alerts_in_ua.json()) == {"message"}
            register = node.request("POST", "/api/v3/webhook", token=None,
                                    headers={"Authorization": token},
                                    raw=json.dumps({"webHookUrl": "https://a.example.org/h",
                                                    "regionIds": ["31"]}).encode())
            assert register.status == 503 and int(register.headers["Retry-After"]) >= 1
            assert set(register.json()) == {"message"}

            proxy.restore()
            until(lambda: STATE_AGE not in node.get("/api/v1/status", token=None).headers,
                  "the node's state is current again")
            assert node.get("/api/v1/status", token=None).body == fresh["/api/v1/status"].body
        finally:
            for stream in streams:
                stream.close()
            stop_server(node)
            stop_server(other)
            proxy.close()


def test_the_facades_rate_limits_say_when_to_try_again(tmp_path: Path) -> None:
    with fresh_database() as url:
        migrate(url)
        token = create_token(url)
        node = start_node(tmp_path, url, token, "--compat-rate-ip", "2")
        try:
            for path in ("/v1/alerts/active.json", "/api/v3/alerts"):
                answers = [node.get(path, token=None) for _ in range(3)]
                if path == "/v1/alerts/active.json":
                    assert [a.status for a in answers][:2] == [200, 200]
                limited = answers[-1]
                assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
                assert set(limited.json()) == {"message"}
        finally:
            stop_server(node)


def test_a_revoked_token_is_refused_by_every_node(tmp_path: Path) -> None:
    with fresh_database() as url:
        migrate(url)
        token = create_token(url)
        doomed = create_token(url, "doomed")
        nodes = [start_node(tmp_path, url, token) for _ in range(2)]
        try:
            for node in nodes:
                assert node.get("/api/v1/webhooks", token=doomed).status == 200
                assert node.get("/api/v3/alerts", token=None,
                                headers={"Authorization": doomed}).status == 200
            revoked = subprocess.run([*TRYVOGA, "token", "revoke", "doomed"], env=_env(url),
                                     capture_output=True, text=True, timeout=60)
            assert revoked.returncode == 0, revoked.stderr
            # No wait for what needs a token: it is read as committed.
            for node in nodes:
                assert node.get("/api/v1/webhooks", token=doomed).status == 401
                assert node.get("/api/v1/webhooks").status == 200  # the others still work
            # A read's token is remembered at most the cache's seconds (api/tokens.py).
            for node in nodes:
                wait_for(lambda node=node: node.get(  # type: ignore[misc]
                    "/api/v3/alerts", token=None,
                    headers={"Authorization": doomed}).status == 401,
                    "the revoked token's reads refused", seconds=TTL + 15)
        finally:
            for node in nodes:
                stop_server(node)
