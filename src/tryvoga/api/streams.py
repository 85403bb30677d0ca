"""Live streams: ``/api/v1/stream`` (SSE), ``/api/v1/stream.ndjson`` and ``/api/v1/ws``.

The three share one pipeline (``live.hub``) and differ only in their encoder. Query:
``region`` (KATOTTG codes, comma-separated or repeated), ``type`` (alert types), ``kind``
(event kinds, or ``alert.*``), and ``since`` (a sequence number); the ``Last-Event-ID`` header,
which a browser's EventSource sends when it reconnects, takes precedence over ``since``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, cast

from aiohttp import web
from aiohttp.http import HttpVersion11

from tryvoga.api.context import Context, context_of
from tryvoga.api.limits import release_stream
from tryvoga.domain.events import Event
from tryvoga.domain.filters import StreamFilter
from tryvoga.errors import BadRequest
from tryvoga.live.frames import Format
from tryvoga.live.hub import Subscriber
from tryvoga.live.websocket import accept_key

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
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


_REPLAYS: dict[tuple[int, int, int], asyncio.Future[list[Event]]] = {}


async def _read(ctx: Context, since: int, limit: int) -> list[Event]:
    """A replay's batch: one read of the log for every stream that asks for the same batch
    at the same time (a reconnect storm resumes thousands from one point; read each on its
    own, they queue on the read threads and the last goes live seconds late)."""
    key = (id(ctx), since, limit)
    shared = _REPLAYS.get(key)
    if shared is None:
        shared = asyncio.ensure_future(ctx.read(ctx.storage.read_events, since, limit))
        _REPLAYS[key] = shared
        shared.add_done_callback(lambda done: _forget_replay(key, done))
    # One stream that ends (is cancelled) while it waits does not cancel the others' read.
    return await asyncio.shield(shared)


def _forget_replay(key: tuple[int, int, int], done: asyncio.Future[list[Event]]) -> None:
    _REPLAYS.pop(key, None)
    if not done.cancelled():
        done.exception()  # retrieved: each waiting stream gets it (none may be left)


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
    hub = ctx.node.hub
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
    hub = ctx.node.hub
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


async def checked_resume_point(ctx: Context, request: web.Request) -> int:
    """The resume point, held to the log's head: a client ahead of the log (a database
    restored from a backup, a number made up) would otherwise skip the events that later get
    the numbers it claims to have. It is resumed from the head instead, and every later event
    reaches it; the first frame's id tells it so."""
    since = resume_point(request)
    if since > ctx.follower.state.seq:
        # Another process may have written beyond this one's follower: ask the log itself.
        head, _ = await ctx.read(ctx.storage.head)
        if since > head:
            log.info("stream resume point %d is ahead of the log's head %d; resumed from the "
                     "head", since, head)
            since = head
    return since


async def _http_stream(request: web.Request, fmt: Format) -> web.StreamResponse:
    try:
        ctx = context_of(request)
        await ctx.actor(request, required=False)
        chosen = stream_filter(ctx, request)
        since = await checked_resume_point(ctx, request)
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
    finally:
        release_stream(request)  # the open-stream slots the limits middleware took


async def sse(request: web.Request) -> web.StreamResponse:
    return await _http_stream(request, Format.SSE)


async def ndjson(request: web.Request) -> web.StreamResponse:
    return await _http_stream(request, Format.NDJSON)


async def websocket(request: web.Request) -> web.StreamResponse:
    try:
        ctx = context_of(request)
        await ctx.actor(request, required=False)
        chosen = stream_filter(ctx, request)
        since = await checked_resume_point(ctx, request)
        accept = accept_key(request.headers)
        response = web.StreamResponse(status=101, reason="Switching Protocols", headers={
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept,
            "X-Tryvoga-Worker": str(os.getpid())})
        await response.prepare(request)
        return await _serve(request, response, Format.WS, False, chosen, since)
    finally:
        release_stream(request)  # the open-stream slots the limits middleware took


def add_routes(app: web.Application) -> None:
    """The three streams; the hub they share is the node's (``tryvoga.node``)."""
    r = app.router
    r.add_get(f"{PREFIX}/stream", sse, allow_head=False)
    r.add_get(f"{PREFIX}/stream.ndjson", ndjson, allow_head=False)
    r.add_get(f"{PREFIX}/ws", websocket, allow_head=False)


__all__ = ["add_routes"]
