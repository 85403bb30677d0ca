"""The live feed of the alert channel: ``POST /api/v1/ingest/channel`` with a write token.

The body is one post, ``{"channel": "air_alert_ua", "id": 12345, "date":
"2024-08-22T08:40:01+03:00", "text": "🔴 08:39 Повітряна тривога в м. Київ ..."}`` (``date``
may be ``date_unixtime``, ``text`` a list of Telegram entities, ``channel`` defaults to
``air_alert_ua``), or ``{"channel": ..., "posts": [...]}`` with up to 500 of them. Each post is
applied once, keyed by channel and message id, in order of time and id; the answer lists what
became of each (applied, skipped or failed, with the reason) and a summary.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from msgspec import UNSET

from tryvoga.api.bodies import ChannelBody, parse_body
from tryvoga.api.context import CONTEXT, context_of
from tryvoga.api.http import json_response
from tryvoga.errors import Forbidden, TryvogaError
from tryvoga.ingest.channel import (
    DEFAULT_CHANNEL,
    ChannelIngest,
    Outcome,
    Post,
    post_from_json,
    refused,
    summarize,
)

PREFIX = "/api/v1"
INGEST = web.AppKey("channel_ingest", ChannelIngest)


async def ingest_channel(request: web.Request) -> web.Response:
    ctx = context_of(request)
    actor = await ctx.actor(request, required=True)
    assert actor is not None
    if not actor.write:  # as every other write: a read-only token applies nothing, says so
        raise Forbidden(f"token {actor.name!r} is read-only", code="token_read_only")
    body = parse_body(await request.read(), ChannelBody)  # types and bounds (api/bodies.py)
    if body.posts is not UNSET:
        channel = DEFAULT_CHANNEL if body.channel is UNSET else body.channel
        posts = [post_from_json(item.raw(), channel, where=f"posts[{i}]")
                 for i, item in enumerate(body.posts)]
    else:
        posts = [post_from_json(body.raw())]
    ingest = request.app[INGEST]
    outcomes: list[Outcome] = []
    for post in sorted(posts, key=Post.sort_key):
        prepared = ingest.prepare(post)
        if isinstance(prepared, Outcome):
            outcomes.append(prepared)
            continue
        try:
            result = await ctx.command(ingest.apply, ctx.service, actor, post, prepared)
        except TryvogaError as exc:
            if exc.status >= 500:
                raise
            outcomes.append(refused(post, exc))
            continue
        outcomes.append(ingest.outcome(post, result))
    answer: dict[str, Any] = {"summary": summarize(outcomes),
                              "posts": [o.to_json() for o in outcomes],
                              "version": ctx.follower.state.seq}
    return json_response(answer)


def add_routes(app: web.Application) -> None:
    context = app[CONTEXT]
    app[INGEST] = ChannelIngest(context.catalogue, context.names)
    app.router.add_post(f"{PREFIX}/ingest/channel", ingest_channel)


__all__ = ["add_routes"]
