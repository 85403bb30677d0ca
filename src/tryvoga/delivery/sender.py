"""Outbound HTTP for webhooks: a small HTTP/1.1 client with keep-alive and the safety rules
built in.

A webhook is one POST of a body we made ourselves to a URL we checked, and what matters of
the answer is its status (and, for a failure, a few hundred bytes of text for the record).
aiohttp's client did this at about five times the CPU of a bare keep-alive pool, and that cost
was most of a delivery's (bench/RESULTS.md, "Webhooks"); so this module speaks the little of
HTTP/1.1 a webhook needs, on an ``asyncio.Protocol`` of its own, and nothing more.

The rules, for every request:

- Destinations: an IP literal is checked against the ``Policy`` before anything is sent; a
  name is resolved (the answers kept ``DNS_TTL`` seconds) and the connection is made to one of
  the resolved addresses the policy allows, never to the name, so a name that resolves
  differently a second time cannot slip past the check. No proxy from the environment.
- Time: ``connect_timeout`` covers the name lookup, the TCP connect and the TLS handshake;
  ``read_timeout`` covers the whole answer, from the request written to the last byte read.
- Answers: no redirect is followed (a 3xx is a failed attempt); at most ``MAX_HEAD`` bytes of
  status line and headers and ``MAX_RESPONSE`` bytes of body are read before the connection is
  dropped; 1xx interim answers are skipped; Content-Length, chunked and read-to-close bodies
  are understood; anything else is a malformed answer, and its connection is closed.
- https verifies the certificate against the system's authorities and the URL's host name.
- Connections are kept for reuse only after a complete, well-formed HTTP/1.1 answer without
  ``Connection: close``, at most ``concurrency`` of them idle, each for at most ``IDLE_FOR``
  seconds. A request on a reused connection that the receiver had closed meanwhile (the
  connection ends before a byte of the answer) is sent once more on a new connection;
  deliveries are at least once anyway, and receivers deduplicate by ``X-Tryvoga-Event-Id``.

Nothing raises out of ``post`` but cancellation: every failure is an ``Answer`` with its
error text.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from dataclasses import dataclass
from typing import cast

from yarl import URL

from tryvoga import __version__
from tryvoga.delivery.safety import DestinationRefused, Policy, literal_ip

log = logging.getLogger(__name__)

MAX_RESPONSE = 65536  # bytes of a receiver's answer body read before the connection is dropped
MAX_HEAD = 16384  # bytes of its status line and headers
KEPT = 512  # bytes of a failed answer's body kept for the error text
IDLE_FOR = 15.0  # seconds an idle keep-alive connection is kept
DNS_TTL = 10.0  # seconds a name's resolved addresses are reused
TARGETS = 10000  # parsed URLs remembered
BUFFER = 262144  # bytes buffered from a receiver before reading from it pauses
USER_AGENT = f"Tryvoga-Webhooks/{__version__}"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None
    latency_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Malformed(Exception):
    """The receiver's answer is not the HTTP/1.x it must be."""


class Closed(Exception):
    """The connection ended before the answer was complete."""


class ConnectTimeout(Exception):
    """Name lookup, connect and TLS handshake took longer than the connect timeout."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a URL says about where and how to send, parsed once."""

    origin: tuple[str, str, int]  # connections are shared within one (scheme, host, port)
    host: str  # to connect to and, for https, to verify: a name or a bare IP address
    port: int
    tls: bool
    literal: bool
    head: bytes  # the request line and our fixed headers


def parse_target(url: str, policy: Policy) -> Target | str:
    """How to send to ``url``, or why not (the attempt's error text)."""
    parsed = URL(url)
    scheme = parsed.scheme
    host = parsed.raw_host or ""
    if scheme not in ("http", "https") or not host:
        raise ValueError(f"not an absolute http(s) URL: {url[:200]!r}")
    port = parsed.port or (443 if scheme == "https" else 80)
    literal = literal_ip(host)
    if literal is not None and not policy.allows(literal):
        return f"refused: {policy.why_refused(str(literal))}"
    shown = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        shown += f":{port}"
    path = parsed.raw_path_qs or "/"
    if any(c in path + shown for c in "\r\n \t"):
        raise ValueError("the URL holds white space or a line break")
    head = (f"POST {path} HTTP/1.1\r\nHost: {shown}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Accept: */*\r\n").encode("ascii")
    return Target((scheme, host, port), host, port, scheme == "https", literal is not None,
                  head)


