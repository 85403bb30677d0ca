"""Tamper evidence of the event log, in three layers (docs/reliability.md says what each
detects):

1. **The hash chain** (``domain/events.py``): each event's hash covers its content and the
   previous hash, so an event changed in place breaks the link after it, and ``tryvoga verify``
   finds it.
2. **The recorded head** (``meta.head``, written with every append): the sequence *and hash*
   of the last event appended. Events cut from the end, or a last event edited and its hash
   recomputed (which leaves the chain consistent), no longer match it. ``check_tail`` checks
   the chain's last ``TAIL`` events against it when the server starts, and the server refuses
   to serve (and so to append to) a broken chain unless ``--allow-broken-chain`` is given.
3. **Anchors outside the database**: a rewrite of the whole chain (every hash recomputed, the
   head too) is consistent in itself; only a copy of an earlier head kept elsewhere shows it.
   The server appends the head to ``TRYVOGA_ANCHOR_FILE`` (one ``seq hash time`` line whenever
   the head moved, at most every ``TRYVOGA_ANCHOR_INTERVAL`` seconds) and publishes it at
   ``GET /api/v1/head`` for anyone to keep; ``tryvoga verify --anchor FILE`` checks every
   anchored head against the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tryvoga.domain.events import GENESIS_HASH, first_broken_link
from tryvoga.storage.sql import CorruptEvent, SQLStorage

TAIL = 1000  # events checked at start: the newest, where an edit is most likely to go unseen


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: str
    time: str


def head_problem(storage: SQLStorage, last: tuple[int, str]) -> str | None:
    """Whether the log's last event (``last``: seq, hash) is the one recorded as appended."""
    recorded = storage.recorded_head()
    if recorded is None:
        return None  # a database from before the head was recorded
    if recorded[0] != last[0]:
        return (f"the log ends at {last[0]} but event {recorded[0]} was written: events were "
                "removed from its end")
    if recorded[1] != last[1]:
        return (f"event {last[0]}'s hash is not the one recorded when it was appended: the "
                "last event was rewritten")
    return None


def check_tail(storage: SQLStorage, count: int = TAIL) -> tuple[int, str] | None:
    """(seq, reason) of the first problem in the last ``count`` events and the recorded head,
    or None."""
    head, _ = storage.head()
    start = max(head - count, 0)
    try:
        events = storage.read_events(start)
        prev = GENESIS_HASH
        if start > 0:
            before = storage.read_events(start - 1, 1)
            prev = before[0].hash if before else GENESIS_HASH
        broken = first_broken_link(events, prev, start + 1)
    except CorruptEvent as exc:
        return exc.seq, exc.message
    if broken is not None:
        return broken
    last = (events[-1].seq, events[-1].hash) if events else (0, "")
    if not events and head == 0:
        recorded = storage.recorded_head()
        if recorded is not None and recorded[0] != 0:
            return 1, f"the log is empty but event {recorded[0]} was written"
        return None
    problem = head_problem(storage, last)
    return None if problem is None else (last[0], problem)


def read_anchors(text: str) -> list[Anchor]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or not (parts[0].isascii() and parts[0].isdigit()) or len(parts[1]) != 64:
            raise ValueError(f"line {number} is not an anchor (seq hash time): {line[:80]!r}")
        out.append(Anchor(int(parts[0]), parts[1], parts[2] if len(parts) > 2 else ""))
    return out


def check_anchors(storage: SQLStorage, anchors: Iterable[Anchor]) -> tuple[int, str] | None:
    """(seq, reason) of the first anchored head the log does not hold, or None."""
    for anchor in anchors:
        found = storage.read_events(anchor.seq - 1, 1) if anchor.seq > 0 else []
        if not found or found[0].seq != anchor.seq:
            return anchor.seq, (f"anchored at {anchor.time or 'some time'}, event "
                                f"{anchor.seq} is no longer in the log")
        if found[0].hash != anchor.hash:
            return anchor.seq, (f"event {anchor.seq}'s hash differs from the one anchored at "
                                f"{anchor.time or 'some time'}: the chain was rewritten")
    return None


def anchor_line(seq: int, digest: str, time: str) -> bytes:
    return f"{seq} {digest} {time}\n".encode("ascii")


__all__ = ["TAIL", "Anchor", "anchor_line", "check_anchors", "check_tail", "head_problem",
           "read_anchors"]
