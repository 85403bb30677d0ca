"""Bearer tokens, checked off the event loop.

A request's token is looked up in the database (``Service.authenticate``: its hash, then
whether it is an automated source) on a small thread pool of its own, never on the event loop
that serves every reader and stream, and never on the shared executor that the log follower
and the other reads use: a flood of made-up tokens, or a database that stopped answering,
ties up at most ``THREADS`` threads, and each request waits at most ``LOOKUP_TIMEOUT`` seconds
before it is answered 503 with ``Retry-After``.

Every request reads the token's row as committed, so a token revoked on any node (or with
``tryvoga token revoke``) is refused by every node from the revocation's commit on: the bound
on seeing a revocation is zero, which an in-memory cache could not give. The price is one
indexed read per authenticated request, as before; polled public reads carry no token and
cost nothing here. While the database is unreachable the pool fails fast
(``storage/engine.py``), so lookups answer 503 at once rather than queueing.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor

from tryvoga.errors import Unauthorized
from tryvoga.service import Actor, Service
from tryvoga.storage.engine import DatabaseUnavailable

THREADS = 4  # lookups at once, per server process
LOOKUP_TIMEOUT = 2.0  # seconds a request waits for its token's lookup


class Tokens:
    """The token checks of one server process."""

    def __init__(self, service: Service, *, threads: int = THREADS) -> None:
        self.service = service
        self._pool = ThreadPoolExecutor(max_workers=threads,
                                        thread_name_prefix="tryvoga-tokens")

    async def authenticate(self, secret: str | None) -> Actor:
        """The token's actor; 401 for none, an unknown or a revoked one; 503 when it cannot
        be checked now."""
        if not secret:
            raise Unauthorized("this needs a bearer token: Authorization: Bearer <token>",
                               code="token_missing")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool,
                                      functools.partial(self.service.authenticate, secret))
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                return await future
        except TimeoutError:
            raise DatabaseUnavailable(
                f"the token could not be checked within {LOOKUP_TIMEOUT:g} s (the database "
                "does not answer)") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["LOOKUP_TIMEOUT", "THREADS", "Tokens"]