class Wire(asyncio.Protocol):
    """One connection to a receiver: what it has sent us, and whether it is still open."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.ended = False
        self.waiter: asyncio.Future[None] | None = None
        self.idle_since = 0.0
        self.paused = False
        self.received = 0  # bytes since the last request was sent
        self.deadline = 0.0  # time.monotonic() by which the answer must be whole
        self.expired = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.received += len(data)
        if len(self.buffer) > BUFFER and self.transport is not None:
            self.transport.pause_reading()
            self.paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def reusable(self) -> bool:
        return (not self.ended and not self.buffer and self.transport is not None
                and not self.transport.is_closing())

    def kept_at(self, now: float) -> bool:
        """Whether this idle connection may still be used at ``now`` (time.monotonic)."""
        return self.reusable() and now - self.idle_since < IDLE_FOR

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.ended = True

    def expire(self) -> None:
        """The answer is late: end the wait for it with TimeoutError, and the connection."""
        self.expired = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(TimeoutError())
        if self.transport is not None:
            self.transport.abort()

    async def more(self) -> None:
        """Wait until more bytes come, or the connection ends (``Closed``)."""
        if self.expired:
            raise TimeoutError
        if self.ended:
            raise Closed
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def take(self, count: int) -> bytes:
        taken = bytes(self.buffer[:count])
        del self.buffer[:count]
        return taken

    async def head(self) -> bytes:
        """The answer's status line and headers, up to and without the blank line."""
        while True:
            crlf = self.buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
            lf = self.buffer.find(b"\n\n", 0, MAX_HEAD + 2)  # bare line feeds, as some write
            if lf >= 0 and (crlf < 0 or lf < crlf):
                return self.take(lf + 2)[:-2]
            if crlf >= 0:
                return self.take(crlf + 4)[:-4]
            if len(self.buffer) > MAX_HEAD:
                raise Malformed(f"its head is longer than {MAX_HEAD} bytes")
            await self.more()

    async def exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            await self.more()
        return self.take(count)

    async def line(self) -> bytes:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                return self.take(end + 1).rstrip(b"\r\n")
            if len(self.buffer) > 1024:
                raise Malformed("a chunk size line is too long")
            await self.more()


@dataclass(slots=True)
class Reply:
    status: int
    location: str
    kept: bytes  # the start of the body
    reusable: bool


def parse_head(head: bytes) -> tuple[int, bool, dict[bytes, bytes]]:
    """Status, whether it is HTTP/1.1, and the headers (names lower-cased; repeats joined)."""
    lines = head.split(b"\n")
    parts = lines[0].rstrip(b"\r").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3 \
            or not parts[1].isdigit():
        raise Malformed(f"not an HTTP/1.x status line: {lines[0][:100]!r}")
    headers: dict[bytes, bytes] = {}
    for raw in lines[1:]:
        name, colon, value = raw.rstrip(b"\r").partition(b":")
        if not colon or not name or name != name.strip():
            raise Malformed(f"a header line is not 'name: value': {raw[:100]!r}")
        key = name.lower()
        value = value.strip()
        headers[key] = headers[key] + b", " + value if key in headers else value
    return int(parts[1]), parts[0] == b"HTTP/1.1", headers


