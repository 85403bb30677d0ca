"""Per-address and per-token limits on reads, writes and open streams (issue 15).

One :class:`Limits` per application (``install``), built from the settings:

* reads (GET, HEAD, OPTIONS) and writes (every other method) a minute, per client address
  and per token, as token buckets (:class:`RateLimiter`: a burst of that many, then one every
  60/n seconds);
* open streams (``/api/v1/stream``, ``stream.ndjson``, ``ws``) per client address and per
  token, counted while they are open (:class:`Slots`).

Over a limit: 429 in the one error shape with ``Retry-After`` (``rate_limited``,
``too_many_streams``). A request over its address's own limit is answered after a pause of
``REFUSAL_PAUSE`` (1 s, or its Retry-After if sooner): a client that sends again as soon as
it is answered then costs one request a second per connection, not a core. The façades
(``/v1``, ``/v2``, ``/api/v3``) are not counted here: their own gate
(``api/compat_common.py``) limits them with the same buckets, in their own shape, and
``/healthz``, ``/readyz`` and ``/metrics`` are never limited.

The client address is the TCP peer's, unless the peer is in ``--trusted-proxies``: then it is
the rightmost address of ``X-Forwarded-For`` that is not itself a trusted proxy
(:class:`ClientAddress`). An IPv6 client is counted by its /64, which one subscriber usually
holds whole. A token is counted by the SHA-256 of what the request presents, so the limit holds
before (and whether or not) the token is valid; an unknown one is refused by the handler.

Where each limit applies: aiohttp's requests pass :func:`middleware`; the read front
(``api/front.py``) asks :meth:`Limits.front_read` before it answers a polled read itself and,
when that says no, hands the request to aiohttp, whose middleware then answers 429 (nothing is
counted twice: the front takes from the bucket only when it answers). The front answers only
requests without ``Authorization``, so only the per-address read limit concerns it.

Memory: every limit keeps at most ``--rate-limit-keys`` buckets; the least recently seen key
is forgotten first (it then starts again with a full bucket, as a new client does). Stream
counts hold only keys with a stream open. Each server process counts its own requests: with
``--workers N`` a client may get up to N times each limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import math
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from tryvoga.api.front import FRONT_LIMIT
from tryvoga.errors import TryvogaError
from tryvoga.settings import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

READ_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
STREAMS = frozenset(("/api/v1/stream", "/api/v1/stream.ndjson", "/api/v1/ws"))
UNLIMITED = frozenset(("/healthz", "/readyz", "/metrics"))
FACADES = ("/v1/", "/v2/", "/api/v3/")  # limited by their own gate (compat_common.py)
STREAM_RETRY_AFTER = 10  # seconds: when a stream of the same client may have ended
REFUSAL_PAUSE = 1.0  # seconds before an address over its own limit is answered its 429


class TooManyRequests(TryvogaError):
    status = 429
    default_code = "rate_limited"

    def __init__(self, message: str, retry_after: float, *, code: str | None = None,
                 from_address: bool = False) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, math.ceil(retry_after))
        self.from_address = from_address  # an address's own limit (answered after a pause)


class RateLimiter:
    """Token buckets: ``per_minute`` requests a minute per key, bursts up to the same number.

    At most ``max_keys`` buckets are kept, in the order their keys were last used; one more
    forgets the least recently used (a forgotten key starts again with a full bucket).
    Every call is O(1).
    """

    def __init__(self, per_minute: int, max_keys: int = 100_000) -> None:
        self.capacity = float(per_minute)
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def level(self, key: str, now: float) -> float:
        tokens, then = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - then) * self.rate)

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` may make a request; 0 if it may now."""
        if not self.enabled:
            return 0.0
        tokens = self.level(key, now)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, key: str, now: float) -> None:
        if not self.enabled:
            return
        self.put(key, self.level(key, now) - 1, now)

    def put(self, key: str, tokens: float, now: float) -> None:
        """Set ``key``'s bucket to ``tokens`` (its level at ``now``, less what is taken)."""
        buckets = self._buckets
        buckets[key] = (tokens, now)
        buckets.move_to_end(key)
        while len(buckets) > self.max_keys:
            buckets.popitem(last=False)


# A budget counts the read front's requests ahead (``take_both``) only while it has room for
# this many times as many, so that what is counted ahead and not yet used is a small part of
# what it has left.
LEND_ROOM = 64


