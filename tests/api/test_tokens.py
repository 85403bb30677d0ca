"""Token lookups run on threads of their own (``api/tokens.py``): the event loop keeps serving
while one waits, and a lookup that does not finish is answered 503 with ``Retry-After``."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from tryvoga.api import tokens as tokens_module
from tryvoga.api.http import error_response
from tryvoga.api.tokens import Tokens
from tryvoga.errors import TryvogaError, Unauthorized
from tryvoga.service import Service
from tryvoga.storage.engine import DatabaseUnavailable


def test_a_lookup_runs_off_the_event_loop_and_refuses_what_it_should(service: Service) -> None:
    _, secret = service.create_token("ops", ["UA"], write=True)
    threads: list[str] = []
    original = service.authenticate

    def recorded(given: str | None) -> Any:
        threads.append(threading.current_thread().name)
        return original(given)

    service.authenticate = recorded  # type: ignore[method-assign,assignment]
    checks = Tokens(service)

    async def run() -> None:
        actor = await checks.fresh(secret)
        assert actor.name == "ops" and actor.write
        with pytest.raises(Unauthorized):
            await checks.fresh("tv_made_up")
        with pytest.raises(Unauthorized):
            await checks.fresh(None)  # no lookup for no token
        service.revoke_token("ops")
        with pytest.raises(Unauthorized):  # refused from the revocation's commit on
            await checks.fresh(secret)

    try:
        asyncio.run(run())
    finally:
        checks.close()
    assert len(threads) == 3
    assert all(name.startswith("tryvoga-tokens") for name in threads), threads


def test_a_lookup_that_hangs_leaves_the_loop_serving_and_answers_503(
        service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens_module, "LOOKUP_TIMEOUT", 0.3)
    release = threading.Event()

    def hanging(given: str | None) -> Any:  # a database that does not answer
        release.wait(30)
        raise AssertionError("released")

    service.authenticate = hanging  # type: ignore[method-assign,assignment]
    checks = Tokens(service)
    turns = 0

    async def ticking() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0.01)

    async def run() -> TryvogaError:
        ticker = asyncio.create_task(ticking())
        try:
            await checks.fresh("tv_anything")
        except TryvogaError as exc:
            return exc
        finally:
            ticker.cancel()
        raise AssertionError("the lookup did not fail")

    try:
        error = asyncio.run(run())
    finally:
        release.set()
        checks.close()
    # The loop went on turning while the lookup waited on its thread.
    assert turns > 3
    assert isinstance(error, DatabaseUnavailable) and error.status == 503
    response = error_response(error)
    assert int(response.headers["Retry-After"]) >= 1
