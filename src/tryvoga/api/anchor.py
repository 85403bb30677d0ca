"""``GET /api/v1/head`` and the anchor file: the log's head, kept outside the database
(``storage/integrity.py``, layer 3)."""

from __future__ import annotations

import logging

from aiohttp import web

from tryvoga.api.context import context_of
from tryvoga.api.http import json_response
from tryvoga.domain.events import now_utc

log = logging.getLogger(__name__)


async def head(request: web.Request) -> web.Response:
    """The head of the log as this process has it: anyone may keep it as an anchor."""
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    state = ctx.follower.state
    return json_response({"seq": state.seq, "hash": state.last_hash, "time": now_utc()})


def add_routes(app: web.Application) -> None:
    """The head; the anchor file is written by the node (``live/anchor.py``)."""
    app.router.add_get("/api/v1/head", head)


__all__ = ["add_routes"]
