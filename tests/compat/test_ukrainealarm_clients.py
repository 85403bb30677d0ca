"""The unmodified ukrainealarm clients, and Home Assistant's use of uasiren, against a real
server with the fixed scenario."""

from __future__ import annotations

import re
from typing import Any

from .conftest import (
    DNIPRO_OBLAST,
    KHARKIV_OBLAST,
    KYIV_CITY,
    LVIV_OBLAST,
    NIKOPOL_HROMADA,
    NIKOPOL_RAION,
    OpenClient,
    Scenario,
)

MODEL_KEYS = {"regionId", "regionType", "regionName", "regionEngName", "lastUpdate",
              "activeAlerts"}
ITEM_KEYS = {"regionId", "regionType", "type", "lastUpdate", "activeAlertLevels"}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TYPES = {"air_raid": "AIR", "artillery_shelling": "ARTILLERY"}


def pairs(models: list[dict[str, Any]]) -> set[tuple[int, str]]:
    return {(int(m["regionId"]), item["type"]) for m in models for item in m["activeAlerts"]}


def check_model(model: dict[str, Any]) -> None:
    """Every key present, null only where empty, times in ISO-8601 UTC with Z."""
    assert set(model) == MODEL_KEYS
    assert ISO_Z.match(model["lastUpdate"])
    for item in model["activeAlerts"]:
        assert set(item) == ITEM_KEYS
        assert ISO_Z.match(item["lastUpdate"])
        for level in item["activeAlertLevels"]:
            assert set(level) == {"alertLevel", "reason", "createdAt"}
            assert level["alertLevel"] in ("Red", "Yellow") and ISO_Z.match(level["createdAt"])


def test_ukrainealarm_client(scenario: Scenario, open_client: OpenClient) -> None:
    client = open_client("ukrainealarm", scenario.server, scenario.reader)
    everything = client.call("alerts")
    for model in everything:
        check_model(model)
    expected = {(uid, TYPES[t]) for uid, t in scenario.expected_active()}
    assert pairs(everything) == expected

    [kharkiv] = client.call("alerts", region_id=str(KHARKIV_OBLAST))
    check_model(kharkiv)
    assert kharkiv["regionType"] == "State" and kharkiv["regionName"] == "Харківська область"
    assert kharkiv["regionEngName"] == "Kharkiv Oblast"
    [alert] = kharkiv["activeAlerts"]
    assert alert["type"] == "AIR" and alert["regionId"] == str(KHARKIV_OBLAST)
    assert [(lv["alertLevel"], lv["reason"]) for lv in alert["activeAlertLevels"]] == [
        ("Red", "missiles")]

    # A hromada inherits its raion's alert and has its own artillery alert.
    [nikopol] = client.call("alerts", region_id=str(NIKOPOL_HROMADA))
    check_model(nikopol)
    assert nikopol["regionType"] == "Community"
    assert {(a["regionId"], a["regionType"], a["type"]) for a in nikopol["activeAlerts"]} == {
        (str(NIKOPOL_RAION), "District", "AIR"), (str(NIKOPOL_HROMADA), "Community",
                                                  "ARTILLERY")}
    levels = {a["type"]: a["activeAlertLevels"] for a in nikopol["activeAlerts"]}
    assert [(lv["alertLevel"], lv["reason"]) for lv in levels["AIR"]] == [("Yellow", "drones")]
    assert [(lv["alertLevel"], lv["reason"]) for lv in levels["ARTILLERY"]] == [("Red", None)]

    # Calm: the exercise in Lviv oblast, the ended alert in Kyiv, an oblast with alerts only
    # inside it.
    for calm in (LVIV_OBLAST, KYIV_CITY, DNIPRO_OBLAST):
        [model] = client.call("alerts", region_id=str(calm))
        check_model(model)
        assert model["activeAlerts"] == []
    [kyiv] = client.call("alerts", region_id=str(KYIV_CITY))
    assert kyiv["lastUpdate"] != "1970-01-01T00:00:00Z"  # its alert ended: a change

    version = scenario.server.get("/api/v1/alerts/active").json()["version"]
    assert client.call("status") == {"lastActionIndex": version}

    states = client.call("regions")["states"]
    ids = {s["regionId"]: s for s in states}
    assert len(states) == 27 and "9999" in ids and "29" not in ids
    assert ids["31"]["regionName"] == "м. Київ" and ids["31"]["regionChildIds"] == []
    assert ids["9999"]["regionName"] == "Автономна Республіка Крим"
    dnipro = ids[str(DNIPRO_OBLAST)]
    districts = {d["regionId"]: d for d in dnipro["regionChildIds"]}
    assert {d["regionType"] for d in districts.values()} == {"District"}
    communities = {c["regionId"]: c for c in districts[str(NIKOPOL_RAION)]["regionChildIds"]}
    assert communities[str(NIKOPOL_HROMADA)] == {
        "regionId": str(NIKOPOL_HROMADA), "regionName": "Нікопольська територіальна громада",
        "regionType": "Community", "regionChildIds": []}
    total = sum(1 + sum(1 + len(d["regionChildIds"]) for d in s["regionChildIds"])
                for s in states)
    assert total == 27 + 126 + 1458

    # An unknown region is an error the client raises.
    error = client.raised("alerts", region_id="29")
    assert error["type"] == "ClientResponseError" and error["status"] == 404


