"""The ukrainealarm API v3 (``/api/v3``), served from the follower's projection.

Regions are the State → District → Community tree of the regions that have an id in that API
(oblasts, Kyiv, Sevastopol and Crimea as 9999; raions; hromadas). Every key of every object is
present, null where empty, as its clients require. ``lastActionIndex`` is the event sequence.
``regionHistory`` answers one object whose ``duration`` is ``"hh:mm:ss"`` (``docs/compat.md``
says why). Webhooks (``/api/v3/webhook``) are ``ukrainealarm_webhooks.py``; what an alert's
change is sent as is :func:`webhook_payloads`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from aiohttp import web

from tryvoga.api.compat_common import (
    UA_TYPE,
    CompatIds,
    Gate,
    Memo,
    actual,
    compat_errors,
    covering,
    iso_seconds,
    memoized,
    not_found_handler,
    rendered,
)
from tryvoga.api.context import CONTEXT, Context
from tryvoga.api.front import Asked, Read, fast_reads
from tryvoga.api.http import RenderCache, Rendered, cached_response, dumps, json_response
from tryvoga.domain.events import (
    AlertDeclared,
    AlertEnded,
    AlertUpdated,
    Event,
    now_utc,
    parse_time,
)
from tryvoga.domain.model import Alert, AlertType, ThreatLevel
from tryvoga.domain.regions import COUNTRY, Region
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, NotFound, TryvogaError
from tryvoga.service import Actor

PREFIX = "/api/v3"
ALERT_TYPES = {AlertType.AIR_RAID: "AIR", AlertType.ARTILLERY_SHELLING: "ARTILLERY",
               AlertType.URBAN_FIGHTS: "URBAN_FIGHTS", AlertType.CHEMICAL: "CHEMICAL",
               AlertType.NUCLEAR: "NUCLEAR"}
LEVELS = {ThreatLevel.RED: "Red", ThreatLevel.YELLOW: "Yellow"}
HISTORY_LENGTH = 25
NEVER = "1970-01-01T00:00:00Z"  # lastUpdate of a region no alert has ever touched
T = TypeVar("T")


class WebhookRoutes(Protocol):
    """The ``/api/v3/webhook`` handlers (``ukrainealarm_webhooks.WebhookEndpoints``, which
    builds on this module and so is handed in rather than imported)."""

    async def listing(self, request: web.Request) -> web.Response: ...
    async def register(self, request: web.Request) -> web.Response: ...
    async def update(self, request: web.Request) -> web.Response: ...
    async def delete(self, request: web.Request) -> web.Response: ...


def duration_text(seconds: float) -> str:
    """A .NET TimeSpan as JSON writes it: ``hh:mm:ss``, or ``d.hh:mm:ss`` from a day on."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}.{clock}" if days else clock


