"""Statements are read in processes of their own, a few at a time, each within a deadline.

Reading a statement is pure Python work on up to ``MAX_STATEMENT`` characters. Done on the
server's own threads it holds the interpreter lock, and a few large statements sent at once
would slow every public read behind them. So the server hands the text to a child process (made
with ``spawn``: nothing of the server's threads or sockets is copied) that holds its own name
index, and waits for the answer on a thread that only sleeps in ``poll``:

* at most ``workers`` statements are read at once; up to ``queue`` more wait their turn, and
  beyond that a statement is refused with 503 ``statement_reader_busy`` and ``Retry-After``;
* a reading that takes longer than ``deadline`` seconds is stopped (its process is killed and
  replaced on the next statement) and answered 422 ``statement_too_slow``;
* a child that dies is replaced the same way; the statement is answered 503.

The reader is linear in the text, so at the size limit a reading takes about a second; the
deadline is there for what was not foreseen, not for ordinary statements.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import multiprocessing.connection
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from tryvoga.domain.regions import Catalogue
from tryvoga.errors import BadRequest, TryvogaError

__all__ = ["ReaderBusy", "StatementPool"]

WORKERS = 1
QUEUE = 8
DEADLINE = 20.0  # seconds for one reading, from when a process takes it
STARTUP = 60.0  # seconds for a new reader to load the catalogue and build its name index


class ReaderBusy(TryvogaError):
    """Every reader is busy and the queue is full (or a reader died): try again later."""

    status = 503
    default_code = "statement_reader_busy"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


def _serve(conn: multiprocessing.connection.Connection, catalogue: Catalogue) -> None:
    """The child: read what the parent sends until it closes the pipe."""
    from tryvoga.domain.names import NameIndex
    from tryvoga.ingest.statements.drafts import read_statement

    names = NameIndex(catalogue)
    from tryvoga.ingest.statements.morphology import load

    load()  # the dictionaries, before the deadline of the first statement starts counting
    conn.send(("ready", None))
    while True:
        try:
            text, source, within = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, Any] = ("ok", read_statement(text, names, source=source,
                                                            within=within))
        except Exception as exc:  # the parent reports it; the child goes on
            answer = ("error", f"{type(exc).__name__}: {exc}")
        conn.send(answer)


def _send(conn: multiprocessing.connection.Connection, job: object) -> None:
    with contextlib.suppress(OSError, ValueError):  # a stopped child: the waiter reports it
        conn.send(job)


@dataclass(slots=True)
class _Child:
    process: BaseProcess
    conn: multiprocessing.connection.Connection

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


class StatementPool:
    """Child processes that read statements (see the module docstring)."""

    def __init__(self, catalogue: Catalogue, *, workers: int = WORKERS, queue: int = QUEUE,
                 deadline: float = DEADLINE) -> None:
        self.catalogue = catalogue
        self.workers = workers
        self.queue = queue
        self.deadline = deadline
        self._idle: list[_Child] = []
        self._slots = asyncio.Semaphore(workers)
        self._waiting = 0
        self._waiter = ThreadPoolExecutor(max_workers=workers,
                                          thread_name_prefix="tryvoga-statement")
        self._context = multiprocessing.get_context("spawn")
        self._closed = False

    def _start(self) -> _Child:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(child, self.catalogue),
                                        name="tryvoga-statement-reader", daemon=True)
        process.start()
        child.close()
        started = _Child(process, parent)
        # The deadline counts from when the reader is ready, not while it builds its index.
        try:
            if parent.poll(STARTUP) and parent.recv()[0] == "ready":
                return started
        except (EOFError, OSError):
            pass
        started.stop()
        raise ReaderBusy("the statement reader did not start; try again", 5)

    def _ask(self, child: _Child, job: tuple[str, str, str | None]) -> tuple[str, Any] | None:
        """On a waiting thread: the child's answer, or None past the deadline or if it died.
        The text is sent by a thread of its own, so that a child that does not read it (a large
        text fills the pipe) is timed by the same deadline."""
        deadline = time.monotonic() + self.deadline
        threading.Thread(target=_send, args=(child.conn, job), daemon=True,
                         name="tryvoga-statement-send").start()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                if child.conn.poll(min(left, 0.5)):
                    answer: tuple[str, Any] = child.conn.recv()
                    return answer
            except (EOFError, OSError):
                return None
            if not child.process.is_alive():
                return None

    def _run(self, child: _Child | None, job: tuple[str, str, str | None]
             ) -> tuple[_Child, tuple[str, Any] | None]:
        """On a waiting thread: start a child if there is none idle, and ask it."""
        if child is None:
            child = self._start()
        return child, self._ask(child, job)

    async def read(self, text: str, source: str, within: str | None) -> Any:
        """The :class:`~tryvoga.ingest.statements.Reading` of ``text``."""
        if self._closed:
            raise ReaderBusy("the server is stopping", 5)
        if self._slots.locked() and self._waiting >= self.queue:
            raise ReaderBusy("every statement reader is busy and the queue is full; "
                             "try again shortly", self.deadline)
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        loop = asyncio.get_running_loop()
        idle = self._idle.pop() if self._idle else None
        asking = loop.run_in_executor(self._waiter, self._run, idle, (text, source, within))
        try:
            child, answer = await asyncio.shield(asking)
        except asyncio.CancelledError:
            # The client went away: the slot is free and the child kept once it has answered.
            asking.add_done_callback(self._settle)
            raise
        except BaseException:
            self._slots.release()
            raise
        self._slots.release()
        if answer is None:
            await loop.run_in_executor(None, child.stop)
            if child.process.exitcode not in (None, -9):
                raise ReaderBusy("the statement reader stopped; try again", 1)
            raise BadRequest(f"the statement could not be read within {self.deadline:g} s",
                             code="statement_too_slow", field="text")
        self._idle.append(child)
        if answer[0] != "ok":
            raise TryvogaError(f"reading the statement failed: {answer[1]}")
        return answer[1]

    def _settle(self, done: asyncio.Future[tuple[_Child, tuple[str, Any] | None]]) -> None:
        self._slots.release()
        if done.cancelled() or done.exception() is not None:
            return
        child, answer = done.result()
        if answer is not None and not self._closed:
            self._idle.append(child)
        else:
            child.stop()

    def close(self) -> None:
        self._closed = True
        for child in self._idle:
            child.stop()
        self._idle.clear()
        self._waiter.shutdown(wait=True)
