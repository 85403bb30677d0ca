"""The alerts.in.ua API (``/v1``, ``/v2/iot``), served from the follower's projection.

Field names, value sets, timestamp formats and the IoT strings' order are those the existing
clients parse (``docs/compat.md``). Each representation is rendered once per state version and
served as bytes with an ETag and a Last-Modified that moves with every command, so the clients'
``If-Modified-Since`` caches get 304 only while nothing changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiohttp import web

from tryvoga.api.compat_common import (
    CompatIds,
    Gate,
    Handler,
    Memo,
    actual,
    compat_errors,
    memoized,
    not_found_handler,
    query_secret,
    rendered,
)
from tryvoga.api.context import CONTEXT
from tryvoga.api.front import Asked, Read, fast_reads
from tryvoga.api.http import RenderCache, Rendered, cached_response, dumps
from tryvoga.domain.events import parse_time
from tryvoga.domain.model import Alert, AlertType, ThreatLevel, alert_level
from tryvoga.domain.regions import Level, Region
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, NotFound, TryvogaError, Unauthorized
from tryvoga.parsing import whole_number

# The by-oblast string's fixed order of location uids (the alerts.in.ua convention).
OBLAST_ORDER = (29, 8, 4, 9, 28, 10, 11, 12, 13, 31, 14, 15, 16, 27, 17, 18, 19, 5, 30, 20, 21,
                22, 23, 3, 24, 26, 25)
PERIODS = {"week_ago": 7, "month_ago": 30}
LOCATION_TYPES = {Level.OBLAST: "oblast", Level.SPECIAL_CITY: "city", Level.RAION: "raion",
                  Level.HROMADA: "hromada", Level.CITY: "city"}
Text = Callable[[State, bool, Region | None], str]
DISCLAIMER = ("Served by Tryvoga, a self-hosted public warning service, in the alerts.in.ua "
              "format. In an emergency, follow your local authorities.")


class AlertsInUa:
    def __init__(self, gate: Gate, ids: CompatIds) -> None:
        self.gate = gate
        self.ids = ids
        self.cache = RenderCache()
        self.max_uid = max(ids.catalogue.by_api_id, default=0)

    # ---- access ------------------------------------------------------------------------

    async def admit(self, request: web.Request) -> State:
        await self.gate.admit(request, self.secret(request.headers.get("Authorization", ""),
                                             query_secret(request)))
        return self.gate.context.follower.state

    @staticmethod
    def secret(authorization: str, query_token: str | None) -> str | None:
        """The token a request brings: ``Authorization: Bearer <token>``, else ``?token=``."""
        header = authorization.strip()
        secret = query_token
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer":
                raise Unauthorized("Authorization must be 'Bearer <token>'")
            # "Bearer" and nothing else: a client made with an empty token, anonymous.
            secret = value.strip() or secret
        return secret

    def fast(self, build: Callable[[State, str], Rendered]) -> Read:
        """The read front's read of ``build``'s rendering (``api/front.py``): the same bytes,
        token and limits as the handler's; None (aiohttp's answer) for any error."""

        memo: Memo = {}

        def read(asked: Asked) -> Rendered | None:
            try:
                raw = (asked.query or {}).get("token", "").strip()
                secret = self.secret(asked.authorization or "", raw or None)
                item = memoized(memo, build, self.gate.context.follower.state, asked.param)
            except TryvogaError:
                return None
            return self.gate.admit_read(asked, secret, item)

        return read

    def region(self, raw: str) -> Region:
        number = whole_number(raw)
        region = None if number is None else self.ids.catalogue.by_api_id.get(number)
        if region is None:
            raise NotFound(f"unknown location uid {raw!r}")
        return region

    # ---- alerts ------------------------------------------------------------------------

    def alert_json(self, alert: Alert, where: Region) -> dict[str, Any]:
        catalogue = self.ids.catalogue
        top_code = catalogue.top_of(where.code)
        top = None if top_code is None else catalogue[top_code]
        raion = next((catalogue[c] for c in (where.code, *catalogue.ancestors(where.code))
                      if catalogue[c].level is Level.RAION), None)
        level = alert_level(alert.threats) or ThreatLevel.RED
        return {
            "id": alert.id,
            "location_title": self.ids.title(where),
            "location_title_en": where.name_en,
            "location_type": LOCATION_TYPES.get(where.level, "unknown"),
            "location_uid": None if where.api_id is None else str(where.api_id),
            "location_oblast": None if top is None else self.ids.title(top),
            "location_oblast_uid": None if top is None else top.api_id,
            "location_raion": None if raion is None else self.ids.title(raion),
            "started_at": alert.started_at,
            "finished_at": alert.ended_at,
            "updated_at": alert.updated_at,
            "alert_type": alert.type.value,
            "notes": alert.note or None,
            "calculated": False,
            "country": None,
            "alert_level": level.value,
            "threats": [{"threat_type": t.type.value, "level": t.level.value,
                         "started_at": alert.updated_at, "source_message": alert.source or None}
                        for t in alert.threats],
        }

    def entries(self, alert: Alert) -> list[dict[str, Any]]:
        """One entry per region the API can name; the region itself when it can name none."""
        targets = self.ids.targets(alert.region)
        if not targets:
            return [self.alert_json(alert, self.ids.catalogue[alert.region])]
        return [self.alert_json(alert, t) for t in targets]

    @staticmethod
    def envelope(state: State, alerts: list[dict[str, Any]]) -> bytes:
        updated = None
        if state.last_time is not None:
            updated = parse_time(state.last_time).strftime("%Y/%m/%d %H:%M:%S +0000")
        return dumps({"alerts": alerts, "meta": {"last_updated_at": updated, "type": "full"},
                      "disclaimer": DISCLAIMER})

    async def active(self, request: web.Request) -> web.Response:
        return cached_response(request, self.active_item(await self.admit(request)))

    def active_item(self, state: State, _: str = "") -> Rendered:
        def render() -> Rendered:
            alerts = [e for a in state.active_alerts() if actual(a) for e in self.entries(a)]
            return rendered(self.envelope(state, alerts), state)

        return self.cache.get(state.seq, "active", render)

    async def history(self, request: web.Request) -> web.Response:
        state = await self.admit(request)
        region = self.region(request.match_info["uid"])
        period = request.match_info["period"]
        if period not in PERIODS:
            raise BadRequest(f"period must be one of {', '.join(PERIODS)}", status=400)
        # The window slides by the hour: the bytes depend on the hour as well as the state,
        # and Last-Modified is never earlier than the hour they were cut at.
        hour = int(time.time()) // 3600 * 3600
        cutoff = datetime.fromtimestamp(hour - PERIODS[period] * 86400, UTC)

        def render() -> Rendered:
            catalogue = self.ids.catalogue
            chosen: list[tuple[str, int, dict[str, Any]]] = []
            for alert in state.alerts.values():
                if not actual(alert) or alert.withdrawn:
                    continue
                if alert.ended_at is not None and parse_time(alert.ended_at) < cutoff:
                    continue
                if catalogue.is_within(region.code, alert.region):  # covers it from above
                    target = self.ids.target_on_path(alert.region, region) or region
                    items = [self.alert_json(alert, target)]
                elif catalogue.is_within(alert.region, region.code):  # inside it
                    items = self.entries(alert)
                else:
                    continue
                chosen.extend((alert.started_at, alert.id, item) for item in items)
            chosen.sort(key=lambda c: (c[0], c[1]), reverse=True)
            return rendered(self.envelope(state, [c[2] for c in chosen]), state,
                            modified=hour)

        key = f"history|{region.code}|{period}|{hour}"
        return cached_response(request, self.cache.get(state.seq, key, render))

    # ---- IoT strings -------------------------------------------------------------------

    @staticmethod
    def status_char(state: State, region: Region, levels: bool) -> str:
        effective = state.effective_of(region.code, AlertType.AIR_RAID)
        if effective != "A" or not levels:
            return effective
        return "Y" if state.effective_level(region.code) is ThreatLevel.YELLOW else "R"

    async def iot(self, request: web.Request, key: str, levels: bool, text: Text) -> web.Response:
        state = await self.admit(request)
        return cached_response(request, self.iot_item(state, key, levels, text,
                                                      request.match_info.get("uid")))

    def iot_item(self, state: State, key: str, levels: bool, text: Text,
                 uid: str | None) -> Rendered:
        region = None
        if uid is not None:
            region = self.region(uid)
            key = f"{key}|{region.code}"

        def render() -> Rendered:
            return rendered(dumps(text(state, levels, region)), state)

        return self.cache.get(state.seq, f"iot|{key}|{levels}", render)

    def by_oblast(self, state: State, levels: bool, _: Region | None) -> str:
        regions = self.ids.catalogue.by_api_id
        return "".join(self.status_char(state, regions[uid], levels) for uid in OBLAST_ORDER)

    def by_uid(self, state: State, levels: bool, _: Region | None) -> str:
        chars = [" "] * (self.max_uid + 1)
        for uid, region in self.ids.catalogue.by_api_id.items():
            chars[uid] = self.status_char(state, region, levels)
        return "".join(chars)

    def one(self, state: State, levels: bool, region: Region | None) -> str:
        assert region is not None
        return self.status_char(state, region, levels)

    def routes(self, app: web.Application) -> None:
        r = app.router
        # The polled reads, answered by the read front too (api/front.py).
        reads = fast_reads(app)
        reads["/v1/alerts/active.json"] = self.fast(self.active_item)
        for version, levels in (("v1", False), ("v2", True)):
            for key, text, path in (
                    ("by_oblast", self.by_oblast, "active_air_raid_alerts_by_oblast.json"),
                    ("all", self.by_uid, "active_air_raid_alerts.json")):
                reads[f"/{version}/iot/{path}"] = self.fast(
                    partial(self._iot_fast, key, levels, text, False))
            reads[f"/{version}/iot/active_air_raid_alerts/{{}}.json"] = self.fast(
                partial(self._iot_fast, "one", levels, self.one, True))
        r.add_get("/v1/alerts/active.json", compat_errors(self.active))
        r.add_get("/v1/regions/{uid}/alerts/{period}.json", compat_errors(self.history))
        for version, levels in (("v1", False), ("v2", True)):
            r.add_get(f"/{version}/iot/active_air_raid_alerts_by_oblast.json",
                      self._iot_handler("by_oblast", levels, self.by_oblast))
            r.add_get(f"/{version}/iot/active_air_raid_alerts.json",
                      self._iot_handler("all", levels, self.by_uid))
            r.add_get(f"/{version}/iot/active_air_raid_alerts/{{uid}}.json",
                      self._iot_handler("one", levels, self.one))
        for version in ("v1", "v2"):
            r.add_route("*", f"/{version}/{{tail:.*}}",
                        compat_errors(not_found_handler("alerts.in.ua")))

    def _iot_fast(self, key: str, levels: bool, text: Text, by_uid: bool, state: State,
                  param: str) -> Rendered:
        return self.iot_item(state, key, levels, text, param if by_uid else None)

    def _iot_handler(self, key: str, levels: bool, text: Text) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self.iot(request, key, levels, text)

        return compat_errors(handler)


def add_routes(app: web.Application) -> AlertsInUa:
    context = app[CONTEXT]
    facade = AlertsInUa(Gate.of(app, "alerts.in.ua"),
                        CompatIds.of(context.catalogue))
    facade.routes(app)
    return facade


__all__ = ["OBLAST_ORDER", "AlertsInUa", "add_routes"]
