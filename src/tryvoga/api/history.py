"""History statistics over live and imported alerts: ``GET /api/v1/history/stats``.

The node's reader of the history store (``history_reader``) serves the history list too
(``GET /api/v1/history`` in ``native.py``), for the imported alerts.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tryvoga.api.context import CONTEXT, context_of
from tryvoga.api.http import dumps, json_response
from tryvoga.domain.events import format_time, parse_time
from tryvoga.domain.model import AlertType
from tryvoga.domain.regions import COUNTRY, Level
from tryvoga.domain.stats import Span, compute, period_bound, to_csv
from tryvoga.errors import BadRequest, NotFound
from tryvoga.query.records import spans as record_spans
from tryvoga.storage.history import HistoryReader

PREFIX = "/api/v1"
MAX_STATS_REGIONS = 300
_CACHE = web.AppKey("history_stats_cache", OrderedDict)


def history_reader(app: web.Application) -> HistoryReader:
    return app[CONTEXT].node.history


def _choice(request: web.Request, name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.query.get(name)
    if not raw:
        return None
    if raw not in choices:
        raise BadRequest(f"{name}: {raw!r} is not one of {', '.join(choices)}", field=name,
                         status=400)
    return raw


def query_period_bound(request: web.Request, name: str) -> str | None:
    """``from`` or ``to``: a date (2023-05-20: midnight at its start, Kyiv time, as ``tryvoga
    stats`` reads it) or an ISO-8601 time with an offset; in the log's form."""
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return format_time(period_bound(raw))
    except (ValueError, OverflowError):  # OverflowError: a date at the calendar's ends
        raise BadRequest(f"{name}: {raw!r} is not a date (2023-05-20, midnight Kyiv time) or an "
                         "ISO-8601 time with an offset, e.g. 2023-05-20T00:41:31+03:00",
                         field=name, status=400) from None


def _regions(request: web.Request) -> list[str]:
    ctx = context_of(request)
    raw = request.query.get("region", "").strip()
    if raw:
        codes = []
        for part in raw.split(","):
            code = part.strip().upper()
            if code not in ctx.catalogue:
                raise NotFound(f"region: unknown region {part.strip()!r}",
                               code="region_not_found", field="region")
            codes.append(code)
        chosen = list(dict.fromkeys(codes))
    else:
        within = request.query.get("within", COUNTRY).strip().upper() or COUNTRY
        if within not in ctx.catalogue:
            raise NotFound(f"within: unknown region {within!r}", code="region_not_found",
                           field="within")
        levels: tuple[Level, ...] = (Level.OBLAST, Level.SPECIAL_CITY)
        if request.query.get("level"):
            try:
                levels = tuple(Level(p.strip()) for p in request.query["level"].split(","))
            except ValueError:
                choices = ", ".join(m.value for m in Level if m is not Level.COUNTRY)
                raise BadRequest(f"level: {request.query['level']!r}: expected some of "
                                 f"{choices}", field="level", status=400) from None
        chosen = sorted(c for c in ctx.catalogue.descendants(within)
                        if ctx.catalogue[c].level in levels)
    if len(chosen) > MAX_STATS_REGIONS:
        raise BadRequest(f"at most {MAX_STATS_REGIONS} regions per request; narrow it with "
                         "region=, within= or level=", field="region", status=400)
    return chosen


async def stats(request: web.Request) -> web.StreamResponse:
    """Per region: alerts, total and longest time under alert, by hour of day and month."""
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    regions = _regions(request)
    start = query_period_bound(request, "from")
    end = query_period_bound(request, "to")
    type_ = AlertType(_choice(request, "type", tuple(t.value for t in AlertType)) or "air_raid")
    imported = _choice(request, "imported", ("true", "false"))
    source = _choice(request, "source", ("official", "volunteer"))
    form = _choice(request, "format", ("json", "csv")) or "json"
    now = datetime.now(UTC)
    stop = parse_time(end).timestamp() if end else now.timestamp()
    first = parse_time(start).timestamp() if start else None
    if first is not None and first >= stop:
        raise BadRequest("from must be before to", field="from", status=400)
    state = ctx.follower.state
    # Rendered once per state version and minute (active alerts grow with the clock).
    key = (state.seq, int(time.time() // 60), request.query_string)
    cache: OrderedDict[Any, tuple[bytes, str]] = request.app[_CACHE]
    hit = cache.get(key)
    if hit is None:
        # The live spans are taken here, on the loop, where the state does not move under us.
        live = ([] if imported == "true" or source is not None else
                record_spans(state, None, type_, now=now))
        reader = history_reader(request.app)

        def render() -> tuple[bytes, str]:
            spans: list[Span] = list(live)
            if imported != "false":
                spans += record_spans(state, reader, type_, now=now, live=False,
                                      source=source)
            results = compute(ctx.catalogue, spans, regions, first, stop)
            if form == "csv":
                return to_csv(ctx.catalogue, results).encode("utf-8"), "text/csv"
            return dumps({
                "type": type_.value, "from": start, "to": end or format_time(now),
                "imported": {"true": "only", "false": "excluded"}.get(imported or "",
                                                                     "included"),
                "source": source, "version": state.seq,
                "regions": [r.to_json(ctx.catalogue) for r in results]}), "application/json"

        hit = await ctx.read(render)
        cache[key] = hit
        while len(cache) > 64:
            cache.popitem(last=False)
    body, content_type = hit
    if content_type == "text/csv":
        return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
            "Content-Disposition": 'attachment; filename="tryvoga-history-stats.csv"'})
    return web.Response(body=body, content_type=content_type, charset="utf-8")


async def imports(request: web.Request) -> web.Response:
    """The imports of historical records, with the rows that could not be resolved."""
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    reader = history_reader(request.app)

    def load() -> list[dict[str, Any]]:
        return [{"event": r.seq, "source": r.source, "file": r.file_name, "sha256": r.sha256,
                 "rows": r.rows, "added": r.added, "period": {"from": r.period_from,
                                                               "to": r.period_to},
                 "imported_at": r.imported_at,
                 "unresolved": [{"row": u.row, "place": u.place, "reason": u.reason}
                                for u in reader.unresolved(r.seq)]}
                for r in reader.imports()]

    return json_response({"imports": await ctx.read(load)})


def add_routes(app: web.Application) -> None:
    app[_CACHE] = OrderedDict()
    app.router.add_get(f"{PREFIX}/history/stats", stats)
    app.router.add_get(f"{PREFIX}/history/imports", imports)


__all__ = ["add_routes", "history_reader", "query_period_bound"]