class Models:
    """The API's JSON objects, as pure functions of the state."""

    def __init__(self, ids: CompatIds) -> None:
        self.ids = ids
        self._updates_version = -1
        self._updates: dict[str, str] = {}

    def children(self, code: str) -> list[Region]:
        """The regions with an id directly under ``code`` in the tree (skipping those without)."""
        out = [t for child in self.ids.catalogue.children[code] for t in self.ids.targets(child)]
        return sorted(out, key=lambda r: r.api_id or 0)

    def tree_node(self, region: Region) -> dict[str, Any]:
        kids = [] if UA_TYPE[region.level] == "Community" else self.children(region.code)
        return {"regionId": self.ids.ukrainealarm_id(region), "regionName": self.ids.title(region),
                "regionType": UA_TYPE[region.level],
                "regionChildIds": [self.tree_node(k) for k in kids]}

    def alert_item(self, alert: Alert, where: Region) -> dict[str, Any]:
        levels: list[dict[str, str | None]]
        if alert.threats:
            levels = [{"alertLevel": LEVELS[t.level], "reason": t.type.value,
                       "createdAt": iso_seconds(alert.updated_at)} for t in alert.threats]
        else:  # no threat given: the level every other output assumes, red
            levels = [{"alertLevel": "Red", "reason": None,
                       "createdAt": iso_seconds(alert.started_at)}]
        return {"regionId": self.ids.ukrainealarm_id(where), "regionType": UA_TYPE[where.level],
                "type": ALERT_TYPES[alert.type], "lastUpdate": iso_seconds(alert.updated_at),
                "activeAlertLevels": levels}

    def region_model(self, region: Region, items: list[dict[str, Any]],
                     last_update: str) -> dict[str, Any]:
        return {"regionId": self.ids.ukrainealarm_id(region),
                "regionType": UA_TYPE[region.level], "regionName": self.ids.title(region),
                "regionEngName": region.name_en, "lastUpdate": last_update,
                "activeAlerts": items}

    def last_update(self, state: State, region: Region) -> str:
        """When anything covering ``region`` last changed (declared, updated, ended)."""
        if self._updates_version != state.seq:
            latest: dict[str, str] = {}
            for alert in state.alerts.values():
                if actual(alert) and alert.updated_at > latest.get(alert.region, ""):
                    latest[alert.region] = alert.updated_at
            self._updates, self._updates_version = latest, state.seq
        chain = (region.code, *self.ids.catalogue.ancestors(region.code))
        times = [self._updates[c] for c in chain if c in self._updates]
        return iso_seconds(max(times)) if times else NEVER

    def model_of(self, state: State, region: Region) -> dict[str, Any]:
        """The region with every active alert covering it, inherited ones included."""
        items = []
        for alert in covering(state, region.code):
            where = self.ids.target_on_path(alert.region, region)
            if where is not None:
                items.append(self.alert_item(alert, where))
        return self.region_model(region, items, self.last_update(state, region))


