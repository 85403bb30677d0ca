"""A churning stream subscriber fleet, run as its own process by ``test_stream_churn.py``.

It holds many SSE and WebSocket subscriptions on raw non-blocking sockets (one ``epoll``
loop, so the server under test keeps the CPU), each from one of several source addresses in
127.0.0.0/8. While events arrive it drops subscriptions at random (a clean close or a reset)
and resumes each after a short pause with what it has: ``Last-Event-ID`` on SSE, ``since=`` on
a WebSocket. A ``reconnect`` frame from the server (too slow, shutdown) is resumed the same way.

Driven by JSON lines on stdin, answered on stdout:

    {"op": "start", "base": "127.0.0.1:PORT", "subscribers": [{"fmt": "sse"|"ws",
     "query": "region=...", "since": N}, ...], "churn": P, "seed": S}   -> {"ready": n}
    {"op": "finish", "targets": [last seq expected per subscriber], "seconds": S}
        -> churn stops; once every subscriber has its target (or S seconds, default 60,
           passed):
           {"subscribers": [{"seqs": [...], "hashes": [...], "connections": c,
                             "reconnect_frames": r, "errors": [...]}, ...]}

Only 127.0.0.0/8 is ever connected to. Every loop is bounded in time.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import random
import select
import socket
import struct
import sys
import time
from typing import Any

SOURCES = 32  # source addresses 127.0.0.2 .. 127.0.0.33
FINISH_SECONDS = 60.0


class Sub:
    def __init__(self, index: int, fmt: str, query: str, since: int,
                 http10: bool = False) -> None:
        self.index = index
        self.fmt = fmt  # sse, ndjson or ws
        self.http10 = http10  # HTTP/1.0: the stream is not chunked
        self.query = query
        self.last = since
        self.sock: socket.socket | None = None
        self.state = "idle"  # idle, connecting, head, stream
        self.raw = b""  # bytes not yet parsed (chunked framing, or WebSocket frames)
        self.text = b""  # SSE or NDJSON text not yet parsed
        self.reconnect_at = 0.0
        self.seqs: list[int] = []
        self.hashes: list[str] = []
        self.connections = 0
        self.reconnect_frames = 0
        self.reconnect_ids: list[int] = []
        self.errors: list[str] = []

    def request(self, host: str, port: int) -> bytes:
        if self.fmt in ("sse", "ndjson"):
            path = "/api/v1/stream" if self.fmt == "sse" else "/api/v1/stream.ndjson"
            target = path + (f"?{self.query}" if self.query else "")
            extra = [f"Last-Event-ID: {self.last}"]
        else:
            query = "&".join(q for q in (self.query, f"since={self.last}") if q)
            target = f"/api/v1/ws?{query}"
            key = base64.b64encode(os.urandom(16)).decode()
            extra = ["Upgrade: websocket", "Connection: Upgrade",
                     f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        version = "1.0" if self.http10 else "1.1"
        lines = [f"GET {target} HTTP/{version}", f"Host: {host}:{port}", *extra]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def event(self, body: bytes, sse_id: int | None) -> None:
        event = json.loads(body)
        if "reconnect" in event:
            self.reconnect_frames += 1
            last_id = event["reconnect"]["last_id"]
            self.reconnect_ids.append(last_id)
            if last_id > self.last:
                self.errors.append(f"reconnect frame names {last_id}, past {self.last}")
            return
        seq = event["seq"]
        if sse_id is not None and sse_id != seq:
            self.errors.append(f"SSE id {sse_id} for event {seq}")
        self.seqs.append(seq)
        self.hashes.append(event["hash"])
        self.last = seq

    def parse(self) -> bool:
        """Consume what has arrived; False when the server closed the WebSocket."""
        if self.fmt != "ws":
            while not self.http10:  # HTTP/1.1 chunks
                end = self.raw.find(b"\r\n")
                if end < 0:
                    break
                size = int(self.raw[:end], 16)
                if len(self.raw) < end + 2 + size + 2:
                    break
                self.text += self.raw[end + 2:end + 2 + size]
                self.raw = self.raw[end + 2 + size + 2:]
            if self.http10:
                self.text, self.raw = self.text + self.raw, b""
            if self.fmt == "ndjson":
                *lines, self.text = self.text.split(b"\n")
                for line in lines:
                    if line.strip():
                        self.event(line, None)
                return True
            *blocks, self.text = self.text.split(b"\n\n")
            for block in blocks:
                fields = dict(line.split(b": ", 1) for line in block.split(b"\n")
                              if line and not line.startswith(b":"))
                if b"data" in fields:
                    is_event = fields.get(b"event") != b"reconnect"
                    self.event(fields[b"data"], int(fields[b"id"]) if is_event else None)
            return True
        while len(self.raw) >= 2:  # WebSocket frames, unmasked from the server
            opcode, size = self.raw[0] & 0x0F, self.raw[1] & 0x7F
            start = 2
            if size == 126:
                if len(self.raw) < 4:
                    break
                size, start = struct.unpack_from("!H", self.raw, 2)[0], 4
            elif size == 127:
                if len(self.raw) < 10:
                    break
                size, start = struct.unpack_from("!Q", self.raw, 2)[0], 10
            if len(self.raw) < start + size:
                break
            payload = self.raw[start:start + size]
            self.raw = self.raw[start + size:]
            if opcode == 0x1:
                self.event(payload, None)
            elif opcode == 0x9 and self.sock is not None:  # ping: a masked, empty pong
                self.sock.send(b"\x8a\x80" + os.urandom(4))
            elif opcode == 0x8:
                return False
        return True


class Fleet:
    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.subs: list[Sub] = []
        self.by_fd: dict[int, Sub] = {}
        self.host, self.port = "127.0.0.1", 0
        self.churn = 0.0
        self.rng = random.Random(0)
        self.stdin = sys.stdin.buffer.fileno()
        os.set_blocking(self.stdin, False)
        self.epoll.register(self.stdin, select.EPOLLIN)
        self.lines = b""

    def connect(self, sub: Sub) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.bind((f"127.0.0.{2 + sub.index % SOURCES}", 0))
        sock.connect_ex((self.host, self.port))
        sub.sock, sub.state, sub.raw, sub.text = sock, "connecting", b"", b""
        sub.connections += 1
        self.by_fd[sock.fileno()] = sub
        self.epoll.register(sock.fileno(), select.EPOLLOUT)

    def drop(self, sub: Sub, reset: bool = False, pause: float = 0.0) -> None:
        sock = sub.sock
        if sock is not None:
            self.by_fd.pop(sock.fileno(), None)
            self.epoll.unregister(sock.fileno())
            if reset:  # an abortive close: RST, as a phone losing its network can look
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        sub.sock, sub.state = None, "idle"
        sub.reconnect_at = time.monotonic() + pause

    def readable(self, sub: Sub, churning: bool) -> None:
        sock = sub.sock
        assert sock is not None
        if sub.state == "connecting":
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                self.drop(sub, pause=0.05)
                return
            sock.send(sub.request(self.host, self.port))
            sub.state = "head"
            self.epoll.modify(sock.fileno(), select.EPOLLIN)
            return
        try:
            data = sock.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop(sub)  # the server ended it (a reconnect frame came first) or failed
            return
        if sub.state == "head":
            sub.raw += data
            end = sub.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            status = sub.raw.split(b" ", 2)[1]
            if status not in (b"200", b"101"):
                sub.errors.append(f"refused: {sub.raw[:120]!r}")
                self.drop(sub, pause=0.2)
                return
            sub.raw, sub.state = sub.raw[end + 4:], "stream"
        else:
            sub.raw += data
        before = len(sub.seqs)
        if not sub.parse():
            self.drop(sub)
            return
        if churning and len(sub.seqs) > before and self.rng.random() < self.churn:
            self.drop(sub, reset=self.rng.random() < 0.3, pause=self.rng.random() * 0.2)

    def poll(self, timeout: float, churning: bool) -> list[bytes]:
        commands: list[bytes] = []
        for fd, _ in self.epoll.poll(timeout, len(self.by_fd) + 8):
            if fd == self.stdin:
                chunk = os.read(self.stdin, 1 << 20)
                if not chunk:
                    commands.append(b'{"op": "quit"}')
                self.lines += chunk
                *complete, self.lines = self.lines.split(b"\n")
                commands.extend(line for line in complete if line.strip())
                continue
            sub = self.by_fd.get(fd)
            if sub is not None:
                self.readable(sub, churning)
        now = time.monotonic()
        for sub in self.subs:
            if sub.state == "idle" and now >= sub.reconnect_at:
                self.connect(sub)
        return commands

    def start(self, command: dict[str, Any]) -> dict[str, Any]:
        host, port = command["base"].split(":")
        if not ipaddress.ip_address(host).is_loopback:
            raise SystemExit("the fleet only connects within 127.0.0.0/8")
        self.host, self.port = host, int(port)
        self.churn = command["churn"]
        self.rng = random.Random(command["seed"])
        self.subs = [Sub(i, s["fmt"], s["query"], s["since"])
                     for i, s in enumerate(command["subscribers"])]
        for sub in self.subs:
            self.connect(sub)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(s.state != "stream" for s in self.subs):
            self.poll(0.05, churning=False)
        return {"ready": sum(s.state == "stream" for s in self.subs)}

    def finish(self, targets: list[int], seconds: float) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(
                s.last < t for s, t in zip(self.subs, targets, strict=True)):
            self.poll(0.05, churning=False)
        return {"subscribers": [
            {"seqs": s.seqs, "hashes": s.hashes, "connections": s.connections,
             "reconnect_frames": s.reconnect_frames, "errors": s.errors} for s in self.subs]}

    def run(self) -> None:
        started = False
        while True:
            for line in self.poll(0.02 if started else 1.0, churning=started):
                command = json.loads(line)
                if command["op"] == "start":
                    answer = self.start(command)
                    started = True
                elif command["op"] == "finish":
                    answer = self.finish(command["targets"],
                                         command.get("seconds", FINISH_SECONDS))
                    started = False
                else:
                    return
                sys.stdout.write(json.dumps(answer) + "\n")
                sys.stdout.flush()


if __name__ == "__main__":
    Fleet().run()
