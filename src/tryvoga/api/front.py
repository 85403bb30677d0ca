"""The read front: polled reads answered from their cached bytes, in front of aiohttp.

Most of what a warning service serves is clients polling the active state (``/api/v1/status``,
``/api/v1/alerts/active``), mostly answered 304. Those bytes are rendered once per state
version (``RenderCache``), so what such a read costs is the HTTP server's own work per
request, and aiohttp's is about twice nginx's (``bench/RESULTS.md``). So every connection
starts with a :class:`ReadFront`, a plain asyncio protocol that answers those reads itself,
and only the requests it understands completely:

* ``GET`` of one of the ``FAST_READS`` paths (a path may have one segment of letters, digits,
  ``-`` and ``_``; a query of such names and values, no name twice), HTTP/1.1 or 1.0, every
  line ending in CRLF, header names that are tokens and values without control characters;
* whose read (``Read``: the native polled reads, the façades' polled reads) gives a rendering:
  a read gives none for a bad value, a token not looked up in the last seconds, a limit
  reached, or anything else it leaves to aiohttp's handler; none at all while the node's
  state is stale (``READS_STALE``): aiohttp then answers, adding ``X-State-Age``;
* an ``Authorization`` of printable ASCII only, and no body (``Content-Length``,
  ``Transfer-Encoding``), ``Expect``,
  ``Upgrade`` or ``X-Request-Id``; a ``Connection`` of only ``close`` or ``keep-alive``; a
  ``Host`` in HTTP/1.1; each header it looks at at most once, and nothing aiohttp's parser
  refuses (too many or too long headers, a duplicated ``Host`` or ``User-Agent``, ...).

At the first request that is anything else, the connection is handed to aiohttp's own
``RequestHandler`` with every byte not yet answered, and aiohttp parses it from that request's
first byte, as if it had had the connection from the start. Nothing the front has read is lost
or read twice, and the two never disagree on where a request ends: the front answers a request
only when nothing in it could be framed another way. Answers already written stay ahead of
aiohttp's in the socket, so pipelined requests are answered in order.

An answer is the one aiohttp gives for the same request, to the byte (status line, headers in
aiohttp's order, ``Date`` and ``Server``), built from the same ``Rendered`` item with the same
304 rules (``http.not_modified``); ``tests/api/test_front.py`` compares the two servers'
answers request by request. A head answered once is answered again from memory for the rest of
that second while the state version stays (``Front.recall``; a read that counted the request
against a limit counts it again first); every answer is written by ``ReadFront._send``.
``--fast-reads false`` leaves every request to aiohttp.

Limits (issue 15): a request head must arrive whole within ``header_timeout`` seconds of its
first byte (a head trickled a byte at a time does not keep the connection open: the idle timer
alone counts from the last byte), and one client address holds at most ``per_address``
connections at once (0: no limit); one more is closed as soon as it is accepted. A connection
handed to aiohttp still counts until it closes (``_Counted`` tells the front when). With
``--fast-reads false`` every connection still passes through here for that count, and is
handed to aiohttp before any byte is read.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, cast

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE
from aiohttp.web_server import Server

from tryvoga.api.http import Rendered, not_modified

log = logging.getLogger(__name__)

@dataclass(slots=True)
class Asked:
    """What one request asks of a read the front may answer."""

    param: str  # the path's variable segment, for a path with one ("" otherwise)
    query: dict[str, str] | None  # the query's parameters; None when the target has no "?"
    authorization: str | None  # the Authorization header's value; None when absent
    address: str  # the client's address, as aiohttp's ``request.remote``
    # Set by a read that counted the request against a limit: what to ask again (with the
    # client's address) before the front answers the same request from what it remembers,
    # and what to call once the front forgets that answer (to hand back what ``recheck``
    # counted ahead and no request used: ``Gate.fast``).
    recheck: Callable[[str], bool] | None = None
    release: Callable[[], None] | None = None
    # Set by a read that gave no rendering only because this token is not known yet: the
    # front looks it up (``READS_LOOKUP``, off the event loop) and asks the read again.
    lookup: str | None = None


# A remembered answer: (state version, the answer's bytes, close after it, what to ask again
# before answering it again, what to call when it is forgotten).
Memo = tuple[int, bytes, bool, Callable[[str], bool] | None, Callable[[], None] | None]

# The rendering a request is answered with, or None when aiohttp is to answer it (an error, a
# limit reached, a token not known yet, anything the read does not handle itself). A read
# returns a rendering only if aiohttp's handler would answer the request with it, and only then
# counts the request against any limit (``Gate.admit_fast``).
Read = Callable[[Asked], Rendered | None]
# Path → its read; set by the routes that have one (native.py, the façades). A path may hold
# one "{}": a segment of letters, digits, "-" and "_" (aiohttp's ``{name}``, never decoded).
Reads = dict[str, Read]
FAST_READS: web.AppKey[Reads] = web.AppKey("fast_reads")
# The state version every read's rendering follows (the follower's sequence): while it and the
# second stay the same, a request head the front has answered gets the same answer.
READS_VERSION: web.AppKey[Callable[[], int]] = web.AppKey("reads_version")
# True while the node's state is stale (``Follower.state_age``): every read is aiohttp's, which
# adds ``X-State-Age`` (api/ops.py); nothing remembered is answered meanwhile.
READS_STALE: web.AppKey[Callable[[], bool]] = web.AppKey("reads_stale")
# Looks a token up and remembers it (``Tokens.fetch``), for a read that set ``Asked.lookup``.
READS_LOOKUP: web.AppKey[Callable[[str], Awaitable[None]]] = web.AppKey("reads_lookup")


def plain(render: Callable[[], Rendered]) -> Read:
    """A read of one rendering, for a request without a query or a token (those, aiohttp's)."""

    def read(asked: Asked) -> Rendered | None:
        return render() if asked.query is None and asked.authorization is None else None

    return read


def fast_reads(app: web.Application) -> Reads:
    """The application's reads for the front, to add to (made empty at the first call)."""
    reads = app.get(FAST_READS)
    if reads is None:
        reads = app[FAST_READS] = {}
    return reads


class Routes:
    """The paths of ``Reads`` as the front looks them up: exact ones in a dict, those with a
    segment by prefix and suffix."""

    def __init__(self, reads: Reads) -> None:
        self.exact: dict[bytes, Read] = {}
        self.patterns: list[tuple[bytes, bytes, Read]] = []
        for path, read in reads.items():
            head, brace, tail = path.encode("ascii").partition(b"{}")
            if brace:
                self.patterns.append((head, tail, read))
            else:
                self.exact[head] = read

    def find(self, path: bytes) -> tuple[Read, str] | None:
        read = self.exact.get(path)
        if read is not None:
            return read, ""
        for head, tail, read in self.patterns:
            if path.startswith(head) and path.endswith(tail):
                segment = path[len(head):len(path) - len(tail)]
                if _SEGMENT.fullmatch(segment):
                    return read, segment.decode("ascii")
        return None


# Where a FrontSite of the application puts its Front, for its counts (``api/ops.py``).
FRONTS: web.AppKey[list[Front]] = web.AppKey("fronts")
# May this peer (``peername``, the head's header lines) be answered a read now? Set by
# ``api/limits.py`` when reads per address are limited; no: aiohttp answers (a 429).
FrontLimit = Callable[[Any, bytes], bool]
FRONT_LIMIT: web.AppKey[FrontLimit] = web.AppKey("front_limit")

KEEPALIVE_TIMEOUT = 75.0  # seconds an idle connection is kept open: aiohttp's default
HEADER_TIMEOUT = 30.0  # seconds a request head may take to arrive whole

# A request head the front may answer: request line, header lines, the empty line. Header
# names are RFC 9110 tokens (a space before the colon is not one); values hold no control
# characters but HTAB (obs-text, 0x80-0xFF, is allowed, as aiohttp allows it).
_HEAD = re.compile(
    rb"GET (/[!-~]*) HTTP/1\.([01])\r\n"
    rb"((?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*)\r\n")
# The header lines the front looks at (by name, in any case), with their values: those that
# send a request to aiohttp, those it acts on, and those aiohttp refuses twice in a request.
_NOTED = re.compile(
    rb"^(authorization|content-length|transfer-encoding|expect|upgrade|sec-websocket-key1|"
    rb"connection|if-none-match|if-modified-since|host|content-location|content-range|"
    rb"content-type|etag|max-forwards|server|user-agent|x-request-id):([^\r]*)\r$",
    re.IGNORECASE | re.MULTILINE)
# A request that brings its own X-Request-Id gets it back (``api/ops.py``): aiohttp's to answer.
_REFUSED = frozenset((b"content-length", b"transfer-encoding", b"expect",
                      b"upgrade", b"sec-websocket-key1", b"x-request-id"))
# A path segment a read's "{}" matches, and a query the front parses itself: names and values
# of characters that URL decoding leaves as they are (anything else is aiohttp's to decode).
_SEGMENT = re.compile(rb"[A-Za-z0-9_-]{1,64}")
_PAIR = rb"[A-Za-z0-9_.~-]+=[A-Za-z0-9_.~-]*"
_QUERY = re.compile(rb"(?:" + _PAIR + rb"(?:&" + _PAIR + rb")*)?")
# An Authorization value the reads may take as it is: printable ASCII and spaces.
_PRINTABLE = re.compile(rb"[\x20-\x7e]*")
# aiohttp refuses a request with more headers than this (``max_headers``) or a header name or
# value longer than 8190 bytes; a head within both limits is never refused for its size.
MAX_HEADERS = 128
MAX_HEAD = 8190
# At most this many request heads' answers are remembered in a second, each at most this long.
MEMO_HEADS = 256
MEMO_ANSWER = 32768
_SERVER = SERVER_SOFTWARE.encode("latin-1")
_LOOKING: set[asyncio.Task[None]] = set()  # token look-ups in progress (kept referenced)


class Front:
    """What every connection of one listening socket shares: the reads it answers, aiohttp's
    server to hand other connections to, the open front connections, and the answers built
    in the current second (the ``Date`` header changes each second)."""

    def __init__(self, reads: Reads, server: Server,
                 keepalive_timeout: float = KEEPALIVE_TIMEOUT, *,
                 header_timeout: float = HEADER_TIMEOUT, per_address: int = 0,
                 version: Callable[[], int] | None = None,
                 lookup: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.reads = reads
        self.routes = Routes(reads)
        self.version = version
        self.lookup = lookup
        # Request head → (state version, answer, close after it, what to ask again): the
        # answers of the current second, for heads that come again (a poller's are the same
        # every time); without ``version``, nothing is remembered.
        self._memo: dict[bytes, Memo] = {}
        self.server = server
        self.keepalive_timeout = keepalive_timeout
        self.header_timeout = header_timeout
        self.per_address = per_address
        self.by_address: dict[str, int] = {}  # open connections (front's or aiohttp's)
        self.refused = 0
        self.connections: set[ReadFront] = set()
        self.limit: FrontLimit | None = None  # api/limits.py
        self.stale: Callable[[], bool] | None = None  # READS_STALE
        self.answered = 0  # requests the front answered itself (aiohttp answered the rest)
        self._second = -1
        self._date = b""
        # (id of the Rendered, variant) → (the Rendered, kept so that its id stays its own;
        # the answer's bytes)
        self._answers: dict[tuple[int, int], tuple[Rendered, bytes]] = {}

    def __call__(self) -> ReadFront:
        return ReadFront(self)

    def answer(self, item: Rendered, minor: bytes, inm: bytes | None, ims: bytes | None,
               connection: bytes | None) -> tuple[bytes, bool]:
        """The answer's bytes, and whether the connection closes after it."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._date = formatdate(second, usegmt=True).encode("ascii")
            self._answers = {}
            self.forget()
        settled = now >= item.modified + 1  # as http.cached_response
        inm_text = None if inm is None else inm.decode("utf-8", "surrogateescape")
        unchanged = inm_text == item.etag or (
            (inm is not None or ims is not None)
            and not_modified(item, inm_text,
                             None if ims is None else ims.decode("utf-8", "surrogateescape")))
        http10 = minor == b"0"
        # aiohttp keeps HTTP/1.1 open unless told "close", HTTP/1.0 only if told "keep-alive",
        # and says so in a Connection header only when that is not the version's default.
        keep = connection != b"close" if not http10 else connection == b"keep-alive"
        variant = unchanged | settled << 1 | http10 << 2 | keep << 3
        key = (id(item), variant)
        hit = self._answers.get(key)
        if hit is not None and hit[0] is item:
            return hit[1], not keep
        data = _build(item, unchanged, settled, http10, keep, self._date)
        self._answers[key] = (item, data)
        return data, not keep

    def recall(self, head: bytes) -> Memo | None:
        """The answer given to ``head`` in this second, if the state has not changed since."""
        entry = self._memo.get(head)
        if entry is None or self.version is None or entry[0] != self.version() or int(
                time.time()) != self._second:
            return None
        return entry

    def remember(self, head: bytes, version: int, answer: bytes, close: bool,
                 recheck: Callable[[str], bool] | None,
                 release: Callable[[], None] | None) -> None:
        memo = self._memo
        old = memo.get(head)
        if len(answer) > MEMO_ANSWER or (old is None and len(memo) >= MEMO_HEADS):
            return
        if old is not None and old[4] is not None:
            old[4]()  # the answer it replaces may have counted requests ahead
        memo[head] = (version, answer, close, recheck, release)

    def forget(self) -> None:
        """Forget every remembered answer (a new second), handing back what their reads
        counted ahead."""
        memo, self._memo = self._memo, {}
        for entry in memo.values():
            if entry[4] is not None:
                entry[4]()

    def close_all(self) -> None:
        for connection in list(self.connections):
            connection.close()

    def admit(self, address: str) -> bool:
        """Count a new connection from ``address``; False if it is one too many."""
        count = self.by_address.get(address, 0)
        if self.per_address and count >= self.per_address:
            self.refused += 1
            if self.refused in (1, 10, 100) or self.refused % 1000 == 0:
                log.warning("%s already holds %d connections, the most allowed "
                            "(TRYVOGA_CONNECTIONS_PER_ADDRESS); %d refused so far", address,
                            count, self.refused)
            return False
        self.by_address[address] = count + 1
        return True

    def release(self, address: str) -> None:
        count = self.by_address.get(address, 0) - 1
        if count > 0:
            self.by_address[address] = count
        else:
            self.by_address.pop(address, None)


def _build(item: Rendered, unchanged: bool, settled: bool, http10: bool, keep: bool,
           date: bytes) -> bytes:
    """The bytes aiohttp writes for ``cached_response``'s answer."""
    version = b"HTTP/1.0" if http10 else b"HTTP/1.1"
    lines = [version + (b" 304 Not Modified" if unchanged else b" 200 OK")]
    headers = item.headers[2 * unchanged + settled]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers.items()]
    if not unchanged:
        lines.append(b"Content-Length: " + str(len(item.body)).encode("ascii"))
    lines += [b"Date: " + date, b"Server: " + _SERVER]
    if http10 and keep:
        lines.append(b"Connection: keep-alive")
    elif not http10 and not keep:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if unchanged else item.body)


