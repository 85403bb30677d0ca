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
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web
from aiohttp.http import HttpVersion11

from tryvoga.api.context import Context, context_of
from tryvoga.api.front import take_over
from tryvoga.api.limits import Held, give_back, release_stream, take_stream_slots
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


def _drainer(sub: Subscriber) -> Callable[[], Awaitable[None]]:
    async def drain() -> None:
        if sub.transport.is_closing():
            raise ConnectionResetError("the client went away")
        if sub.paused:
            waiter = sub.waiter
            if waiter is None:
                waiter = sub.waiter = asyncio.get_running_loop().create_future()
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await waiter

    return drain


class _Connection:
    """What a stream's connection holds once aiohttp has handed it over (the subscriber is
    its protocol): the limits' stream slots, given back when the stream ends, and the read
    front's count of its address, given back when the connection is gone."""

    __slots__ = ("counted", "slots")

    def __init__(self, slots: Held | None, counted: Callable[[], None] | None) -> None:
        self.slots = slots
        self.counted = counted

    def ended(self, sub: Subscriber) -> None:
        """Close the connection as the stream's end says: a client gone is cut at once; a
        stream the server ends (its final frame already written) gets its last chunk and is
        closed once its buffer is flushed, or cut after CLOSE_GRACE."""
        slots, self.slots = self.slots, None
        if slots is not None:
            give_back(slots)
        transport = cast(asyncio.Transport, sub.transport)
        if transport.is_closing():
            return
        if sub.reason == "gone":
            transport.abort()
            return
        if sub.chunked and sub.reason != "closed":
            transport.write(b"0\r\n\r\n")  # the last chunk
        transport.close()
        # A client that never reads again must not hold its socket and buffer for ever.
        asyncio.get_running_loop().call_later(CLOSE_GRACE, transport.abort)

    def lost(self, sub: Subscriber) -> None:
        counted, self.counted = self.counted, None
        if counted is not None:
            counted()


def _hand_over(request: web.Request, sub: Subscriber) -> None:
    """Take the stream's connection from aiohttp, its response head written: from here the
    subscriber is the connection's protocol, and aiohttp forgets it (its handler, request,
    parser and tasks end when this handler returns, instead of living as long as the
    stream). ``aiohttp_internals.py`` lists what of aiohttp this relies on."""
    handler = request.protocol
    transport = cast(asyncio.Transport, sub.transport)
    tail = handler._message_tail  # a WebSocket client's bytes after its handshake
    sub.paused = handler.writing_paused
    counted = take_over(transport, sub)
    sub.owner = _Connection(take_stream_slots(request), counted)
    handler.transport = None  # so that aiohttp neither writes to it nor closes it
    handler.connection_lost(None)
    if not transport.is_reading():  # aiohttp may have paused it for its own buffers
        transport.resume_reading()
    if tail:
        sub.data_received(tail)


async def _serve(request: web.Request, response: web.StreamResponse, fmt: Format,
                 chunked: bool, chosen: StreamFilter, since: int) -> web.StreamResponse:
    """Subscribe the prepared stream, take its connection from aiohttp, and replay what
    the client missed; the hub writes to it from then on, and ends it."""
    ctx = context_of(request)
    hub = ctx.node.hub
    response.force_close()
    transport = request.transport
    if transport is None or transport.is_closing():
        return response
    # No resume point: start from what this process has now.
    after = since if since >= 0 else ctx.follower.state.seq
    sub = hub.subscribe(cast(Any, transport), fmt, chunked, chosen, after)
    _hand_over(request, sub)
    if sub.reason is not None:  # the server is shutting down
        assert sub.owner is not None
        sub.owner.ended(sub)
        return response
    await hub.start(sub, lambda s, n: _read(ctx, s, n), _drainer(sub))
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
