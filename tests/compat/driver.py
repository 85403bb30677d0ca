"""Runs one real client package, unmodified, inside its own virtual environment.

``python driver.py CLIENT BASE_URL [KEY]`` with that environment's python. Each line on stdin
is a JSON request ``{"op": ..., "args": {...}}``; each answer is one JSON line on stdout,
``{"ok": <what the client returned, as plain JSON>}`` or ``{"error": {"type", "message",
"status"}}`` for what it raised. The client objects live for the whole process, so their own
caches (the conditional-request caches of the alerts.in.ua clients) carry over from one request
to the next. Only the attribute each package offers for its address is set (``COMPAT.md``), and
the HTTP calls are only observed, never changed.

This file runs under the clients' Pythons, with none of Tryvoga installed: standard library and
the client package only.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import sys
from collections.abc import Callable
from typing import Any

Op = Callable[..., Any]


def plain(value: Any) -> Any:
    """Objects the clients return, as JSON: datetimes in ISO form, objects by their fields."""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return plain(value.model_dump(mode="json"))
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {k: plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return value


# ---- alerts-in-ua 0.4.0, the official client ----------------------------------------------

def official(base: str, token: str) -> dict[str, Op]:
    import aiohttp
    import alerts_in_ua  # type: ignore[import-not-found]
    import requests  # type: ignore[import-untyped, import-not-found, unused-ignore]

    seen: list[dict[str, Any]] = []
    real_get = requests.get

    def observed_get(url: str, **kwargs: Any) -> Any:
        response = real_get(url, **kwargs)
        seen.append({"path": url[len(base):], "if_modified_since":
                     kwargs.get("headers", {}).get("If-Modified-Since"),
                     "status": response.status_code,
                     "last_modified": response.headers.get("Last-Modified")})
        return response

    # requests' own annotations (newer releases) name every keyword; the wrapper passes them on.
    requests.get = observed_get  # type: ignore[assignment]
    real_session_get = aiohttp.ClientSession.get

    def observed_session_get(session: Any, url: str, **kwargs: Any) -> Any:
        async def run() -> Any:
            response = await real_session_get(session, url, **kwargs)
            seen.append({"path": str(url), "if_modified_since":
                         kwargs.get("headers", {}).get("If-Modified-Since"),
                         "status": response.status,
                         "last_modified": response.headers.get("Last-Modified")})
            return response

        return run()

    aiohttp.ClientSession.get = observed_session_get  # type: ignore[assignment, method-assign]
    alerts_in_ua.Client.API_BASE_URL = base
    alerts_in_ua.AsyncClient.API_BASE_URL = base
    clients = {"sync": alerts_in_ua.Client(token), "async": alerts_in_ua.AsyncClient(token)}

    def call(flavour: str, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(clients[flavour], method)(*args, **kwargs)
        return asyncio.run(result) if flavour == "async" else result

    def alerts(value: Any) -> dict[str, Any]:
        return {"alerts": [dict(plain(a), threats=[plain(t) for t in a.threats],
                                is_red=a.is_red(), is_finished=a.is_finished())
                           for a in value.get_all_alerts()],
                "last_updated_at": plain(value.get_last_updated_at()),
                "disclaimer": value.get_disclaimer(),
                "air_raid_ids": [a.id for a in value.get_air_raid_alerts()],
                "artillery_ids": [a.id for a in value.get_artillery_shelling_alerts()],
                "red_ids": [a.id for a in value.get_red_alerts()],
                "yellow_ids": [a.id for a in value.get_yellow_alerts()]}

    def statuses(value: Any) -> list[dict[str, Any]]:
        return [{"location_title": s.location_title, "status": s.status,
                 "alert_level": s.alert_level} for s in value]

    def active(flavour: str = "sync", use_cache: bool = True) -> Any:
        return alerts(call(flavour, "get_active_alerts", use_cache=use_cache))

    def history(uid: int, period: str, flavour: str = "sync") -> Any:
        return alerts(call(flavour, "get_alerts_history", uid, period=period))

    def oblast_status(uid: Any, flavour: str = "sync", **kwargs: Any) -> Any:
        status = call(flavour, "get_air_raid_alert_status", uid, **kwargs)
        return {"location_title": status.location_title, "status": status.status,
                "alert_level": status.alert_level}

    def by_oblast(flavour: str = "sync", **kwargs: Any) -> Any:
        return statuses(call(flavour, "get_air_raid_alert_statuses_by_oblast", **kwargs))

    def all_statuses(flavour: str = "sync", **kwargs: Any) -> Any:
        value = call(flavour, "get_air_raid_alert_statuses", **kwargs)
        return {"count": len(value),
                "alerted": [dict(uid=s.uid, location_title=s.location_title, status=s.status,
                                 alert_level=s.alert_level)
                            for s in value if s.status != "no_alert"]}

    def requests_seen() -> list[dict[str, Any]]:
        out = list(seen)
        seen.clear()
        return out

    return {"active": active, "history": history, "oblast_status": oblast_status,
            "by_oblast": by_oblast, "statuses": all_statuses, "requests": requests_seen}


# ---- alerts-in-ua-py 1.4.4 -----------------------------------------------------------------

def alerts_in_ua_py(base: str, token: str) -> dict[str, Op]:
    from alerts_in_ua import (  # type: ignore[import-not-found, unused-ignore]
        AlertsClient,
        AsyncAlertsClient,
    )

    clients = {"sync": AlertsClient(token, 8), "async": AsyncAlertsClient(token, 8)}
    for client in clients.values():
        client._url = base + "/v1/alerts/active.json"

    def active(flavour: str = "sync") -> Any:
        client = clients[flavour]
        result = client.get_active(force=True)
        locations = asyncio.run(result) if flavour == "async" else result
        return {"status": client._response_status_code, "disclaimer": locations.disclaimer,
                "last_updated_at": locations.last_updated_at,
                "locations": [plain(loc) for loc in locations]}

    return {"active": active}


# ---- ukrainealarm 0.0.1 and uasiren 0.0.1 (Home Assistant's) -------------------------------

# The alert types Home Assistant's ukraine_alarm integration makes a safety binary sensor of.
HA_SENSOR_TYPES = ("UNKNOWN", "AIR", "ARTILLERY", "URBAN_FIGHTS", "CHEMICAL", "NUCLEAR")


def home_assistant_sensors(region: list[dict[str, Any]]) -> dict[str, Any]:
    """What the integration's coordinator and binary sensors make of ``get_alerts(region)``:
    every known type off, then on for each type among the region's active alerts; a sensor
    reads its type's entry."""
    flags: dict[str, bool] = {name: False for name in HA_SENSOR_TYPES}
    for active in region[0]["activeAlerts"]:
        flags[active["type"]] = True
    return {name: flags.get(name) for name in HA_SENSOR_TYPES}


