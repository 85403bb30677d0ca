"""Commands reach the writer thread in turns by sender, so that no sender waits behind
another's flood.

Before, a command joined the one writer queue at its end: 2,000 incident reports sent at once
by four tokens made an authority's declaration, sent next, wait for all of them (a p99 of a
second in ``bench/abuse.py``), and a queue filled by them answered everyone else 503. Now each
sender (a token's name; the console operator's actor) has its own queue; the writer thread is
given at most ``AHEAD`` commands at a time (one running, the next ready, so it never idles
between two), and each time one finishes the next is taken from the sender after the last one
served, round robin. A command therefore waits behind at most ``AHEAD`` commands in the writer
and one from each other sender with commands waiting, however many those senders sent. One
sender's commands keep the order in which they were sent.

``Turns.refusal`` is the backpressure (issue 15): a sender may have ``per_sender`` commands
waiting and all senders together ``most``; a sender with none waiting is never refused, so a
flood cannot lock anyone else out.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque

# Commands handed to the writer thread at a time: one running and the next, so that the
# thread starts the next as soon as one commits.
AHEAD = 2


class Turns:
    """Whose command goes to the writer next; on the event loop only."""

    def __init__(self, most: int, *, ahead: int = AHEAD) -> None:
        self.most = most
        self.per_sender = max(1, most // 8)
        self.ahead = ahead
        self.waiting = 0  # commands taken and not yet given back (running or queued)
        self.by_sender: dict[str, int] = {}
        self._running = 0  # commands holding a turn
        self._queues: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    def refusal(self, sender: str) -> str | None:
        """Why a new command from ``sender`` is refused now, or None if it may wait."""
        mine = self.by_sender.get(sender, 0)
        if mine >= self.per_sender:
            return (f"{mine} of your commands are waiting to be written, the most one sender "
                    "may have waiting; try again in a second")
        if self.waiting >= self.most and mine:
            return (f"{self.waiting} commands are waiting to be written, the most this server "
                    "queues; try again in a second")
        return None

    async def take(self, sender: str) -> None:
        """Wait for ``sender``'s turn; every ``take`` that returns needs one ``give``."""
        self.waiting += 1
        self.by_sender[sender] = self.by_sender.get(sender, 0) + 1
        if self._running < self.ahead and not self._queues:
            self._running += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.get(sender)
        if queue is None:
            queue = self._queues[sender] = deque()
        queue.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._pass_on()  # the turn was given just as the waiter was cancelled
            self._left(sender)
            raise

    def give(self, sender: str) -> None:
        """``sender``'s command is done with the writer: the next turn goes to whoever is
        after it."""
        self._left(sender)
        self._pass_on()

    def _left(self, sender: str) -> None:
        self.waiting -= 1
        mine = self.by_sender[sender] - 1
        if mine:
            self.by_sender[sender] = mine
        else:
            del self.by_sender[sender]

    def _pass_on(self) -> None:
        queues = self._queues
        while queues:
            sender, queue = next(iter(queues.items()))
            turn = queue.popleft()
            if queue:
                queues.move_to_end(sender)  # the others first, then this sender again
            else:
                del queues[sender]
            if not turn.done():  # a waiter cancelled meanwhile left its future cancelled
                turn.set_result(None)
                return
        self._running -= 1
