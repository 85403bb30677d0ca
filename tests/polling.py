"""Waiting for something another process or task does: the one polling helper of the suite.

``wait_for`` (threads and plain tests) and ``until`` (coroutines) call ``check`` until it
returns something true, and return that; past ``seconds`` they fail naming ``what``. The
bound is a deadline for a hung test, never a timing assertion.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
INTERVAL = 0.02  # seconds between checks


def _looked(check: Callable[[], T], deadline: float, seconds: float, what: str) -> T | None:
    """One look: the check's value when it holds, None while there is time, else a failure."""
    value = check()
    if value:
        return value
    if time.monotonic() > deadline:
        raise AssertionError(f"timed out after {seconds} s waiting for {what or check}")
    return None


def wait_for(check: Callable[[], T], what: str = "", seconds: float = 60.0,
             interval: float = INTERVAL) -> T:
    deadline = time.monotonic() + seconds
    while (value := _looked(check, deadline, seconds, what)) is None:
        time.sleep(interval)
    return value


async def until(check: Callable[[], T], what: str = "", seconds: float = 60.0,
                interval: float = INTERVAL) -> T:
    deadline = time.monotonic() + seconds
    while (value := _looked(check, deadline, seconds, what)) is None:
        await asyncio.sleep(interval)
    return value