async def read_reply(wire: Wire) -> Reply:
    while True:
        status, http11, headers = parse_head(await wire.head())
        if not 100 <= status < 200 or status == 101:
            break  # 1xx answers are interim: the real one follows
    connection = headers.get(b"connection", b"").lower()
    keep = http11 and b"close" not in connection and status != 101
    location = headers.get(b"location", b"").decode("latin-1")
    coding = headers.get(b"transfer-encoding")
    length = headers.get(b"content-length")
    if status < 200 or status in (204, 304):
        return Reply(status, location, b"", keep)
    if coding is not None:
        if coding.lower().rsplit(b",", 1)[-1].strip() != b"chunked":
            return Reply(status, location, await read_to_close(wire), False)
        kept, complete = await read_chunked(wire)
        return Reply(status, location, kept, keep and complete)
    if length is not None:
        values = {v.strip() for v in length.split(b",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise Malformed(f"Content-Length is not a number: {length[:40]!r}")
        size = int(next(iter(values)))
        if size > MAX_RESPONSE:
            return Reply(status, location, await wire.exactly(min(size, KEPT)), False)
        return Reply(status, location, (await wire.exactly(size))[:KEPT], keep)
    return Reply(status, location, await read_to_close(wire), False)


async def read_chunked(wire: Wire) -> tuple[bytes, bool]:
    """The start of a chunked body, and whether it was read whole (within the bound)."""
    kept = bytearray()
    received = 0
    while True:
        size_text = (await wire.line()).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise Malformed(f"a chunk size is not hexadecimal: {size_text[:40]!r}") from None
        if size == 0:
            while await wire.line():  # trailers, up to the blank line
                pass
            return bytes(kept), True
        received += size
        if received > MAX_RESPONSE:
            return bytes(kept), False
        chunk = await wire.exactly(size)
        if len(kept) < KEPT:
            kept += chunk[:KEPT - len(kept)]
        if await wire.line():
            raise Malformed("a chunk does not end where its size says")


async def read_to_close(wire: Wire) -> bytes:
    """A body that ends with the connection, read up to the bound."""
    while not wire.ended and len(wire.buffer) <= MAX_RESPONSE:
        try:
            await wire.more()
        except Closed:
            break
    return bytes(wire.buffer[:KEPT])


class Sender:
    def __init__(self, policy: Policy, *, connect_timeout: float, read_timeout: float,
                 concurrency: int, tls: ssl.SSLContext | None = None) -> None:
        self.policy = policy
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = concurrency
        self._tls = tls or ssl.create_default_context()  # the system's authorities
        self._targets: dict[str, Target | str] = {}
        self._idle: dict[tuple[str, str, int], list[Wire]] = {}
        self._idle_count = 0
        self._names: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self._swept = time.monotonic()
        self._reading: set[Wire] = set()  # waiting for an answer
        self._timer: asyncio.TimerHandle | None = None
        self._tick = min(0.25, read_timeout / 10)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for wires in self._idle.values():
            for wire in wires:
                wire.close()
        self._idle.clear()
        self._idle_count = 0

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        start = time.perf_counter()
        target = self._target(url)
        if isinstance(target, str):
            return Answer(None, 0.0, target)
        try:
            request = self._request(target, body, headers)
        except ValueError as exc:
            return Answer(None, 0.0, f"refused: {exc}")
        try:
            reply = await self._exchange(target, request)
        except Exception as exc:  # a failed delivery is data, never a crash
            return Answer(None, (time.perf_counter() - start) * 1000, self._describe(exc,
                                                                                    target))
        latency = (time.perf_counter() - start) * 1000
        status = reply.status
        if 200 <= status < 300:
            return Answer(status, latency, None)
        if 300 <= status < 400:
            where = reply.location
            return Answer(status, latency, f"HTTP {status}: redirects are not followed"
                          f"{' (to ' + where[:200] + ')' if where else ''}")
        text = reply.kept.decode("utf-8", "replace").strip()
        return Answer(status, latency, f"HTTP {status}{': ' + text[:200] if text else ''}")

    def _target(self, url: str) -> Target | str:
        """The parsed URL, or why it cannot be sent to. Cached: the same URLs come again
        and again."""
        found = self._targets.get(url)
        if found is None:
            if len(self._targets) > TARGETS:
                self._targets.clear()
            try:
                found = parse_target(url, self.policy)
            except ValueError as exc:
                found = f"refused: the URL cannot be used: {exc}"
            self._targets[url] = found
        return found

    @staticmethod
    def _request(target: Target, body: bytes, headers: dict[str, str]) -> bytes:
        for name, value in headers.items():
            if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
                raise ValueError(f"the header {name[:40]!r} holds a line break")
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return b"".join((target.head, lines.encode("latin-1"),
                         b"Content-Length: %d\r\n\r\n" % len(body), body))

    async def _exchange(self, target: Target, request: bytes) -> Reply:
        wire = self._reuse(target.origin)
        fresh = wire is None
        if wire is None:
            wire = await self._connect(target)
        try:
            while True:
                assert wire.transport is not None
                wire.received = 0
                wire.transport.write(request)
                self._watch_over(wire)
                try:
                    reply = await read_reply(wire)
                except (Closed, ConnectionError) as exc:
                    if fresh or wire.received:
                        raise Closed(str(exc)) from exc
                    # The receiver closed this kept connection before our request reached
                    # it (or before answering a byte): once more on a new connection.
                    self._reading.discard(wire)
                    wire.close()
                    wire = await self._connect(target)
                    fresh = True
                    continue
                break
        except BaseException:
            wire.close()
            raise
        finally:
            self._reading.discard(wire)
        if reply.reusable and wire.reusable() and self._idle_count < self.max_idle:
            wire.idle_since = time.monotonic()
            self._idle.setdefault(target.origin, []).append(wire)
            self._idle_count += 1
        else:
            wire.close()
        return reply

    def _watch_over(self, wire: Wire) -> None:
        """Give ``wire`` its answer's deadline. One timer for all the answers awaited, not
        one each: at thousands of requests a second, a timer per request was a tenth of the
        sender's CPU. It ticks every tenth of the read timeout (at most every quarter second)
        while answers are awaited, so a late answer ends within that much after its time."""
        wire.deadline = time.monotonic() + self.read_timeout
        self._reading.add(wire)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._tick, self._watch)

    def _watch(self) -> None:
        now = time.monotonic()
        for wire in [w for w in self._reading if w.deadline <= now]:
            self._reading.discard(wire)
            wire.expire()
        self._timer = (asyncio.get_running_loop().call_later(self._tick, self._watch)
                       if self._reading else None)

    def _reuse(self, origin: tuple[str, str, int]) -> Wire | None:
        now = time.monotonic()
        if now - self._swept > IDLE_FOR / 3:
            self._sweep(now)
        wires = self._idle.get(origin)
        while wires:
            wire = wires.pop()
            self._idle_count -= 1
            if wire.kept_at(now):
                return wire
            wire.close()
        return None

    def _sweep(self, now: float) -> None:
        self._swept = now
        for origin in list(self._idle):
            keep = []
            for wire in self._idle[origin]:
                if wire.kept_at(now):
                    keep.append(wire)
                else:
                    wire.close()
            self._idle_count -= len(self._idle[origin]) - len(keep)
            if keep:
                self._idle[origin] = keep
            else:
                del self._idle[origin]

    async def _connect(self, target: Target) -> Wire:
        loop = asyncio.get_running_loop()
        tls = self._tls if target.tls else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                addresses = [target.host] if target.literal else await self._resolve(target)
                error: OSError | None = None
                for address in addresses:
                    try:
                        _, wire = await loop.create_connection(
                            Wire, address, target.port, ssl=tls,
                            server_hostname=target.host if tls is not None else None)
                        return wire
                    except ssl.SSLError:
                        raise
                    except OSError as exc:
                        error = exc
                assert error is not None
                raise error
        except TimeoutError:
            raise ConnectTimeout from None

    async def _resolve(self, target: Target) -> list[str]:
        """The addresses the name resolves to that the policy allows; refused if none."""
        key = (target.host, target.port)
        now = time.monotonic()
        cached = self._names.get(key)
        if cached is not None and cached[0] > now:
            found = cached[1]
        else:
            infos = await asyncio.get_running_loop().getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM)
            found = list(dict.fromkeys(str(info[4][0]) for info in infos))
            if len(self._names) > TARGETS:
                self._names.clear()
            self._names[key] = (now + DNS_TTL, found)
        allowed = [a for a in found if self.policy.allows(a)]
        if not allowed:
            refused = ", ".join(sorted(found)) or "no address"
            raise DestinationRefused(f"{target.host} resolves to {refused}: "
                                     f"{self.policy.why_refused(refused)}")
        return allowed

    def _describe(self, exc: BaseException, target: Target) -> str:
        where = f"{target.host}:{target.port}"
        if isinstance(exc, DestinationRefused):
            return f"refused: {exc}"
        if isinstance(exc, ConnectTimeout):
            return f"timed out connecting after {self.connect_timeout:g} s"
        if isinstance(exc, TimeoutError):
            return f"timed out waiting for the answer after {self.read_timeout:g} s"
        if isinstance(exc, socket.gaierror):
            return f"cannot resolve {target.host}: {exc.strerror or exc}"
        if isinstance(exc, ssl.SSLError):
            return f"TLS with {where} failed: {exc.reason or exc}"[:300]
        if isinstance(exc, Malformed):
            return f"malformed answer from {where}: {exc}"[:300]
        if isinstance(exc, Closed):
            return f"{where} closed the connection before the answer was complete"
        if isinstance(exc, OSError):
            return f"cannot connect to {where}: {exc.strerror or exc}"[:300]
        log.warning("unexpected webhook delivery error", exc_info=exc)
        return f"unexpected error: {type(exc).__name__}: {exc}"[:300]