def take_both(limits: tuple[tuple[RateLimiter, str], ...], now: float, most: int) -> int:
    """Count up to ``most`` requests in each ``(limiter, key)`` bucket at once, the same
    number in each, or none: 0 if any has no room for one; more than one only while each has
    room for ``LEND_ROOM`` times as many. A disabled limiter counts nothing."""
    count = most
    levels = []
    for limiter, key in limits:
        if limiter.enabled:
            left = limiter.level(key, now)
            if left < 1:
                return 0
            count = min(count, max(1, int(left) // LEND_ROOM))
            levels.append((limiter, key, left))
    for limiter, key, left in levels:
        limiter.put(key, left - count, now)
    return count


def give_both(limits: tuple[tuple[RateLimiter, str], ...], now: float, count: int) -> None:
    """Hand back ``count`` requests that ``take_both`` counted and no request made."""
    for limiter, key in limits:
        if limiter.enabled and key in limiter._buckets:  # a forgotten bucket is full already
            limiter.put(key, min(limiter.capacity, limiter.level(key, now) + count), now)


class Slots:
    """Open things (streams) per key, at most ``most`` each (0: no limit)."""

    def __init__(self, most: int) -> None:
        self.most = most
        self.open: dict[str, int] = {}

    def acquire(self, key: str) -> bool:
        count = self.open.get(key, 0)
        if self.most and count >= self.most:
            return False
        self.open[key] = count + 1
        return True

    def release(self, key: str) -> None:
        count = self.open.get(key, 0) - 1
        if count > 0:
            self.open[key] = count
        else:
            self.open.pop(key, None)


_FORWARDED = re.compile(rb"^x-forwarded-for:([^\r]*)\r$", re.IGNORECASE | re.MULTILINE)


class ClientAddress:
    """Who the client is: the peer, or what trusted proxies say in ``X-Forwarded-For``."""

    def __init__(self, proxies: tuple[str, ...]) -> None:
        self.proxies = [ipaddress.ip_network(p) for p in proxies]
        self._trusted: dict[str, bool] = {}

    def trusted(self, address: str) -> bool:
        if not self.proxies:
            return False
        found = self._trusted.get(address)
        if found is None:
            try:
                ip = ipaddress.ip_address(address.split("%", 1)[0])
                found = any(ip in network for network in self.proxies)
            except ValueError:
                found = False
            if len(self._trusted) < 4096:  # proxies are few; anyone else is not cached
                self._trusted[address] = found
        return found

    def of(self, peer: str, forwarded: str | None) -> str:
        """The client's address: ``peer``, or from ``forwarded`` when ``peer`` is a trusted
        proxy (the rightmost hop no trusted proxy added; the leftmost if all are)."""
        if not forwarded or not self.trusted(peer):
            return peer
        client = peer
        for hop in reversed(forwarded.split(",")):
            hop = hop.strip()
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break  # a hop no proxy of ours wrote: stop at the last good one
            client = hop
            if not self.trusted(hop):
                break
        return client


def address_key(address: str) -> str:
    """What a per-address limit counts: the IPv4 address, or the /64 of an IPv6 one."""
    if ":" not in address:
        return address
    try:
        ip = ipaddress.IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))


