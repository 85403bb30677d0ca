"""Live streams over real HTTP, SSE, NDJSON and WebSocket, against real server processes."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.regions import KYIV
from tryvoga.domain.regions import COUNTRY, Catalogue, Level

from ..conftest import Server, start_server, stop_server

FORMATS = ("sse", "ndjson", "ws")
PATHS = {"sse": "/api/v1/stream", "ndjson": "/api/v1/stream.ndjson", "ws": "/api/v1/ws"}
DEADLINE = 30.0

Item = tuple[str, Any]  # ("event", event JSON) | ("reconnect", body) | ("keepalive", None)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("streams"), "--stream-keepalive", "0.2")
    yield running
    stop_server(running)


def hromadas(catalogue: Catalogue, count: int) -> list[str]:
    return sorted(r.code for r in catalogue.at_level(Level.HROMADA))[:count]


def head(server: Server) -> int:
    version: int = server.get("/api/v1/events?since=0&limit=1").json()["version"]
    return version


class Stream:
    """One open stream of any format, read item by item."""

    def __init__(self, fmt: str, response: Any) -> None:
        self.fmt = fmt
        self.response = response
        headers = response._response.headers if fmt == "ws" else response.headers
        self.worker = headers.get("X-Tryvoga-Worker")
        self.last_id: int | None = None

    async def _next(self) -> Item | None:
        if self.fmt == "ws":
            message = await self.response.receive()
            if message.type is aiohttp.WSMsgType.PING:
                return "keepalive", None
            if message.type is not aiohttp.WSMsgType.TEXT:
                return None
            body = json.loads(message.data)
            return ("reconnect", body) if "reconnect" in body else ("event", body)
        content = self.response.content
        if self.fmt == "ndjson":
            line = await content.readline()
            if not line:
                return None
            if not line.strip():
                return "keepalive", None
            body = json.loads(line)
            return ("reconnect", body) if "reconnect" in body else ("event", body)
        fields: dict[str, str] = {}
        while True:
            raw = await content.readline()
            if not raw:
                return None
            line = raw.decode().rstrip("\n")
            if not line:
                if fields:
                    break
                continue
            if line.startswith(":"):
                return "keepalive", None
            name, _, value = line.partition(": ")
            fields[name] = value
        body = json.loads(fields["data"])
        if fields.get("event") == "reconnect":
            assert int(fields["id"]) == body["reconnect"]["last_id"]
            return "reconnect", body
        assert int(fields["id"]) == body["seq"]
        return "event", body

    async def next(self, keepalives: bool = False) -> Item | None:
        """The next event or final frame (or keepalive, if asked); None at the end."""
        async with asyncio.timeout(DEADLINE):
            while True:
                item = await self._next()
                if item is not None and item[0] == "keepalive" and not keepalives:
                    continue
                if item is not None and item[0] == "event":
                    self.last_id = item[1]["seq"]
                return item

    async def events_until(self, seq: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while not out or out[-1]["seq"] < seq:
            item = await self.next()
            assert item is not None, f"stream ended after {out[-1:]}"
            assert item[0] == "event", item
            out.append(item[1])
        return out


@asynccontextmanager
async def open_stream(session: aiohttp.ClientSession, server: Server, fmt: str,
                      query: str = "", last_id: int | None = None,
                      autoping: bool = True) -> AsyncIterator[Stream]:
    url = server.base + PATHS[fmt] + (f"?{query}" if query else "")
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None and fmt == "sse" else {}
    if last_id is not None and fmt != "sse":
        url += ("&" if query else "?") + f"since={last_id}"
    if fmt == "ws":
        ws = await session.ws_connect(url, autoping=autoping)
        try:
            yield Stream(fmt, ws)
        finally:
            await ws.close()
        return
    response = await session.get(url, headers=headers)
    assert response.status == 200, await response.text()
    try:
        yield Stream(fmt, response)
    finally:
        response.close()


def post(server: Server, path: str, body: dict[str, Any]) -> dict[str, Any]:
    result = server.post(path, body)
    assert result.status in (200, 201), result.body
    answer: dict[str, Any] = result.json()
    return answer


@pytest.mark.parametrize("fmt", FORMATS)
async def test_frames_are_the_logs_events(srv: Server, fmt: str) -> None:
    start = head(srv)
    async with aiohttp.ClientSession() as session, open_stream(session, srv, fmt) as stream:
        post(srv, "/api/v1/alerts", {"regions": [KYIV], "type": "chemical"})
        alert = srv.get("/api/v1/alerts/active?type=chemical").json()["alerts"][0]
        post(srv, f"/api/v1/alerts/{alert['id']}/end", {"reason": "all clear"})
        received = await stream.events_until(start + 2)
    logged = srv.get(f"/api/v1/events?since={start}").json()["events"]
    assert received == logged
    assert [e["kind"] for e in received] == ["alert.declared", "alert.ended"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_an_embargoed_incident_is_withheld_as_in_the_log(srv: Server, fmt: str) -> None:
    start = head(srv)
    async with aiohttp.ClientSession() as session, open_stream(session, srv, fmt) as stream:
        incident = post(srv, "/api/v1/incidents", {
            "kind": "damage", "region": KYIV, "source": "KCMA", "description": "secret",
            "embargo_until": "2099-01-01T00:00:00+00:00"})["incident"]
        received = await stream.events_until(start + 1)
    assert received[-1]["payload"] == {"incident_id": incident["id"], "embargoed": True,
                                       "embargo_until": "2099-01-01T00:00:00.000Z"}
    assert received == srv.get(f"/api/v1/events?since={start}").json()["events"]


async def test_filters_and_inherited_alerts(srv: Server, catalogue: Catalogue) -> None:
    oblast = catalogue.parent_of(hromadas(catalogue, 1)[0])
    assert oblast is not None
    while catalogue[oblast].level is not Level.OBLAST:
        oblast = catalogue.parent_of(oblast)
        assert oblast is not None
    raion = next(c for c in catalogue.children[oblast] if catalogue[c].level is Level.RAION)
    inside = catalogue.children[raion][0]
    other = next(r.code for r in catalogue.at_level(Level.OBLAST) if r.code != oblast)
    start = head(srv)
    async with aiohttp.ClientSession() as session, \
            open_stream(session, srv, "sse", f"region={raion}&type=urban_fights") as raion_sub, \
            open_stream(session, srv, "ndjson", f"region={other}&kind=alert.ended") as ended_sub:
        for region in (other, oblast, inside, COUNTRY, raion):
            post(srv, "/api/v1/alerts", {"regions": [region], "type": "urban_fights"})
        post(srv, "/api/v1/alerts", {"regions": [inside], "type": "nuclear"})
        for alert in srv.get("/api/v1/alerts/active?type=urban_fights").json()["alerts"]:
            post(srv, f"/api/v1/alerts/{alert['id']}/end", {})
        last = head(srv)
        got = await raion_sub.events_until(last)
        ended = await ended_sub.events_until(last - 4)
    # The raion's subscriber hears its own subtree and what was declared above it, and each
    # frame says where the alert was declared.
    declared = [e["payload"]["region"] for e in got if e["kind"] == "alert.declared"]
    assert declared == [oblast, inside, COUNTRY, raion]
    assert all(e["payload"]["type"] == "urban_fights" for e in got)
    assert [e["kind"] for e in got].count("alert.ended") == 4
    assert all(e["seq"] > start for e in got)
    assert [(e["kind"], e["payload"]["region"]) for e in ended] == [("alert.ended", other)]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_resume_in_the_middle_of_a_burst(tmp_path: Path, catalogue: Catalogue,
                                               fmt: str) -> None:
    """Reconnect half-way through thousands of events: every one arrives once, in order."""
    server = start_server(tmp_path)
    regions = hromadas(catalogue, 500)
    commands = [{"regions": regions, "type": t, "status": s}
                for t in ("air_raid", "artillery_shelling", "urban_fights")
                for s in ("actual", "exercise")]
    total = 500 * len(commands)
    reconnected = threading.Event()
    failures: list[BaseException] = []

    def burst() -> None:
        try:
            for index, command in enumerate(commands):
                if index == 3:
                    # Keep writing while the second connection replays what it missed.
                    reconnected.wait(DEADLINE)
                post(server, "/api/v1/alerts", command)
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    writer = threading.Thread(target=burst)
    try:
        start = head(server)
        async with aiohttp.ClientSession() as session:
            async with open_stream(session, server, fmt, f"since={start}") as first:
                writer.start()
                seen = await first.events_until(start + 1100)
            last_id = seen[-1]["seq"]
            async with open_stream(session, server, fmt, last_id=last_id) as second:
                reconnected.set()
                seen += await second.events_until(start + total)
        writer.join(DEADLINE)
        assert not failures, failures
        assert [e["seq"] for e in seen] == list(range(start + 1, start + total + 1))
        assert head(server) == start + total
    finally:
        reconnected.set()
        if writer.is_alive():
            writer.join(DEADLINE)
        stop_server(server)


async def test_a_slow_subscriber_is_cut_off_and_resumes_without_a_gap(
        tmp_path: Path, catalogue: Catalogue) -> None:
    server = start_server(tmp_path, "--stream-buffer", "4096")
    regions = hromadas(catalogue, 400)
    note = "n" * 2000  # large frames fill the slow reader's socket quickly
    commands = [{"regions": regions, "type": t, "note": note}
                for t in ("air_raid", "artillery_shelling", "urban_fights", "chemical")]
    total = len(regions) * len(commands)
    try:
        host, port = server.base.removeprefix("http://").split(":")
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.settimeout(DEADLINE)
        slow.connect((host, int(port)))
        slow.sendall(f"GET /api/v1/stream?since=0 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        async with aiohttp.ClientSession() as session, \
                open_stream(session, server, "sse", "since=0") as fast:
            for command in commands:
                post(server, "/api/v1/alerts", command)
            # The fast subscriber gets everything, however far behind the slow one is.
            got = await fast.events_until(total)
            assert [e["seq"] for e in got] == list(range(1, total + 1))
        # The slow one gets what fitted, then a final frame naming where to resume, then EOF.
        raw = b""
        while chunk := await asyncio.to_thread(slow.recv, 1 << 20):
            raw += chunk
        slow.close()
        text = raw.decode()
        assert "\r\n0\r\n\r\n" in text, "the chunked stream should end cleanly"
        ids = [int(line[4:]) for line in text.split("\n") if line.startswith("id: ")]
        assert "event: reconnect" in text
        final = ids[-1]
        assert ids[:-1] == list(range(1, final + 1)) and final < total
        async with aiohttp.ClientSession() as session, \
                open_stream(session, server, "sse", last_id=final) as resumed:
            rest = await resumed.events_until(total)
        assert [e["seq"] for e in rest] == list(range(final + 1, total + 1))
    finally:
        stop_server(server)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_keepalives(srv: Server, fmt: str) -> None:
    async with aiohttp.ClientSession() as session, \
            open_stream(session, srv, fmt, autoping=False) as stream:
        item = await stream.next(keepalives=True)
        assert item == ("keepalive", None)


async def test_bad_requests_get_the_one_error_shape(srv: Server) -> None:
    for path, status, code in [
            ("/api/v1/stream?since=-4", 400, "invalid_input"),
            ("/api/v1/stream.ndjson?region=UA123", 404, "region_not_found"),
            ("/api/v1/ws?type=rain", 400, "invalid_input"),
            ("/api/v1/stream?kind=alert.exploded", 400, "invalid_input")]:
        result = srv.get(path)
        assert result.status == status, (path, result.body)
        assert result.json()["error"]["code"] == code
    result = srv.get("/api/v1/stream", headers={"Last-Event-ID": "abc"})
    assert result.status == 400 and result.json()["error"]["field"] == "Last-Event-ID"


async def test_shutdown_tells_subscribers_where_to_resume(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        post(server, "/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
        async with aiohttp.ClientSession() as session, \
                open_stream(session, server, "ndjson", "since=0") as stream:
            await stream.events_until(1)
            server.process.terminate()
            item = await stream.next()
            assert item is not None and item[0] == "reconnect"
            assert item[1]["reconnect"]["last_id"] == 1
            assert item[1]["reconnect"]["reason"] == "shutdown"
            assert await stream.next() is None
    finally:
        stop_server(server)


async def test_two_workers_deliver_to_every_subscriber(tmp_path: Path) -> None:
    """An event written through one worker reaches the streams of the other one too, woken at
    once: the poll interval is set far beyond the test's deadline."""
    server = start_server(tmp_path, "--workers", "2", "--poll-interval", "120")
    try:
        streams: dict[str, Stream] = {}
        contexts = []
        try:
            deadline = time.monotonic() + DEADLINE
            while len(streams) < 2 and time.monotonic() < deadline:
                # A new connection for each try, so the kernel may hand it to either worker.
                connector = aiohttp.TCPConnector(force_close=True)
                own = aiohttp.ClientSession(connector=connector)
                context = open_stream(own, server, "sse")
                stream = await context.__aenter__()
                contexts.append((own, context))
                if stream.worker not in streams:
                    streams[stream.worker or ""] = stream
            assert len(streams) == 2, "both workers should take stream connections"
            for _ in range(3):
                post(server, "/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
                alert = server.get("/api/v1/alerts/active").json()["alerts"][0]
                post(server, f"/api/v1/alerts/{alert['id']}/end", {})
            for stream in streams.values():
                got = await stream.events_until(6)
                assert [e["seq"] for e in got] == [1, 2, 3, 4, 5, 6]
        finally:
            for own, context in contexts:
                await context.__aexit__(None, None, None)
                await own.close()
    finally:
        stop_server(server)


async def test_websocket_answers_pings_and_closes_cleanly(srv: Server) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(srv.base + "/api/v1/ws", autoping=False)
        await ws.ping(b"are you there")
        while (message := await ws.receive(DEADLINE)).type is aiohttp.WSMsgType.PING:
            continue  # a keepalive of the server's own
        assert message.type is aiohttp.WSMsgType.PONG and message.data == b"are you there"
        assert await ws.close() and ws.close_code == 1000
    plain = srv.get("/api/v1/ws")
    assert plain.status == 400 and plain.json()["error"]["code"] == "websocket_required"
