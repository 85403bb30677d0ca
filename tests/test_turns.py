"""Commands reach the writer in turns by sender (``tryvoga.turns``): a sender's command waits
behind at most the writer's ``AHEAD`` and one command of each other sender, keeps its order,
and a flood refuses only the flooder."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tryvoga.turns import AHEAD, Turns


async def run_all(sent: list[str], turns: Turns, hold: threading.Event) -> list[str]:
    """Send ``sent`` (sender names, in order) as commands to a one-thread writer whose first
    command waits for ``hold``; the order in which the writer ran them."""
    writer = ThreadPoolExecutor(max_workers=1)
    ran: list[str] = []
    loop = asyncio.get_running_loop()

    def write(label: str) -> None:
        if not ran:
            hold.wait(5)
        ran.append(label)

    async def command(sender: str, label: str) -> None:
        assert turns.refusal(sender) is None
        await turns.take(sender)
        try:
            await loop.run_in_executor(writer, write, label)
        finally:
            turns.give(sender)

    tasks = []
    for n, sender in enumerate(sent):
        tasks.append(asyncio.create_task(command(sender, f"{sender}{n}")))
        await asyncio.sleep(0)  # each command has asked for its turn before the next
    hold.set()
    await asyncio.gather(*tasks)
    writer.shutdown()
    return ran


def test_a_flood_waits_behind_the_others() -> None:
    turns = Turns(1000)
    sent = ["flood"] * 50 + ["authority"] + ["flood"] * 10 + ["other"]
    ran = asyncio.run(run_all(sent, turns, threading.Event()))
    assert len(ran) == len(sent) and turns.waiting == 0 and not turns.by_sender
    # The authority's one command: behind what the writer held and one of the flood's.
    assert ran.index("authority50") <= AHEAD + 1
    assert ran.index("other61") <= AHEAD + 3
    # One sender's commands keep their order.
    flood = [label for label in ran if label.startswith("flood")]
    assert flood == sorted(flood, key=lambda label: int(label[5:]))


def test_a_cancelled_waiter_gives_its_turn_on() -> None:
    async def scenario() -> list[str]:
        turns = Turns(100, ahead=1)
        await turns.take("a")
        ran: list[str] = []

        async def waiter(sender: str) -> None:
            await turns.take(sender)
            ran.append(sender)
            turns.give(sender)

        b = asyncio.create_task(waiter("b"))
        c = asyncio.create_task(waiter("c"))
        await asyncio.sleep(0)
        b.cancel()
        await asyncio.sleep(0)
        turns.give("a")
        await c
        with pytest.raises(asyncio.CancelledError):
            await b
        assert turns.waiting == 0 and not turns.by_sender
        await turns.take("d")  # the turn is free again
        turns.give("d")
        return ran

    assert asyncio.run(scenario()) == ["c"]


def test_only_the_flooder_is_refused() -> None:
    async def scenario() -> None:
        turns = Turns(16, ahead=1)  # two waiting per sender
        await turns.take("flood")
        queued = asyncio.create_task(turns.take("flood"))
        await asyncio.sleep(0)
        assert turns.refusal("flood") is not None  # its two are waiting
        assert turns.refusal("authority") is None
        turns.give("flood")
        await queued
        turns.give("flood")
        assert turns.waiting == 0 and turns.refusal("flood") is None

        full = Turns(2, ahead=1)  # one per sender, two in all
        await full.take("a")
        b = asyncio.create_task(full.take("b"))
        await asyncio.sleep(0)
        assert full.waiting == 2
        assert full.refusal("a") is not None and full.refusal("b") is not None
        assert full.refusal("c") is None  # none waiting: never locked out by the others
        full.give("a")
        await b
        full.give("b")

    asyncio.run(scenario())
