"""``tryvoga serve --workers N``: N server processes on one listening socket, supervised.

The parent forks the workers after it has opened the socket and checked the database, then
only watches them:

* **A worker dies with its parent.** Each asks the kernel for SIGTERM when its parent dies
  (``prctl(PR_SET_PDEATHSIG)`` on Linux), and also watches the read end of a pipe whose
  write end only the parent holds: the pipe reads end-of-file when the parent is gone however
  it went (SIGKILL included, and on systems without ``prctl``). Either way the worker shuts down
  gracefully (its streams get their final frame) and the port is free for the next start.
* **A dead worker is restarted**, after a delay that doubles with each death in a row (from
  ``RESTART_DELAY`` up to ``MAX_RESTART_DELAY``) and is forgiven once a worker has run for
  ``STABLE_AFTER`` seconds, so a worker that crashes at start does not spin.
* **SIGTERM or SIGINT to the parent** stops restarting and ends every worker with SIGTERM
  (graceful), then SIGKILL after ``STOP_GRACE`` seconds for one that does not end.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from typing import cast

from aiohttp import web

from tryvoga import logs
from tryvoga.settings import Settings

log = logging.getLogger(__name__)

RESTART_DELAY = 0.5
MAX_RESTART_DELAY = 30.0
STABLE_AFTER = 60.0
STOP_GRACE = 15.0
PR_SET_PDEATHSIG = 1
LISTEN_BACKLOG = 4096  # the kernel caps it at net.core.somaxconn

Worker = Callable[[Settings, socket.socket], None]


def die_with_parent(parent: int, watch_fd: int | None) -> None:
    """In a worker: SIGTERM when the parent dies (see the module docstring)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            log.warning("prctl(PR_SET_PDEATHSIG) is not available; the parent pipe alone "
                        "ends this worker with its parent")
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
    if watch_fd is not None:
        WATCHED.append(watch_fd)


# The read end of the parent pipe in this worker, for the event loop to watch (``watch``).
WATCHED: list[int] = []


def watch(loop: asyncio.AbstractEventLoop) -> None:
    """Add a reader on the parent pipe to ``loop``: end-of-file there means the parent is
    gone, and this worker ends as on SIGTERM."""
    if not WATCHED:
        return
    fd = WATCHED[0]

    def parent_gone() -> None:
        with contextlib.suppress(OSError):
            if os.read(fd, 1):
                return  # the parent never writes; anything else is not the end
        loop.remove_reader(fd)
        log.warning("the supervising process is gone; this worker stops")
        os.kill(os.getpid(), signal.SIGTERM)

    loop.add_reader(fd, parent_gone)


def run_worker(settings: Settings, sock: socket.socket,
               pages: Sequence[Callable[[web.Application], None]] = ()) -> None:
    """One server process: the application (the API over a node, then ``pages``) on ``sock``
    until SIGTERM (or its parent's end)."""
    from tryvoga.api.app import create_app
    from tryvoga.api.formats import webhook_formats
    from tryvoga.api.server import run
    from tryvoga.eventloop import new_event_loop
    from tryvoga.node import build_node

    logs.configure(settings.log_level, settings.log_format)
    app = create_app(build_node(settings, formats=webhook_formats()), pages=pages)
    loop = new_event_loop(settings.event_loop)  # after any fork: one loop per worker
    watch(loop)
    # The listening socket keeps LISTEN_BACKLOG: aiohttp's default of 128 is too few for a
    # country's stream clients reconnecting at once after a restart.
    run(app, sock, loop, backlog=LISTEN_BACKLOG, fast_reads=settings.fast_reads,
        header_timeout=settings.header_timeout, per_address=settings.connections_per_address)


class Supervisor:
    def __init__(self, settings: Settings, sock: socket.socket, worker: Worker) -> None:
        self.settings = settings
        self.sock = sock
        self.worker = worker
        self.context = multiprocessing.get_context("fork")
        self.parent = os.getpid()
        self.read_fd, self.write_fd = os.pipe()
        self.processes: dict[int, tuple[BaseProcess, float]] = {}  # slot -> (process, start)
        self.stopping = False
        self.failures = 0
        self.restarts = 0

    def _target(self) -> None:
        # The supervisor's own handlers are not this process's business (a worker's loop
        # sets its own): a SIGTERM before then ends the worker.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.close(self.write_fd)  # only the parent may hold it, or the pipe never ends
        die_with_parent(self.parent, self.read_fd)
        self.worker(self.settings, self.sock)

    def _start(self, slot: int) -> None:
        process = self.context.Process(target=self._target, daemon=True,
                                       name=f"tryvoga-worker-{slot}")
        process.start()
        self.processes[slot] = (process, time.monotonic())

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True
        for process, _ in self.processes.values():
            if process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid or 0, signal.SIGTERM)

    def run(self, on_started: Callable[[], object] | None = None) -> None:
        for slot in range(self.settings.workers):
            self._start(slot)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        if on_started is not None:
            on_started()
        while not self.stopping:
            sentinels = {p.sentinel: slot for slot, (p, _) in self.processes.items()}
            ready = multiprocessing.connection.wait(list(sentinels), timeout=1.0)
            for sentinel in ready:
                if self.stopping:
                    break
                slot = sentinels[cast(int, sentinel)]
                self._restart(slot)
        self._join()

    def _restart(self, slot: int) -> None:
        process, started = self.processes[slot]
        process.join()
        ran = time.monotonic() - started
        self.failures = 0 if ran >= STABLE_AFTER else self.failures + 1
        delay = min(MAX_RESTART_DELAY, RESTART_DELAY * 2 ** max(self.failures - 1, 0))
        self.restarts += 1
        log.warning("worker %d (pid %s) ended with exit code %s after %.1f s; restarting it "
                    "in %.1f s", slot, process.pid, process.exitcode, ran, delay)
        deadline = time.monotonic() + delay
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, max(deadline - time.monotonic(), 0)))
        if not self.stopping:
            self._start(slot)

    def _join(self) -> None:
        deadline = time.monotonic() + STOP_GRACE
        for process, _ in self.processes.values():
            process.join(max(deadline - time.monotonic(), 0))
            if process.is_alive():
                log.warning("worker pid %s did not stop within %.0f s; killed", process.pid,
                            STOP_GRACE)
                process.kill()
                process.join()
        os.close(self.write_fd)


def supervise(settings: Settings, sock: socket.socket, worker: Worker,
              on_started: Callable[[], object] | None = None) -> None:
    """Run ``settings.workers`` copies of ``worker`` until SIGTERM or SIGINT."""
    logs.configure(settings.log_level, settings.log_format)
    Supervisor(settings, sock, worker).run(on_started)


__all__ = ["LISTEN_BACKLOG", "Supervisor", "die_with_parent", "run_worker", "supervise",
           "watch"]