class UkraineAlarm:
    def __init__(self, gate: Gate, ids: CompatIds) -> None:
        self.gate = gate
        self.ids = ids
        self.models = Models(ids)
        self.cache = RenderCache()
        # The tree is the catalogue's: it changes only with a new release.
        edition = ids.catalogue.edition
        self.regions_item = Rendered.of(
            dumps({"states": [self.models.tree_node(r) for r in self.models.children(COUNTRY)]}),
            f"{edition}T00:00:00Z" if edition else None)

    @property
    def context(self) -> Context:
        return self.gate.context

    # ---- access ------------------------------------------------------------------------

    async def admit(self, request: web.Request, *,
                    token_required: bool = False) -> Actor | None:
        return await self.gate.admit(request, self.key(request.headers.get("Authorization", "")),
                               token_required=token_required)

    @staticmethod
    def key(authorization: str) -> str | None:
        # The raw key is the API's way; "Bearer <key>" is accepted too. A bare "Bearer" (a
        # client made with an empty key) is no key at all, as on the alerts.in.ua façade.
        key = authorization.strip()
        scheme, _, rest = key.partition(" ")
        if scheme.lower() == "bearer":
            key = rest.strip()
        return key or None

    def fast(self, build: Callable[[State, str], Rendered]) -> Read:
        """The read front's read of ``build``'s rendering (``api/front.py``): the same bytes,
        key and limits as the handler's; None (aiohttp's answer) for any error."""

        memo: Memo = {}

        def read(asked: Asked) -> Rendered | None:
            try:
                item = memoized(memo, build, self.context.follower.state, asked.param)
            except TryvogaError:
                return None
            secret = self.key(asked.authorization or "")
            return self.gate.admit_read(asked, secret, item)

        return read

    def region(self, raw: str | None, name: str = "regionId") -> Region:
        if raw is None or not raw.strip():
            raise BadRequest(f"{name} is required", status=400)
        region = self.ids.by_ukrainealarm_id.get(raw.strip())
        if region is None:
            raise NotFound(f"unknown {name} {raw!r}")
        return region

    # ---- reads -------------------------------------------------------------------------

    def cached(self, request: web.Request, state: State, key: str,
               build: Callable[[], Any]) -> web.Response:
        return cached_response(request, self.item(state, key, build))

    def item(self, state: State, key: str, build: Callable[[], Any]) -> Rendered:
        def render() -> Rendered:
            return rendered(dumps(build()), state)

        return self.cache.get(state.seq, key, render)

    async def alerts(self, request: web.Request) -> web.Response:
        await self.admit(request)
        return cached_response(request, self.alerts_item(self.context.follower.state))

    def alerts_item(self, state: State, _: str = "") -> Rendered:
        def build() -> list[dict[str, Any]]:
            by_region: dict[str, list[dict[str, Any]]] = {}
            regions: dict[str, Region] = {}
            for alert in state.active_alerts():
                if not actual(alert):
                    continue
                for target in self.ids.targets(alert.region):
                    regions[target.code] = target
                    item = self.models.alert_item(alert, target)
                    by_region.setdefault(target.code, []).append(item)
            models = []
            for code, items in by_region.items():
                last = max(item["lastUpdate"] for item in items)
                models.append(self.models.region_model(regions[code], items, last))
            models.sort(key=lambda m: int(m["regionId"]))
            return models

        return self.item(state, "alerts", build)

    async def region_alerts(self, request: web.Request) -> web.Response:
        await self.admit(request)
        return cached_response(request, self.region_item(self.context.follower.state,
                                                         request.match_info["regionId"]))

    def region_item(self, state: State, raw: str) -> Rendered:
        region = self.region(raw)
        return self.item(state, f"region|{region.code}",
                         lambda: [self.models.model_of(state, region)])

    async def status(self, request: web.Request) -> web.Response:
        await self.admit(request)
        return cached_response(request, self.status_item(self.context.follower.state))

    def status_item(self, state: State, _: str = "") -> Rendered:
        return self.item(state, "status", lambda: {"lastActionIndex": state.seq})

    async def regions(self, request: web.Request) -> web.Response:
        await self.admit(request)
        return cached_response(request, self.regions_item)

    async def region_history(self, request: web.Request) -> web.Response:
        """The last alerts that covered the region; a continuing one runs to now."""
        await self.admit(request)
        region = self.region(request.query.get("regionId"))
        state = self.context.follower.state
        chain = {region.code, *self.ids.catalogue.ancestors(region.code)}
        chosen = sorted((a for a in state.alerts.values()
                         if a.region in chain and actual(a) and not a.withdrawn),
                        key=lambda a: (a.started_at, a.id), reverse=True)[:HISTORY_LENGTH]
        now = now_utc()
        alarms = []
        for alert in chosen:
            where = self.ids.target_on_path(alert.region, region) or region
            # Shown to the second, and the duration is the difference of what is shown.
            start, end = iso_seconds(alert.started_at), iso_seconds(alert.ended_at or now)
            seconds = (parse_time(end) - parse_time(start)).total_seconds()
            alarms.append({"regionId": self.ids.ukrainealarm_id(where),
                           "regionName": self.ids.title(where),
                           "startDate": start, "endDate": end,
                           "duration": duration_text(seconds),
                           "alertType": ALERT_TYPES[alert.type],
                           "isContinue": alert.active})
        return json_response({"regionId": self.ids.ukrainealarm_id(region),
                              "regionName": self.ids.title(region), "alarms": alarms})

    async def write(self, call: Callable[[], T]) -> T:
        """Run ``call`` on the process's one writer thread, as every write of it is."""
        return await self.context.write(call)

    def routes(self, app: web.Application, webhooks: WebhookRoutes) -> None:
        r = app.router
        # The polled reads, answered by the read front too (api/front.py); "status" is found
        # before the "{}" (as aiohttp's literal route), "regionHistory" is no region id.
        reads = fast_reads(app)
        reads[f"{PREFIX}/alerts"] = self.fast(self.alerts_item)
        reads[f"{PREFIX}/alerts/status"] = self.fast(self.status_item)
        reads[f"{PREFIX}/alerts/{{}}"] = self.fast(self.region_item)
        r.add_get(f"{PREFIX}/alerts", compat_errors(self.alerts))
        r.add_get(f"{PREFIX}/alerts/status", compat_errors(self.status))
        r.add_get(f"{PREFIX}/alerts/regionHistory", compat_errors(self.region_history))
        r.add_get(f"{PREFIX}/alerts/{{regionId}}", compat_errors(self.region_alerts))
        r.add_get(f"{PREFIX}/regions", compat_errors(self.regions))
        r.add_get(f"{PREFIX}/webhook", compat_errors(webhooks.listing))
        r.add_post(f"{PREFIX}/webhook", compat_errors(webhooks.register))
        r.add_patch(f"{PREFIX}/webhook", compat_errors(webhooks.update))
        r.add_delete(f"{PREFIX}/webhook", compat_errors(webhooks.delete))
        r.add_route("*", f"{PREFIX}/{{tail:.*}}", compat_errors(not_found_handler("ukrainealarm")))


