"""The delivery worker against a real HTTP receiver on 127.0.0.1: signatures, retries with
backoff, disabling after the retry window, refused destinations, timeouts, redirects."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.polling import until
from tests.regions import KYIV
from tryvoga.commands import Declare, EndByRegion
from tryvoga.delivery.safety import Policy
from tryvoga.delivery.store import DeliveryStore
from tryvoga.delivery.subscriptions import Webhooks
from tryvoga.delivery.worker import DeliveryWorker
from tryvoga.domain.regions import Catalogue
from tryvoga.service import Actor, Service
from tryvoga.settings import Settings


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str


@dataclass
class Receiver:
    """Answers each request with the next scripted response, then with ``default``."""

    port: int = 0
    script: list[Callable[[], Awaitable[web.StreamResponse]]] = field(default_factory=list)
    default: int = 200
    failing_paths: set[str] = field(default_factory=set)
    got: list[Received] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.got.append(Received(dict(request.headers), await request.read(), request.path))
        if request.path in self.failing_paths:
            return web.Response(status=500, text="broken")
        if self.script:
            return await self.script.pop(0)()
        return web.Response(status=self.default, text="thanks")

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def answer(status: int, text: str = "", headers: dict[str, str] | None = None
           ) -> Callable[[], Awaitable[web.StreamResponse]]:
    async def respond() -> web.StreamResponse:
        return web.Response(status=status, text=text, headers=headers)

    return respond


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()

    async def route(request: web.Request) -> web.StreamResponse:
        return await found.handle(request)  # looked up per request: a test may replace it

    app.router.add_route("*", "/{tail:.*}", route)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.port = runner.addresses[0][1]
    yield found
    await runner.cleanup()


def settings_for(db_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "db": str(db_path), "poll_interval": 0.02, "webhook_allow_networks": ("127.0.0.0/8",),
        "webhook_backoff": 0.05, "webhook_connect_timeout": 2.0, "webhook_read_timeout": 2.0}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def hooks(db_path: Path, catalogue: Catalogue, service: Service) -> Iterator[Webhooks]:
    store = DeliveryStore(db_path)
    yield Webhooks(store, catalogue, Policy(["127.0.0.0/8"]))
    store.close()



async def running(db_path: Path, **overrides: Any) -> DeliveryWorker:
    worker = DeliveryWorker(DeliveryStore(db_path), settings_for(db_path, **overrides))
    worker.start()
    return worker


async def stopped(worker: DeliveryWorker) -> None:
    await worker.stop(grace=1.0)
    worker.store.close()


def subscribe(hooks: Webhooks, admin: Actor, url: str, **body: Any) -> tuple[str, str]:
    created = hooks.create(admin, {"url": url, **body}).body
    return created["webhook"]["id"], created["secret"]


def parse(moment: str) -> float:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


async def test_deliveries_are_signed_and_carry_the_event(
        service: Service, hooks: Webhooks, admin: Actor, receiver: Receiver,
        db_path: Path) -> None:
    webhook_id, secret = subscribe(hooks, admin, receiver.url())
    events = [service.handle(
        admin,
        Declare.of(regions=[KYIV], type=t),
    ).events[0] for t in ("air_raid", "chemical")]
    worker = await running(db_path)
    try:
        await until(lambda: len(receiver.got) == 2, what="two deliveries")
    finally:
        await stopped(worker)
    by_id = {r.headers["X-Tryvoga-Event-Id"]: r for r in receiver.got}
    assert set(by_id) == {str(e.seq) for e in events}
    for event in events:
        got = by_id[str(event.seq)]
        # What a receiver does: recompute the HMAC over "timestamp.body" and compare.
        timestamp = got.headers["X-Tryvoga-Timestamp"]
        expected = hmac.new(secret.encode(), timestamp.encode() + b"." + got.body,
                            hashlib.sha256).hexdigest()
        assert hmac.compare_digest(got.headers["X-Tryvoga-Signature"], "sha256=" + expected)
        assert not hmac.compare_digest(got.headers["X-Tryvoga-Signature"], "sha256=" + hmac.new(
            b"another secret", timestamp.encode() + b"." + got.body, hashlib.sha256).hexdigest())
        assert abs(int(timestamp) - time.time()) < 300
        assert got.headers["X-Tryvoga-Webhook-Id"] == webhook_id
        assert got.headers["Content-Type"] == "application/json"
        assert json.loads(got.body) == event.to_json()
    attempts = hooks.attempts(admin, webhook_id)["attempts"]
    assert sorted(a["event_seq"] for a in attempts) == [e.seq for e in events]
    assert all(a["delivered"] and a["status"] == 200 and a["error"] is None
               and a["latency_ms"] >= 0 for a in attempts)
    assert hooks.get(admin, webhook_id)["deliveries"] == {
        "pending": 0, "delivered": 2, "failed": 0, "cancelled": 0}


async def test_a_failing_receiver_is_retried_with_growing_backoff(
        service: Service, hooks: Webhooks, admin: Actor, receiver: Receiver,
        db_path: Path) -> None:
    receiver.script = [answer(500, "database down"), answer(503), answer(500)]
    webhook_id, _ = subscribe(hooks, admin, receiver.url())
    seq = service.handle(admin, Declare.of(regions=[KYIV], type="air_raid")).events[0].seq
    backoff = 0.2
    worker = await running(db_path, webhook_backoff=backoff)
    try:
        await until(lambda: hooks.get(admin, webhook_id)["deliveries"]["delivered"] == 1,
                    what="delivery after three failures")
    finally:
        await stopped(worker)
    attempts = list(reversed(hooks.attempts(admin, webhook_id)["attempts"]))
    assert [a["status"] for a in attempts] == [500, 503, 500, 200]
    assert attempts[0]["error"] == "HTTP 500: database down"
    assert [a["delivered"] for a in attempts] == [False, False, False, True]
    assert {a["event_seq"] for a in attempts} == {seq} and len(receiver.got) == 4
    assert len({r.headers["X-Tryvoga-Event-Id"] for r in receiver.got}) == 1
    # Retry n waits at least half of backoff * 2^(n-1) (the jitter takes at most half off).
    times = [parse(a["time"]) for a in attempts]
    for n in (1, 2, 3):
        assert times[n] - times[n - 1] >= backoff * 2 ** (n - 1) / 2 - 0.002


async def test_a_subscription_failing_for_the_whole_window_is_disabled(
        service: Service, hooks: Webhooks, admin: Actor, receiver: Receiver,
        db_path: Path) -> None:
    receiver.failing_paths = {"/hook"}
    webhook_id, _ = subscribe(hooks, admin, receiver.url())
    healthy, _ = subscribe(hooks, admin, receiver.url("/other"))
    service.handle(admin, Declare.of(regions=[KYIV], type="air_raid"))
    worker = await running(db_path, webhook_retry_window=0.6, webhook_backoff=0.05)
    try:
        await until(lambda: hooks.get(admin, webhook_id)["status"] == "disabled",
                    what="the subscription to be disabled")
    finally:
        await stopped(worker)
    found = hooks.get(admin, webhook_id)
    assert "every delivery failed for 0.6 s" in found["status_reason"]
    assert "HTTP 500" in found["status_reason"]
    assert found["deliveries"]["pending"] == 0 and found["deliveries"]["delivered"] == 0
    attempts = hooks.attempts(admin, webhook_id)["attempts"]
    assert len(attempts) >= 2 and not any(a["delivered"] for a in attempts)
    audit = [r for r in service.storage.audit_records() if r.action == "webhook.disabled"]
    assert {r.detail["id"] for r in audit} >= {webhook_id}
    # Nothing more is queued for it.
    service.handle(admin, Declare.of(regions=[KYIV], type="nuclear"))
    with sqlite3.connect(db_path) as conn:
        pending = conn.execute("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook = ? "
                               "AND state = 'pending'", (webhook_id,)).fetchone()[0]
    assert pending == 0
    assert hooks.get(admin, healthy)["status"] == "active"
    assert hooks.get(admin, healthy)["deliveries"]["delivered"] >= 1


async def test_private_destinations_are_refused_at_delivery_time(
        service: Service, hooks: Webhooks, admin: Actor, receiver: Receiver,
        db_path: Path) -> None:
    # Made while loopback was allowed; the worker now allows nothing private.
    webhook_id, _ = subscribe(hooks, admin, receiver.url(host="127.0.0.1"))
    service.handle(admin, Declare.of(regions=[KYIV], type="air_raid"))
    strict = await running(db_path, webhook_allow_networks=())
    try:
        await until(lambda: bool(hooks.attempts(admin, webhook_id)["attempts"]),
                    what="a refused attempt")
    finally:
        await stopped(strict)
    attempt = hooks.attempts(admin, webhook_id)["attempts"][0]
    assert attempt["status"] is None and attempt["error"].startswith("refused: 127.0.0.1 is a "
                                                                     "private, loopback")
    assert attempt["next_attempt_at"] is not None
    assert receiver.got == []


async def test_a_host_name_is_checked_on_the_addresses_it_resolves_to(
        service: Service, hooks: Webhooks, admin: Actor, receiver: Receiver,
        db_path: Path) -> None:
    # "localhost" is refused when subscribing; a row written earlier (or by a looser
    # configuration) must still be refused once resolved.
    webhook_id, _ = subscribe(hooks, admin, receiver.url())
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE webhooks SET url = ? WHERE id = ?",
                     (receiver.url(host="localhost"), webhook_id))
    service.handle(admin, Declare.of(regions=[KYIV], type="air_raid"))
    worker = await running(db_path, webhook_allow_networks=())
    try:
        await until(lambda: bool(hooks.attempts(admin, webhook_id)["attempts"]),
                    what="a refused attempt")
    finally:
        await stopped(worker)
    attempt = hooks.attempts(admin, webhook_id)["attempts"][0]
    assert attempt["error"].startswith("refused: localhost resolves to")
    assert receiver.got == []


async def test_redirects_are_not_followed_and_answers_are_read_bounded(
        service: Service, hooks: Webhooks, admin: Actor, receiver: Receiver,
        db_path: Path) -> None:
    receiver.script = [answer(302, headers={"Location": receiver.url("/elsewhere")}),
                       answer(200, "x" * 5_000_000)]
    webhook_id, _ = subscribe(hooks, admin, receiver.url())
    service.handle(admin, Declare.of(regions=[KYIV], type="air_raid"))
    worker = await running(db_path)
    try:
        await until(lambda: hooks.get(admin, webhook_id)["deliveries"]["delivered"] == 1,
                    what="delivery after the redirect")
    finally:
        await stopped(worker)
    first, second = reversed(hooks.attempts(admin, webhook_id)["attempts"])
    assert first["status"] == 302 and "redirects are not followed" in first["error"]
    assert second["status"] == 200 and second["delivered"]
    assert [r.path for r in receiver.got] == ["/hook", "/hook"]


async def test_a_receiver_that_does_not_answer_times_out(
        service: Service, hooks: Webhooks, admin: Actor, receiver: Receiver,
        db_path: Path) -> None:
    hang = asyncio.Event()

    async def never() -> web.StreamResponse:
        await hang.wait()
        return web.Response(status=200)

    receiver.script = [never]
    webhook_id, _ = subscribe(hooks, admin, receiver.url())
    service.handle(admin, Declare.of(regions=[KYIV], type="air_raid"))
    worker = await running(db_path, webhook_read_timeout=0.3)
    try:
        await until(lambda: hooks.get(admin, webhook_id)["deliveries"]["delivered"] == 1,
                    what="delivery after a timeout")
    finally:
        hang.set()
        await stopped(worker)
    first, second = reversed(hooks.attempts(admin, webhook_id)["attempts"])
    assert first["status"] is None and "timed out waiting for the answer" in first["error"]
    assert second["delivered"]


async def test_a_closed_port_is_a_recorded_failure(
        service: Service, hooks: Webhooks, admin: Actor, receiver: Receiver,
        db_path: Path) -> None:
    webhook_id, _ = subscribe(hooks, admin, "http://127.0.0.1:9/hook")  # discard: closed
    service.handle(admin, Declare.of(regions=[KYIV], type="air_raid"))
    worker = await running(db_path)
    try:
        await until(lambda: bool(hooks.attempts(admin, webhook_id)["attempts"]),
                    what="a failed attempt")
    finally:
        await stopped(worker)
    attempt = hooks.attempts(admin, webhook_id)["attempts"][-1]
    assert attempt["error"].startswith("cannot connect to 127.0.0.1:9")
    assert attempt["delivery_state"] == "pending" and attempt["next_attempt_at"]


async def test_a_hanging_receiver_does_not_hold_up_the_others(
        service: Service, hooks: Webhooks, admin: Actor, receiver: Receiver,
        db_path: Path) -> None:
    hang = asyncio.Event()
    original = receiver.handle

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == "/hang":
            receiver.got.append(Received(dict(request.headers), await request.read(),
                                         request.path))
            await hang.wait()
            return web.Response(status=200)
        return await original(request)

    receiver.handle = handle  # type: ignore[method-assign]
    stuck, _ = subscribe(hooks, admin, receiver.url("/hang"))
    fine, _ = subscribe(hooks, admin, receiver.url("/ok"))
    for index in range(20):
        service.handle(admin, Declare.of(regions=[KYIV], type=("air_raid", "chemical")[index % 2]))
        service.handle(admin, EndByRegion.of(region=KYIV, type=("air_raid", "chemical")[index % 2]))
    worker = await running(db_path, webhook_concurrency=4, webhook_read_timeout=60.0)
    try:
        await until(lambda: hooks.get(admin, fine)["deliveries"]["delivered"] == 40,
                    what="every delivery to the healthy receiver")
        # Deliveries go in sequence order: one request of a subscription on the wire.
        on_the_wire = sum(1 for r in receiver.got if r.path == "/hang")
        assert on_the_wire == 1
        hang.set()
        await until(lambda: hooks.get(admin, stuck)["deliveries"]["delivered"] == 40,
                    what="the hanging receiver's deliveries once it answers")
    finally:
        hang.set()
        await stopped(worker)


async def test_each_attempt_shows_the_retry_it_scheduled(
        service: Service, hooks: Webhooks, admin: Actor, receiver: Receiver,
        db_path: Path) -> None:
    receiver.script = [answer(500), answer(503)]
    webhook_id, _ = subscribe(hooks, admin, receiver.url())
    service.handle(admin, Declare.of(regions=[KYIV], type="air_raid"))
    backoff = 0.2
    worker = await running(db_path, webhook_backoff=backoff)
    try:
        await until(lambda: hooks.get(admin, webhook_id)["deliveries"]["delivered"] == 1,
                    what="delivery after two failures")
    finally:
        await stopped(worker)
    first, second, third = reversed(hooks.attempts(admin, webhook_id)["attempts"])
    assert third["delivered"] and third["next_attempt_at"] is None  # nothing after a success
    for n, (failed, retry) in enumerate([(first, second), (second, third)]):
        assert failed["delivery_state"] == "delivered"  # the delivery's state now...
        scheduled = parse(failed["next_attempt_at"])  # ...and what this attempt scheduled
        # Retry n+1 waits at least half of backoff * 2^n after the failure (jitter takes at
        # most half off), and is not made before it was scheduled.
        assert scheduled - parse(failed["time"]) >= backoff * 2 ** n / 2 - 0.002
        assert parse(retry["time"]) >= scheduled


async def test_an_attempt_in_flight_does_not_move_the_earlier_ones_next_try(
        service: Service, hooks: Webhooks, admin: Actor, receiver: Receiver,
        db_path: Path) -> None:
    hang = asyncio.Event()

    async def slow() -> web.StreamResponse:
        await hang.wait()
        return web.Response(status=200)

    receiver.script = [answer(500), slow]
    webhook_id, _ = subscribe(hooks, admin, receiver.url())
    service.handle(admin, Declare.of(regions=[KYIV], type="air_raid"))
    worker = await running(db_path, webhook_read_timeout=30.0)
    try:
        await until(lambda: len(receiver.got) == 2, what="the retry on the wire")
        # The retry is in flight: its delivery's due time is its lease's end, 42 s on;
        # the failed attempt still shows the retry it scheduled, which has begun.
        [failed] = hooks.attempts(admin, webhook_id)["attempts"]
        assert failed["status"] == 500 and failed["delivery_state"] == "pending"
        assert parse(failed["next_attempt_at"]) <= time.time()
    finally:
        hang.set()
        await stopped(worker)
