"""Reads' tokens are remembered a few seconds (``api/tokens.py``), writes' never; and the
server's collector freezes what survives a full collection (``collector.py``)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.polling import until
from tryvoga.api.formats import outbox
from tryvoga.api.tokens import Tokens
from tryvoga.collector import Collector
from tryvoga.domain.regions import load_catalogue
from tryvoga.errors import Unauthorized
from tryvoga.service import Service
from tryvoga.storage.sqlite import SQLiteStorage


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    storage = SQLiteStorage(tmp_path / "t.db")
    catalogue = load_catalogue()
    try:
        yield Service(storage, catalogue, outbox=outbox(catalogue))
    finally:
        storage.close()


def run(tokens: Tokens, scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``scenario`` on a loop of its own, then stop the tokens' lookup threads."""
    try:
        asyncio.run(scenario())
    finally:
        tokens.close()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_found_token_is_remembered_for_the_ttl_only(service: Service) -> None:
    record, secret = service.create_token("poller", ["UA"], False)
    clock = Clock()
    # A refresh far beyond the TTL: no lookup ahead, only what the TTL gives.
    tokens = Tokens(service, ttl=5.0, refresh=60.0, max_tokens=3, clock=clock)

    async def scenario() -> None:
        assert tokens.cached(secret) is None  # never looked up: not known, not refused
        assert (await tokens.lookup(secret)).name == "poller"
        assert tokens.cached(secret) is not None
        service.revoke_token(record.id)
        clock.now += 4.9
        assert (await tokens.lookup(secret)).name == "poller"  # within the bound
        clock.now += 0.1
        assert tokens.cached(secret) is None
        with pytest.raises(Unauthorized):
            await tokens.lookup(secret)
        with pytest.raises(Unauthorized):
            await tokens.fresh(None)
        # Unknown tokens are not remembered; known ones at most max_tokens.
        with pytest.raises(Unauthorized):
            await tokens.lookup("tv_nothing")
        secrets = [service.create_token(f"p{i}", ["UA"], False)[1] for i in range(5)]
        for each in secrets:
            await tokens.lookup(each)
        assert sum(tokens.cached(each) is not None for each in secrets) <= 3
        assert tokens.cached(secrets[-1]) is not None

    run(tokens, scenario)


def test_a_token_in_use_is_looked_up_again_before_it_expires(service: Service) -> None:
    """Half the TTL on, a use looks the token up again off the loop: a poller's token stays
    known (the front never hands its connection to aiohttp for it), a revoked one is dropped."""
    record, secret = service.create_token("poller", ["UA"], False)
    clock = Clock()

    tokens = Tokens(service, ttl=5.0, clock=clock, refresh=2.5)

    async def scenario() -> None:
        await tokens.lookup(secret)
        clock.now += 3.0
        assert tokens.cached(secret) is not None  # and a look-up is under way
        await until(lambda: not tokens._refreshing, "the look-up to end")
        clock.now += 3.0  # 6 s after the first look-up, 3 s after the second
        assert tokens.cached(secret) is not None
        await until(lambda: not tokens._refreshing, "the look-up to end")
        service.revoke_token(record.id)
        clock.now += 3.0
        assert tokens.cached(secret) is not None  # still within the bound
        await until(lambda: not tokens._refreshing, "the look-up to end")
        assert tokens.cached(secret) is None  # dropped at the look-up

    run(tokens, scenario)


def test_writes_ask_the_database(service: Service) -> None:
    record, secret = service.create_token("writer", ["UA"], True)
    tokens = Tokens(service)

    async def scenario() -> None:
        assert (await tokens.lookup(secret)).write
        service.revoke_token(record.id)
        assert tokens.cached(secret) is not None  # a read would still take it
        with pytest.raises(Unauthorized):
            await tokens.fresh(secret)  # what Context.actor(required=True) calls

    run(tokens, scenario)


def test_the_collector_freezes_the_survivors_of_full_collections() -> None:
    collector = Collector()
    gc.callbacks.append(collector._callback)
    try:
        collector.settle()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        kept = [[i] for i in range(10_000)]  # new objects that survive
        collector.step()  # no full collection since: nothing to do
        assert gc.get_freeze_count() == frozen
        gc.collect()
        collector.step()
        assert gc.get_freeze_count() >= frozen + len(kept)
        assert collector.frozen_after == 1
    finally:
        gc.callbacks.remove(collector._callback)
        gc.unfreeze()


class Gated:
    """A service whose token lookups read the database, then are counted and wait for
    ``go``."""

    def __init__(self, service: Service) -> None:
        import threading

        self.service = service
        self.go = threading.Event()
        self.calls = 0

    def authenticate(self, secret: str) -> Any:
        try:
            found: Any = self.service.authenticate(secret)  # the database read, first
        except Unauthorized as refused:
            found = refused
        self.calls += 1
        self.go.wait(10)
        if isinstance(found, Exception):
            raise found
        return found


def test_a_flood_with_one_token_shares_lookups_that_have_not_started(
        service: Service) -> None:
    """Many writes with one token queue one lookup, not one each (another token's lookup is
    not stuck behind them), and a request never shares a lookup that began before it came:
    a revocation committed before a request arrives refuses it."""
    record, secret = service.create_token("flood", ["UA"], True)
    gated = Gated(service)
    tokens = Tokens(gated, threads=1)  # type: ignore[arg-type]

    async def scenario() -> None:
        first = asyncio.create_task(tokens.fresh(secret))
        await until(lambda: gated.calls == 1)  # started, waiting on the pool's thread
        service.revoke_token(record.id)  # committed after the first began, before the rest
        rest = [asyncio.create_task(tokens.fresh(secret)) for _ in range(200)]
        await asyncio.sleep(0.05)
        gated.go.set()
        assert (await first).name == "flood"  # read before the revocation
        for task in rest:
            with pytest.raises(Unauthorized):
                await task
        assert gated.calls == 2  # the first lookup, and one shared by the other 200

    run(tokens, scenario)
