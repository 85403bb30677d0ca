"""Operations: ``/healthz``, ``/readyz``, ``/metrics``, request ids and the access log.

``install(app)`` is called once by ``create_app`` after every route is added. It

* adds ``/healthz`` (the process answers), ``/readyz`` (the database answers, the projection
  has every event of the log, the follower and the webhook worker are running; 503 with the
  reasons otherwise) and ``/metrics`` (Prometheus text, ``tryvoga/metrics.py``);
* through the ``instrumented`` middleware, gives each request its id (``X-Request-Id``: the
  client's when it is 1-128 of ``A-Z a-z 0-9 . _ : / + = -``, else a new one), counts it and
  observes its latency, labelled by the route's template (``/api/v1/alerts/{id}``), never the
  raw path;
* returns the id in the ``X-Request-Id`` header of every answer, but for the plain polled reads
  of ``FAST_READS`` sent without one: those are answered from cached bytes, by the read front
  when it is on (``api/front.py``) and by aiohttp identically when it is off, so they carry no
  per-request header; a client that sends ``X-Request-Id`` gets it back (the front hands such
  requests to aiohttp);
* adds ``X-State-Age: <seconds>`` to every answer while the node's state is stale (the log
  not read for longer than ``Follower.stale_after``: the database unreachable, the follower
  stuck), so that a client of any read knows how old what it is served may be;
* logs one line per request when ``--access-log`` is on: method, route template, path without
  its query (queries may hold tokens), status, milliseconds, request id.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import re
import secrets
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tryvoga.api.context import CONTEXT, Context
from tryvoga.api.front import FAST_READS, FRONTS, Front
from tryvoga.errors import StorageError, TryvogaError
from tryvoga.logs import REQUEST_ID, redact
from tryvoga.metrics import CONTENT_TYPE, LATENCY_BOUNDS, Metrics

log = logging.getLogger(__name__)
access = logging.getLogger("tryvoga.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HEADER = "X-Request-Id"
# Whole seconds since this node last read the log, on every answer while that is longer than
# the follower's ``stale_after`` (the database unreachable, the follower stuck); absent while
# the state is current, so that one state version is the same bytes on every node. The read
# front leaves such requests to aiohttp (``native.py``'s fast reads give no rendering then).
STATE_AGE = "X-State-Age"
_SANE_ID = re.compile(r"[A-Za-z0-9._:/+=\-]{1,128}")
SAMPLE_EVERY = 1.0  # seconds between copies of the plain counts into the metrics
# /readyz: how long the projection may take to reach the log's head before it is "behind",
# and how long the follower may go without a turn of its loop before it is "stuck".
CATCH_UP = 1.0
FOLLOWER_STALE = 10.0
DB_TIMEOUT = 2.0


@dataclass
class Ops:
    """What ``install`` shares with the handlers and the sampler."""

    app: web.Application
    context: Context
    metrics: Metrics
    # The routes the read front may answer (``FAST_READS``' paths, each "{name}" as "{}"):
    # aiohttp's answers there carry no request id either, unless the request brought one.
    fast_paths: frozenset[str] = frozenset()
    fronts: list[Front] = field(default_factory=list)
    observers: list[_Observer] = field(default_factory=list)
    # Each route's template and observer, for the ``instrumented`` middleware.
    routes: dict[Any, tuple[str, _Observer]] = field(default_factory=dict)
    log_access: bool = False
    sampled: float = 0.0


OPS = web.AppKey("ops", Ops)
RID = web.RequestKey("request_id", str)


_DRIVERS = ("sqlite3", "psycopg", "psycopg_pool", "asyncpg")


def is_database_error(exc: BaseException) -> bool:
    """A storage error, or a database driver's own (by module: no driver imported here)."""
    return (isinstance(exc, StorageError)
            or type(exc).__module__.split(".")[0] in _DRIVERS)


_prefix = secrets.token_hex(4)
_serial = itertools.count(1)


def _new_prefix() -> None:
    global _prefix
    _prefix = secrets.token_hex(4)


os.register_at_fork(after_in_child=_new_prefix)


def new_request_id() -> str:
    """16 hex digits: 8 random per process (new in each forked worker), then a serial number;
    unique across nodes and workers without a system call per request."""
    return f"{_prefix}{next(_serial) & 0xFFFFFFFF:08x}"


def _request_id(request: web.Request) -> str:
    given = request.headers.get(HEADER)
    if given is not None and _SANE_ID.fullmatch(given):
        return given
    return new_request_id()


