"""``create_app(node)``: the aiohttp application, the routes over a node it is given.

The node (``tryvoga.node``) holds everything the process runs and its listeners; this module
only adds routes to it, starts and stops it with the application, and gives every route's
errors the one shape.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from aiohttp import web

from tryvoga.api import (
    anchor,
    cap,
    channel,
    compat_alertsinua,
    history,
    limits,
    native,
    openapi,
    ops,
    proposals,
    protocol_errors,
    streams,
    ukrainealarm_webhooks,
    webhooks,
)
from tryvoga.api.context import CONTEXT, Context, context_of
from tryvoga.api.http import error_response
from tryvoga.errors import NotFound, TryvogaError
from tryvoga.node import Node

log = logging.getLogger(__name__)


@web.middleware
async def errors(request: web.Request,
                 handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                 ) -> web.StreamResponse:
    refused = protocol_errors.target_too_long(request)  # in the shape of its API
    if refused is not None:
        return refused
    try:
        return await handler(request)
    except TryvogaError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed",
                413: "body_too_large"}.get(exc.status, "http_error")
        message = {404: f"no such endpoint: {request.method} {request.path}",
                   405: f"{request.method} is not allowed on {request.path}",
                   413: "the request body is too large"}.get(exc.status, exc.reason)
        response = error_response(TryvogaError(message, code=code, status=exc.status))
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(TryvogaError("internal error; it has been logged"))


def create_app(node: Node, pages: Sequence[Callable[[web.Application], None]] = ()
               ) -> web.Application:
    """The application serving ``node``; it starts the node with itself and stops it after.
    ``pages`` add further routes (``tryvoga.web.add_routes``: the public map and the
    console), before the catch-all that gives unknown paths the one error shape."""
    # The parser's own refusals (an over-long target or header, a malformed request) are
    # answered in JSON too: protocol_errors.py.
    protocol_errors.install()
    # Two middlewares, outermost first: every error in the one shape, then the request id,
    # metrics and access log (api/ops.py). aiohttp builds each route's chain once and caches
    # it; measured against wrapping each route's handler (bench/middleware.py), see
    # docs/architecture.md "aiohttp's internals".
    app = web.Application(client_max_size=node.settings.max_body,
                          handler_args=protocol_errors.HANDLER_ARGS,
                          middlewares=[errors, ops.instrumented])
    app[CONTEXT] = Context(node)
    limits.install(app, node.settings)  # per-address and per-token limits: a middleware

    async def run_node(app: web.Application) -> AsyncIterator[None]:
        await node.start()
        yield
        await node.stop()
        app[CONTEXT].tokens.close()

    async def close_streams(app: web.Application) -> None:
        node.close_streams()

    app.cleanup_ctx.append(run_node)
    app.on_shutdown.append(close_streams)
    for module in (native, openapi, cap, streams, compat_alertsinua, ukrainealarm_webhooks,
                   webhooks, proposals, channel, history, anchor):
        module.add_routes(app)
    for add_routes in pages:
        add_routes(app)
    ops.install(app)  # /healthz, /readyz, /metrics, request ids: last, so it sees every route
    _shape_errors(app)
    return app


async def _no_route(request: web.Request) -> web.StreamResponse:
    """What no route takes: 405 with Allow where the path has other methods, else 404
    (``errors`` gives both the one shape). Only requests that match nothing come here, so
    looking through the resources that could hold the path costs the error path alone."""
    path = request.rel_url.path
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        canonical = resource.canonical
        if canonical == "/{tail}" or not path.startswith(canonical.partition("{")[0]):
            continue
        match, methods = await resource.resolve(request)
        if match is None:
            allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


def _shape_errors(app: web.Application) -> None:
    """What no route takes goes to ``_no_route``, which ``errors`` answers in the one shape."""
    app.router.add_route("*", "/{tail:.*}", _no_route)


__all__ = ["CONTEXT", "Context", "NotFound", "context_of", "create_app", "errors"]
