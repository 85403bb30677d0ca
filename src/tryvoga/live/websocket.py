"""The little of RFC 6455 a one-way stream needs, on the HTTP connection it upgrades.

The server only sends; from a client it takes ping (answered with pong), close (answered and
closed) and nothing else: data frames are read past and dropped. Keeping this here, instead of
a general WebSocket object per connection, keeps an idle subscriber to a few kilobytes and lets
the hub write its shared frames straight to the socket.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Callable, Mapping

from tryvoga.errors import BadRequest
from tryvoga.live.frames import ws_close, ws_message

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_CLIENT_FRAME = 64 * 1024

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_TOO_BIG = 1009


def accept_key(headers: Mapping[str, str]) -> str:
    """Check an upgrade request; return its Sec-WebSocket-Accept value."""
    if "websocket" not in headers.get("Upgrade", "").lower():
        raise BadRequest("this endpoint speaks WebSocket: send Upgrade: websocket",
                         code="websocket_required", status=400, field="Upgrade")
    if "upgrade" not in headers.get("Connection", "").lower():
        raise BadRequest("a WebSocket handshake needs Connection: Upgrade",
                         code="websocket_required", status=400, field="Connection")
    if headers.get("Sec-WebSocket-Version", "").strip() != "13":
        raise BadRequest("only WebSocket version 13 is spoken", code="websocket_version",
                         status=400, field="Sec-WebSocket-Version")
    key = headers.get("Sec-WebSocket-Key", "").strip()
    try:
        valid = len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise BadRequest("Sec-WebSocket-Key must be 16 random bytes in base64",
                         code="websocket_key", status=400, field="Sec-WebSocket-Key")
    # SHA-1 because RFC 6455 says so; it proves nothing secret.
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def _unmask(payload: bytes, mask: bytes) -> bytes:
    return bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


class ClientFrames:
    """Reads what a client sends. ``reply`` writes to the client; ``closed`` is called once,
    when the client closed (or broke the protocol) and the connection should end."""

    __slots__ = ("_buffer", "_closed", "closed", "reply")

    def __init__(self, reply: Callable[[bytes], None], closed: Callable[[], None]) -> None:
        self.reply = reply
        self.closed = closed
        self._buffer = b""
        self._closed = False

    def _close(self, code: int, reason: str = "") -> None:
        if not self._closed:
            self._closed = True
            self.reply(ws_close(code, reason))
            self.closed()

    def feed(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        while not self._closed and len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            opcode = first & 0x0F
            size = second & 0x7F
            offset = 2
            if size == 126:
                if len(buffer) < 4:
                    break
                size = struct.unpack_from("!H", buffer, 2)[0]
                offset = 4
            elif size == 127:
                if len(buffer) < 10:
                    break
                size = struct.unpack_from("!Q", buffer, 2)[0]
                offset = 10
            if not second & 0x80:
                self._close(CLOSE_PROTOCOL_ERROR, "client frames must be masked")
                break
            if size > MAX_CLIENT_FRAME or (opcode >= 0x8 and size > 125):
                self._close(CLOSE_TOO_BIG, "frame too large")
                break
            end = offset + 4 + size
            if len(buffer) < end:
                break
            if opcode >= 0x8:
                payload = _unmask(buffer[offset + 4:end], buffer[offset:offset + 4])
                if opcode == 0x8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else (
                        CLOSE_NORMAL)
                    self._close(code if 1000 <= code < 5000 else CLOSE_PROTOCOL_ERROR)
                elif opcode == 0x9:
                    self.reply(ws_message(payload, opcode=0xA))
            buffer = buffer[end:]
        self._buffer = b"" if self._closed else buffer


__all__ = ["ClientFrames", "accept_key"]
