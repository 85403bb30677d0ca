"""Serving an application on a listening socket: aiohttp's runner, with the read front.

aiohttp's ``web.run_app`` builds its own sites, so it cannot put the read front
(``api/front.py``) on the connections; this does what it does for one socket (runner, signal
handlers, graceful shutdown, then the loop's remaining tasks) with a ``FrontSite`` in place of
its ``SockSite`` when the application has reads for the front.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from aiohttp import web

from tryvoga.api.front import FAST_READS, HEADER_TIMEOUT, KEEPALIVE_TIMEOUT, FrontSite
from tryvoga.collector import Collector


async def start(app: web.Application, sock: socket.socket, *, backlog: int,
                fast_reads: bool, handle_signals: bool = False,
                keepalive_timeout: float = KEEPALIVE_TIMEOUT,
                header_timeout: float = HEADER_TIMEOUT, per_address: int = 0
                ) -> web.AppRunner:
    """Start serving ``app`` on ``sock``; the caller ends it with ``runner.cleanup()``.

    The front (``api/front.py``) is put on the connections when it has reads to answer, or
    when connections per address are capped (it counts them, then hands every one to
    aiohttp at once)."""
    runner = web.AppRunner(app, handle_signals=handle_signals, access_log=None,
                           keepalive_timeout=keepalive_timeout)
    await runner.setup()
    reads = (app.get(FAST_READS) if fast_reads else None) or {}
    site: web.BaseSite
    if reads or per_address:
        site = FrontSite(runner, sock, reads, backlog=backlog,
                         keepalive_timeout=keepalive_timeout, header_timeout=header_timeout,
                         per_address=per_address)
    else:
        site = web.SockSite(runner, sock, backlog=backlog)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def run(app: web.Application, sock: socket.socket, loop: asyncio.AbstractEventLoop, *,
        backlog: int, fast_reads: bool, header_timeout: float = HEADER_TIMEOUT,
        per_address: int = 0) -> None:
    """Serve until SIGINT or SIGTERM, then shut down as ``web.run_app`` does."""

    async def serve() -> None:
        runner = await start(app, sock, backlog=backlog, fast_reads=fast_reads,
                             handle_signals=True, header_timeout=header_timeout,
                             per_address=per_address)
        collector = Collector()  # no full collection rescans start-up's or a storm's objects
        collector.start()
        try:
            await asyncio.Event().wait()  # until a signal raises GracefulExit here
        finally:
            await collector.stop()
            await runner.cleanup()

    asyncio.set_event_loop(loop)
    main = loop.create_task(serve())
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not main.done():
                main.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(main)
        finally:
            _cancel_remaining(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    tasks = list(asyncio.all_tasks(loop))
    for task in tasks:
        task.cancel()
    results = loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for task, result in zip(tasks, results, strict=True):
        if isinstance(result, Exception) and not task.cancelled():
            loop.call_exception_handler({
                "message": "unhandled exception during shutdown", "exception": result,
                "task": task})


__all__ = ["run", "start"]