def home_assistant_pick(states: list[dict[str, Any]], path: list[str]) -> dict[str, Any]:
    """The integration's setup dialog, choosing ``path`` (a state, then maybe a district and a
    community) from the region tree: each step offers the current level sorted by name and
    goes deeper only while the chosen region has children."""
    choices = states
    chosen: dict[str, Any] | None = None
    offered: list[list[str]] = []
    for region_id in path:
        offered.append([r["regionId"] for r in sorted(choices,
                                                      key=lambda r: r["regionName"].lower())])
        chosen = next(r for r in choices if r["regionId"] == region_id)
        if not chosen["regionChildIds"]:
            break
        choices = chosen["regionChildIds"]
    assert chosen is not None
    return {"region": chosen["regionId"], "name": chosen["regionName"], "offered": offered}


def ukrainealarm_like(module: str, base: str, key: str | None) -> dict[str, Op]:
    import aiohttp
    client_module = __import__(module, fromlist=["Client"])
    client_module.Client.BASE_PATH = base + "/api/v3"

    def run(method: str, *args: Any) -> Any:
        async def go() -> Any:
            async with aiohttp.ClientSession() as session:
                client = (client_module.Client(session, key) if module == "ukrainealarm.client"
                          else client_module.Client(session))
                return await getattr(client, method)(*args)

        return asyncio.run(go())

    def sensors(region_id: str) -> Any:
        return home_assistant_sensors(run("get_alerts", region_id))

    def pick(path: list[str]) -> Any:
        return home_assistant_pick(run("get_regions")["states"], path)

    return {"alerts": lambda region_id=None: run("get_alerts", region_id),
            "status": lambda: run("get_last_alert_index"),
            "regions": lambda: run("get_regions"),
            "ha_sensors": sensors, "ha_pick": pick}


# ---- ua-alarm 1.3.7.2 ----------------------------------------------------------------------

def ua_alarm(base: str, key: str | None) -> dict[str, Op]:
    from ua_alarm import Client, types  # type: ignore[import-not-found]

    # Its constructor makes a test request to the real host: build it without running it.
    client = Client.__new__(Client)
    client.base_url = base
    client.headers = {"Authorization": key} if key else {}

    def run(method: str, *args: Any) -> Any:
        return plain(asyncio.run(getattr(client, method)(*args)))

    return {"alerts": lambda region_id=None: run("get_alerts", region_id),
            "status": lambda: run("get_alert_status"),
            "history": lambda region_id: run("get_region_history", region_id),
            "regions": lambda: run("get_regions"),
            "subscribe": lambda data: run("subscribe_to_webhook", data),
            "update": lambda data: run("update_webhook", data),
            "unsubscribe": lambda data: run("unsubscribe_from_webhook", data),
            # A webhook body as the client's own model reads it (it refuses a missing key).
            "region_model": lambda body: plain(types.AlertRegionModel(**body))}


def error_of(exc: BaseException) -> dict[str, Any]:
    return {"type": type(exc).__name__, "module": type(exc).__module__,
            "message": str(exc), "status": getattr(exc, "status", None)}


def main() -> None:
    name, base = sys.argv[1], sys.argv[2]
    key = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    if name == "alerts-in-ua":
        ops = official(base, key or "")
    elif name == "alerts-in-ua-py":
        ops = alerts_in_ua_py(base, key or "")
    elif name == "ukrainealarm":
        ops = ukrainealarm_like("ukrainealarm.client", base, key)
    elif name == "uasiren":
        ops = ukrainealarm_like("uasiren.client", base, None)
    elif name == "ua-alarm":
        ops = ua_alarm(base, key)
    else:
        raise SystemExit(f"unknown client {name}")
    print(json.dumps({"ready": name}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer: dict[str, Any] = {"ok": plain(ops[request["op"]](**request.get("args", {})))}
        except Exception as exc:
            answer = {"error": error_of(exc)}
        print(json.dumps(answer, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
