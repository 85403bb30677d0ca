"""The delivery worker: claims due outbox rows, signs and POSTs them, records every attempt.

Several workers (the in-process one of each server process, and any ``tryvoga worker``) share
one outbox without a broker. A worker claims a batch of due rows with one conditional UPDATE
that moves their due time forward by a lease and stamps them with a claim token; no other
worker can take them until the lease runs out. The lease is longer than any one attempt can
take (connect + read timeouts, plus a margin), so a live worker always answers for its rows in
time; a worker that dies leaves its rows to fall due again when the lease ends (at once, if a
worker on the same host sees that the dead worker's process is gone). Every write back is
conditional on the claim token, so a late answer never overwrites someone else's.

Delivery is at least once: a worker killed between the receiver's 200 and the write back
sends that event again later, with the same ``X-Tryvoga-Event-Id``.

Retries back off exponentially from ``webhook_backoff`` (doubling, capped at an hour) with
jitter (each delay is drawn from its upper half), for up to ``webhook_retry_window`` after the
event; then the delivery is given up. When a subscription gives up a delivery and has had no
success for that whole window either, it is disabled, with the reason in its status and an audit
record.

Order: each subscription gets its events in sequence order (issue 15). A claim takes only
the start of a subscription's queue, up to ``RUN`` rows, and never while an earlier row of it is
leased or waiting for a retry (``storage/webhooks.py`` ``claim``), so one worker at a time,
on any node, has a subscription's rows; it sends them one after the other, each only once the
one before was accepted. When an attempt fails, the rest of the run is given back unattempted
(due with that attempt's retry), so no later event overtakes it; a row is not sent when its
lease would end before the answer could come back (it is given back instead), so no other
worker can take it meanwhile. A delivery given up after the retry window no longer holds the
queue. The cost: one request on the wire per subscription (a hanging receiver holds one slot).

Pipeline: one claim loop keeps up to ``4 × concurrency`` deliveries in hand and at most
``concurrency`` on the wire; outcomes are written back in batches (one transaction each), and
all database calls run on one thread of their own so the event loop never waits for a disk
flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from tryvoga.delivery.safety import Policy
from tryvoga.delivery.sender import Answer, Sender
from tryvoga.delivery.signing import EVENT_ID, SIGNATURE, TIMESTAMP, WEBHOOK_ID, sign
from tryvoga.delivery.store import DeliveryStore
from tryvoga.domain.events import format_time, now_utc
from tryvoga.settings import Settings
from tryvoga.storage.webhooks import Claimed, Outcome

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BACKOFF = 3600.0
FLUSH_EVERY = 0.02  # seconds between write-backs while outcomes are waiting
FLUSH_SIZE = 256
HAND = 4  # deliveries claimed ahead, in multiples of the concurrency: fewer, larger claims
PAYLOAD_CACHE = 2048
PRUNE_AFTER = 7 * 86400.0  # finished deliveries and their attempts are kept this long
PRUNE_EVERY = 3600.0
REPORT_EVERY = 60.0
AUDIT_ACTOR = "webhook-worker"


def backoff(base: float, attempts: int, rng: random.Random) -> float:
    """Delay before retry number ``attempts`` (1 = the first retry)."""
    delay: float = min(MAX_BACKOFF, base * 2.0 ** min(attempts - 1, 40))
    return delay / 2 + rng.random() * delay / 2


@dataclass(frozen=True, slots=True)
class Job:
    row: Claimed
    owner: str
    url: str
    secret: str
    body: bytes
    content_type: str


class DeliveryWorker:
    def __init__(self, store: DeliveryStore, settings: Settings, *,
                 name: str | None = None) -> None:
        self.store = store
        self.settings = settings
        self.policy = Policy(settings.webhook_allow_networks)
        self.host = socket.gethostname()
        self.name = name or f"{self.host}/{os.getpid()}/{secrets.token_hex(3)}"
        self.concurrency = settings.webhook_concurrency
        self.lease = settings.webhook_connect_timeout + settings.webhook_read_timeout + 10.0
        self.rng = random.Random()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tryvoga-delivery")
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._stopping = False
        self._closing = False
        self._claims = 0
        self._owners: dict[str, int] = {}  # claim token -> deliveries not yet written back
        self._in_hand = 0
        self._sending = asyncio.Semaphore(self.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._outcomes: list[Outcome] = []
        self._returned: list[tuple[int, str, float]] = []  # (row, claim token, due)
        self._secrets: dict[str, tuple[str, str, str]] = {}
        self._secrets_version = -1
        self._payloads: dict[tuple[int, str], tuple[str, bytes]] = {}
        self._next_due: float | None = None
        self._last_prune = 0.0
        self._last_report = time.monotonic()
        self._reported = (0, 0)
        self.delivered = 0
        self.failed = 0
        self.gave_up = 0  # of the failed: those after which the retry window was over
        self.sender: Sender | None = None
        self._main: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._done = asyncio.Event()
        self._stamp = (-1, "")  # (Unix millisecond, its log time)

    async def _call(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, partial(call, *args))

    def wake(self) -> None:
        """New events may have queued deliveries: look now rather than at the next poll."""
        self._wake.set()

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._main = asyncio.create_task(self.run())

    def finished(self) -> asyncio.Task[None]:
        assert self._main is not None, "start() first"
        return self._main

    async def run(self) -> None:
        self.sender = Sender(self.policy, connect_timeout=self.settings.webhook_connect_timeout,
                             read_timeout=self.settings.webhook_read_timeout,
                             concurrency=self.concurrency)
        self._flusher = asyncio.create_task(self._flush_loop())
        try:
            await self._reclaim_from_dead()
            await self._loop()
        finally:
            self._done.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming, let what is on the wire finish (up to ``grace`` s), write back,
        and hand unsent rows back to the outbox."""
        self._stopping = True
        self._wake.set()
        self._room.set()
        if self._main is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._main
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._flusher is not None:
            self._closing = True  # the flusher finishes the write it is in, then ends
            self._flush_now.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        try:
            await self._flush()
            released = await self._call(self.store.release, list(self._owners), time.time())
            if released:
                log.info("handed %d unsent webhook deliveries back to the outbox", released)
        except Exception:
            log.exception("could not write back webhook outcomes on shutdown; the leases "
                          "will run out and the rows be sent again")
        if self.sender is not None:
            await self.sender.close()
        self._db.shutdown(wait=True)

    async def _reclaim_from_dead(self) -> None:
        """Rows claimed by a worker on this host whose process is gone need not wait out
        their lease (a server restarted after a crash delivers at once)."""
        owners = await self._call(self.store.lease_owners, time.time())
        dead = []
        for owner in owners:
            host, _, rest = owner.partition("/")
            pid_text = rest.partition("/")[0]
            if host != self.host or not pid_text.isdigit() or owner.startswith(self.name + "#"):
                continue
            if int(pid_text) == os.getpid():
                dead.append(owner)  # an earlier life of this very process id
                continue
            try:
                os.kill(int(pid_text), 0)
            except ProcessLookupError:
                dead.append(owner)
            except PermissionError:
                continue
        if dead:
            count = await self._call(self.store.release, dead, time.time())
            log.info("took back %d webhook deliveries from %d stopped worker(s)", count,
                     len(dead))

    # ---- claiming -----------------------------------------------------------------------

    async def _loop(self) -> None:
        look = True
        while not self._stopping:
            try:
                look = await self._step(look)
            except Exception:
                # A bug must not end deliveries for good: log it, pause, go on.
                log.exception("webhook worker step failed; going on")
                await asyncio.sleep(self.settings.poll_interval * 10)
                look = True

    async def _step(self, look: bool) -> bool:
        """One turn of the claim loop; returns whether to look for due rows at once."""
        now = time.time()
        if now - self._last_prune > PRUNE_EVERY:
            self._last_prune = now
            await self._guarded(self.store.prune, now - PRUNE_AFTER)
        if time.monotonic() - self._last_report > REPORT_EVERY:
            self._last_report = time.monotonic()
            if (self.delivered, self.failed) != self._reported:
                log.info("webhooks: %d delivered, %d failed attempts since start",
                         self.delivered, self.failed)
                self._reported = (self.delivered, self.failed)
        room = HAND * self.concurrency - self._in_hand
        if room <= 0:
            self._room.clear()
            await self._room.wait()
            return look
        if self._wake.is_set():
            self._wake.clear()  # cleared before looking, so a wake-up during it is kept
            look = True
        if not look and self._next_due is not None and now >= self._next_due:
            look = True
        if not look:
            look = bool(await self._guarded(self.store.changed))
        if look:
            got = await self._claim(room)
            if got == room:  # a full batch: there may be more waiting
                return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)
        return self._wake.is_set()

    async def _guarded(self, call: Callable[..., T], *args: Any) -> T | None:
        try:
            return await self._call(call, *args)
        except Exception:
            log.exception("webhook outbox: database call failed; retrying")
            await asyncio.sleep(self.settings.poll_interval * 10)
            return None

    async def _claim(self, room: int) -> int:
        now = time.time()
        self._claims += 1
        owner = f"{self.name}#{self._claims}"
        claimed = await self._guarded(self.store.claim, owner, now, now + self.lease, room)
        if not claimed:
            self._next_due = await self._guarded(self.store.next_due)
            return 0
        self._owners[owner] = len(claimed)
        self._in_hand += len(claimed)
        jobs, orphans = await self._prepare(claimed, owner)
        if orphans:
            await self._guarded(self.store.cancel, orphans, owner,
                                "subscription or payload gone", time.time())
            self._settle(owner, len(orphans))
        runs: dict[str, list[Job]] = {}
        for job in jobs:
            runs.setdefault(job.row.webhook, []).append(job)
        for run in runs.values():
            run.sort(key=lambda job: job.row.event_seq)
            task = asyncio.create_task(self._deliver_run(run, now + self.lease))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    async def _prepare(self, claimed: list[Claimed], owner: str) -> tuple[list[Job], list[int]]:
        version = await self._call(self.store.version)
        if version != self._secrets_version:
            self._secrets = {}
            self._secrets_version = version
        missing = sorted({c.webhook for c in claimed} - set(self._secrets))
        if missing:
            self._secrets.update(await self._call(self.store.active_secrets, missing))
        wanted = sorted({(c.event_seq, c.format) for c in claimed} - set(self._payloads))
        if wanted:
            if len(self._payloads) > PAYLOAD_CACHE:
                self._payloads.clear()
            self._payloads.update(await self._call(self.store.payloads, wanted))
        jobs, orphans = [], []
        for row in claimed:
            sub = self._secrets.get(row.webhook)
            payload = self._payloads.get((row.event_seq, row.format))
            if sub is None or sub[2] != "active" or payload is None:
                orphans.append(row.id)
                continue
            jobs.append(Job(row, owner, sub[0], sub[1], payload[1], payload[0]))
        return jobs, orphans

    def _settle(self, owner: str, count: int) -> None:
        self._in_hand -= count
        left = self._owners.get(owner, 0) - count
        if left <= 0:
            self._owners.pop(owner, None)
        else:
            self._owners[owner] = left
        if self._in_hand <= (HAND - 1) * self.concurrency:
            self._room.set()

    # ---- sending ------------------------------------------------------------------------

    async def _deliver_run(self, run: list[Job], lease_until: float) -> None:
        """Send one subscription's claimed rows in sequence, each after the one before was
        accepted; give back the rest when one fails or the lease would end first."""
        longest = self.settings.webhook_connect_timeout + self.settings.webhook_read_timeout
        for index, job in enumerate(run):
            if self._stopping:
                self._give_back(run[index:], time.time())
                return
            async with self._sending:
                if time.time() + longest >= lease_until:
                    # The answer could come after the lease, when another worker may have
                    # taken the row: leave it to the next claim.
                    self._give_back(run[index:], time.time())
                    return
                answer = await self._send(job)
            outcome = self._outcome(job, answer)
            self._outcomes.append(outcome)
            if len(self._outcomes) >= FLUSH_SIZE:
                self._flush_now.set()
            if not answer.ok:
                self._give_back(run[index + 1:], outcome.next_due)
                return

    def _give_back(self, jobs: list[Job], due: float) -> None:
        self._returned.extend((job.row.id, job.owner, due) for job in jobs)
        if jobs:
            self._flush_now.set()

    async def _send(self, job: Job) -> Answer:
        assert self.sender is not None
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": job.content_type,
            EVENT_ID: str(job.row.event_seq),
            WEBHOOK_ID: job.row.webhook,
            TIMESTAMP: timestamp,
            SIGNATURE: sign(job.secret, timestamp, job.body),
        }
        return await self.sender.post(job.url, job.body, headers)

    def _log_time(self, now: float) -> str:
        """``now`` as a log time (what ``now_utc`` writes), formatted once per millisecond:
        thousands of outcomes a second share a few hundred."""
        milli = int(now * 1000)
        if milli != self._stamp[0]:
            self._stamp = (milli, format_time(datetime.fromtimestamp(milli / 1000, UTC)))
        return self._stamp[1]

    def _outcome(self, job: Job, answer: Answer) -> Outcome:
        now = time.time()
        row = job.row
        if answer.ok:
            self.delivered += 1
            give_up, next_due = False, now
        else:
            self.failed += 1
            deadline = row.created + self.settings.webhook_retry_window
            give_up = now >= deadline
            self.gave_up += give_up
            delay = backoff(self.settings.webhook_backoff, row.attempts + 1, self.rng)
            next_due = min(now + delay, deadline)
        return Outcome(delivery=row.id, webhook=row.webhook, event_seq=row.event_seq,
                       owner=job.owner, time=self._log_time(now), status=answer.status,
                       latency_ms=answer.latency_ms, error=answer.error,
                       delivered=answer.ok, give_up=give_up, next_due=next_due,
                       worker=self.name)

    # ---- writing back -------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), FLUSH_EVERY)
            self._flush_now.clear()
            await self._flush()

    async def _flush(self) -> None:
        if not self._outcomes and not self._returned:
            return
        batch, self._outcomes = self._outcomes, []
        returned, self._returned = self._returned, []
        try:
            # Shielded: once taken from the list, a batch is written even if we are
            # cancelled meanwhile, rather than sent again after its lease.
            disabled = await asyncio.shield(self._call(
                self.store.record, batch, time.time(), self.settings.webhook_retry_window,
                now_utc(), AUDIT_ACTOR, returned))
        except Exception:
            # Not written: the rows stay claimed until their lease ends, then are sent again.
            log.exception("could not record %d webhook attempts; they will be retried",
                          len(batch))
            disabled = []
        for webhook_id in disabled:
            log.warning("webhook %s disabled: every delivery failed for %g s", webhook_id,
                        self.settings.webhook_retry_window)
        by_owner: dict[str, int] = {}
        for owner in [o.owner for o in batch] + [r[1] for r in returned]:
            by_owner[owner] = by_owner.get(owner, 0) + 1
        for owner, count in by_owner.items():
            self._settle(owner, count)
        retry_at = [o.next_due for o in batch if not o.delivered and not o.give_up]
        retry_at += [r[2] for r in returned]
        if retry_at:
            soonest = min(retry_at)
            if self._next_due is None or soonest < self._next_due:
                self._next_due = soonest
