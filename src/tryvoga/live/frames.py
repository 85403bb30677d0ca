"""Stream encodings: each event becomes one frame per format, encoded once for everyone.

The three formats differ only here. The body of every event frame is the event's JSON exactly
as ``/api/v1/events`` gives it. SSE and NDJSON frames travel inside HTTP/1.1 chunks, so the
chunk framing is part of the shared bytes too; a frame is written to each subscriber's socket
as it is.

    SSE      id: <seq>\\n data: <event JSON>\\n\\n       keepalive ": keepalive" comment
    NDJSON   <event JSON>\\n                           keepalive an empty line
    WS       one text message <event JSON>            keepalive a ping

A stream that ends on the server's initiative (a subscriber too slow to keep up, or a shutdown)
ends with one ``reconnect`` frame naming the last sequence number the client can resume from
(on a WebSocket, followed by a close frame: 1013 try again later, or 1001 going away).

While the server's state is stale (it has not read the log for a while: its database is
unreachable), each keepalive is a ``stale`` frame instead, saying how old the state is and the
last sequence number in it: SSE ``event: stale`` (no ``id:``, so resuming is unaffected),
an NDJSON line, a WebSocket text message; the body is ``{"stale": {"age_seconds": N, "seq": S}}``.
"""

from __future__ import annotations

import json
import struct
from enum import StrEnum
from typing import Any

from tryvoga.domain.events import Event, now_utc
from tryvoga.domain.render import public_event_json
from tryvoga.domain.state import State


class Format(StrEnum):
    SSE = "sse"
    NDJSON = "ndjson"
    WS = "ws"


# WebSocket close codes (RFC 6455 §7.4.1).
WS_GOING_AWAY = 1001
WS_TRY_AGAIN_LATER = 1013


def dumps(value: Any) -> bytes:
    """The same compact UTF-8 JSON as the rest of the API."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (RFC 9112 §7.1)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def ws_message(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, unfragmented server-to-client WebSocket frame (RFC 6455 §5.2)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def ws_close(code: int, reason: str = "") -> bytes:
    return ws_message(struct.pack("!H", code) + reason.encode("utf-8")[:120], opcode=0x8)


def _wrap(fmt: Format, chunked: bool, data: bytes) -> bytes:
    if fmt is Format.WS:
        return ws_message(data)
    return chunk(data) if chunked else data


class Frames:
    """The frames of one event, encoded on first use and then shared by every subscriber."""

    __slots__ = ("_body", "_cache", "event", "state")

    def __init__(self, event: Event, state: State) -> None:
        self.event = event
        self.state = state  # to withhold an embargoed incident's content, as /events does
        self._body: bytes | None = None
        self._cache: dict[tuple[Format, bool], bytes] = {}

    @property
    def body(self) -> bytes:
        if self._body is None:
            self._body = dumps(public_event_json(self.event, self.state, now_utc()))
        return self._body

    def get(self, fmt: Format, chunked: bool) -> bytes:
        key = (fmt, chunked)
        frame = self._cache.get(key)
        if frame is None:
            if fmt is Format.SSE:
                data = b"id: %d\ndata: %b\n\n" % (self.event.seq, self.body)
            elif fmt is Format.NDJSON:
                data = self.body + b"\n"
            else:
                data = self.body
            frame = self._cache[key] = _wrap(fmt, chunked, data)
        return frame


_KEEPALIVE = {
    Format.SSE: b": keepalive\n\n",
    Format.NDJSON: b"\n",
}
_WS_PING = ws_message(b"", opcode=0x9)


def keepalive(fmt: Format, chunked: bool) -> bytes:
    if fmt is Format.WS:
        return _WS_PING
    data = _KEEPALIVE[fmt]
    return chunk(data) if chunked else data


REASONS = {
    "too_slow": "this subscriber fell behind the stream and was disconnected; reconnect with "
                "Last-Event-ID or since= set to last_id to get everything from there on",
    "shutdown": "the server is shutting down; reconnect with Last-Event-ID or since= set to "
                "last_id to get everything from there on",
}


def stale(fmt: Format, chunked: bool, age: float, seq: int) -> bytes:
    """The keepalive while the state is ``age`` seconds old (at event ``seq``)."""
    body = dumps({"stale": {"age_seconds": int(age), "seq": seq}})
    if fmt is Format.SSE:
        return _wrap(fmt, chunked, b"event: stale\ndata: %b\n\n" % body)
    if fmt is Format.NDJSON:
        return _wrap(fmt, chunked, body + b"\n")
    return ws_message(body)


def reconnect(fmt: Format, chunked: bool, last_id: int, reason: str) -> bytes:
    """The final frame of a stream that the server ends."""
    body = dumps({"reconnect": {"last_id": last_id, "reason": reason,
                                "message": REASONS[reason]}})
    if fmt is Format.SSE:
        # `id:` makes a browser's EventSource resume from last_id on its own.
        return _wrap(fmt, chunked, b"event: reconnect\nid: %d\ndata: %b\n\n" % (last_id, body))
    if fmt is Format.NDJSON:
        return _wrap(fmt, chunked, body + b"\n")
    code = WS_TRY_AGAIN_LATER if reason == "too_slow" else WS_GOING_AWAY
    return ws_message(body) + ws_close(code, reason)


__all__ = ["Format", "Frames", "chunk", "dumps", "keepalive", "reconnect", "stale", "ws_message"]
