"""``GET /api/v1/head`` and the anchor file: the log's head, kept outside the database
(``integrity.py``, layer 3)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from aiohttp import web

from tryvoga.api.app import CONTEXT, Context, context_of
from tryvoga.api.http import json_response
from tryvoga.domain.events import now_utc
from tryvoga.integrity import anchor_line

log = logging.getLogger(__name__)


async def head(request: web.Request) -> web.Response:
    """The head of the log as this process has it: anyone may keep it as an anchor."""
    ctx = context_of(request)
    ctx.actor(request, required=False)
    state = ctx.follower.state
    return json_response({"seq": state.seq, "hash": state.last_hash, "time": now_utc()})


def append_anchor(path: str, line: bytes) -> None:
    # O_APPEND and one write of a short line: several workers' lines never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


async def anchoring(ctx: Context, path: str, interval: float) -> None:
    written = -1
    while True:
        state = ctx.follower.state
        if state.seq != written and state.seq > 0:
            try:
                await ctx.read(append_anchor, path,
                               anchor_line(state.seq, state.last_hash, now_utc()))
                written = state.seq
            except OSError as exc:
                log.error("cannot write the anchor file %s: %s", path, exc)
        await asyncio.sleep(interval)


def add_routes(app: web.Application) -> None:
    ctx = app[CONTEXT]
    app.router.add_get("/api/v1/head", head)
    path = ctx.settings.anchor_file
    if not path:
        return

    async def run(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(anchoring(ctx, path, ctx.settings.anchor_interval))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(run)


__all__ = ["add_routes"]
