"""Bearer tokens: looked up off the event loop, and a read's token remembered a few seconds.

Every database lookup of a token (``Service.authenticate``: its hash, then whether it is an
automated source) runs on a small thread pool of its own, never on the event loop that serves
every reader and stream, and never on the shared executor that the log follower and the other
reads use: a flood of made-up tokens, or a database that stopped answering, ties up at most
``THREADS`` threads, and a request waits at most ``LOOKUP_TIMEOUT`` seconds before it is
answered 503 with ``Retry-After``. While the database is unreachable the pool fails fast
(``storage/engine.py``), so lookups answer 503 at once rather than queueing.

Pollers send their token with every read, many times a minute each, and the read front answers
those reads without aiohttp and must never wait for the database. So a token that was found is
remembered, in this process, for ``TTL`` seconds, and while it is used it is looked up again
(on the pool) whenever its last lookup is ``REFRESH`` seconds old. The bounds on seeing a
revocation (or any change of the token) are therefore:

* writes, and whatever else needs a token (webhook registrations, the token's own listings):
  none; they always look the token up afresh (:meth:`Tokens.fresh`), so a token revoked on
  any node is refused by every node from the revocation's commit on;
* reads: ``TTL`` seconds at most, and one lookup later (``REFRESH``, a few seconds) for a
  token in steady use.

Requests with the same token share a lookup that is queued and has not started (never one
that has: each is answered from a read made after it arrived), so a flood of writes with one
token queues one lookup at a time, and another token's lookup waits behind one per token, not
one per request (before: 2,000 concurrent writes from four tokens put an authority's lookup
behind all of them).

:meth:`Tokens.cached` never touches the database (the front uses it; a miss makes the front
look the token up with :meth:`Tokens.fetch`, then ask again). Only tokens that exist are
remembered, and at most ``MAX_TOKENS`` of them; an unknown token costs its lookup every time
(the limits bound how often).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tryvoga.errors import Unauthorized
from tryvoga.service import Actor, Service
from tryvoga.storage.engine import DatabaseUnavailable

log = logging.getLogger(__name__)

THREADS = 4  # lookups at once, per server process
LOOKUP_TIMEOUT = 2.0  # seconds a request waits for its token's lookup
TTL = 30.0  # seconds a found token is taken as valid for reads without a new lookup
REFRESH = 2.5  # seconds after a lookup from which a use of the token looks it up again
MAX_TOKENS = 10_000


class _Lookup:
    """One lookup of a token on the pool; ``started`` is set on the pool's thread before it
    reads the database, so a request that saw it unset arrived before that read."""

    __slots__ = ("future", "started")

    def __init__(self) -> None:
        self.started = False
        self.future: asyncio.Future[Actor]

    def run(self, authenticate: Callable[[str], Actor], secret: str) -> Actor:
        self.started = True
        return authenticate(secret)


class Tokens:
    """The token checks of one server process."""

    def __init__(self, service: Service, *, threads: int = THREADS, ttl: float = TTL,
                 refresh: float = REFRESH, max_tokens: int = MAX_TOKENS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.ttl = ttl
        self.refresh = refresh
        self.max_tokens = max_tokens
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=threads,
                                        thread_name_prefix="tryvoga-tokens")
        self._found: dict[str, tuple[Actor, float]] = {}  # secret → (actor, when found)
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._queued: dict[str, _Lookup] = {}  # secret → its newest lookup

    def cached(self, secret: str) -> Actor | None:
        """The token's actor if it was found less than ``ttl`` seconds ago; None otherwise
        (unknown here: not a refusal). Never asks the database; a use after ``refresh``
        seconds starts a lookup in the background."""
        hit = self._found.get(secret)
        if hit is None:
            return None
        age = self.clock() - hit[1]
        if age >= self.ttl:
            return None
        if age >= self.refresh and secret not in self._refreshing:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return hit[0]  # no loop to look it up on: it expires as it is
            self._refreshing[secret] = loop.create_task(self._refresh(secret))
        return hit[0]

    async def lookup(self, secret: str | None) -> Actor:
        """A read's token: remembered, else looked up; ``Unauthorized`` for none, an unknown
        or a revoked one; ``DatabaseUnavailable`` when it cannot be checked now."""
        if secret:
            actor = self.cached(secret)
            if actor is not None:
                return actor
        return await self.fresh(secret)

    async def fresh(self, secret: str | None) -> Actor:
        """The token looked up in the database now (and remembered for reads)."""
        if not secret:
            raise Unauthorized("this needs a bearer token: Authorization: Bearer <token>",
                               code="token_missing")
        actor = await self._authenticate(secret)
        self._remember(secret, actor)
        return actor

    async def fetch(self, secret: str) -> None:
        """Look ``secret`` up and remember it if it is a token (the read front waits for this
        instead of handing a connection to aiohttp for a token it does not know yet)."""
        try:
            await self.fresh(secret)
        except (Unauthorized, DatabaseUnavailable):
            return  # aiohttp answers the request: 401, or 503

    async def _authenticate(self, secret: str) -> Actor:
        # Requests with the same token share a lookup that has not started yet, and only
        # such a one: each is then answered from a read of the database made after it
        # arrived, and a flood with one token queues one lookup, not one per request, so
        # that another token's lookup waits behind a lookup per token, not per request.
        lookup = self._queued.get(secret)
        if lookup is None or lookup.started:
            lookup = self._queued[secret] = _Lookup()
            lookup.future = asyncio.get_running_loop().run_in_executor(
                self._pool, functools.partial(lookup.run, self.service.authenticate, secret))
            lookup.future.add_done_callback(functools.partial(self._done, secret, lookup))
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                return await asyncio.shield(lookup.future)  # one waiter's timeout is its own
        except TimeoutError:
            raise DatabaseUnavailable(
                f"the token could not be checked within {LOOKUP_TIMEOUT:g} s (the database "
                "does not answer)") from None

    def _done(self, secret: str, lookup: _Lookup, _: object) -> None:
        if self._queued.get(secret) is lookup:
            del self._queued[secret]

    async def _refresh(self, secret: str) -> None:
        try:
            actor = await self._authenticate(secret)
            self._found[secret] = (actor, self.clock())
        except Unauthorized:
            self._found.pop(secret, None)  # revoked: refused from the next request on
        except Exception:
            log.warning("could not look a token up again; it expires as it is", exc_info=True)
        finally:
            self._refreshing.pop(secret, None)

    def _remember(self, secret: str, actor: Actor) -> None:
        if len(self._found) >= self.max_tokens:
            now = self.clock()
            self._found = {k: v for k, v in self._found.items() if now - v[1] < self.ttl}
            if len(self._found) >= self.max_tokens:
                self._found.clear()
        self._found[secret] = (actor, self.clock())

    def forget(self) -> None:
        """Forget every token (after a revocation in this process, say)."""
        self._found.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["LOOKUP_TIMEOUT", "MAX_TOKENS", "REFRESH", "THREADS", "TTL", "Tokens"]
