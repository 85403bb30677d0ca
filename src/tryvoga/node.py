"""The assembly of a node: everything one server process runs, built in one place.

``build_node(settings, formats=...)`` makes the storage, the service (the one write path, on
its own writer thread), the log follower (the read side), the stream hub, the CAP projection,
the wake-ups between processes on one database, the webhook subscriptions and this process's
delivery worker, the CAP feed poller, and the readers of the history store and of the
proposals. The HTTP application (``api/app.py``
``create_app``) only adds routes to a node it is given; ``tryvoga serve`` and the tests build
through this function.

The log is read once at start, and every projection is built from that one pass: the
writer's state, the follower's state and the CAP projection. From then on the follower alone
reads the log (in order, filling any gap), and hands each applied batch to its listeners, in
this order (``Node.listeners`` declares it and the follower calls them so):

1. ``streams``: the stream hub writes the events to every subscriber first, so that nothing
   else the process does with an event delays an alert on an open stream;
2. ``cap``: the CAP projection applies them (messages, feeds);
3. ``webhooks``: the delivery worker is woken to send what the command queued.

The writer's listeners (on its thread): with ``--cap-feeds``, the CAP ingester's index of
message origins, built in the same one read; then ``wake``: after each commit it wakes the
other processes on the database (``live/wake.py``), whose followers then read the log at once.

Webhook deliveries are queued inside the command's transaction by the ``Outbox``, with the
renderers the caller passes as ``formats`` (``tryvoga.api.formats.webhook_formats``): see
``docs/architecture.md`` for why the outbox is written there and not by a log cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from tryvoga import approval
from tryvoga.cap.ingest import Ingester, OriginIndex
from tryvoga.cap.poller import Poller
from tryvoga.cap.projection import CapProjection
from tryvoga.delivery.formats import Formats
from tryvoga.delivery.outbox import Outbox
from tryvoga.delivery.safety import Policy
from tryvoga.delivery.store import DeliveryStore
from tryvoga.delivery.subscriptions import Webhooks
from tryvoga.delivery.worker import DeliveryWorker
from tryvoga.domain.events import Event
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import Catalogue, load_catalogue
from tryvoga.domain.state import State
from tryvoga.errors import Overloaded
from tryvoga.ingest.proposals import ProposalDesk
from tryvoga.ingest.statements.pool import StatementPool
from tryvoga.live.anchor import anchoring
from tryvoga.live.follower import STALE_AFTER, Follower, Listener
from tryvoga.live.hub import Hub
from tryvoga.live.wake import Waker
from tryvoga.service import Actor, Result, Service
from tryvoga.settings import Settings
from tryvoga.storage.history import HistoryReader
from tryvoga.storage.migrations import open_storage
from tryvoga.storage.operators import OperatorReader
from tryvoga.storage.proposals import ProposalReader
from tryvoga.turns import Turns

log = logging.getLogger(__name__)
T = TypeVar("T")

# The follower's listeners, in the order they are called (the module docstring says why).
LISTENER_ORDER = ("streams", "cap", "webhooks")
# Seconds for deliveries on the wire to finish when the node stops.
SHUTDOWN_GRACE = 2.0


class Node:
    """One process's pieces, assembled by ``build_node``; ``start`` and ``stop`` run on the
    event loop that serves it."""

    def __init__(self, settings: Settings, catalogue: Catalogue, formats: Formats) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.names = NameIndex(catalogue)
        # SQLite (--db), or PostgreSQL (--database-url) whose schema must already be current.
        self.storage = open_storage(settings.db, settings.database_url)
        # The log, read once: every projection is built from this one pass.
        writer_state, read_state = State(catalogue), State(catalogue)
        self.cap = CapProjection(catalogue)
        # Which alerts each ingested CAP message made, for the feed poller (writer thread).
        origins = OriginIndex()
        for event in self.storage.iter_events():
            writer_state.apply(event)
            read_state.apply(event)
            self.cap.apply(event)
            origins.add((event,))
        self.service = Service(self.storage, catalogue, outbox=Outbox(catalogue, formats),
                               state=writer_state)
        self.follower = Follower(self.storage, catalogue, state=read_state)
        self.follower.stale_after = STALE_AFTER + settings.poll_interval
        # The two-person rule binds every bearer token but automated ones (approval.py), for
        # the API and the console alike.
        self.service.approval_policy = approval.Policy(settings.approval_all_actual,
                                                       settings.approval_seconds)
        # All commands run on this one thread: one writer per process, and the event loop
        # never waits for a disk flush.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tryvoga-writer")
        self.hub = Hub(self.follower, buffer_limit=settings.stream_buffer,
                       keepalive=settings.stream_keepalive)
        # Processes on one SQLite file wake each other over Unix datagrams (live/wake.py);
        # nodes on PostgreSQL by LISTEN/NOTIFY (live/notify.py, started in ``start``).
        self.waker = Waker(settings.db if not settings.database_url else ":memory:")
        # Imported history, for the record's reads; statements and their proposals.
        self.history = HistoryReader(self.storage.database)
        self.proposals = ProposalDesk(self.service, self.names,
                                      ProposalReader(self.storage.database))
        # Statements are read in a child process of their own, within a deadline, so
        # that public reads never wait on one (ingest/statements/pool.py).
        self.statements = StatementPool(catalogue)
        # Console operators, their sessions and approvals, read apart from the writer.
        self.operators = OperatorReader(self.storage.database)
        self.webhooks = Webhooks(DeliveryStore(self.storage.database), catalogue,
                                 Policy(settings.webhook_allow_networks))
        self.worker = (DeliveryWorker(DeliveryStore(self.storage.database), settings)
                       if settings.webhook_worker else None)
        self.poller: Poller | None = None
        if settings.cap_feeds:
            ingester = Ingester(self.service)
            ingester.index = origins  # kept current by the writer's listener below
            self.service.listeners.append(origins.add)
            self.poller = Poller(settings.cap_feeds, settings.cap_poll_interval, ingester,
                                 self.write, self.follower.advance,
                                 deadline=settings.cap_fetch_timeout,
                                 link_hosts=settings.cap_link_hosts,
                                 allow_networks=settings.webhook_allow_networks)
        self.listeners: tuple[tuple[str, Listener], ...] = (
            ("streams", self.hub.publish),
            ("cap", self._follow_cap),
            ("webhooks", self._wake_worker),
        )
        assert tuple(name for name, _ in self.listeners) == LISTENER_ORDER
        self.follower.listeners.extend(listener for _, listener in self.listeners)
        self.service.listeners.append(self._wake_others)
        self._tasks: list[asyncio.Task[Any]] = []
        # Commands reach the writer in turns by sender (turns.py): a flood from one token
        # waits behind everyone else's, not the other way round.
        self.turns = Turns(settings.write_queue)
        # Commands first (issue 15, defect 1): every other write (webhook and ukrainealarm
        # registrations, console sessions, audits) is handed to the writer thread one at a
        # time, so a command waits behind at most one of them, however many clients send
        # them at once; commands themselves go straight to the writer's queue.
        self._others = asyncio.Lock()

    # ---- the listeners -----------------------------------------------------------------

    def _follow_cap(self, events: Sequence[Event]) -> None:
        # The follower hands over each event once, in order, from where the one read at
        # start left both projections: no gap to fill here.
        for event in events:
            if event.seq > self.cap.seq:
                self.cap.apply(event)

    def _wake_worker(self, events: Sequence[Event]) -> None:
        if self.worker is not None:
            self.worker.wake()

    def _wake_others(self, events: Sequence[Event]) -> None:
        self.waker.poke()  # on the writer thread, after the commit

    # ---- running commands and reads ----------------------------------------------------

    async def command(self, call: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        """A service command on the writer thread; the answer comes once the read side has
        the change, so the next read sees it."""
        # Backpressure (issue 15): a command beyond its sender's share of --write-queue is
        # refused at once, with nothing of it applied, rather than answered seconds later.
        sender = next((arg.principal for arg in args if isinstance(arg, Actor)), "")
        refusal = self.turns.refusal(sender)
        if refusal is not None:
            raise Overloaded(refusal)
        await self.turns.take(sender)
        try:
            result = await self._on_writer(call, *args, **kwargs)
        finally:
            self.turns.give(sender)
        self.follower.advance(result.events)
        if result.replayed or not result.events:
            since = self.follower.state.seq
            if self.storage.remote:  # a database across the network: off the event loop
                self.follower.advance(await self.read(self.storage.read_events, since))
            else:
                self.follower.advance(self.storage.read_events(since))
        return result

    async def write(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Anything but a command that writes to the database, on the writer thread, one at
        a time (commands go first: see ``_others``)."""
        async with self._others:
            return await self._on_writer(call, *args, **kwargs)

    async def _on_writer(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.writer, partial(call, *args, **kwargs))

    async def read(self, call: Callable[..., T], *args: Any) -> T:
        """A read of the database off the event loop; never a write."""
        return await asyncio.get_running_loop().run_in_executor(None, partial(call, *args))

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Follow the log, listen for wake-ups, send keep-alives, deliver, poll CAP feeds."""
        self._tasks.append(asyncio.create_task(self.follower.run(self.settings.poll_interval)))
        self.waker.listen(self.follower.wake)
        if self.settings.database_url:  # other nodes' commits wake the follower
            from tryvoga.live.notify import listen

            self._tasks.append(asyncio.create_task(listen(self.storage, self.follower.wake)))
        self._tasks.append(asyncio.create_task(self.hub.run_keepalives()))
        if self.worker is not None:
            self.worker.start()
        if self.poller is not None:
            self._tasks.append(asyncio.create_task(self.poller.run()))
        if self.settings.anchor_file:  # the head kept outside the database (live/anchor.py)
            self._tasks.append(asyncio.create_task(anchoring(
                self.follower, self.settings.anchor_file, self.settings.anchor_interval,
                self.read)))

    def close_streams(self) -> None:
        """End every open stream (at server shutdown, before connections are closed)."""
        self.hub.close_all()

    async def stop(self) -> None:
        """Stop what ``start`` started, in reverse, and close the databases."""
        if self.worker is not None:
            await self.worker.stop(grace=SHUTDOWN_GRACE)
        for task in reversed(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.close()

    def close(self) -> None:
        """Close without having started (a node built and not served)."""
        self.writer.shutdown(wait=True)
        self.waker.close()
        if self.worker is not None:
            self.worker.store.close()
        self.webhooks.store.close()
        self.proposals.reader.close()
        self.statements.close()
        self.operators.close()
        self.history.close()
        self.storage.close()


def build_node(settings: Settings, *, formats: Formats,
               catalogue: Catalogue | None = None) -> Node:
    """The node for ``settings``, with the webhook renderers ``formats``."""
    return Node(settings, catalogue or load_catalogue(), formats)


__all__ = ["LISTENER_ORDER", "Node", "build_node"]
