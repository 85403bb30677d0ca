"""``create_app(settings)``: the aiohttp application and what every request shares."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from tryvoga.api import protocol_errors
from tryvoga.api.http import RenderCache, error_response
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import Catalogue, load_catalogue
from tryvoga.errors import NotFound, TryvogaError, Unauthorized
from tryvoga.live.follower import Follower
from tryvoga.service import Actor, Result, Service
from tryvoga.settings import Settings
from tryvoga.storage.migrations import open_storage

log = logging.getLogger(__name__)
T = TypeVar("T")


class Context:
    """The per-process pieces: writer service on one thread, follower on the event loop."""

    def __init__(self, settings: Settings, catalogue: Catalogue) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.names = NameIndex(catalogue)
        # SQLite (--db), or PostgreSQL (--database-url) whose schema must already be current.
        self.storage = open_storage(settings.db, settings.database_url)
        self.service = Service(self.storage, catalogue)
        self.follower = Follower(self.storage, catalogue)
        self.cache = RenderCache()
        # All commands run on this one thread: one writer per process, and the event loop
        # never waits for a disk flush.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tryvoga-writer")

    async def command(self, call: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self.writer, partial(call, *args, **kwargs))
        # The answer is sent only once the read side has the change: the next read sees it.
        self.follower.advance(result.events)
        if result.replayed or not result.events:
            since = self.follower.state.seq
            if self.storage.remote:  # a database across the network: off the event loop
                self.follower.advance(await self.read(self.storage.read_events, since))
            else:
                self.follower.advance(self.storage.read_events(since))
        return result

    async def read(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, partial(call, *args))

    def actor(self, request: web.Request, *, required: bool) -> Actor | None:
        header = request.headers.get("Authorization", "")
        secret = None
        if header.lower().startswith("bearer "):
            secret = header[7:].strip()
        elif header:
            raise Unauthorized("Authorization must be 'Bearer <token>'", code="token_invalid")
        if secret is None and not required and self.settings.public_reads:
            return None
        return self.service.authenticate(secret)

    def close(self) -> None:
        self.writer.shutdown(wait=True)
        self.storage.close()


CONTEXT = web.AppKey("context", Context)


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


def create_app(settings: Settings, catalogue: Catalogue | None = None) -> web.Application:
    from tryvoga.api import native, openapi

    # The parser's own refusals (an over-long target or header, a malformed request) are
    # answered in JSON too: protocol_errors.py.
    protocol_errors.install()
    # No middlewares: ``errors`` wraps each route's handler instead (``_shape_errors``, at the
    # end), which costs a polled read one coroutine layer where a middleware costs two.
    app = web.Application(client_max_size=settings.max_body,
                          handler_args=protocol_errors.HANDLER_ARGS)
    context = Context(settings, catalogue or load_catalogue())
    app[CONTEXT] = context

    async def follow(app: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(context.follower.run(settings.poll_interval))]
        if settings.database_url:  # other nodes' commits wake the follower (live/notify.py)
            from tryvoga.live.notify import listen

            tasks.append(asyncio.create_task(listen(context.storage, context.follower.wake)))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        context.close()

    app.cleanup_ctx.append(follow)
    native.add_routes(app)
    openapi.add_routes(app)
    from tryvoga.api import cap
    cap.add_routes(app)
    from tryvoga.api import streams
    streams.add_routes(app)
    from tryvoga.api import compat_alertsinua, compat_ukrainealarm
    compat_alertsinua.add_routes(app)
    compat_ukrainealarm.add_routes(app)
    from tryvoga.delivery import api as webhooks
    webhooks.add_routes(app)
    from tryvoga.api import proposals
    proposals.add_routes(app)
    from tryvoga.api import channel, history
    channel.add_routes(app)
    history.add_routes(app)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "version": context.follower.state.seq,
                                  "pid": os.getpid()})

    async def root(request: web.Request) -> web.Response:
        raise web.HTTPFound("/api/v1/docs")

    app.router.add_get("/healthz", health)
    app.router.add_get("/", root)
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
    """Every route's errors in the one shape: what no route takes goes to ``_no_route``, and
    each handler is called through ``errors``. aiohttp has no public way to wrap a handler
    once it is registered, hence ``_handler``; the error-shape tests fail if that changes."""
    app.router.add_route("*", "/{tail:.*}", _no_route)
    for route in app.router.routes():
        route._handler = partial(errors, handler=route.handler)


def context_of(request: web.Request) -> Context:
    return request.app[CONTEXT]


__all__ = ["CONTEXT", "Context", "NotFound", "context_of", "create_app"]