def token_key(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    secret = header[7:].strip()
    if not secret:
        return None
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class _Kind:
    name: str  # "reads" or "writes"
    by_address: RateLimiter
    by_token: RateLimiter


class Limits:
    """Every limit of one server process."""

    def __init__(self, settings: Settings) -> None:
        keys = settings.rate_limit_keys
        self.reads = _Kind("reads", RateLimiter(settings.read_rate_address, keys),
                           RateLimiter(settings.read_rate_token, keys))
        self.writes = _Kind("writes", RateLimiter(settings.write_rate_address, keys),
                            RateLimiter(settings.write_rate_token, keys))
        self.streams_by_address = Slots(settings.streams_per_address)
        self.streams_by_token = Slots(settings.streams_per_token)
        self.client = ClientAddress(settings.trusted_proxies)
        self.clock: Callable[[], float] = time.monotonic
        self.refused = 0

    @property
    def enabled(self) -> bool:
        return any((self.reads.by_address.enabled, self.reads.by_token.enabled,
                    self.writes.by_address.enabled, self.writes.by_token.enabled,
                    self.streams_by_address.most, self.streams_by_token.most))

    def client_of(self, request: web.Request) -> str:
        """The client's address (``X-Forwarded-For`` of a trusted proxy, else the peer)."""
        peer = request.remote or "unknown"
        forwarded = None
        if self.client.proxies:
            values = request.headers.getall("X-Forwarded-For", [])
            forwarded = ",".join(values) if values else None
        return self.client.of(peer, forwarded)

    def address_of(self, request: web.Request) -> str:
        """The key a per-address limit counts the request under."""
        return address_key(self.client_of(request))

    def admit(self, kind: _Kind, address: str, token: str | None) -> None:
        """Count one request, or raise 429 (counting nothing) if a bucket is empty."""
        now = self.clock()
        wait = kind.by_address.wait(address, now)
        if wait > 0:
            self.refused += 1
            raise TooManyRequests(f"too many {kind.name} from your address: at most "
                                  f"{kind.by_address.per_minute} a minute", wait,
                                  from_address=True)
        if token is not None:
            wait = kind.by_token.wait(token, now)
            if wait > 0:
                self.refused += 1
                raise TooManyRequests(f"too many {kind.name} with this token: at most "
                                      f"{kind.by_token.per_minute} a minute", wait)
            kind.by_token.take(token, now)
        kind.by_address.take(address, now)

    def front_read(self, peername: object, head: bytes) -> bool:
        """For the read front: may ``peername`` (with these header lines) be answered a read
        now? Counts it if so; if not, counts nothing (aiohttp then answers the 429)."""
        peer = (str(peername[0]) if isinstance(peername, tuple) and peername
                else "unknown")
        forwarded = None
        if self.client.proxies and self.client.trusted(peer):
            values = _FORWARDED.findall(head)
            forwarded = b",".join(values).decode("latin-1") if values else None
        address = address_key(self.client.of(peer, forwarded))
        limiter = self.reads.by_address
        now = self.clock()
        if limiter.wait(address, now) > 0:
            return False
        limiter.take(address, now)
        return True

    def open_stream(self, request: web.Request, address: str, token: str | None) -> None:
        """Take a slot of the stream's address and of its token, or raise 429 (taking none).

        The slots are held in the request (``STREAM_SLOTS``) until the stream's handler
        gives them back with :func:`release_stream` when it ends, however it ends: no frame
        waits for the stream's whole life to give them back (each would cost every open
        stream its memory; docs/performance.md)."""
        if not self.streams_by_address.acquire(address):
            self.refused += 1
            raise TooManyRequests(f"too many open streams from your address: at most "
                                  f"{self.streams_by_address.most}", STREAM_RETRY_AFTER,
                                  code="too_many_streams")
        if token is not None and not self.streams_by_token.acquire(token):
            self.streams_by_address.release(address)
            self.refused += 1
            raise TooManyRequests(f"too many open streams with this token: at most "
                                  f"{self.streams_by_token.most}", STREAM_RETRY_AFTER,
                                  code="too_many_streams")
        request[STREAM_SLOTS] = (self, address, token)

    def close_stream(self, address: str, token: str | None) -> None:
        if token is not None:
            self.streams_by_token.release(token)
        self.streams_by_address.release(address)


Held = tuple[Limits, str, str | None]  # a stream's slots: its limits, address and token
# A request's key: the stream slots it holds.
STREAM_SLOTS: web.RequestKey[Held] = web.RequestKey("tryvoga.limits.stream_slots")


def release_stream(request: web.Request) -> None:
    """Give back the stream slots ``request`` holds, if any (once: a second call does
    nothing). Every stream handler calls it when it ends, in a ``finally``."""
    held = take_stream_slots(request)
    if held is not None:
        give_back(held)


def take_stream_slots(request: web.Request) -> Held | None:
    """The stream slots ``request`` holds, taken from it, for ``give_back``. For a stream
    whose handler returns before the stream ends (it hands its connection over,
    ``api/streams.py``); ``release_stream`` then does nothing."""
    held: Held | None = request.pop(STREAM_SLOTS, None)
    return held


def give_back(held: Held) -> None:
    """Give back the stream slots ``take_stream_slots`` took."""
    limits, address, token = held
    limits.close_stream(address, token)


LIMITS = web.AppKey("limits", Limits)


@web.middleware
def middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Count the request, or raise 429 (``errors`` in api/app.py answers it in the one shape,
    ``ops.instrumented`` counts it). A plain function that returns the handler's coroutine
    for aiohttp to await: it keeps no frame of its own while a request (a stream: for its
    whole life) runs."""
    path = request.path
    if path in UNLIMITED or path.startswith(FACADES):
        return handler(request)
    limits = request.app[LIMITS]
    address = limits.address_of(request)
    token = token_key(request)
    try:
        limits.admit(limits.reads if request.method in READ_METHODS else limits.writes,
                     address, token)
    except TooManyRequests as refused:
        if refused.from_address:
            return _after_a_pause(refused)
        raise
    if path in STREAMS:
        limits.open_stream(request, address, token)
        try:
            return handler(request)
        except BaseException:
            release_stream(request)
            raise
    return handler(request)


async def _after_a_pause(refused: TooManyRequests) -> web.StreamResponse:
    """An address over its limit is answered its 429 after ``REFUSAL_PAUSE`` seconds (or its
    Retry-After, if sooner): a client that sends again as soon as it is answered then costs a
    request a second per connection, not a core (``--connections-per-address`` bounds the
    connections). Its connection is idle meanwhile; nothing else waits."""
    await asyncio.sleep(min(REFUSAL_PAUSE, refused.retry_after))
    raise refused


def install(app: web.Application, settings: Settings) -> Limits:
    """Put the limits of ``settings`` on ``app``: the middleware when any limit is set, and
    the read front's check when reads per address are limited."""
    limits = Limits(settings)
    app[LIMITS] = limits
    if limits.enabled:
        app.middlewares.append(middleware)
    if limits.reads.by_address.enabled:
        app[FRONT_LIMIT] = limits.front_read
    return limits


__all__ = [
    "LIMITS",
    "STREAM_SLOTS",
    "ClientAddress",
    "Limits",
    "RateLimiter",
    "Slots",
    "TooManyRequests",
    "address_key",
    "give_back",
    "install",
    "middleware",
    "release_stream",
    "take_stream_slots",
    "token_key",
]