@web.middleware
async def instrumented(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The middleware that gives a request its id, counts it and observes its latency under
    its route's template (the routes ``install`` saw; the catch-all is not counted)."""
    ops = request.app[OPS]
    found = ops.routes.get(request.match_info.route)
    if found is None:
        return await handler(request)
    route, observe = found
    rid = _request_id(request)
    request[RID] = rid
    token = REQUEST_ID.set(rid)
    start = time.perf_counter()
    status = 500
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except TryvogaError as exc:
        status = exc.status
        if is_database_error(exc):
            ops.metrics.db_errors.inc()
        raise
    except BaseException as exc:
        if is_database_error(exc):
            ops.metrics.db_errors.inc()
        raise
    finally:
        elapsed = time.perf_counter() - start
        # A handler that prepared its own response streamed it (SSE, NDJSON, WebSocket): its
        # time is the connection's life, not a latency.
        if response is None or not response.prepared:
            observe(elapsed)
        observe.count(status)
        if ops.log_access:
            access.info("%s %s %d %.1f ms", request.method, request.path, status,
                        elapsed * 1000, extra={
                            "method": request.method, "route": route, "path": request.path,
                            "status": status, "duration_ms": round(elapsed * 1000, 2),
                            "remote": request.remote})
        REQUEST_ID.reset(token)


_NAME = re.compile(r"\{[^}]*\}")


def _route(request: web.Request) -> str:
    """The request's route as ``FAST_READS`` names it (``/api/v3/alerts/{}``)."""
    resource = request.match_info.route.resource
    return "" if resource is None else _NAME.sub("{}", resource.canonical)


async def _stamp(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the request id in the answer's headers, and the state's age
    when the node serves a state it could not refresh lately (``STATE_AGE``)."""
    age = request.app[OPS].context.follower.state_age()
    if age is not None:
        response.headers[STATE_AGE] = str(int(age))
    rid = request.get(RID)
    if rid is None:
        if HEADER not in request.headers and _route(request) in request.app[OPS].fast_paths:
            return  # a plain polled read: its cached bytes, as the front answers it
        rid = request[RID] = _request_id(request)
    elif HEADER not in request.headers and _route(request) in request.app[OPS].fast_paths:
        return
    response.headers[HEADER] = rid


class _Observer:
    """What one route and method's requests add to the metrics, kept as plain numbers on the
    event loop's thread (no lock, no label look-up per request) and copied into the
    Prometheus histogram and counters by ``flush`` (each second, and at every scrape)."""

    __slots__ = ("_buckets", "_flushed", "_flushed_statuses", "_flushed_sum", "_method",
                 "_metrics", "_route", "_statuses", "_sum")

    def __init__(self, metrics: Metrics, route: str, method: str) -> None:
        self._metrics, self._route, self._method = metrics, route, method
        self._buckets = [0] * (len(LATENCY_BOUNDS) + 1)  # the last: above every bound
        self._flushed = [0] * (len(LATENCY_BOUNDS) + 1)
        self._sum = self._flushed_sum = 0.0
        self._statuses: dict[int, int] = {}
        self._flushed_statuses: dict[int, int] = {}

    def __call__(self, seconds: float) -> None:
        self._buckets[bisect_left(LATENCY_BOUNDS, seconds)] += 1
        self._sum += seconds

    def count(self, status: int) -> None:
        self._statuses[status] = self._statuses.get(status, 0) + 1

    def flush(self) -> None:
        if self._buckets != self._flushed:
            grown = [now - then for now, then in zip(self._buckets, self._flushed, strict=True)]
            self._metrics.add_latencies(self._route, self._method, grown,
                                        self._sum - self._flushed_sum)
            self._flushed, self._flushed_sum = list(self._buckets), self._sum
        for status, total in self._statuses.items():
            grown_count = total - self._flushed_statuses.get(status, 0)
            if grown_count:
                self._metrics.requests.labels(self._route, self._method, str(status)).inc(
                    grown_count)
                self._flushed_statuses[status] = total


# ---- sampling the plain counts ------------------------------------------------------------

async def sample(ops: Ops) -> tuple[int, int] | None:
    """Copy the plain counts into the metrics; returns (applied, head) of the log, or None
    when the database did not answer."""
    ctx = ops.context
    metrics = ops.metrics
    for observer in ops.observers:
        observer.flush()
    metrics.add_growth("front", sum(front.answered for front in ops.fronts),
                       metrics.front_reads)
    hub = ctx.node.hub
    metrics.set_subscribers(hub.subscriber_counts())
    metrics.add_growth("dropped", hub.dropped, metrics.frames_dropped)
    for worker in [ctx.node.worker] if ctx.node.worker is not None else []:
        metrics.add_growth("delivered", worker.delivered,
                           metrics.webhook_attempts.labels("delivered"))
        metrics.add_growth("failed", worker.failed - worker.gave_up,
                           metrics.webhook_attempts.labels("failed"))
        metrics.add_growth("gave_up", worker.gave_up, metrics.webhook_attempts.labels("gave_up"))
    metrics.add_growth("appended", ctx.service.appended, metrics.events_appended)
    applied = ctx.follower.state.seq
    metrics.log_head.set(applied)
    try:
        async with asyncio.timeout(DB_TIMEOUT):
            head = (await ctx.read(ctx.storage.head))[0]
    except Exception as exc:
        metrics.db_errors.inc()
        log.warning("the database did not answer the health check: %s",
                    type(exc).__name__ if not str(exc) else exc)
        return None
    metrics.projection_lag.set(max(0, head - ctx.follower.state.seq))
    ops.sampled = time.monotonic()
    return applied, head


async def _sampler(ops: Ops) -> None:
    while True:
        try:
            await sample(ops)
        except Exception:
            log.exception("sampling the metrics failed")
        await asyncio.sleep(SAMPLE_EVERY)


# ---- the routes ---------------------------------------------------------------------------

async def healthz(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    return web.json_response({"ok": True, "version": ctx.follower.state.seq, "pid": os.getpid()})


async def readyz(request: web.Request) -> web.Response:
    ops = request.app[OPS]
    ctx = ops.context
    reasons: list[str] = []
    checks: dict[str, Any] = {}
    try:
        async with asyncio.timeout(DB_TIMEOUT):
            head = (await ctx.read(ctx.storage.head))[0]
        checks["database"] = {"ok": True}
    except Exception as exc:
        ops.metrics.db_errors.inc()
        head = None
        detail = (f"no answer within {DB_TIMEOUT:g} s" if isinstance(exc, TimeoutError)
                  else redact(f"{type(exc).__name__}: {exc}"))  # a driver may name a URL
        checks["database"] = {"ok": False, "detail": detail}
        reasons.append(f"database unreachable ({detail})")
    applied = ctx.follower.state.seq
    if head is not None:
        # Another process may have appended a moment ago: give the follower its turn.
        deadline = time.monotonic() + CATCH_UP
        while ctx.follower.state.seq < head and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        applied = ctx.follower.state.seq
        lag = max(0, head - applied)
        checks["projection"] = {"ok": lag == 0, "applied": applied, "head": head, "lag": lag}
        if lag:
            reasons.append(f"projection {lag} event(s) behind the log (at {applied} of {head})")
    else:
        # The reads go on serving the state as last read: say how old that is.
        stale = time.monotonic() - ctx.follower.synced_at
        checks["projection"] = {"ok": False, "applied": applied, "head": None,
                                "last_read_seconds_ago": round(stale, 3)}
        reasons.append(f"reads serve the log as read {stale:.0f} s ago, at {applied}")
    age = time.monotonic() - ctx.follower.heartbeat
    follower_ok = age < FOLLOWER_STALE
    checks["follower"] = {"ok": follower_ok, "last_turn_seconds_ago": round(age, 3)}
    if not follower_ok:
        reasons.append(f"the log follower has not run for {age:.0f} s")
    worker = ctx.node.worker
    if ctx.settings.webhook_worker:
        alive = worker is not None and not worker.finished().done()
        checks["webhook_worker"] = {"ok": alive}
        if not alive:
            reasons.append("the webhook delivery worker is not running")
    else:
        checks["webhook_worker"] = {"ok": True, "detail": "off (--webhook-worker false)"}
    ready = not reasons
    body = {"ready": ready, "reason": "; ".join(reasons) or None, "checks": checks,
            "pid": os.getpid()}
    return web.json_response(body, status=200 if ready else 503,
                             headers={"Cache-Control": "no-store"})


async def metrics(request: web.Request) -> web.Response:
    ops = request.app[OPS]
    await sample(ops)  # this worker's counts are current; the others' at most a second old
    body = await asyncio.get_running_loop().run_in_executor(None, ops.metrics.exposition)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE,
                                            "Cache-Control": "no-store"})


# ---- installing ---------------------------------------------------------------------------

def install(app: web.Application) -> None:
    """Add the routes, note every route's template for the ``instrumented`` middleware (which
    ``create_app`` lists), and sample while the application runs."""
    context = app[CONTEXT]
    reads = app.get(FAST_READS)
    ops = Ops(app, context, Metrics(), frozenset(reads or ()))
    app[OPS] = ops
    app[FRONTS] = ops.fronts

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    ops.log_access = context.settings.access_log
    for route in app.router.routes():
        template = route.resource.canonical if route.resource is not None else "?"
        observe = _Observer(ops.metrics, template, route.method)
        ops.observers.append(observe)
        ops.routes[route] = (template, observe)
    app.on_response_prepare.append(_stamp)

    async def running(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_sampler(ops))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        ops.metrics.process_exit()

    app.cleanup_ctx.append(running)


__all__ = ["HEADER", "OPS", "STATE_AGE", "Ops", "install", "instrumented", "is_database_error",
           "new_request_id"]
