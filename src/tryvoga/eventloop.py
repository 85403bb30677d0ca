"""The event loop a server process runs on: uvloop where it is installed, else asyncio's own.

uvloop (libuv, in C) spends measurably less CPU per polled read and per stream write than
asyncio's selector loop (``bench/RESULTS.md``). Nothing in Tryvoga depends on it: every API the
server uses (transports, ``add_reader``, executors, signals) behaves the same on both, and the
test suite runs on whichever ``auto`` picks. ``TRYVOGA_EVENT_LOOP=asyncio`` opts out.
"""

from __future__ import annotations

import asyncio
import importlib.util

from tryvoga.errors import BadRequest

CHOICES = ("auto", "uvloop", "asyncio")


def resolve(choice: str) -> str:
    """The loop ``choice`` means here: ``uvloop`` or ``asyncio``. Asking for uvloop where it
    is not installed is refused (with ``auto`` it is simply not used)."""
    available = importlib.util.find_spec("uvloop") is not None
    if choice == "uvloop" and not available:
        raise BadRequest("--event-loop uvloop: uvloop is not installed (pip install uvloop, "
                         "or use auto or asyncio)", field="event_loop")
    if choice not in CHOICES:
        raise BadRequest(f"--event-loop must be one of {', '.join(CHOICES)}",
                         field="event_loop")
    return "uvloop" if choice != "asyncio" and available else "asyncio"


def new_event_loop(choice: str) -> asyncio.AbstractEventLoop:
    if resolve(choice) == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


__all__ = ["CHOICES", "new_event_loop", "resolve"]