def changed_alert(event: Event, state: State) -> Alert | None:
    """The actual alert that ``event`` changed, as ``state`` (after it) has it; None for events
    about anything else, and for exercises and tests, which this API cannot show."""
    data = event.data
    alert = (state.alerts.get(data.alert_id)
             if isinstance(data, AlertDeclared | AlertUpdated | AlertEnded) else None)
    return alert if alert is not None and actual(alert) else None


def shown_regions(ids: CompatIds, alert: Alert,
                  region_ids: tuple[str, ...] | None) -> list[Region]:
    """The regions whose ``AlertRegionModel`` a change of ``alert`` is sent as: those of
    ``region_ids`` that the alert covers (declared on them or above them), or with ``None``
    (every region) each region the alert is shown on by ``/alerts``."""
    if region_ids is None:
        return list(ids.targets(alert.region))
    return [ids.by_ukrainealarm_id[r] for r in region_ids
            if r in ids.by_ukrainealarm_id
            and ids.catalogue.is_within(ids.by_ukrainealarm_id[r].code, alert.region)]


def webhook_payloads(event: Event, state: State, ids: CompatIds,
                     region_ids: tuple[str, ...] | None,
                     models: Models | None = None) -> list[tuple[str, bytes]]:
    """What a registration is to be sent for ``event`` (applied to ``state``): one
    ``AlertRegionModel`` per region it asked for (``None``: every region) whose alerts the event
    changed, as ``/api/v3/alerts/{regionId}`` gives it then. Pure; the webhook machinery's
    renderers (``ukrainealarm_webhooks.py``) send these bodies, one per subscription."""
    alert = changed_alert(event, state)
    if alert is None:
        return []
    models = models or Models(ids)
    return [(ids.ukrainealarm_id(r), dumps(models.model_of(state, r)))
            for r in shown_regions(ids, alert, region_ids)]


def add_routes(app: web.Application,
               webhooks: Callable[[UkraineAlarm], WebhookRoutes]) -> UkraineAlarm:
    """The façade's routes, with ``webhooks`` making the ``/api/v3/webhook`` handlers
    (``ukrainealarm_webhooks.add_routes`` passes them)."""
    context = app[CONTEXT]
    facade = UkraineAlarm(Gate.of(app, "ukrainealarm"),
                          CompatIds.of(context.catalogue))
    facade.routes(app, webhooks(facade))
    return facade


__all__ = [
    "ALERT_TYPES",
    "Models",
    "UkraineAlarm",
    "WebhookRoutes",
    "add_routes",
    "changed_alert",
    "duration_text",
    "shown_regions",
    "webhook_payloads",
]

