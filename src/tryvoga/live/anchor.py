"""The anchor file: the log's head appended outside the database whenever it moved, at most
every ``--anchor-interval`` seconds (``storage/integrity.py``, layer 3). The node runs it."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from tryvoga.domain.events import now_utc
from tryvoga.live.follower import Follower
from tryvoga.storage.integrity import anchor_line

log = logging.getLogger(__name__)


def append_anchor(path: str, line: bytes) -> None:
    # O_APPEND and one write of a short line: several workers' lines never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


async def anchoring(follower: Follower, path: str, interval: float,
                    off_loop: Callable[..., Awaitable[Any]]) -> None:
    """Append the head whenever it moved; ``off_loop`` runs the write off the event loop."""
    written = -1
    while True:
        state = follower.state
        if state.seq != written and state.seq > 0:
            try:
                await off_loop(append_anchor, path,
                               anchor_line(state.seq, state.last_hash, now_utc()))
                written = state.seq
            except OSError as exc:
                log.error("cannot write the anchor file %s: %s", path, exc)
        await asyncio.sleep(interval)


__all__ = ["anchoring", "append_anchor"]
