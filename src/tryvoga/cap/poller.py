"""The server's periodic poll of the configured CAP sources (``--cap-feeds``).

Each source is a CAP message or an Atom/RSS feed of them. A feed is fetched with its last
validators (304 costs nothing); an entry already handled (same id and updated time) is not
fetched again. Messages are ingested on the writer thread, one at a time, through the Service;
several server processes polling the same feed change nothing twice, because every command
carries an idempotency key made from the message's identifier. A failed fetch is logged and
tried again at the next poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from tryvoga.cap.ingest import Ingester, Outcome
from tryvoga.cap.parse import CapRejected, is_cap, parse_xml
from tryvoga.cap.sources import Fetched, Item, fetch, items
from tryvoga.domain.events import Event

log = logging.getLogger(__name__)


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
        root = parse_xml(fetched.body, f"document at {url}")
        digest = hashlib.sha256(fetched.body).hexdigest()
        found = ([Item(f"{url}|{digest}", None, fetched.body)] if is_cap(root)
                 else items(root, url))
        handled = self._handled.get(url, {})
        now_handled: dict[str, str] = {}
        outcomes = []
        for item in found:
            if item.key in handled:
                now_handled[item.key] = handled[item.key]
                continue
            try:
                data = item.inline
                if data is None:
                    assert item.url is not None
                    body = (await self._fetch(item.url)).body
                    assert body is not None
                    data = body
            except CapRejected as exc:
                log.warning("CAP source %s: %s", url, exc.message)
                continue  # not marked handled: tried again next time
            outcome: Outcome = await self._on_writer(self.ingester.ingest_bytes, data)
            if outcome.events:
                self._advance(outcome.events)
            level = logging.WARNING if outcome.verdict == "rejected" else logging.INFO
            log.log(level, "CAP %s from %s", outcome.line(), item.url or url)
            now_handled[item.key] = outcome.verdict
            outcomes.append(outcome)
        # Only the entries the source still lists are remembered: the memory stays bounded.
        self._handled[url] = now_handled
        self._validators[url] = (fetched.etag, fetched.last_modified)
        return outcomes