class _Counted(asyncio.Protocol):
    """aiohttp's handler of a connection handed over, telling the front when it ends (the
    handler's class has slots, so its ``connection_lost`` cannot be wrapped in place)."""

    __slots__ = ("_address", "_front", "_inner")

    def __init__(self, inner: asyncio.Protocol, front: Front, address: str) -> None:
        self._inner = inner
        self._front = front
        self._address = address

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._front.release(self._address)
        self._inner.connection_lost(exc)


def take_over(transport: asyncio.Transport, protocol: asyncio.BaseProtocol
              ) -> Callable[[], None] | None:
    """Give a connection aiohttp's handler has to ``protocol`` (a stream, once its response
    head is written: ``api/streams.py``). Returns what to call when the connection is lost
    if the front counts it per address (None if not): the handler is no longer told."""
    counted = transport.get_protocol()
    transport.set_protocol(protocol)
    if isinstance(counted, _Counted):
        return functools.partial(counted._front.release, counted._address)
    return None


class ReadFront(asyncio.Protocol):
    """One connection, until it is closed or handed to aiohttp."""

    __slots__ = ("_address", "_buffer", "_front", "_head_since", "_last", "_looked", "_paused",
                 "_peer", "_timer", "_transport")

    def __init__(self, front: Front) -> None:
        self._front = front
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._paused = False  # the transport's write buffer is full: read no more for now
        self._last = 0.0
        self._head_since: float | None = None  # when the unanswered head's first byte came
        self._timer: asyncio.TimerHandle | None = None
        self._address: str | None = None  # counted in front.by_address while set
        self._peer: str | None = None  # the client's address, once a read asked for it
        self._looked: str | None = None  # the token last looked up for this connection

    @property
    def pending(self) -> bytes:
        """What has arrived of a request not answered yet."""
        return self._buffer

    @property
    def paused(self) -> bool:
        """Whether reading stopped until the client reads its answers."""
        return self._paused

    # ---- asyncio's calls ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        front = self._front
        if front.per_address:
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
            if not front.admit(address):
                self._transport.abort()
                return
            self._address = address
        if not front.reads:  # --fast-reads false: aiohttp's from the first byte
            self._hand_over(b"")
            return
        front.connections.add(self)
        loop = asyncio.get_running_loop()
        self._last = loop.time()
        self._timer = loop.call_at(self._last + front.keepalive_timeout, self._idle)

    def data_received(self, data: bytes) -> None:
        starting = not self._buffer
        if self._buffer:
            data, self._buffer = self._buffer + data, b""
        loop = asyncio.get_running_loop()
        self._last = now = loop.time()
        self._serve(data)
        if not self._buffer:
            self._head_since = None
        elif starting or self._head_since is None:
            # A head has begun and is not whole: it has header_timeout from now, however
            # often a byte of it comes.
            self._head_since = now
            due = now + self._front.header_timeout
            if self._timer is not None and self._timer.when() > due:
                self._timer.cancel()
                self._timer = loop.call_at(due, self._idle)

    def eof_received(self) -> bool | None:
        return None  # the transport closes; a partial request is dropped, as aiohttp does

    def connection_lost(self, exc: Exception | None) -> None:
        self._detach()

    def pause_writing(self) -> None:
        # The client reads its answers more slowly than it sends requests: stop reading
        # until they drain, so that neither buffer grows without bound.
        self._paused = True
        assert self._transport is not None
        self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        assert self._transport is not None
        if self._transport.is_closing():
            return
        self._transport.resume_reading()
        if self._buffer:
            data, self._buffer = self._buffer, b""
            self._serve(data)

    # ---- the requests ------------------------------------------------------------------

    def _serve(self, data: bytes) -> None:
        """Answer the requests at the start of ``data`` for as long as the front may.

        A request is answered in one of two ways, and both end in ``_send``: from what the
        front remembers of the same head in this second (``Front.recall``), or by parsing it
        (``_answer``). Anything not answered is handed to aiohttp with the rest of ``data``."""
        pos = 0
        end = len(data)
        front = self._front
        while pos < end:
            if self._paused:
                self._buffer = data[pos:]
                return
            if front.stale is not None and front.stale():
                self._hand_over(data[pos:])  # aiohttp answers, saying how old the state is
                return
            if front.version is not None:
                # A head answered in this second, the state unchanged: the same answer, if
                # the client is still within its limits (api/limits.py, the read's own).
                stop = data.find(b"\r\n\r\n", pos)
                head = data[pos:stop + 4]
                entry = None if stop < 0 else front.recall(head)
                if entry is not None and self._within(head) and (
                        entry[3] is None or entry[3](self._peer_address())):
                    if self._send(entry[1], entry[2]):
                        return
                    pos = stop + 4
                    continue
            match = _HEAD.match(data, pos)
            if match is None:
                if _incomplete(data, pos):
                    self._buffer = data[pos:]
                else:
                    self._hand_over(data[pos:])
                return
            try:
                version = -1 if front.version is None else front.version()
                answer = self._answer(match)
            except Exception:  # a bug here must cost the front, not the request
                log.exception("the read front failed; aiohttp answers instead")
                answer = None
            if isinstance(answer, str):  # a token to look up first, once
                if answer != self._looked and front.lookup is not None:
                    self._looked = answer
                    self._buffer = data[pos:]
                    self._look_up(answer)
                    return
                answer = None
            if answer is None:
                self._hand_over(data[pos:])
                return
            if front.version is not None:
                front.remember(match.group(0), version, *answer)
            if self._send(answer[0], answer[1]):
                return
            pos = match.end()

    def _look_up(self, secret: str) -> None:
        """Read nothing more until the token is looked up, then serve what is pending again
        (answered by the front if the token is one, else handed to aiohttp)."""
        transport = self._transport
        assert transport is not None and self._front.lookup is not None
        transport.pause_reading()
        lookup = self._front.lookup

        async def look() -> None:
            try:
                await lookup(secret)
            except Exception:
                log.exception("could not look a token up; aiohttp answers instead")
            if transport.is_closing() or self._transport is None:
                return
            if not self._paused:
                transport.resume_reading()
            data, self._buffer = self._buffer, b""
            if data:
                self._serve(data)

        task = asyncio.get_running_loop().create_task(look())
        _LOOKING.add(task)
        task.add_done_callback(_LOOKING.discard)

    def _send(self, answer: bytes, close: bool) -> bool:
        """Write an answer the front gives (every one passes here); True if the connection
        closed after it."""
        transport = self._transport
        assert transport is not None
        transport.write(answer)
        self._front.answered += 1
        if close:
            transport.close()
            self._detach()
        return close

    def _answer(self, match: re.Match[bytes]
                ) -> tuple[bytes, bool, Callable[[str], bool] | None,
                           Callable[[], None] | None] | str | None:
        """The answer to a request head that ``_HEAD`` matched (its bytes, whether the
        connection closes after it, what a read asks to recheck), a token to look up before
        asking again, or None for aiohttp's."""
        path, question, raw_query = match.group(1).partition(b"?")
        found = self._front.routes.find(path)
        if found is None:
            return None
        block = match.group(3)
        if match.end() - match.start() > MAX_HEAD or block.count(b"\n") > MAX_HEADERS:
            return None
        query: dict[str, str] | None = None
        if question:
            if not _QUERY.fullmatch(raw_query):
                return None
            query = {}
            for pair in raw_query.decode("ascii").split("&") if raw_query else ():
                name, _, value = pair.partition("=")
                if name in query:
                    return None  # which one counts is aiohttp's to say
                query[name] = value
        inm = ims = connection = authorization = None
        seen: set[bytes] = set()
        for name, value in _NOTED.findall(block):
            name = name.lower()
            if name in _REFUSED or name in seen:
                return None
            seen.add(name)
            value = value.strip(b" \t")
            if name == b"if-none-match":
                inm = value
            elif name == b"if-modified-since":
                ims = value
            elif name == b"connection":
                value = value.lower()
                if value not in (b"close", b"keep-alive"):
                    return None
                connection = value
            elif name == b"authorization":
                if not _PRINTABLE.fullmatch(value):
                    return None
                authorization = value.decode("ascii")
        if b"host" not in seen and match.group(2) == b"1":
            return None  # HTTP/1.1 requires Host: aiohttp answers 400
        read, param = found
        if not self._within(block):
            return None  # over its limit (api/limits.py): aiohttp answers 429
        asked = Asked(param, query, authorization, self._peer_address())
        item = read(asked)
        if item is None:
            return asked.lookup
        data, close = self._front.answer(item, match.group(2), inm, ims, connection)
        return data, close, asked.recheck, asked.release

    def _within(self, head: bytes) -> bool:
        """Is the client within its per-address read limit (``FRONT_LIMIT``; counted if so)?
        ``head``: the request's header lines, for a trusted proxy's X-Forwarded-For."""
        limit = self._front.limit
        return limit is None or limit(cast(asyncio.Transport, self._transport)
                                      .get_extra_info("peername"), head)

    def _peer_address(self) -> str:
        """The client's address as aiohttp's ``request.remote`` gives it."""
        if self._peer is None:
            assert self._transport is not None
            peer = self._transport.get_extra_info("peername")
            remote = None if peer is None else str(
                peer[0]) if isinstance(peer, (tuple, list)) else str(peer)
            self._peer = remote or "unknown"
        return self._peer

    def _hand_over(self, pending: bytes) -> None:
        """Give the connection to aiohttp, with the bytes it has not been answered for."""
        transport = self._transport
        assert transport is not None
        address = self._address
        self._address = None  # counted from here by _Counted
        self._detach()
        if transport.is_closing():
            if address is not None:
                self._front.release(address)
            return
        handler = self._front.server()
        transport.set_protocol(handler if address is None else
                               _Counted(handler, self._front, address))
        handler.connection_made(transport)
        if self._paused:
            handler.pause_writing()
            transport.resume_reading()  # aiohttp does its own flow control from here
        if pending:
            handler.data_received(pending)

    # ---- the connection's end ----------------------------------------------------------

    def _idle(self) -> None:
        loop = asyncio.get_running_loop()
        due = self._last + self._front.keepalive_timeout
        if self._head_since is not None and self._buffer and not self._paused:
            due = min(due, self._head_since + self._front.header_timeout)
        if loop.time() >= due:
            self.close()
        else:
            self._timer = loop.call_at(due, self._idle)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._detach()

    def _detach(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._address is not None:
            self._front.release(self._address)
            self._address = None
        self._front.connections.discard(self)


def _incomplete(data: bytes, pos: int) -> bool:
    """Whether ``data[pos:]`` may yet become a request head the front answers: no end of a
    head in it yet, short enough, a GET so far, and no line ending other than CRLF (a lone CR
    or LF, which another parser might take for a line's end, is aiohttp's to judge)."""
    rest = data[pos:]
    if len(rest) > MAX_HEAD or b"\r\n\r\n" in rest or not b"GET /".startswith(rest[:5]):
        return False
    pairs = rest.count(b"\r\n")
    return (rest.count(b"\n") == pairs
            and rest.count(b"\r") == pairs + rest.endswith(b"\r"))


class FrontSite(web.SockSite):
    """aiohttp's site on an already listening socket, with a read front on each connection."""

    def __init__(self, runner: web.AppRunner, sock: Any, reads: Reads, *, backlog: int,
                 keepalive_timeout: float = KEEPALIVE_TIMEOUT,
                 header_timeout: float = HEADER_TIMEOUT, per_address: int = 0) -> None:
        super().__init__(runner, sock, backlog=backlog)
        self._reads = reads
        self._keepalive_timeout = keepalive_timeout
        self._header_timeout = header_timeout
        self._per_address = per_address
        self.front: Front | None = None

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        app = self._runner.app if isinstance(self._runner, web.AppRunner) else None
        self.front = Front(self._reads, server, self._keepalive_timeout,
                           header_timeout=self._header_timeout, per_address=self._per_address,
                           version=None if app is None else app.get(READS_VERSION),
                           lookup=None if app is None else app.get(READS_LOOKUP))
        fronts = None if app is None else app.get(FRONTS)
        if fronts is not None:
            fronts.append(self.front)
        if isinstance(self._runner, web.AppRunner):
            self.front.limit = self._runner.app.get(FRONT_LIMIT)
            self.front.stale = self._runner.app.get(READS_STALE)
        self._server = await asyncio.get_running_loop().create_server(
            self.front, sock=self._sock, backlog=self._backlog)

    async def stop(self) -> None:
        await super().stop()
        if self.front is not None:
            # Every front connection is between requests (each is answered at once): close
            # them as aiohttp closes its idle keep-alive connections on shutdown.
            self.front.close_all()


__all__ = ["FAST_READS", "FRONTS", "FRONT_LIMIT", "HEADER_TIMEOUT", "KEEPALIVE_TIMEOUT",
           "READS_LOOKUP", "READS_STALE", "READS_VERSION", "Asked", "Front", "FrontSite", "Read",
           "ReadFront", "Reads", "Routes", "fast_reads", "plain", "take_over"]
