"""Live streams: ``/api/v1/stream`` (SSE), ``/api/v1/stream.ndjson`` and ``/api/v1/ws``.

The three share one pipeline (``live.hub``) and differ only in their encoder. Query:
``region`` (KATOTTG codes, comma-separated or repeated), ``type`` (alert types), ``kind``
(event kinds, or ``alert.*``), and ``since`` (a sequence number); the ``Last-Event-ID`` header,
which a browser's EventSource sends when it reconnects, takes precedence over ``since``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any, cast

from aiohttp import web
from aiohttp.http import HttpVersion11

from tryvoga.api.app import CONTEXT, Context, context_of
from tryvoga.domain.events import Event
from tryvoga.errors import BadRequest
from tryvoga.live.filters import StreamFilter
from tryvoga.live.frames import Format
from tryvoga.live.hub import Hub, Subscriber
from tryvoga.live.wake import Waker
from tryvoga.live.websocket import accept_key

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
HUB = web.AppKey("hub", Hub)
WAKER = web.AppKey("waker", Waker)
# How long a stream the server ends may take to flush its last bytes before it is cut.
CLOSE_GRACE = 10.0
# How long a replay waits for a client that stopped reading.
DRAIN_TIMEOUT = 30.0

CONTENT_TYPES = {Format.SSE: "text/event-stream", Format.NDJSON: "application/x-ndjson"}


def _values(request: web.Request, name: str) -> list[str]:
    out: list[str] = []
    for raw in request.query.getall(name, []):
        out.extend(part for part in raw.split(",") if part.strip())
    return out


def stream_filter(ctx: Context, request: web.Request) -> StreamFilter:
    return StreamFilter.build(ctx.catalogue, _values(request, "region"),
                              _values(request, "type"), _values(request, "kind"))


def resume_point(request: web.Request) -> int:
    """Where the client stands: Last-Event-ID, else since=, else now (no replay)."""
    for name, raw in (("Last-Event-ID", request.headers.get("Last-Event-ID")),
                      ("since", request.query.get("since"))):
        if raw is None or not raw.strip():
            continue
        text = raw.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise BadRequest(f"{name} must be an event sequence number (a whole number "
                             f"0 or more), not {raw[:40]!r}", field=name, status=400)
        return int(text)
    return -1


async def _read(ctx: Context, since: int, limit: int) -> list[Event]:
    return await ctx.read(ctx.storage.read_events, since, limit)


def _drainer(request: web.Request) -> Any:
    protocol = request.protocol

    async def drain() -> None:
        if protocol.transport is None:
            raise ConnectionResetError("the client went away")
        if protocol.writing_paused:
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await protocol._drain_helper()

    return drain


def _subscribe(request: web.Request, fmt: Format, chunked: bool, chosen: StreamFilter,
               since: int) -> Subscriber:
    ctx = context_of(request)
    hub = request.app[HUB]
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("the client went away")
    # No resume point: start from what this process has now.
    after = since if since >= 0 else ctx.follower.state.seq
    return hub.subscribe(cast(Any, transport), fmt, chunked, chosen, after)


async def _serve(request: web.Request, response: web.StreamResponse, fmt: Format,
                 chunked: bool, chosen: StreamFilter, since: int) -> web.StreamResponse:
    """Run one prepared stream until it ends; the hub writes to it meanwhile."""
    ctx = context_of(request)
    hub = request.app[HUB]
    try:
        sub = _subscribe(request, fmt, chunked, chosen, since)
    except ConnectionResetError:
        return response
    # From here on aiohttp hands whatever the client sends to the subscriber, and tells it
    # when the connection is lost.
    request.protocol.set_parser(cast(Any, sub))
    try:
        await hub.start(sub, lambda s, n: _read(ctx, s, n), _drainer(request))
        reason = await sub.done
    finally:
        hub.remove(sub, "gone")
    response.force_close()
    transport = request.transport
    if transport is None or transport.is_closing():
        return response
    if reason == "gone":
        transport.abort()
        return response
    if chunked and reason != "closed":
        try:
            async with asyncio.timeout(CLOSE_GRACE):
                await response.write_eof()  # the last chunk
        except (TimeoutError, ConnectionError):
            transport.abort()
            return response
    transport.close()
    # A client that never reads again must not hold its socket and buffer for ever.
    asyncio.get_running_loop().call_later(CLOSE_GRACE, transport.abort)
    return response


async def _http_stream(request: web.Request, fmt: Format) -> web.StreamResponse:
    ctx = context_of(request)
    ctx.actor(request, required=False)
    chosen = stream_filter(ctx, request)
    since = resume_point(request)
    response = web.StreamResponse(headers={
        "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
        "X-Tryvoga-Worker": str(os.getpid())})
    response.content_type = CONTENT_TYPES[fmt]
    response.charset = "utf-8"
    chunked = request.version >= HttpVersion11
    if chunked:
        response.enable_chunked_encoding()
    else:
        response.force_close()  # HTTP/1.0: the body ends when the connection does
    await response.prepare(request)
    return await _serve(request, response, fmt, chunked, chosen, since)


async def sse(request: web.Request) -> web.StreamResponse:
    return await _http_stream(request, Format.SSE)


async def ndjson(request: web.Request) -> web.StreamResponse:
    return await _http_stream(request, Format.NDJSON)


async def websocket(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    ctx.actor(request, required=False)
    chosen = stream_filter(ctx, request)
    since = resume_point(request)
    accept = accept_key(request.headers)
    response = web.StreamResponse(status=101, reason="Switching Protocols", headers={
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept,
        "X-Tryvoga-Worker": str(os.getpid())})
    await response.prepare(request)
    return await _serve(request, response, Format.WS, False, chosen, since)


def add_routes(app: web.Application) -> None:
    ctx = app[CONTEXT]
    settings = ctx.settings
    hub = Hub(ctx.follower, buffer_limit=settings.stream_buffer,
              keepalive=settings.stream_keepalive)
    # First of the follower's listeners: subscribers have an event before anything else the
    # process does with it (the CAP projection, waking the webhook worker).
    ctx.follower.listeners.insert(0, hub.publish)
    app[HUB] = hub
    waker = Waker(settings.db)
    app[WAKER] = waker
    # After each commit, the writer thread wakes the other processes on this database.
    def poke(events: object) -> None:
        waker.poke()

    ctx.service.listeners.append(poke)

    async def live(app: web.Application) -> AsyncIterator[None]:
        waker.listen(ctx.follower.wake)
        keepalives = asyncio.create_task(hub.run_keepalives())
        yield
        keepalives.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keepalives
        waker.close()

    async def shutdown(app: web.Application) -> None:
        hub.close_all()

    app.cleanup_ctx.append(live)
    app.on_shutdown.append(shutdown)
    r = app.router
    r.add_get(f"{PREFIX}/stream", sse, allow_head=False)
    r.add_get(f"{PREFIX}/stream.ndjson", ndjson, allow_head=False)
    r.add_get(f"{PREFIX}/ws", websocket, allow_head=False)


__all__ = ["HUB", "add_routes"]
