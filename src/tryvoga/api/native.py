"""The native API under /api/v1."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from functools import partial
from typing import Any

from aiohttp import web

from tryvoga.api.context import CONTEXT, Context, context_of
from tryvoga.api.front import READS_LOOKUP, READS_STALE, READS_VERSION, Asked, Read, fast_reads
from tryvoga.api.history import history_reader, query_period_bound
from tryvoga.api.http import (
    Rendered,
    cached_response,
    dumps,
    idempotency_key,
    json_response,
    query_int,
    rendered,
    result_response,
)
from tryvoga.commands import (
    MAX_ID,
    Command,
    ConfigureRegion,
    Declare,
    EndAlert,
    EndByRegion,
    ReportIncident,
    UpdateAlert,
    UpdateIncident,
    parse,
)
from tryvoga.domain.events import now_utc
from tryvoga.domain.model import Alert, AlertStatus, AlertType, IncidentKind, IncidentStatus
from tryvoga.domain.regions import COUNTRY, Level
from tryvoga.domain.render import alert_json, incident_json, public_event_json, region_brief
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, NotFound, TryvogaError
from tryvoga.parsing import whole_number
from tryvoga.query.records import decode_cursor, history_page, imported_filter

PREFIX = "/api/v1"
MAX_LIMIT = 5000
MAX_QUERY = 200  # characters of a name to look for


def _ascii_id(raw: str) -> bool:
    """ASCII digits of an id that can exist ("²".isdigit() is true; int("²") fails)."""
    return raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_ID))


def _region_param(ctx: Context, request: web.Request, name: str = "region") -> str | None:
    return _region_value(ctx, request.query.get(name), name)


def _region_value(ctx: Context, raw: str | None, name: str = "region") -> str | None:
    if not raw:
        return None
    code = raw.strip().upper()
    if code not in ctx.catalogue:
        raise NotFound(f"{name}: unknown region {raw!r}", code="region_not_found", field=name)
    return code


def _enum_param(request: web.Request, name: str, cls: Any) -> Any:
    return _enum_value(request.query.get(name), name, cls)


def _enum_value(raw: str | None, name: str, cls: Any) -> Any:
    if not raw:
        return None
    try:
        return cls(raw)
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise BadRequest(f"{name}: {raw!r} is not one of {choices}", field=name,
                         status=400) from None


_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _flag(request: web.Request, name: str) -> bool:
    """A yes/no query parameter: absent is no; anything but the words listed is a 400."""
    return _flag_value(request.query.get(name), name)


def _flag_value(raw: str | None, name: str) -> bool:
    if raw is None:
        return False
    if raw not in _FLAGS:
        raise BadRequest(f"{name}: {raw!r} is not one of {', '.join(_FLAGS)}", field=name,
                         status=400)
    return _FLAGS[raw]


def _levels_param(request: web.Request) -> tuple[Level, ...] | None:
    return _levels_value(request.query.get("level"))


def _levels_value(raw: str | None) -> tuple[Level, ...] | None:
    if not raw:
        return None
    levels = []
    for part in raw.split(","):
        try:
            levels.append(Level(part.strip()))
        except ValueError:
            choices = ", ".join(m.value for m in Level if m is not Level.COUNTRY)
            raise BadRequest(f"level: {part!r} is not one of {choices}", field="level",
                             status=400) from None
    return tuple(levels)


def _touches(state: State, alert: Alert, root: str) -> bool:
    """The alert lies inside ``root`` or covers it from above."""
    return state.catalogue.is_within(alert.region, root) or state.catalogue.is_within(
        root, alert.region)


def _idempotency_key(request: web.Request) -> str | None:
    return idempotency_key(request)


async def _run(request: web.Request, cls: type[Command], target: str | None = None, *,
               optional_body: bool = False) -> web.Response:
    """A write: the token, then the body parsed into its command (commands.py), then the
    service; the service says what it did, ``result_response`` says it in HTTP."""
    ctx = context_of(request)
    actor = await ctx.actor(request, required=True)
    assert actor is not None
    raw = await request.read()
    command = parse(raw if raw.strip() or not optional_body else b"{}", cls)
    return result_response(await ctx.command(ctx.service.handle, actor, command, target,
                                             idempotency_key=_idempotency_key(request)))


# ---- regions ---------------------------------------------------------------------------------

async def list_regions(request: web.Request) -> web.Response:
    ctx = context_of(request)
    levels = _levels_param(request)
    limit = query_int(request, "limit", 100, 1, MAX_LIMIT)
    query = request.query.get("q", "")
    if len(query) > MAX_QUERY:
        raise BadRequest(f"q is longer than {MAX_QUERY} characters", field="q", status=400)
    query = query.strip()
    within = _region_param(ctx, request, "within")
    ambiguous = False
    api_id = request.query.get("api_id", "").strip()
    if api_id or _ascii_id(query):
        # The numeric id that alerts.in.ua and ukrainealarm use.
        number = api_id or query
        if not _ascii_id(number):
            raise BadRequest("api_id must be a whole number", field="api_id", status=400)
        match = ctx.catalogue.by_api_id.get(int(number))
        regions = [] if match is None else [match]
    elif query:
        found = ctx.names.find(query, within=within, levels=levels)
        if found.matches:
            regions = list(found.matches)
            ambiguous = found.ambiguous
        else:
            regions = [r for r in ctx.names.search(query, limit=limit, levels=levels)
                       if within is None or ctx.catalogue.is_within(r.code, within)]
    else:
        pool = (ctx.catalogue.descendants(within) if within else
                (r.code for r in ctx.catalogue if r.code != COUNTRY))
        regions = [ctx.catalogue[c] for c in pool
                   if levels is None or ctx.catalogue[c].level in levels]
        regions.sort(key=lambda r: r.code)
    regions = regions[:limit]
    return json_response({"regions": [dict(region_brief(r), iso=r.iso, api_id=r.api_id)
                                       for r in regions], "ambiguous": ambiguous})


async def get_region(request: web.Request) -> web.Response:
    ctx = context_of(request)
    code = request.match_info["code"].strip().upper()
    region = ctx.catalogue.get(code)
    if region is None:
        raise NotFound(f"unknown region {code!r}", code="region_not_found")
    state = ctx.follower.state
    covering = state.covering_alerts(code)
    inside = [a for a in state.active_alerts()
              if a.region != code and ctx.catalogue.is_within(a.region, code)]
    body = {
        **region_brief(region),
        "iso": region.iso,
        "api_id": region.api_id,
        "ancestors": [region_brief(ctx.catalogue[c]) for c in ctx.catalogue.ancestors(code)],
        "children": [region_brief(ctx.catalogue[c]) for c in ctx.catalogue.children[code]],
        "shelter_seconds": state.shelter_seconds(code),
        "neighbours": [region_brief(ctx.catalogue[c]) for c in state.neighbours(code)],
        "status": {t.value: state.effective_of(code, t) for t in AlertType},
        "alerts": [dict(alert_json(a, state), inherited=a.region != code) for a in covering],
        "alerts_inside": [alert_json(a, state) for a in inside],
        "version": state.seq,
    }
    return json_response(body)


async def configure_region(request: web.Request) -> web.Response:
    return await _run(request, ConfigureRegion, request.match_info["code"])


# ---- alerts ----------------------------------------------------------------------------------

async def active_alerts(request: web.Request) -> web.Response:
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    if "?" not in request.raw_path:  # a poller's plain read skips parsing an empty query
        return cached_response(request, _active_rendering(ctx, [], None))
    return cached_response(request, _active_asked(ctx, request.query.get))


def _active_asked(ctx: Context, query: Callable[[str], str | None]) -> Rendered:
    """The active alerts as the query (``region``, ``type``, ``neighbours``) asks for them; a
    4xx error for a bad value."""
    region = _region_value(ctx, query("region"))
    type_ = _enum_value(query("type"), "type", AlertType)
    neighbours = _flag_value(query("neighbours"), "neighbours")
    state = ctx.follower.state
    roots = [] if region is None else [region, *(state.neighbours(region) if neighbours
                                                 else ())]
    return _active_rendering(ctx, roots, type_)


def _asked_read(ctx: Context, plain_read: Callable[[], Rendered],
                asked_read: Callable[[Context, Callable[[str], str | None]], Rendered]
                ) -> Read:
    """The read front's read of a public polled read: the rendering, with or without a query
    (a bad value, or a token, is aiohttp's to answer)."""

    def read(asked: Asked) -> Rendered | None:
        if asked.authorization is not None:
            return None
        if asked.query is None:
            return plain_read()
        try:
            return asked_read(ctx, asked.query.get)
        except TryvogaError:
            return None

    return read


def _active_rendering(ctx: Context, roots: list[str], type_: AlertType | None) -> Rendered:
    """The active alerts touching ``roots`` (all for none), of ``type_`` (all for None), as
    rendered for the current state version."""
    state = ctx.follower.state

    def render() -> Rendered:
        alerts = [alert_json(a, state) for a in state.active_alerts()
                  if (not roots or any(_touches(state, a, root) for root in roots))
                  and (type_ is None or a.type is type_)]
        return rendered(dumps({"version": state.seq, "alerts": alerts}), state)

    # The unfiltered read, which most pollers make, without building its key each time.
    key = _ALL_ACTIVE if not roots and type_ is None else (
        f"active|{','.join(roots)}|{type_}")
    return ctx.cache.get(state.seq, key, render)


_ALL_ACTIVE = "active||None"


async def get_alert(request: web.Request) -> web.Response:
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    raw = request.match_info["id"]
    state = ctx.follower.state
    number = whole_number(raw)
    alert = None if number is None else state.alerts.get(number)
    if alert is None:
        raise NotFound(f"no alert with id {raw}", code="alert_not_found")
    return json_response({"alert": alert_json(alert, state)})


async def status(request: web.Request) -> web.Response:
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    chosen = _levels_param(request) if "?" in request.raw_path else None
    return cached_response(request, _status_rendering(ctx, chosen))


def _status_asked(ctx: Context, query: Callable[[str], str | None]) -> Rendered:
    return _status_rendering(ctx, _levels_value(query("level")))


def _status_rendering(ctx: Context, chosen: tuple[Level, ...] | None) -> Rendered:
    """The status roll-up at the ``chosen`` levels (None: oblasts and special cities), as
    rendered for the current state version."""
    levels = chosen or _STATUS_LEVELS
    state = ctx.follower.state

    def render() -> Rendered:
        effective = {t: state.effective(t) for t in AlertType}
        regions = {
            r.code: {t.value: effective[t].get(r.code, "N") for t in AlertType}
            for r in sorted(ctx.catalogue.at_level(*levels), key=lambda r: r.code)
        }
        return rendered(dumps({"version": state.seq, "updated_at": state.last_time,
                               "regions": regions}), state)

    key = _STATUS_KEY if chosen is None else (
        "status|" + ",".join(sorted(lv.value for lv in levels)))
    return ctx.cache.get(state.seq, key, render)


_STATUS_LEVELS = (Level.OBLAST, Level.SPECIAL_CITY)
_STATUS_KEY = "status|" + ",".join(sorted(lv.value for lv in _STATUS_LEVELS))


async def history(request: web.Request) -> web.Response:
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    region = _region_param(ctx, request)
    type_ = _enum_param(request, "type", AlertType)
    status_ = _enum_param(request, "status", AlertStatus)
    start = query_period_bound(request, "from")  # a date too: Kyiv midnight, as in stats
    end = query_period_bound(request, "to")
    limit = query_int(request, "limit", 100, 1, MAX_LIMIT)
    cursor = request.query.get("cursor")
    after = decode_cursor(cursor) if cursor else None
    # Imported history (query/records.py): included unless imported=false; imported=true
    # gives only imported alerts.
    imported = _enum_param(request, "imported", _Imported)
    state = ctx.follower.state
    chosen: list[Alert] = []
    for alert in state.alerts.values() if imported is not _Imported.ONLY else ():
        if region is not None and not ctx.catalogue.is_within(alert.region, region):
            continue
        if type_ is not None and alert.type is not type_:
            continue
        if status_ is not None and alert.status is not status_:
            continue
        if start is not None and alert.ended_at is not None and alert.ended_at < start:
            continue
        if end is not None and alert.started_at > end:
            continue
        chosen.append(alert)
    where = None if imported is _Imported.EXCLUDE else imported_filter(
        ctx.catalogue, region, type_, status_, start, end)
    rows = [] if where is None else await ctx.read(history_reader(request.app).page, where,
                                                   after, limit + 1)
    items, next_cursor = history_page(state, chosen, rows, after, limit)
    return json_response({"alerts": items, "next": next_cursor, "version": state.seq})


class _Imported(StrEnum):
    ONLY = "true"
    EXCLUDE = "false"


def _only(*methods: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler of every other method on a path that would otherwise be taken for an
    alert's id (``/alerts/end``, ``/alerts/active``): 405 with the methods it has."""

    async def not_allowed(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMethodNotAllowed(request.method, methods)

    return not_allowed


async def declare(request: web.Request) -> web.Response:
    return await _run(request, Declare)


async def end_alert(request: web.Request) -> web.Response:
    return await _run(request, EndAlert, request.match_info["id"], optional_body=True)


async def end_by_region(request: web.Request) -> web.Response:
    return await _run(request, EndByRegion)


async def update_alert(request: web.Request) -> web.Response:
    return await _run(request, UpdateAlert, request.match_info["id"])


# ---- incidents -------------------------------------------------------------------------------

async def report_incident(request: web.Request) -> web.Response:
    return await _run(request, ReportIncident)


async def update_incident(request: web.Request) -> web.Response:
    return await _run(request, UpdateIncident, request.match_info["id"])


async def list_incidents(request: web.Request) -> web.Response:
    ctx = context_of(request)
    actor = await ctx.actor(request, required=False)
    region = _region_param(ctx, request)
    kind = _enum_param(request, "kind", IncidentKind)
    status_ = _enum_param(request, "status", IncidentStatus)
    limit = query_int(request, "limit", 100, 1, MAX_LIMIT)
    state = ctx.follower.state
    now = now_utc()
    items = []
    for incident in sorted(state.incidents.values(), key=lambda i: i.id, reverse=True):
        # An embargoed report is shown only to a writer whose scope holds it.
        if not incident.public_at(now) and not (
                actor is not None and actor.may_write(ctx.catalogue, incident.region)):
            continue
        if region is not None and not ctx.catalogue.is_within(incident.region, region):
            continue
        if kind is not None and incident.kind is not kind:
            continue
        if status_ is not None and incident.status is not status_:
            continue
        items.append(incident_json(incident, state))
        if len(items) >= limit:
            break
    return json_response({"incidents": items, "version": state.seq})


async def get_incident(request: web.Request) -> web.Response:
    ctx = context_of(request)
    actor = await ctx.actor(request, required=False)
    raw = request.match_info["id"]
    state = ctx.follower.state
    number = whole_number(raw)
    incident = None if number is None else state.incidents.get(number)
    if incident is None or not (incident.public_at(now_utc()) or (
            actor is not None and actor.may_write(ctx.catalogue, incident.region))):
        raise NotFound(f"no incident with id {raw}", code="incident_not_found")
    return json_response({"incident": incident_json(incident, state)})


# ---- the raw log -----------------------------------------------------------------------------

async def events(request: web.Request) -> web.Response:
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    since = query_int(request, "since", 0, 0, 2**62)
    limit = query_int(request, "limit", 1000, 1, MAX_LIMIT)
    found = await ctx.read(ctx.storage.read_events, since, limit)
    last = found[-1].seq if found else since
    state, now = ctx.follower.state, now_utc()
    return json_response({"events": [public_event_json(e, state, now) for e in found],
                          "next": last if len(found) == limit else None,
                          "version": ctx.follower.state.seq})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/regions", list_regions)
    r.add_get(f"{PREFIX}/regions/{{code}}", get_region)
    r.add_put(f"{PREFIX}/regions/{{code}}/settings", configure_region)
    r.add_get(f"{PREFIX}/alerts/active", active_alerts)
    r.add_route("*", f"{PREFIX}/alerts/active", _only("GET", "HEAD"))
    r.add_post(f"{PREFIX}/alerts", declare)
    r.add_post(f"{PREFIX}/alerts/end", end_by_region)
    # Not an alert's id: every other method on it is a 405, not a look-up of alert "end".
    r.add_route("*", f"{PREFIX}/alerts/end", _only("POST"))
    r.add_get(f"{PREFIX}/alerts/{{id}}", get_alert)
    r.add_patch(f"{PREFIX}/alerts/{{id}}", update_alert)
    r.add_post(f"{PREFIX}/alerts/{{id}}/end", end_alert)
    r.add_get(f"{PREFIX}/status", status)
    r.add_get(f"{PREFIX}/history", history)
    r.add_get(f"{PREFIX}/incidents", list_incidents)
    r.add_post(f"{PREFIX}/incidents", report_incident)
    r.add_get(f"{PREFIX}/incidents/{{id}}", get_incident)
    r.add_patch(f"{PREFIX}/incidents/{{id}}", update_incident)
    r.add_get(f"{PREFIX}/events", events)
    ctx = app[CONTEXT]
    app[READS_VERSION] = lambda: ctx.follower.state.seq  # what the front's reads follow
    app[READS_LOOKUP] = ctx.tokens.fetch  # how it learns a token it does not know yet
    app[READS_STALE] = lambda: ctx.follower.state_age() is not None  # then aiohttp answers
    if ctx.settings.public_reads:
        # The plain polled reads, for the read front (api/front.py) to answer from the same
        # renderings without aiohttp. With a token required, aiohttp's handlers check it.
        # A query (?region=, ?level=) is answered there too; a token is aiohttp's. While the
        # state is stale the front answers none: aiohttp does, with X-State-Age (ops.py).
        reads = fast_reads(app)
        reads[f"{PREFIX}/status"] = _asked_read(
            ctx, partial(_status_rendering, ctx, None), _status_asked)
        reads[f"{PREFIX}/alerts/active"] = _asked_read(
            ctx, partial(_active_rendering, ctx, [], None), _active_asked)
