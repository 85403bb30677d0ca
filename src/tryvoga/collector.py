"""When Python's garbage collector may pause the server: not in the middle of a storm.

A full collection scans every tracked object. A serving node holds the catalogue, the state
and, with thousands of subscribers, each connection's objects; a connect or reconnect storm
adds objects so fast that CPython runs a full collection every time the old generation has
grown by a quarter, each scanning the whole heap: at 10,000 subscribers about fourteen of
them, up to 0.3 s each, and a declaration arriving then waits (``bench/RESULTS.md``, the storm
case; ``bench/gcprobe.py`` times them).

So the objects that have survived a full collection are *frozen* (``gc.freeze``: moved where
no collection looks) shortly after it, and once after start-up: a later full collection scans
only what is newer, which keeps each one short whatever the number of connections held. What
this gives up is the collection of reference cycles among frozen objects that later become
garbage (objects without cycles are freed by their reference counts as always). That is
bounded: when the frozen objects have grown to twice their number after the last thorough
collection, no sooner than ``SWEEP_EVERY`` seconds after it and after ``CALM`` seconds without
a full collection (not during a storm), everything is unfrozen and collected once, then frozen
again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from typing import Any

log = logging.getLogger(__name__)

CHECK_EVERY = 0.5  # seconds between looks for a full collection to freeze after
SWEEP_EVERY = 600.0  # seconds at least between two thorough collections
CALM = 30.0  # seconds without a full collection (no storm) before a thorough one


class Collector:
    """Freezes the survivors of full collections; call :meth:`start` on the serving loop."""

    def __init__(self, *, sweep_every: float = SWEEP_EVERY) -> None:
        self.sweep_every = sweep_every
        self.full_collections = 0  # seen since start
        self.frozen_after = 0  # full collections followed by a freeze
        self.sweeps = 0
        self._seen = 0
        self._base = 0  # frozen objects after the last thorough collection
        self._swept = 0.0
        self._busy = 0.0  # when a full collection was last seen
        self._task: asyncio.Task[None] | None = None

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info.get("generation") == 2:
            self.full_collections += 1

    def settle(self) -> None:
        """A thorough collection, then everything that survived frozen."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._base = gc.get_freeze_count()
        self._swept = time.monotonic()
        self._seen = self.full_collections

    def start(self) -> None:
        gc.callbacks.append(self._callback)
        self.settle()
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def step(self) -> None:
        """Freeze after a full collection; sweep when calm and the frozen objects doubled."""
        now = time.monotonic()
        if self.full_collections != self._seen:
            self._seen = self.full_collections
            self._busy = now
            gc.freeze()
            self.frozen_after += 1
        elif (now - self._busy >= CALM and now - self._swept >= self.sweep_every
              and gc.get_freeze_count() > 2 * max(self._base, 1)):
            started = time.perf_counter()
            self.settle()
            self.sweeps += 1
            log.info("thorough garbage collection: %.0f ms, %d objects frozen",
                     (time.perf_counter() - started) * 1000, self._base)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            self.step()


__all__ = ["Collector"]
