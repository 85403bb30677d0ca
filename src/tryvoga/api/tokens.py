"""Who a read's token belongs to, without a database query per request.

Pollers send their token with every read, many times a minute each. Looking it up in the
database each time would put a query on the event loop per read (and the read front, which
answers those reads without aiohttp, must never wait for one). So a token that was found is
remembered, in this process, for ``TTL`` seconds: a token revoked (or changed) is refused by
reads at most ``TTL`` seconds later, on every worker. Writes always look the token up afresh
(``Context.actor(required=True)``), so a revoked token never writes.

``cached`` never touches the database (the front uses it; a miss sends the request to aiohttp,
whose handler calls ``lookup``); ``lookup`` is the cache, then ``Service.authenticate``. Both
are all a caller needs, so where the lookup runs (on the loop or off it) can change behind them.
Only tokens that exist are remembered, and at most ``MAX_TOKENS`` of them; an unknown token
costs its lookup every time (the façades' per-address limit bounds how often).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tryvoga.service import Actor, Service

TTL = 5.0  # seconds a found token is taken as valid without looking again
MAX_TOKENS = 10_000


class Tokens:
    def __init__(self, service: Service, ttl: float = TTL, max_tokens: int = MAX_TOKENS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self.ttl = ttl
        self.max_tokens = max_tokens
        self.clock = clock
        self._found: dict[str, tuple[Actor, float]] = {}  # secret → (actor, when found)

    def cached(self, secret: str) -> Actor | None:
        """The token's actor if it was found less than ``ttl`` seconds ago; None otherwise
        (unknown here: not a refusal)."""
        hit = self._found.get(secret)
        if hit is None or self.clock() - hit[1] >= self.ttl:
            return None
        return hit[0]

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
        if len(self._found) >= self.max_tokens:
            now = self.clock()
            self._found = {k: v for k, v in self._found.items() if now - v[1] < self.ttl}
            if len(self._found) >= self.max_tokens:
                self._found.clear()
        self._found[secret] = (actor, self.clock())
        return actor

    def forget(self) -> None:
        """Forget every token (after a revocation in this process, say)."""
        self._found.clear()


__all__ = ["MAX_TOKENS", "TTL", "Tokens"]
