"""The server's periodic poll of the configured CAP sources (``--cap-feeds``).

Each source is a CAP message or an Atom/RSS feed of them, paged or not (RFC 5005 ``next``
links are followed, see ``sources.read_pages``). A feed is fetched with its last validators
(304 costs nothing); an entry already handled (same id and updated time) is not fetched again.
Messages are ingested on the writer thread, one at a time, through the Service; several server
processes polling the same feed change nothing twice, because every command carries an
idempotency key made from the message's identifier.

An entry is handled when its message was ingested, ignored (seen before, expired, nothing to
do) or rejected for what it says or for a link that is no URL: asking again would give the same
answer. A fetch that failed (an HTTP error, a refused connection, a page of the feed that could
not be read) or a write that failed part-way is not handled: it is logged, and the feed's
validators are not kept, so the next poll reads the feed again and tries the entry again.

Fetching (issue 15) is the event loop's own (aiohttp), never a thread: every fetch has one
deadline for the whole answer (``TRYVOGA_CAP_FETCH_TIMEOUT``; a peer that sends a byte now
and then does not hold the poller past it, and the next feed is polled) and a size cap, and
stopping the server cancels a fetch at once. A feed's entries are fetched only from the feed's
own server (scheme, host and port) or from a host named in ``TRYVOGA_CAP_LINK_HOSTS``; such a
host goes through the webhooks' address checks (``delivery/safety.py``: only public addresses
unless ``TRYVOGA_WEBHOOK_ALLOW_NETWORKS`` allows a range). Any other link rejects its entry, so
a compromised feed cannot aim the server at arbitrary addresses.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from tryvoga.cap.ingest import Ingester, Outcome
from tryvoga.cap.parse import CapRejected, is_cap, parse_xml
from tryvoga.cap.sources import (
    Feed,
    Fetched,
    FetchFailed,
    Item,
    fetch_async,
    origin,
    read_pages_async,
)
from tryvoga.delivery.safety import Policy, SafeResolver, literal_ip
from tryvoga.domain.events import Event

log = logging.getLogger(__name__)


class Poller:
    def __init__(self, urls: Sequence[str], interval: float, ingester: Ingester,
                 on_writer: Callable[..., Any], advance: Callable[[Sequence[Event]], Any],
                 *, deadline: float = 30.0, link_hosts: Sequence[str] = (),
                 allow_networks: Sequence[str] = ()) -> None:
        self.urls = tuple(urls)
        self.deadline = deadline
        self.link_hosts = frozenset(h.lower() for h in link_hosts)
        self.policy = Policy(allow_networks)
        self._plain: aiohttp.ClientSession | None = None  # the configured feeds' servers
        self._checked: aiohttp.ClientSession | None = None  # TRYVOGA_CAP_LINK_HOSTS
        self.interval = interval
        self.ingester = ingester
        self._on_writer = on_writer  # runs a call on the writer thread, awaitable
        self._advance = advance  # hands appended events to the read side
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self._handled: dict[str, dict[str, str]] = {}  # source → entry key → verdict
        self.polls = 0

    async def run(self) -> None:
        try:
            while True:
                for url in self.urls:
                    try:
                        await self.poll(url)
                    except CapRejected as exc:
                        log.warning("CAP source %s: %s", url, exc.message)
                    except Exception:
                        log.exception("CAP source %s: poll failed", url)
                self.polls += 1
                await asyncio.sleep(self.interval)
        finally:
            await self.close()

    async def close(self) -> None:
        for session in (self._plain, self._checked):
            if session is not None:
                await session.close()
        self._plain = self._checked = None

    def _session(self, checked: bool) -> aiohttp.ClientSession:
        if checked:
            if self._checked is None:
                connector = aiohttp.TCPConnector(resolver=SafeResolver(self.policy))
                self._checked = aiohttp.ClientSession(
                    connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar())
            return self._checked
        if self._plain is None:
            self._plain = aiohttp.ClientSession(trust_env=False,
                                                cookie_jar=aiohttp.DummyCookieJar())
        return self._plain

    async def _fetch(self, url: str, etag: str | None = None,
                     last_modified: str | None = None, *, checked: bool = False) -> Fetched:
        return await fetch_async(self._session(checked), url, deadline=self.deadline,
                                 etag=etag, last_modified=last_modified)

    async def _get(self, url: str) -> bytes:
        body = (await self._fetch(url)).body
        assert body is not None  # asked without validators: never "not modified"
        return body

    def _link_allowed(self, source: str, link: str) -> bool | None:
        """True: the feed's own server; False: a host of TRYVOGA_CAP_LINK_HOSTS (fetched with
        the address checks); None: refused."""
        if origin(link) == origin(source):
            return True
        if origin(link)[1] in self.link_hosts:
            if literal_ip(origin(link)[1]) is not None and not self.policy.allows(
                    origin(link)[1]):
                return None
            return False
        return None

    async def poll(self, url: str) -> list[Outcome]:
        etag, modified = self._validators.get(url, (None, None))
        fetched = await self._fetch(url, etag, modified)
        if fetched.body is None:
            return []
        root = parse_xml(fetched.body)
        if is_cap(root):
            digest = hashlib.sha256(fetched.body).hexdigest()
            feed = Feed([Item(f"{url}|{digest}", None, fetched.body)])
        else:
            feed = await read_pages_async(root, url, self._get)
        for page, why in feed.problems:
            log.warning("CAP source %s: page %s not read, the feed is read again at the next "
                        "poll: %s", url, page, why)
        handled = self._handled.get(url, {})
        now_handled: dict[str, str] = {}
        outcomes = []
        all_taken = True
        for item in feed.items:
            if item.key in handled:
                now_handled[item.key] = handled[item.key]
                continue
            outcome = await self._take(url, item)
            if outcome is None:
                all_taken = False  # not marked handled: tried again next time
                continue
            now_handled[item.key] = outcome.verdict
            outcomes.append(outcome)
        # Only the entries the source still lists are remembered, so the memory stays bounded;
        # with pages missing, what it lists is not known, and nothing is forgotten.
        self._handled[url] = now_handled if feed.complete else {**handled, **now_handled}
        if feed.complete and all_taken:
            self._validators[url] = (fetched.etag, fetched.last_modified)
        else:
            self._validators.pop(url, None)
        return outcomes

    async def _take(self, url: str, item: Item) -> Outcome | None:
        """The outcome of one entry, logged in one line; None when it is to be tried again."""
        if item.problem is not None:
            outcome = Outcome(item.where, "rejected", item.problem)
            log.warning("CAP %s (in %s)", outcome.line(), url)
            return outcome
        data = item.inline
        if data is None:
            assert item.url is not None
            own = self._link_allowed(url, item.url)
            if own is None:
                outcome = Outcome(item.url, "rejected",
                                  "the entry's link is not on the feed's host (nor in "
                                  "TRYVOGA_CAP_LINK_HOSTS)")
                log.warning("CAP %s (in %s)", outcome.line(), url)
                return outcome
            try:
                data = (await self._fetch(item.url, checked=not own)).body
            except FetchFailed as exc:
                log.warning("CAP source %s: entry %s not fetched, tried again at the next "
                            "poll: %s", url, item.url, exc.message)
                return None
            except CapRejected as exc:
                outcome = Outcome(item.url, "rejected", exc.message)
                log.warning("CAP %s (in %s)", outcome.line(), url)
                return outcome
            assert data is not None
        try:
            outcome = await self._on_writer(self.ingester.ingest_bytes, data)
        except Exception:
            log.exception("CAP source %s: entry %s not taken, tried again at the next poll",
                          url, item.where)
            return None
        if outcome.events:
            self._advance(outcome.events)
        level = logging.WARNING if outcome.verdict == "rejected" else logging.INFO
        again = " (tried again at the next poll)" if outcome.retry else ""
        log.log(level, "CAP %s from %s%s", outcome.line(), item.url or url, again)
        return None if outcome.retry else outcome
