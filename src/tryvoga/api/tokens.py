"""Who a read's token belongs to, without a database query per request.

Pollers send their token with every read, many times a minute each. Looking it up in the
database each time would put a query on the event loop per read (and the read front, which
answers those reads without aiohttp, must never wait for one). So a token that was found is
remembered, in this process, for ``TTL`` seconds, and while it is used it is looked up again,
off the event loop, whenever its last look-up is ``REFRESH`` seconds old: a token revoked (or
changed) is refused by reads at most ``TTL`` seconds later on every worker, and a token in
steady use one look-up later (a few seconds). Writes always look the token up afresh
(``Context.actor(required=True)``), so a revoked token never writes.

``cached`` never touches the database (the front uses it; a miss sends the request to aiohttp,
whose handler calls ``lookup``); ``lookup`` is the cache, then ``Service.authenticate``. Both
are all a caller needs, so where the lookup runs (on the loop or off it) can change behind them.
The look-ups ahead keep a poller's token known for as long as it polls at least every ``TTL``
seconds: the front hands a connection to aiohttp for good at a token it does not know, so a
token expiring under a poller would cost all its later reads aiohttp's price.
Only tokens that exist are remembered, and at most ``MAX_TOKENS`` of them; an unknown token
costs its lookup every time (the façades' per-address limit bounds how often).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tryvoga.errors import Unauthorized
from tryvoga.service import Actor, Service

log = logging.getLogger(__name__)

TTL = 30.0  # seconds a found token is taken as valid without a new look-up
REFRESH = 2.5  # seconds after a look-up from which a use of the token looks it up again
MAX_TOKENS = 10_000


class Tokens:
    def __init__(self, service: Service, ttl: float = TTL, max_tokens: int = MAX_TOKENS,
                 clock: Callable[[], float] = time.monotonic,
                 read: Callable[..., Awaitable[Any]] | None = None,
                 refresh: float = REFRESH) -> None:
        self.service = service
        self.ttl = ttl
        self.refresh = refresh
        self.max_tokens = max_tokens
        self.clock = clock
        self.read = read  # runs a database read off the event loop (Node.read)
        self._found: dict[str, tuple[Actor, float]] = {}  # secret → (actor, when found)
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    def cached(self, secret: str) -> Actor | None:
        """The token's actor if it was found less than ``ttl`` seconds ago; None otherwise
        (unknown here: not a refusal)."""
        hit = self._found.get(secret)
        if hit is None:
            return None
        age = self.clock() - hit[1]
        if age >= self.ttl:
            return None
        if age >= self.refresh and self.read is not None and secret not in self._refreshing:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return hit[0]  # no loop to look it up on: it expires as it is
            self._refreshing[secret] = loop.create_task(self._refresh(secret))
        return hit[0]

    async def fetch(self, secret: str) -> None:
        """Look ``secret`` up off the event loop and remember it if it is a token (the read
        front waits for this instead of handing a connection to aiohttp for an unknown one)."""
        if self.read is None:
            return
        try:
            actor: Actor = await self.read(self.service.authenticate, secret)
        except Unauthorized:
            return
        self._remember(secret, actor)

    async def _refresh(self, secret: str) -> None:
        assert self.read is not None
        try:
            actor: Actor = await self.read(self.service.authenticate, secret)
            self._found[secret] = (actor, self.clock())
        except Unauthorized:
            self._found.pop(secret, None)  # revoked: refused from the next request on
        except Exception:
            log.exception("could not look a token up again; it expires as it is")
        finally:
            self._refreshing.pop(secret, None)

    def lookup(self, secret: str | None) -> Actor:
        """The token's actor, or ``Unauthorized`` (``Service.authenticate``'s errors)."""
        if secret:
            actor = self.cached(secret)
            if actor is not None:
                return actor
        return self.fresh(secret)

    def fresh(self, secret: str | None) -> Actor:
        """Looked up in the database, and remembered."""
        actor = self.service.authenticate(secret)
        assert secret is not None  # authenticate refuses no token
        self._remember(secret, actor)
        return actor

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


__all__ = ["MAX_TOKENS", "REFRESH", "TTL", "Tokens"]
