"""The façades and the native API say the same thing, and say a change at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from tryvoga.api.compat_alertsinua import OBLAST_ORDER
from tryvoga.domain.regions import Catalogue

from ..conftest import Server, by_api_id, start_server, stop_server
from .conftest import (
    KHARKIV_OBLAST,
    OpenClient,
    Scenario,
    declare,
    load_scenario,
)

ODESA_OBLAST = 18
TYPES = {"AIR": "air_raid", "ARTILLERY": "artillery_shelling", "URBAN_FIGHTS": "urban_fights",
         "CHEMICAL": "chemical", "NUCLEAR": "nuclear"}


@pytest.fixture(scope="module")
def changing(tmp_path_factory: pytest.TempPathFactory,
             catalogue: Catalogue) -> Iterator[Scenario]:
    """A server of its own, as these tests change what it says (each test leaves the active
    alerts as it found them, though not their threats)."""
    server = start_server(tmp_path_factory.mktemp("changing"))
    try:
        yield load_scenario(server, catalogue)
    finally:
        stop_server(server)


def native_active(server: Server, catalogue: Catalogue) -> set[tuple[int, str]]:
    alerts = server.get("/api/v1/alerts/active").json()["alerts"]
    out = set()
    for alert in alerts:
        if alert["actual"]:
            api_id = catalogue[alert["region"]].api_id
            assert api_id is not None
            out.add((api_id, alert["type"]))
    return out


def alertsinua_active(server: Server) -> set[tuple[int, str]]:
    alerts = server.get("/v1/alerts/active.json", token=None).json()["alerts"]
    return {(int(a["location_uid"]), a["alert_type"]) for a in alerts}


def ukrainealarm_active(server: Server) -> set[tuple[int, str]]:
    models = server.get("/api/v3/alerts", token=None).json()
    return {(int(m["regionId"]), TYPES[a["type"]]) for m in models for a in m["activeAlerts"]}


def test_facades_agree_with_the_native_api(scenario: Scenario, catalogue: Catalogue) -> None:
    server = scenario.server
    native = native_active(server, catalogue)
    assert native == scenario.expected_active()
    assert alertsinua_active(server) == native
    assert ukrainealarm_active(server) == native
    # The oblast roll-up: A and P in the IoT string exactly where the native status has them.
    status = server.get("/api/v1/status").json()["regions"]
    expected = "".join(status[by_api_id(catalogue, uid).code]["air_raid"]
                       for uid in OBLAST_ORDER)
    got = server.get("/v1/iot/active_air_raid_alerts_by_oblast.json", token=None).json()
    assert got == expected and set(got) == {"A", "P", "N"}
    # And for every region with an id, down to the hromadas.
    every = server.get("/api/v1/status?level=oblast,special_city,raion,hromada").json()
    string = server.get("/v1/iot/active_air_raid_alerts.json", token=None).json()
    for uid, region in catalogue.by_api_id.items():
        assert string[uid] == every["regions"][region.code]["air_raid"], region
    assert string.count("A") == sum(1 for v in every["regions"].values()
                                    if v["air_raid"] == "A")


def headers_of(server: Server, path: str) -> dict[str, str]:
    result = server.get(path, token=None)
    assert result.status == 200, result.body
    return result.headers


def settle(server: Server) -> None:
    """Wait until the second of the last change is over: from then on Last-Modified is final
    for this state (before, it names that second, which may also hold earlier states)."""
    updated = server.get("/api/v1/status", token=None).json()["updated_at"]
    target = datetime.fromisoformat(updated.replace("Z", "+00:00")).timestamp() // 1 + 1
    deadline = time.monotonic() + 5
    while time.time() < target:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_change_is_visible_through_every_facade_in_the_next_request(
        changing: Scenario, catalogue: Catalogue, open_client: OpenClient) -> None:
    server = changing.server
    official = open_client("alerts-in-ua", server, changing.reader)
    other = open_client("alerts-in-ua-py", server, changing.reader)
    siren = open_client("uasiren", server, None)
    ua_alarm = open_client("ua-alarm", server, changing.reader)

    def odesa_everywhere() -> dict[str, Any]:
        """What each client says about Odesa oblast now."""
        active = official.call("active")["alerts"]
        by_oblast = {o["location_title"]: o["status"] for o in official.call("by_oblast")}
        return {
            "official": any(a["location_uid"] == str(ODESA_OBLAST) for a in active),
            "official_iot": by_oblast["Одеська область"] == "active",
            "alerts_in_ua_py": any(loc["location_uid"] == str(ODESA_OBLAST)
                                   for loc in other.call("active")["locations"]),
            "home_assistant": siren.call("ha_sensors", region_id=str(ODESA_OBLAST))["AIR"],
            "ua_alarm": bool(ua_alarm.call("alerts", region_id=ODESA_OBLAST)[0]
                             ["activeAlerts"]),
            "native": (ODESA_OBLAST, "air_raid") in native_active(server, catalogue),
        }

    # Every client has read (and cached) the state before the change.
    assert not any(odesa_everywhere().values())
    official.call("requests")
    paths = ["/v1/alerts/active.json", "/v1/iot/active_air_raid_alerts_by_oblast.json",
             "/api/v3/alerts"]
    before = {p: headers_of(server, p)["Last-Modified"] for p in paths}
    index = siren.call("status")["lastActionIndex"]

    alert_id = declare(server, catalogue, ODESA_OBLAST, "air_raid",
                       [{"type": "drones", "level": "red"}])
    assert all(odesa_everywhere().values())
    settle(server)
    # The official client revalidated with its old Last-Modified and was given the new state.
    revalidations = [r for r in official.call("requests") if r["if_modified_since"]]
    assert revalidations and all(r["status"] == 200 for r in revalidations)
    after = {p: headers_of(server, p)["Last-Modified"] for p in paths}
    for path in paths:
        assert parsedate_to_datetime(after[path]) > parsedate_to_datetime(before[path])
    moved = siren.call("status")["lastActionIndex"]
    assert moved > index

    # Another change: seen at once by clients that revalidate with the date they hold.
    ended = server.post(f"/api/v1/alerts/{alert_id}/end", {"reason": "all clear"})
    assert ended.status == 200
    assert not any(odesa_everywhere().values())
    settle(server)
    assert not any(odesa_everywhere().values())
    final = {p: headers_of(server, p)["Last-Modified"] for p in paths}
    for path in paths:
        assert parsedate_to_datetime(final[path]) > parsedate_to_datetime(after[path])
    assert siren.call("status")["lastActionIndex"] > moved
    assert alertsinua_active(server) == ukrainealarm_active(server) == native_active(
        server, catalogue)
    # The official client's cache now answers from 304s, as nothing changed since.
    official.call("requests")
    official.call("active")
    assert [r["status"] for r in official.call("requests")] == [304]


def test_threat_level_change_reaches_the_v2_strings(changing: Scenario,
                                                    catalogue: Catalogue) -> None:
    server = changing.server
    path = f"/v2/iot/active_air_raid_alerts/{KHARKIV_OBLAST}.json"
    first = server.get(path, token=None)
    assert first.json() == "R"
    patched = server.request("PATCH", f"/api/v1/alerts/{changing.ids['kharkiv']}",
                             {"threats": [{"type": "drones", "level": "yellow"}]})
    assert patched.status == 200, patched.body
    # A client revalidating with the Last-Modified it had gets the new level, not 304.
    second = server.get(path, token=None,
                        headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert second.status == 200 and second.json() == "Y"
    assert server.get(f"/v1/iot/active_air_raid_alerts/{KHARKIV_OBLAST}.json",
                      token=None).json() == "A"
    settle(server)  # then the date a client holds is final for this state
    second = server.get(path, token=None)
    unchanged = server.get(path, token=None,
                           headers={"If-Modified-Since": second.headers["Last-Modified"]})
    assert unchanged.status == 304 and unchanged.headers["Last-Modified"]
    # An empty If-Modified-Since (as alerts-in-ua-py sends first) is a plain request.
    assert server.get(path, token=None, headers={"If-Modified-Since": ""}).status == 200
