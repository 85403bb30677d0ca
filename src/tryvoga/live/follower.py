"""The read side of a server process: a projection that follows the log.

The writer (``Service``, on its own thread) owns the state that commands are checked against.
The event loop serves reads from this second projection, which it advances with the events
the writer reports and with whatever other processes appended (a bounded poll of the
database). Events are applied strictly in sequence: a gap is filled from the log first, and an
event already applied is skipped, so every reader sees a prefix of the log and nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from tryvoga.domain.events import Event
from tryvoga.domain.regions import Catalogue
from tryvoga.domain.state import State
from tryvoga.errors import StorageError
from tryvoga.storage.base import Storage

log = logging.getLogger(__name__)

# Seconds beyond the poll interval that the state may go without a successful read of the log
# before the node calls it stale: reads then carry ``X-State-Age`` and streams a ``stale``
# frame at each keepalive (``state_age``; docs/deploy.md, "When the database goes away").
STALE_AFTER = 2.0

Listener = Callable[[Sequence[Event]], None]


class Follower:
    def __init__(self, storage: Storage, catalogue: Catalogue,
                 state: State | None = None) -> None:
        """``state``: the log already applied (``tryvoga.node`` reads it once for every
        projection); without it the follower reads the log itself."""
        self.storage = storage
        self.state = state if state is not None else State(catalogue)
        self.listeners: list[Listener] = []
        if state is None:
            self.state.apply_all(storage.iter_events())
        self._changed = asyncio.Event()
        # When the log was last read successfully (time.monotonic()): how old the state may be.
        self.synced_at = time.monotonic()
        # A database across the network is read off the event loop (storage/engine.py).
        self._remote = bool(getattr(storage, "remote", False))
        self.heartbeat = time.monotonic()  # the last turn of ``run`` (``/readyz``)
        # How long without a successful read before the state counts as stale (the node sets
        # it to STALE_AFTER plus its poll interval).
        self.stale_after = STALE_AFTER

    def state_age(self) -> float | None:
        """Seconds since the log was last read, when that is longer than ``stale_after`` (the
        database is unreachable or the follower is stuck); None while the state is current."""
        age = time.monotonic() - self.synced_at
        return age if age > self.stale_after else None

    def advance(self, events: Sequence[Event]) -> list[Event]:
        """Apply what is new in ``events`` (filling any gap from the log); returns it."""
        applied: list[Event] = []
        for event in events:
            if event.seq <= self.state.seq:
                continue
            if event.seq > self.state.seq + 1:
                applied.extend(self._apply(self.storage.read_events(self.state.seq,
                                                                    event.seq - 1
                                                                    - self.state.seq)))
            applied.extend(self._apply([event]))
        if applied:
            for listener in self.listeners:
                try:
                    listener(applied)
                except Exception:
                    log.exception("listener failed")
        return applied

    def _apply(self, events: Sequence[Event]) -> list[Event]:
        out = []
        for event in events:
            if event.seq == self.state.seq + 1:
                self.state.apply(event)
                out.append(event)
        return out

    def poll(self) -> list[Event]:
        """Catch up with the log if the database changed since the last look."""
        return self.advance(self._fetch())

    def _fetch(self) -> list[Event]:
        events = self.storage.read_events(self.state.seq) if self.storage.changed() else []
        self.synced_at = time.monotonic()
        return events

    def wake(self) -> None:
        """Check the log now (another process says it appended); safe to call repeatedly."""
        self._changed.set()

    async def run(self, interval: float) -> None:
        """Follow appends by other processes until cancelled: at once when woken, and at
        least every ``interval`` seconds in case a wake-up was lost."""
        failing = False
        while True:
            self.heartbeat = time.monotonic()
            self._changed.clear()
            try:
                if self._remote:
                    loop = asyncio.get_running_loop()
                    self.advance(await loop.run_in_executor(None, self._fetch))
                else:
                    self.poll()
                if failing:
                    log.warning("following the log again")
                failing = False
            except StorageError as exc:  # e.g. the database is unreachable: said once
                if not failing:
                    log.warning("following the log failed (%s); retrying", exc.message)
                failing = True
            except Exception:
                log.exception("following the log failed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._changed.wait()
