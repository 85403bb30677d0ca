"""The unmodified alerts.in.ua clients against a real server with the fixed scenario."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tryvoga.domain.regions import Catalogue

from .conftest import (
    DNIPRO_OBLAST,
    KHARKIV_OBLAST,
    KYIV_CITY,
    LVIV_OBLAST,
    NIKOPOL_HROMADA,
    NIKOPOL_RAION,
    SUMY_OBLAST,
    OpenClient,
    Scenario,
)

TIME_KEYS = ("started_at", "finished_at", "updated_at")
ALERT_KEYS = {"id", "location_title", "location_title_en", "location_type", "location_uid",
              "location_oblast", "location_oblast_uid", "location_raion", "started_at",
              "finished_at", "updated_at", "alert_type", "notes", "calculated", "country",
              "alert_level", "threats"}


def by_uid(alerts: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
    return {(int(str(a["location_uid"])), a["alert_type"]): a for a in alerts}


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_official_client_reads_the_active_alerts(scenario: Scenario, open_client: OpenClient,
                                                 flavour: str) -> None:
    client = open_client("alerts-in-ua", scenario.server, scenario.reader)
    got = client.call("active", flavour=flavour)
    alerts = by_uid(got["alerts"])
    # Every actual active alert, no exercise (Lviv) and nothing finished (Kyiv).
    assert set(alerts) == scenario.expected_active()
    for alert in got["alerts"]:
        assert set(alert) >= ALERT_KEYS | {"is_red", "is_finished"}
        assert alert["is_finished"] is False and alert["finished_at"] is None
        # The client parsed every timestamp into Kyiv time.
        assert datetime.fromisoformat(alert["started_at"]).utcoffset() is not None

    kharkiv = alerts[(KHARKIV_OBLAST, "air_raid")]
    assert kharkiv["id"] == scenario.ids["kharkiv"]
    assert kharkiv["location_title"] == "Харківська область"
    assert kharkiv["location_title_en"] == "Kharkiv Oblast"
    assert kharkiv["location_type"] == "oblast"
    assert kharkiv["location_uid"] == str(KHARKIV_OBLAST)
    assert kharkiv["location_oblast"] == "Харківська область"
    assert kharkiv["location_oblast_uid"] == KHARKIV_OBLAST
    assert kharkiv["location_raion"] is None
    assert kharkiv["notes"] == "missiles from the north-east"
    assert kharkiv["alert_level"] == "red" and kharkiv["is_red"] is True
    assert kharkiv["calculated"] is False and kharkiv["country"] is None
    [threat] = kharkiv["threats"]
    assert threat["threat_type"] == "missiles" and threat["level"] == "red"
    assert threat["source_message"] == "Kharkiv Oblast Military Administration"
    assert datetime.fromisoformat(threat["started_at"]).utcoffset() is not None

    raion = alerts[(NIKOPOL_RAION, "air_raid")]
    assert raion["location_type"] == "raion"
    assert raion["location_title"] == "Нікопольський район"
    assert raion["location_oblast"] == "Дніпропетровська область"
    assert raion["location_oblast_uid"] == DNIPRO_OBLAST
    assert raion["location_raion"] == "Нікопольський район"
    assert raion["alert_level"] == "yellow"
    assert [t["threat_type"] for t in raion["threats"]] == ["drones"]

    hromada = alerts[(scenario.sumy_hromada, "air_raid")]
    assert hromada["location_type"] == "hromada"
    assert hromada["location_oblast_uid"] == SUMY_OBLAST
    assert hromada["location_raion"] is not None and hromada["location_raion"].endswith("район")

    artillery = alerts[(NIKOPOL_HROMADA, "artillery_shelling")]
    assert artillery["threats"] == [] and artillery["alert_level"] == "red"
    assert got["artillery_ids"] == [scenario.ids["nikopol_artillery"]]
    assert sorted(got["air_raid_ids"]) == sorted(
        scenario.ids[k] for k in ("kharkiv", "nikopol_raion", "sumy_hromada"))
    assert sorted(got["yellow_ids"]) == sorted(
        scenario.ids[k] for k in ("nikopol_raion", "sumy_hromada"))
    assert scenario.ids["kharkiv"] in got["red_ids"]
    assert got["last_updated_at"] is not None and got["disclaimer"]


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_official_client_cache_revalidates_with_304(scenario: Scenario, open_client: OpenClient,
                                                    flavour: str) -> None:
    client = open_client("alerts-in-ua", scenario.server, scenario.reader)
    first = client.call("active", flavour=flavour)
    [fetched] = client.call("requests")
    assert fetched["status"] == 200 and fetched["if_modified_since"] is None
    assert fetched["last_modified"].endswith(" GMT")
    again = client.call("active", flavour=flavour)
    [revalidated] = client.call("requests")
    # The client sent its Last-Modified back, got 304 and answered from its cache.
    assert revalidated["if_modified_since"] == fetched["last_modified"]
    assert revalidated["status"] == 304
    assert again == first
    # Without its cache it asks plainly.
    client.call("active", flavour=flavour, use_cache=False)
    assert [r["status"] for r in client.call("requests")] == [200]


def test_official_client_history(scenario: Scenario, open_client: OpenClient) -> None:
    client = open_client("alerts-in-ua", scenario.server, scenario.reader)
    for period in ("week_ago", "month_ago"):
        kyiv = client.call("history", uid=KYIV_CITY, period=period)["alerts"]
        [finished] = kyiv
        assert finished["id"] == scenario.ids["kyiv"]
        assert finished["is_finished"] is True and finished["finished_at"] is not None
        assert finished["location_title"] == "м. Київ" and finished["location_type"] == "city"
        assert finished["threats"][0]["threat_type"] == "ballistic"
    kharkiv = client.call("history", uid=KHARKIV_OBLAST, period="week_ago")["alerts"]
    assert [a["id"] for a in kharkiv] == [scenario.ids["kharkiv"]]
    # The oblast's history holds what happened inside it, newest first.
    dnipro = client.call("history", uid=DNIPRO_OBLAST, period="week_ago", flavour="async")
    assert [a["id"] for a in dnipro["alerts"]] == [scenario.ids["nikopol_artillery"],
                                                   scenario.ids["nikopol_raion"]]
    # An exercise is no part of the record of actual alerts.
    assert client.call("history", uid=LVIV_OBLAST, period="month_ago")["alerts"] == []


def test_official_client_iot_statuses(scenario: Scenario, open_client: OpenClient,
                                      catalogue: Catalogue) -> None:
    client = open_client("alerts-in-ua", scenario.server, scenario.reader)
    oblasts = client.call("by_oblast")
    assert len(oblasts) == 27
    status = {o["location_title"]: o["status"] for o in oblasts}
    assert status["Харківська область"] == "active"
    assert status["Дніпропетровська область"] == "partly"
    assert status["Сумська область"] == "partly"
    assert status["Львівська область"] == "no_alert"  # the exercise
    assert status["м. Київ"] == "no_alert"  # ended
    assert sum(1 for s in status.values() if s == "no_alert") == 24

    levels = {o["location_title"]: o["alert_level"]
              for o in client.call("by_oblast", flavour="async", include_alert_level=True)}
    assert levels["Харківська область"] == "red"
    assert levels["Дніпропетровська область"] is None  # partly: no level
    assert client.call("by_oblast", oblast_level_only=True)[3]["status"] == "no_alert"

    one = client.call("oblast_status", uid=KHARKIV_OBLAST, include_alert_level=True)
    assert one == {"location_title": "Харківська область", "status": "active",
                   "alert_level": "red"}
    assert client.call("oblast_status", uid=DNIPRO_OBLAST)["status"] == "partly"
    assert client.call("oblast_status", uid=DNIPRO_OBLAST,
                       oblast_level_only=True)["status"] == "no_alert"
    # By title, through the client's own table of names.
    assert client.call("oblast_status", uid="м. Київ")["status"] == "no_alert"
    assert client.call("oblast_status", uid=NIKOPOL_RAION, flavour="async",
                       include_alert_level=True) == {
        "location_title": "Нікопольський район", "status": "active", "alert_level": "yellow"}

    every = client.call("statuses", include_alert_level=True)
    alerted = {s["uid"]: (s["status"], s["alert_level"]) for s in every["alerted"]}
    assert alerted[KHARKIV_OBLAST] == ("active", "red")
    assert alerted[DNIPRO_OBLAST] == ("partly", None)
    assert alerted[SUMY_OBLAST] == ("partly", None)
    assert alerted[NIKOPOL_RAION] == ("active", "yellow")
    assert alerted[NIKOPOL_HROMADA] == ("active", "yellow")  # covered by its raion's alert
    assert alerted[scenario.sumy_hromada] == ("active", "yellow")
    assert LVIV_OBLAST not in alerted and KYIV_CITY not in alerted
    plain = {s["uid"]: s["status"] for s in client.call("statuses")["alerted"]}
    assert plain == {uid: status for uid, (status, _) in alerted.items()}
    # Every uid the string has a character for is a region (spaces elsewhere).
    assert every["count"] == len(catalogue.by_api_id)

    # A uid no region has: the client's generic error.
    error = client.raised("oblast_status", uid=1700)
    assert error["type"] == "ApiError" and error["message"] == "Unknown error. HTTP Code:404"


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_alerts_in_ua_py_reads_the_active_alerts(scenario: Scenario, open_client: OpenClient,
                                                 flavour: str) -> None:
    client = open_client("alerts-in-ua-py", scenario.server, scenario.reader)
    got = client.call("active", flavour=flavour)
    assert got["status"] == 200
    locations = {(int(loc["location_uid"]), loc["alert_type"]): loc for loc in got["locations"]}
    assert set(locations) == scenario.expected_active()
    kharkiv = locations[(KHARKIV_OBLAST, "air_raid")]
    assert kharkiv["id"] == scenario.ids["kharkiv"]
    assert kharkiv["location_title"] == "Харківська область"
    assert kharkiv["location_oblast"] == "Харківська область"
    assert kharkiv["finished_at"] is None and kharkiv["calculated"] is False
    for key in TIME_KEYS[:1]:
        assert kharkiv[key].endswith("Z") and len(kharkiv[key]) == 24
    raion = locations[(NIKOPOL_RAION, "air_raid")]
    assert raion["location_raion"] == "Нікопольський район"
    # Its next request sends If-Modified-Since; 304 keeps what it had.
    again = client.call("active", flavour=flavour)
    assert again["status"] == 304
    assert again["locations"] == got["locations"]
