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
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from tryvoga.cap.ingest import Ingester, Outcome
from tryvoga.cap.parse import CapRejected, is_cap, parse_xml
from tryvoga.cap.sources import Feed, Fetched, FetchFailed, Item, fetch, read_pages
from tryvoga.domain.events import Event

log = logging.getLogger(__name__)


def _get(url: str) -> bytes:
    body = fetch(url).body
    assert body is not None  # asked without validators: never "not modified"
    return body


class Poller:
    def __init__(self, urls: Sequence[str], interval: float, ingester: Ingester,
                 on_writer: Callable[..., Any], advance: Callable[[Sequence[Event]], Any]
                 ) -> None:
        self.urls = tuple(urls)
        self.interval = interval
        self.ingester = ingester
        self._on_writer = on_writer  # runs a call on the writer thread, awaitable
        self._advance = advance  # hands appended events to the read side
        self._validators: dict[str, tuple[str | None, str | None]] = {}
        self._handled: dict[str, dict[str, str]] = {}  # source → entry key → verdict
        self.polls = 0

    async def run(self) -> None:
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

    async def _fetch(self, url: str, etag: str | None = None,
                     last_modified: str | None = None) -> Fetched:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, lambda: fetch(url, etag=etag, last_modified=last_modified))

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
            loop = asyncio.get_running_loop()
            feed = await loop.run_in_executor(None, partial(read_pages, root, url, _get))
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
            try:
                data = (await self._fetch(item.url)).body
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
