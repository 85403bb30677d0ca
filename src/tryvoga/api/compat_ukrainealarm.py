"""The ukrainealarm API v3 (``/api/v3``), served from the follower's projection.

Regions are the State → District → Community tree of the regions that have an id in that API
(oblasts, Kyiv, Sevastopol and Crimea as 9999; raions; hromadas). Every key of every object is
present, null where empty, as its clients require. ``lastActionIndex`` is the event sequence.
``regionHistory`` answers one object whose ``duration`` is ``"hh:mm:ss"`` (``docs/compat.md``
says why). Webhook registrations are stored and listed (``storage/compat_webhooks.py``); their
delivery bodies are :func:`webhook_payloads`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

from tryvoga.api.app import CONTEXT, Context
from tryvoga.api.compat_common import (
    UA_TYPE,
    CompatIds,
    Gate,
    actual,
    compat_errors,
    covering,
    iso_seconds,
    not_found_handler,
    rendered,
)
from tryvoga.api.http import RenderCache, Rendered, cached_response, dumps, json_response
from tryvoga.domain.events import Event, now_utc, parse_time
from tryvoga.domain.model import Alert, AlertType, ThreatLevel
from tryvoga.domain.regions import COUNTRY, Region
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, NotFound
from tryvoga.service import Actor
from tryvoga.storage.compat_webhooks import CompatWebhook

PREFIX = "/api/v3"
ALERT_TYPES = {AlertType.AIR_RAID: "AIR", AlertType.ARTILLERY_SHELLING: "ARTILLERY",
               AlertType.URBAN_FIGHTS: "URBAN_FIGHTS", AlertType.CHEMICAL: "CHEMICAL",
               AlertType.NUCLEAR: "NUCLEAR"}
LEVELS = {ThreatLevel.RED: "Red", ThreatLevel.YELLOW: "Yellow"}
HISTORY_LENGTH = 25
NEVER = "1970-01-01T00:00:00Z"  # lastUpdate of a region no alert has ever touched
MAX_URL = 2000
T = TypeVar("T")


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

    def admit(self, request: web.Request, *, token_required: bool = False) -> Actor | None:
        key = request.headers.get("Authorization", "").strip()
        if key.lower().startswith("bearer "):  # the raw key is the API's way; accept both
            key = key[7:].strip()
        return self.gate.admit(request, key or None, token_required=token_required)

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
        def render() -> Rendered:
            return rendered(dumps(build()), state)

        return cached_response(request, self.cache.get(state.seq, key, render))

    async def alerts(self, request: web.Request) -> web.Response:
        self.admit(request)
        state = self.context.follower.state

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

        return self.cached(request, state, "alerts", build)

    async def region_alerts(self, request: web.Request) -> web.Response:
        self.admit(request)
        region = self.region(request.match_info["regionId"])
        state = self.context.follower.state
        return self.cached(request, state, f"region|{region.code}",
                           lambda: [self.models.model_of(state, region)])

    async def status(self, request: web.Request) -> web.Response:
        self.admit(request)
        state = self.context.follower.state
        return self.cached(request, state, "status", lambda: {"lastActionIndex": state.seq})

    async def regions(self, request: web.Request) -> web.Response:
        self.admit(request)
        return cached_response(request, self.regions_item)

    async def region_history(self, request: web.Request) -> web.Response:
        """The last alerts that covered the region; a continuing one runs to now."""
        self.admit(request)
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
            end = alert.ended_at or now
            seconds = (parse_time(end) - parse_time(alert.started_at)).total_seconds()
            alarms.append({"regionId": self.ids.ukrainealarm_id(where),
                           "regionName": self.ids.title(where),
                           "startDate": iso_seconds(alert.started_at),
                           "endDate": iso_seconds(end), "duration": duration_text(seconds),
                           "alertType": ALERT_TYPES[alert.type],
                           "isContinue": alert.active})
        return json_response({"regionId": self.ids.ukrainealarm_id(region),
                              "regionName": self.ids.title(region), "alarms": alarms})

    # ---- webhooks ----------------------------------------------------------------------

    async def _write(self, call: Callable[[], T]) -> T:
        # Every write of a process goes through its one writer thread.
        return await asyncio.get_running_loop().run_in_executor(self.context.writer, call)

    async def _webhook_body(self, request: web.Request) -> tuple[str, tuple[str, ...] | None,
                                                                 bool]:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BadRequest("the body is not valid JSON", status=400) from None
        if not isinstance(body, dict):
            raise BadRequest('the body must be a JSON object: {"webHookUrl": "https://..."}',
                             status=400)
        url = body.get("webHookUrl")
        if not isinstance(url, str) or not url.strip():
            raise BadRequest("webHookUrl is required", status=400)
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
            raise BadRequest(f"webHookUrl must be an http or https URL of at most {MAX_URL} "
                             "characters", status=400)
        given = "regionIds" in body
        raw_ids = body.get("regionIds")
        if raw_ids is None:
            return url, None, given
        if not isinstance(raw_ids, list) or not raw_ids:
            raise BadRequest("regionIds must be a non-empty list of region ids, or null for "
                             "every region", status=400)
        ids: list[str] = []
        for item in raw_ids:
            text = str(item).strip() if isinstance(item, str | int) and not isinstance(
                item, bool) else ""
            self.region(text or repr(item), "regionIds item")
            ids.append(text)
        return url, tuple(dict.fromkeys(ids)), given

    async def webhook_register(self, request: web.Request) -> web.Response:
        actor = self.admit(request, token_required=True)
        assert actor is not None
        url, region_ids, _ = await self._webhook_body(request)
        storage = self.context.storage

        def write() -> CompatWebhook:
            time = now_utc()
            with storage.writer() as tx:
                record = tx.compat_webhook_put(actor.name, url, region_ids, time)
                tx.audit(time, actor.name, "compat.webhook.registered",
                         {"url": url, "regionIds": None if region_ids is None
                          else list(region_ids)})
            return record

        return json_response((await self._write(write)).to_json())

    async def webhook_update(self, request: web.Request) -> web.Response:
        actor = self.admit(request, token_required=True)
        assert actor is not None
        url, region_ids, given = await self._webhook_body(request)
        storage = self.context.storage

        def write() -> CompatWebhook:
            time = now_utc()
            with storage.writer() as tx:
                current = next((w for w in tx.compat_webhook_list(actor.name) if w.url == url),
                               None)
                if current is None:
                    raise NotFound(f"no webhook registered for {url}")
                record = tx.compat_webhook_put(actor.name, url,
                                               region_ids if given else current.region_ids,
                                               time)
                tx.audit(time, actor.name, "compat.webhook.updated",
                         {"url": url, "regionIds": None if record.region_ids is None
                          else list(record.region_ids)})
            return record

        return json_response((await self._write(write)).to_json())

    async def webhook_delete(self, request: web.Request) -> web.Response:
        actor = self.admit(request, token_required=True)
        assert actor is not None
        url, _, _ = await self._webhook_body(request)
        storage = self.context.storage

        def write() -> None:
            time = now_utc()
            with storage.writer() as tx:
                if not tx.compat_webhook_delete(actor.name, url):
                    raise NotFound(f"no webhook registered for {url}")
                tx.audit(time, actor.name, "compat.webhook.deleted", {"url": url})

        await self._write(write)
        return json_response({"webHookUrl": url, "regionIds": None})

    async def webhook_list(self, request: web.Request) -> web.Response:
        actor = self.admit(request, token_required=True)
        assert actor is not None
        storage = self.context.storage

        def read() -> list[CompatWebhook]:
            with storage.writer() as tx:
                return tx.compat_webhook_list(actor.name)

        records = await self._write(read)
        return json_response({"webHooks": [r.to_json() for r in records]})

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get(f"{PREFIX}/alerts", compat_errors(self.alerts))
        r.add_get(f"{PREFIX}/alerts/status", compat_errors(self.status))
        r.add_get(f"{PREFIX}/alerts/regionHistory", compat_errors(self.region_history))
        r.add_get(f"{PREFIX}/alerts/{{regionId}}", compat_errors(self.region_alerts))
        r.add_get(f"{PREFIX}/regions", compat_errors(self.regions))
        r.add_get(f"{PREFIX}/webhook", compat_errors(self.webhook_list))
        r.add_post(f"{PREFIX}/webhook", compat_errors(self.webhook_register))
        r.add_patch(f"{PREFIX}/webhook", compat_errors(self.webhook_update))
        r.add_delete(f"{PREFIX}/webhook", compat_errors(self.webhook_delete))
        r.add_route("*", f"{PREFIX}/{{tail:.*}}", compat_errors(not_found_handler("ukrainealarm")))


def webhook_payloads(event: Event, state: State, ids: CompatIds,
                     region_ids: tuple[str, ...] | None) -> list[tuple[str, bytes]]:
    """What a registration is to be sent for ``event`` (applied to ``state``): one
    ``AlertRegionModel`` per region it asked for (``None``: every region) whose alerts the event
    changed, as ``/api/v3/alerts/{regionId}`` gives it then. Pure: for the webhook machinery to
    deliver (``docs/compat.md``)."""
    alert_id = event.payload.get("alert_id") if event.kind.startswith("alert.") else None
    alert = state.alerts.get(alert_id) if isinstance(alert_id, int) else None
    if alert is None or not actual(alert):
        return []
    if region_ids is None:
        regions = list(ids.targets(alert.region))
    else:
        regions = [ids.by_ukrainealarm_id[r] for r in region_ids
                   if r in ids.by_ukrainealarm_id
                   and ids.catalogue.is_within(ids.by_ukrainealarm_id[r].code, alert.region)]
    models = Models(ids)
    return [(ids.ukrainealarm_id(r), dumps(models.model_of(state, r))) for r in regions]


def add_routes(app: web.Application) -> UkraineAlarm:
    context = app[CONTEXT]
    facade = UkraineAlarm(Gate.of(app, "ukrainealarm"),
                          CompatIds.of(context.catalogue))
    facade.routes(app)
    return facade


__all__ = ["ALERT_TYPES", "Models", "UkraineAlarm", "add_routes", "duration_text",
           "webhook_payloads"]

