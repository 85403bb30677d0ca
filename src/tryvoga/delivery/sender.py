"""Outbound HTTP for webhooks: one pooled aiohttp client with the safety rules built in.

aiohttp's client was chosen by measurement (bench/RESULTS.md, "Webhooks"). Every request has
a connect timeout and a read timeout and an overall cap of both, follows no redirect (a 3xx is
a failed attempt), reads at most ``MAX_RESPONSE`` bytes of the answer, and goes only to
addresses the ``Policy`` allows. Nothing raises out of ``post``: every failure is an
``Answer`` with its error text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import aiohttp
from yarl import URL

from tryvoga import __version__
from tryvoga.delivery.safety import DestinationRefused, Policy, SafeResolver, literal_ip

log = logging.getLogger(__name__)

MAX_RESPONSE = 65536  # bytes of a receiver's answer read before the connection is dropped
USER_AGENT = f"Tryvoga-Webhooks/{__version__}"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int | None
    latency_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Sender:
    def __init__(self, policy: Policy, *, connect_timeout: float, read_timeout: float,
                 concurrency: int) -> None:
        self.policy = policy
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._timeout = aiohttp.ClientTimeout(total=connect_timeout + read_timeout,
                                              sock_connect=connect_timeout,
                                              sock_read=read_timeout)
        connector = aiohttp.TCPConnector(resolver=SafeResolver(policy), limit=concurrency,
                                         ttl_dns_cache=10)
        self._targets: dict[str, tuple[URL, str | None]] = {}
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(), headers={"User-Agent": USER_AGENT})

    async def close(self) -> None:
        await self.session.close()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        start = time.perf_counter()
        try:
            target, refusal = self._target(url)
            if refusal is not None:
                return Answer(None, 0.0, refusal)
            async with self.session.post(target, data=body, headers=headers,
                                         allow_redirects=False) as response:
                status = response.status
                snippet = await self._read_bounded(response)
            latency = (time.perf_counter() - start) * 1000
            if 200 <= status < 300:
                return Answer(status, latency, None)
            if 300 <= status < 400:
                where = response.headers.get("Location", "")
                return Answer(status, latency, f"HTTP {status}: redirects are not followed"
                              f"{' (to ' + where[:200] + ')' if where else ''}")
            text = snippet.decode("utf-8", "replace").strip()
            return Answer(status, latency, f"HTTP {status}{': ' + text[:200] if text else ''}")
        except Exception as exc:  # a failed delivery is data, never a crash
            latency = (time.perf_counter() - start) * 1000
            return Answer(None, latency, self._describe(exc))

    def _target(self, url: str) -> tuple[URL, str | None]:
        """The parsed URL, and why it is refused if its host is a disallowed IP literal
        (names are checked by the resolver). Cached: the same URLs come again and again."""
        found = self._targets.get(url)
        if found is None:
            if len(self._targets) > 10000:
                self._targets.clear()
            target = URL(url)
            literal = literal_ip(target.host or "")
            refusal = None
            if literal is not None and not self.policy.allows(literal):
                refusal = f"refused: {self.policy.why_refused(str(literal))}"
            found = self._targets[url] = (target, refusal)
        return found

    async def _read_bounded(self, response: aiohttp.ClientResponse) -> bytes:
        kept = b""
        received = 0
        while True:
            chunk = await response.content.read(16384)
            if not chunk:
                return kept
            received += len(chunk)
            if len(kept) < 512:
                kept += chunk[:512 - len(kept)]
            if received > MAX_RESPONSE:
                response.close()  # drop the connection rather than read on
                return kept

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error,
                                                                       DestinationRefused):
            return f"refused: {exc.os_error}"
        if isinstance(exc, DestinationRefused):
            return f"refused: {exc}"
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return f"timed out connecting after {self.connect_timeout:g} s"
        if isinstance(exc, aiohttp.SocketTimeoutError | asyncio.TimeoutError):
            return f"timed out waiting for the answer after {self.read_timeout:g} s"
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc.os_error.strerror or str(exc.os_error)
            return f"cannot connect to {exc.host}:{exc.port}: {reason}"
        if isinstance(exc, aiohttp.ClientError):
            return f"{type(exc).__name__}: {exc}"[:300]
        log.warning("unexpected webhook delivery error", exc_info=exc)
        return f"unexpected error: {type(exc).__name__}: {exc}"[:300]
