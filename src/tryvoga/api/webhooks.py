"""``/api/v1/webhooks``: subscriptions over HTTP (the node runs the delivery worker).

Every endpoint needs a write token; a token sees and manages the subscriptions inside its
scope (``subscriptions.py``).

    POST   /api/v1/webhooks                  create; the answer holds the secret, shown once
    GET    /api/v1/webhooks                  list
    GET    /api/v1/webhooks/{id}             one, with its delivery counts
    DELETE /api/v1/webhooks/{id}             delete (pending deliveries are cancelled)
    GET    /api/v1/webhooks/{id}/attempts    delivery attempts, newest first (?limit=&before=)
"""

from __future__ import annotations

import logging

from aiohttp import web

from tryvoga.api.bodies import CreateWebhook, parse_body
from tryvoga.api.context import Context, context_of
from tryvoga.api.http import idempotency_key, json_response, query_int, result_response
from tryvoga.delivery.subscriptions import Webhooks
from tryvoga.service import Actor

log = logging.getLogger(__name__)

PREFIX = "/api/v1/webhooks"


def _hooks(request: web.Request) -> Webhooks:
    return context_of(request).node.webhooks


async def create(request: web.Request) -> web.Response:
    ctx, actor = await _writer(request)
    body = parse_body(await request.read(), CreateWebhook)
    result = await ctx.write(_hooks(request).create, actor, body.fields(),
                             idempotency_key(request))
    return result_response(result)


async def list_webhooks(request: web.Request) -> web.Response:
    ctx, actor = await _writer(request)
    return json_response({"webhooks": await ctx.read(_hooks(request).list, actor)})


async def _writer(request: web.Request) -> tuple[Context, Actor]:
    """The context and the token's actor: every webhook endpoint needs a token."""
    ctx = context_of(request)
    actor = await ctx.actor(request, required=True)
    assert actor is not None  # required=True raises instead of answering None
    return ctx, actor


async def get_webhook(request: web.Request) -> web.Response:
    ctx, actor = await _writer(request)
    found = await ctx.read(_hooks(request).get, actor, request.match_info["id"])
    return json_response({"webhook": found})


async def delete_webhook(request: web.Request) -> web.Response:
    ctx, actor = await _writer(request)
    gone = await ctx.write(_hooks(request).delete, actor, request.match_info["id"])
    return json_response({"webhook": gone})


async def attempts(request: web.Request) -> web.Response:
    ctx, actor = await _writer(request)
    limit = query_int(request, "limit", 100, 1, 1000)
    before = query_int(request, "before", 0, 0, 2**62) or None
    found = await ctx.read(_hooks(request).attempts, actor, request.match_info["id"], limit,
                           before)
    return json_response(found)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(PREFIX, create)
    r.add_get(PREFIX, list_webhooks)
    r.add_get(f"{PREFIX}/{{id}}", get_webhook)
    r.add_delete(f"{PREFIX}/{{id}}", delete_webhook)
    r.add_get(f"{PREFIX}/{{id}}/attempts", attempts)
