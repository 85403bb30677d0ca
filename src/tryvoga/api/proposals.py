"""Statements in, proposals out, over HTTP (write tokens only; proposals are not public).

    POST /api/v1/ingest/statement        {"text", "source"?, "within"?} or a text/plain body
    GET  /api/v1/proposals?state=&limit=
    GET  /api/v1/proposals/{id}
    POST /api/v1/proposals/{id}/accept   applies it through the Service, scope checked
    POST /api/v1/proposals/{id}/reject   {"reason"?}
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tryvoga.api.bodies import AcceptProposal, RejectProposal, Statement, parse_body
from tryvoga.api.context import Context, context_of
from tryvoga.api.http import (
    error_response,
    json_response,
    query_int,
    result_response,
)
from tryvoga.errors import BadRequest, Unauthorized
from tryvoga.ingest.proposals import ProposalDesk, proposal_json
from tryvoga.ingest.statements.pool import ReaderBusy
from tryvoga.service import Actor

PREFIX = "/api/v1"


async def _desk(request: web.Request) -> tuple[Context, ProposalDesk, Actor]:
    ctx = context_of(request)
    actor = await ctx.actor(request, required=True)
    if actor is None:  # required=True never gives None; this keeps the type exact
        raise Unauthorized("this needs a bearer token", code="token_missing")
    return ctx, ctx.node.proposals, actor


async def ingest_statement(request: web.Request) -> web.Response:
    ctx, desk, actor = await _desk(request)
    if request.content_type == "text/plain":
        raw = await request.read()
        try:
            body: dict[str, Any] = {"text": raw.decode(request.charset or "utf-8")}
        except (UnicodeDecodeError, LookupError):
            raise BadRequest("the body is not text in its declared charset", field="text",
                             status=400) from None
        body["source"] = request.query.get("source")
        body["within"] = request.query.get("within")
    else:
        given = parse_body(await request.read(), Statement)
        # The body's source and within, else the query's (as with a text/plain body).
        body = {"text": given.text,
                "source": request.query.get("source") if given.source is None else given.source,
                "within": request.query.get("within") if given.within is None else given.within}
    checked = desk.check(actor, body.get("text"), body.get("source"), body.get("within"))
    # Read in a process of its own, within a deadline: public reads do not wait on it.
    try:
        reading = await ctx.node.statements.read(checked.text, checked.source, checked.within)
    except ReaderBusy as busy:
        response = error_response(busy)
        response.headers["Retry-After"] = str(busy.retry_after)
        return response
    result = await ctx.command(desk.save, actor, checked.read(reading))
    return result_response(result)


async def list_proposals(request: web.Request) -> web.Response:
    ctx, desk, actor = await _desk(request)
    state = request.query.get("state") or None
    limit = query_int(request, "limit", 100, 1, 5000)
    records = await ctx.read(desk.list, actor, state, limit)
    return json_response({"proposals": [proposal_json(r) for r in records]})


async def get_proposal(request: web.Request) -> web.Response:
    ctx, desk, actor = await _desk(request)
    record = await ctx.read(desk.get, actor, request.match_info["id"])
    return json_response({"proposal": proposal_json(record)})


async def accept(request: web.Request) -> web.Response:
    ctx, desk, actor = await _desk(request)
    raw = await request.read()
    if raw.strip():
        parse_body(raw, AcceptProposal)  # nothing to say: {} or no body
    result = await ctx.command(desk.accept, actor, request.match_info["id"])
    return result_response(result)


async def reject(request: web.Request) -> web.Response:
    ctx, desk, actor = await _desk(request)
    raw = await request.read()
    body = parse_body(raw, RejectProposal) if raw.strip() else RejectProposal()
    result = await ctx.command(desk.reject, actor, request.match_info["id"], body.reason or "")
    return result_response(result)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(f"{PREFIX}/ingest/statement", ingest_statement)
    r.add_get(f"{PREFIX}/proposals", list_proposals)
    r.add_get(f"{PREFIX}/proposals/{{id}}", get_proposal)
    r.add_post(f"{PREFIX}/proposals/{{id}}/accept", accept)
    r.add_post(f"{PREFIX}/proposals/{{id}}/reject", reject)
