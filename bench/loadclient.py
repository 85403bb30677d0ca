"""A stream load client: holds thousands of SSE or WebSocket subscriptions on raw sockets.

Run by ``bench/fanout.py``, one process per share of the subscribers, and driven by JSON
commands on stdin, one per line; it answers each on stdout:

    {"op": "connect", "query": "since=5"}   -> {"ready": N, "seconds": t, "errors": e}
    {"op": "expect", "mark": K}             -> {"mark": K, "got": n, "first": t0, "last": t1,
                                                "p50": t, "read": t2}   (Unix seconds)
    {"op": "close"}                         -> {"closed": N}
    {"op": "forget"}                        -> {"forgot": n}   (receipts of marks not expected)
    {"op": "quit"}

Receipt is detected by a marker ``M<6 digits>Z`` that each published message carries.

It is written to cost the machine as little as it can, because it shares the two cores with the
server it measures: one ``epoll`` loop over non-blocking sockets (no asyncio, no per-socket
objects beyond a small list), one ``recvmsg`` of up to 256 KiB per readable socket. The receipt
time of a message is the kernel's receive time of its bytes on the subscriber's socket
(``SO_TIMESTAMPNS``): when the subscriber *had* the message, not when this process, competing
for the same two cores, got round to looking at it. The publisher's response is timed the same
way (``bench/fanout.py``), so both ends of "response to last receipt" are read alike, for
Tryvoga and for nchan. ``read`` is when this process had read the last of them, for
comparison. While a message is arriving the loop reads in batches every few milliseconds instead
of waking for each socket: the kernel's stamps keep the receipt times exact, and the server
being measured keeps the CPU. Only 127.0.0.0/8 is ever connected to.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import os
import re
import resource
import select
import socket
import struct
import sys
import time
from typing import Any

MARK = re.compile(rb"M(\d{6})Z")
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RECV = 256 * 1024
# Linux: the kernel's receive time of the bytes a recvmsg returns (CLOCK_REALTIME, timespec)
SO_TIMESTAMPNS = 35
CMSG = socket.CMSG_SPACE(16)
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux 4.2
IN_FLIGHT = 256  # connects in progress at once: a burst larger than this only fills SYN queues
ATTEMPTS = 20
COALESCE = 0.005  # seconds between reads while a message is arriving
PER_SOURCE = 10_000  # connections per source address before the next one is used


class Client:
    def __init__(self, host: str, port: int, path: str, fmt: str, count: int,
                 source: str) -> None:
        # One source address holds at most the ephemeral port range (~28,000) of connections
        # to one server port: a share larger than PER_SOURCE spreads over several.
        sources: list[str] = source.split(",")
        for address in (host, *sources):
            if not ipaddress.ip_address(address).is_loopback:
                raise SystemExit("the load client only connects within 127.0.0.0/8")
        self.host, self.port, self.path, self.fmt = host, port, path, fmt
        self.count = count
        self.sources = sources
        self.opened = 0
        self.epoll = select.epoll()
        # fd -> [socket, state, tail, last mark, attempts]; state: 0 connecting, 1 waiting for
        # the response head, 2 streaming
        self.socks: dict[int, list[Any]] = {}
        self.ready = 0
        self.connecting = 0
        self.errors = 0
        self.receipts: dict[int, list[float]] = {}  # kernel receive times
        self.reads: dict[int, float] = {}  # the latest time this process read each mark
        self.request = b""
        self.stdin = sys.stdin.buffer.fileno()
        os.set_blocking(self.stdin, False)
        self.epoll.register(self.stdin, select.EPOLLIN)
        self.lines = b""
        self.commands: list[bytes] = []

    def _request(self, query: str) -> bytes:
        target = self.path + (("&" if "?" in self.path else "?") + query if query else "")
        lines = [f"GET {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.fmt == "ws":
            lines += ["Upgrade: websocket", "Connection: Upgrade",
                      f"Sec-WebSocket-Key: {WS_KEY}", "Sec-WebSocket-Version: 13"]
        else:
            lines += ["Accept: text/event-stream"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    # ---- sockets ----------------------------------------------------------------------

    def _open(self, attempts: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        # The source address only: the port is chosen at connect time, per destination, as an
        # unbound socket's is. bind() picking one itself searches the source's whole port
        # range for a port no socket holds, TIME_WAIT ones included: with the ports of a
        # previous round still in TIME_WAIT (a reconnect-all), that search was the most CPU
        # of the whole reconnect (see IP_BIND_ADDRESS_NO_PORT).
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((self.sources[self.opened // PER_SOURCE % len(self.sources)], 0))
        self.opened += 1
        sock.connect_ex((self.host, self.port))  # EINPROGRESS: epoll says when it is done
        fd = sock.fileno()
        self.connecting += 1
        self.socks[fd] = [sock, 0, b"", -1, attempts]
        self.epoll.register(fd, select.EPOLLOUT)

    def _drop(self, fd: int) -> list[Any]:
        entry = self.socks.pop(fd)
        self.epoll.unregister(fd)
        if entry[1] == 2:
            self.ready -= 1
        else:
            self.connecting -= 1
        entry[0].close()
        return entry

    def _event(self, fd: int, mask: int, polled: float) -> None:
        entry = self.socks.get(fd)
        if entry is None:
            return
        sock = entry[0]
        if entry[1] == 0:  # connect finished, one way or the other
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                attempts = self._drop(fd)[4]
                if attempts + 1 < ATTEMPTS:
                    self._open(attempts + 1)
                else:
                    self.errors += 1
                return
            sock.send(self.request)
            entry[1] = 1
            self.epoll.modify(fd, select.EPOLLIN)
            return
        try:
            data, ancillary, _, _ = sock.recvmsg(RECV, CMSG)
        except BlockingIOError:
            return
        except OSError:
            data, ancillary = b"", []
        now = polled
        if not data:
            self._drop(fd)
            return
        if entry[1] == 1:
            head = entry[2] + data
            end = head.find(b"\r\n\r\n")
            if end < 0:
                entry[2] = head
                return
            if head.split(b" ", 2)[1] not in (b"200", b"101"):
                print(json.dumps({"log": f"subscription refused: {head[:200]!r}"}),
                      file=sys.stderr)
                self.errors += 1
                self._drop(fd)
                return
            entry[1] = 2
            self.ready += 1
            self.connecting -= 1
            data = head[end + 4:]
            entry[2] = b""
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                seconds, nanoseconds = struct.unpack_from("qq", value)
                now = seconds + nanoseconds / 1e9
        buffer = entry[2] + data
        last = entry[3]
        for match in MARK.finditer(buffer):
            mark = int(match.group(1))
            if mark > last:
                last = mark
                self.receipts.setdefault(mark, []).append(now)
                self.reads[mark] = polled
        entry[3] = last
        entry[2] = buffer[-10:]

    def _poll(self, timeout: float) -> None:
        """One epoll round; command lines that arrived on stdin are queued."""
        events = self.epoll.poll(timeout, len(self.socks) + 8)
        now = time.time()  # used only where the kernel gave no receive time
        commands = self.commands
        for fd, mask in events:
            if fd == self.stdin:
                chunk = os.read(self.stdin, 65536)
                if not chunk:
                    commands.append(b'{"op": "quit"}')
                self.lines += chunk
                *complete, self.lines = self.lines.split(b"\n")
                commands.extend(line for line in complete if line.strip())
            else:
                self._event(fd, mask, now)

    # ---- commands -------------------------------------------------------------------------

    def connect(self, query: str, seconds: float = 60.0) -> dict[str, Any]:
        self.request = self._request(query)
        self.opened = 0
        started = time.monotonic()
        deadline = started + seconds
        opened = 0
        while time.monotonic() < deadline:
            while opened < self.count and self.connecting < IN_FLIGHT:
                try:
                    self._open(0)
                except OSError as exc:
                    if exc.errno not in (errno.EADDRNOTAVAIL, errno.EAGAIN):
                        raise
                    break
                opened += 1
            if self.ready + self.errors >= self.count:
                break
            self._poll(0.05)
        return {"ready": self.ready, "seconds": time.monotonic() - started,
                "errors": self.errors}

    def expect(self, mark: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while len(self.receipts.get(mark, ())) < self.ready:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if mark in self.receipts:
                # The message is arriving: let it pile up for a moment and read a batch,
                # instead of waking for every socket (the kernel stamps keep the times).
                time.sleep(COALESCE)
            self._poll(min(left, 0.5))
        times = sorted(self.receipts.pop(mark, []))
        read = self.reads.pop(mark, 0.0)
        if not times:
            return {"mark": mark, "got": 0}
        return {"mark": mark, "got": len(times), "first": times[0], "last": times[-1],
                "p50": times[len(times) // 2], "read": read}

    def close(self) -> dict[str, Any]:
        count = len(self.socks)
        for fd in list(self.socks):
            self._drop(fd)
        self.ready = 0
        return {"closed": count}

    def run(self) -> None:
        while True:
            self._poll(1.0)
            while self.commands:
                command = json.loads(self.commands.pop(0))
                op = command["op"]
                if op == "connect":
                    answer = self.connect(command.get("query", ""),
                                          command.get("seconds", 60.0))
                elif op == "forget":
                    answer = {"forgot": len(self.receipts)}
                    self.receipts.clear()
                    self.reads.clear()
                elif op == "expect":
                    answer = self.expect(command["mark"], command.get("timeout", 20.0))
                elif op == "close":
                    answer = self.close()
                else:
                    self.close()
                    return
                sys.stdout.write(json.dumps(answer) + "\n")
                sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--fmt", choices=("sse", "ws"), required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--source", default="127.0.0.1",
                        help="source address, or several separated by commas")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    Client(args.host, args.port, args.path, args.fmt, args.count, args.source).run()


if __name__ == "__main__":
    main()