def test_home_assistant_sensors_from_uasiren(scenario: Scenario,
                                             open_client: OpenClient) -> None:
    client = open_client("uasiren", scenario.server, None)  # Home Assistant sends no key
    off = dict.fromkeys(("UNKNOWN", "AIR", "ARTILLERY", "URBAN_FIGHTS", "CHEMICAL", "NUCLEAR"),
                        False)
    assert client.call("ha_sensors", region_id=str(KHARKIV_OBLAST)) == {**off, "AIR": True}
    assert client.call("ha_sensors", region_id=str(NIKOPOL_HROMADA)) == {
        **off, "AIR": True, "ARTILLERY": True}
    assert client.call("ha_sensors", region_id=str(NIKOPOL_RAION)) == {**off, "AIR": True}
    assert client.call("ha_sensors", region_id=str(scenario.sumy_hromada)) == {
        **off, "AIR": True}
    for calm in (LVIV_OBLAST, KYIV_CITY, DNIPRO_OBLAST):
        assert client.call("ha_sensors", region_id=str(calm)) == off

    # The integration's setup dialog walks the tree down to a community, or stops at a state
    # without children.
    picked = client.call("ha_pick", path=[str(DNIPRO_OBLAST), str(NIKOPOL_RAION),
                                          str(NIKOPOL_HROMADA)])
    assert picked["region"] == str(NIKOPOL_HROMADA)
    assert picked["name"] == "Нікопольська територіальна громада"
    assert len(picked["offered"]) == 3 and len(picked["offered"][0]) == 27
    assert client.call("ha_pick", path=[str(KYIV_CITY)])["region"] == str(KYIV_CITY)
    assert client.call("status")["lastActionIndex"] > 0
    assert pairs(client.call("alerts")) == {(u, TYPES[t]) for u, t in
                                            scenario.expected_active()}


def test_ua_alarm_client(scenario: Scenario, open_client: OpenClient) -> None:
    client = open_client("ua-alarm", scenario.server, scenario.reader)
    # Its pydantic models accept every answer: the keys are all there.
    everything = client.call("alerts")
    assert pairs(everything) == {(u, TYPES[t]) for u, t in scenario.expected_active()}
    [nikopol] = client.call("alerts", region_id=NIKOPOL_HROMADA)
    assert nikopol["regionType"] == "Community"
    assert {a["type"] for a in nikopol["activeAlerts"]} == {"AIR", "ARTILLERY"}
    assert client.call("status")["lastActionIndex"] > 0
    states = client.call("regions")["states"]
    assert len(states) == 27

    # The history shape this server chose: one object, durations as "hh:mm:ss".
    kyiv = client.call("history", region_id=KYIV_CITY)
    assert kyiv["regionId"] == str(KYIV_CITY) and kyiv["regionName"] == "м. Київ"
    [ended] = kyiv["alarms"]
    assert ended["alertType"] == "AIR" and ended["isContinue"] is False
    assert re.match(r"^(\d+\.)?\d\d:\d\d:\d\d$", ended["duration"])
    assert ended["endDate"] >= ended["startDate"]
    [running] = client.call("history", region_id=KHARKIV_OBLAST)["alarms"]
    assert running["isContinue"] is True and running["regionId"] == str(KHARKIV_OBLAST)
    # A hromada's history holds what covered it from above, newest first.
    nikopol_history = client.call("history", region_id=NIKOPOL_HROMADA)["alarms"]
    assert [(a["regionId"], a["alertType"]) for a in nikopol_history] == [
        (str(NIKOPOL_HROMADA), "ARTILLERY"), (str(NIKOPOL_RAION), "AIR")]
    assert client.call("history", region_id=LVIV_OBLAST)["alarms"] == []

    # Webhook registration: stored and given back (delivery: test_ukrainealarm_webhooks.py).
    hook = {"webHookUrl": "http://127.0.0.1:9/ua-alarm"}
    assert client.call("subscribe", data=hook)["webHookUrl"] == hook["webHookUrl"]
    client.call("update", data={**hook, "regionIds": [str(KHARKIV_OBLAST)]})
    listed = scenario.server.get("/api/v3/webhook", token=None,
                                 headers={"Authorization": scenario.reader}).json()
    assert [(w["webHookUrl"], w["regionIds"]) for w in listed["webHooks"]] == [
        (hook["webHookUrl"], [str(KHARKIV_OBLAST)])]
    client.call("unsubscribe", data=hook)
    listed = scenario.server.get("/api/v3/webhook", token=None,
                                 headers={"Authorization": scenario.reader}).json()
    assert listed["webHooks"] == []
