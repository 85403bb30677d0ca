"""The native API over real HTTP against a real ``tryvoga serve`` process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import pytest

from tests.regions import KYIV
from tryvoga.domain.regions import Catalogue

from ..conftest import Server, by_api_id, run_cli, start_server, stop_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("native"))
    yield running
    stop_server(running)


def assert_error(result: object, status: int, code: str, field: str | None = None) -> None:
    from ..conftest import HTTPResult

    assert isinstance(result, HTTPResult)
    assert result.status == status, result.body
    assert result.headers["Content-Type"].startswith("application/json")
    body = result.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code and error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    if field is not None:
        assert error["field"] == field


def test_declare_and_end_over_http(server: Server) -> None:
    declared = server.post("/api/v1/alerts", {
        "regions": [KYIV], "type": "air_raid",
        "threats": [{"type": "drones", "level": "yellow"}],
        "status": "actual", "source": "Kyiv City Military Administration", "note": "n"})
    assert declared.status == 201
    alert = declared.json()["alerts"][0]
    assert alert["region"] == KYIV and alert["type"] == "air_raid"
    assert alert["started_at"].endswith("Z")
    again = server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
    assert again.status == 200 and again.json()["alerts"][0]["id"] == alert["id"]

    status = server.get("/api/v1/status").json()
    assert status["regions"][KYIV]["air_raid"] == "A"
    assert status["regions"][KYIV]["nuclear"] == "N"
    active = server.get("/api/v1/alerts/active").json()["alerts"]
    assert [a["id"] for a in active] == [alert["id"]]

    ended = server.post(f"/api/v1/alerts/{alert['id']}/end", {"reason": "all clear"})
    assert ended.status == 200 and ended.json()["alert"]["ended_at"] is not None
    assert server.get("/api/v1/status").json()["regions"][KYIV]["air_raid"] == "N"
    assert_error(server.post(f"/api/v1/alerts/{alert['id']}/end"), 409, "alert_not_active")

    history = server.get(f"/api/v1/history?region={KYIV}").json()
    assert [a["id"] for a in history["alerts"]] == [alert["id"]]
    assert history["alerts"][0]["duration_seconds"] >= 0 and history["next"] is None
    events = server.get("/api/v1/events?since=0").json()["events"]
    assert [e["kind"] for e in events] == ["alert.declared", "alert.ended"]


def test_idempotency_key_over_http(server: Server) -> None:
    body = {"regions": [KYIV], "type": "urban_fights"}
    first = server.post("/api/v1/alerts", body, headers={"Idempotency-Key": "abc"})
    server.post(f"/api/v1/alerts/{first.json()['alerts'][0]['id']}/end")
    retry = server.post("/api/v1/alerts", body, headers={"Idempotency-Key": "abc"})
    assert retry.status == 201 and retry.json() == first.json()
    assert server.get("/api/v1/alerts/active").json()["alerts"] == []


def test_update_and_end_by_region(server: Server) -> None:
    alert = server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"}).json()
    alert_id = alert["alerts"][0]["id"]
    patched = server.request("PATCH", f"/api/v1/alerts/{alert_id}",
                             {"threats": [{"type": "ballistic", "level": "red"}]})
    assert patched.json()["alert"]["threats"] == [{"type": "ballistic", "level": "red"}]
    ended = server.post("/api/v1/alerts/end", {"region": KYIV, "type": "air_raid"})
    assert ended.status == 200 and ended.json()["alert"]["id"] == alert_id


def test_etag_and_304(server: Server) -> None:
    for path in ("/api/v1/status", "/api/v1/alerts/active"):
        first = server.get(path)
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert etag.startswith('"') and not etag.startswith('W/')
        assert server.get(path, headers={"If-None-Match": etag}).status == 304
        assert server.get(path, headers={"If-Modified-Since": modified}).status == 304
        assert server.get(path).body == first.body
    before = server.get("/api/v1/status")
    server.post("/api/v1/alerts", {"regions": [KYIV], "type": "nuclear"})
    after = server.get("/api/v1/status", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert after.json()["version"] == before.json()["version"] + 1


def test_writes_need_a_token_in_scope(server: Server, catalogue: Catalogue) -> None:
    body = {"regions": [KYIV], "type": "air_raid"}
    assert_error(server.post("/api/v1/alerts", body, token=None), 401, "token_missing")
    assert_error(server.post("/api/v1/alerts", body, token="tv_nope"), 401, "token_invalid")
    kyiv_token = run_cli("token", "create", "--name", "kyiv", "--scope", KYIV, "--write",
                         db=server.db).stdout.strip().splitlines()[-1]
    lviv = by_api_id(catalogue, 27).code
    assert_error(server.post("/api/v1/alerts", {"regions": [lviv], "type": "air_raid"},
                             token=kyiv_token), 403, "out_of_scope", "regions[0]")
    assert server.post("/api/v1/alerts", body, token=kyiv_token).status == 201
    reader = run_cli("token", "create", "--name", "reader", db=server.db
                     ).stdout.strip().splitlines()[-1]
    assert_error(server.post("/api/v1/alerts", {"regions": [KYIV], "type": "chemical"},
                             token=reader), 403, "token_read_only")
    run_cli("token", "revoke", "kyiv", db=server.db)
    assert_error(server.post("/api/v1/alerts", {"regions": [KYIV], "type": "chemical"},
                             token=kyiv_token), 401, "token_invalid")
    assert len(server.get("/api/v1/alerts/active").json()["alerts"]) == 1


@pytest.mark.parametrize(("method", "path", "body", "raw", "status", "code", "field"), [
    ("POST", "/api/v1/alerts", None, b"{bad", 400, "malformed_json", None),
    ("POST", "/api/v1/alerts", None, b"[1]", 400, "malformed_json", None),
    ("POST", "/api/v1/alerts", None, b"", 400, "body_missing", None),
    ("POST", "/api/v1/alerts", {"regions": ["UA1"], "type": "air_raid"}, None, 404,
     "region_not_found", "regions[0]"),
    ("POST", "/api/v1/alerts", {"regions": [KYIV], "type": "storm"}, None, 422,
     "invalid_input", "type"),
    ("POST", "/api/v1/alerts", {"regions": [KYIV]}, None, 422, "invalid_input", "type"),
    ("POST", "/api/v1/alerts", {"regions": [KYIV], "type": "air_raid", "colour": 1}, None,
     422, "invalid_input", "colour"),
    ("POST", "/api/v1/alerts", {"regions": [KYIV], "type": "air_raid",
                                "started_at": "2023-13-01"}, None, 422, "invalid_input",
     "started_at"),
    ("POST", "/api/v1/alerts", None, b'{"regions": ["' + b"x" * 2_000_000 + b'"]}', 413,
     "body_too_large", None),
    ("POST", "/api/v1/alerts/999999/end", None, None, 404, "alert_not_found", None),
    ("PATCH", "/api/v1/alerts/999999", {"note": "x"}, None, 404, "alert_not_found", None),
    ("POST", "/api/v1/incidents", {"kind": "flood", "region": KYIV, "source": "x"}, None, 422,
     "invalid_input", "kind"),
    ("POST", "/api/v1/incidents", {"kind": "fire", "region": KYIV}, None, 422,
     "invalid_input", "source"),
    ("PATCH", "/api/v1/incidents/999999", {"status": "confirmed"}, None, 404,
     "incident_not_found", None),
    ("GET", "/api/v1/regions/UA123", None, None, 404, "region_not_found", None),
    ("GET", "/api/v1/alerts/424242", None, None, 404, "alert_not_found", None),
    ("GET", "/api/v1/history?from=yesterday", None, None, 400, "invalid_input", "from"),
    ("GET", "/api/v1/history?limit=5001", None, None, 400, "invalid_input", "limit"),
    ("GET", "/api/v1/history?cursor=zzz", None, None, 400, "invalid_input", "cursor"),
    ("GET", "/api/v1/history?type=rain", None, None, 400, "invalid_input", "type"),
    ("GET", "/api/v1/alerts/active?region=nowhere", None, None, 404, "region_not_found",
     "region"),
    ("GET", "/api/v1/regions?level=village", None, None, 400, "invalid_input", "level"),
    ("GET", "/api/v1/events?since=-1", None, None, 400, "invalid_input", "since"),
    ("GET", "/api/v1/no-such-thing", None, None, 404, "not_found", None),
    ("DELETE", "/api/v1/alerts", None, None, 405, "method_not_allowed", None),
])
def test_every_error_has_one_shape_and_appends_nothing(
        srv: Server, method: str, path: str, body: object, raw: bytes | None, status: int,
        code: str, field: str | None) -> None:
    before = srv.get("/api/v1/events?since=0&limit=5000").json()["events"]
    assert_error(srv.request(method, path, body, raw=raw), status, code, field)
    assert srv.get("/api/v1/events?since=0&limit=5000").json()["events"] == before


def test_region_lookup_and_detail(srv: Server, catalogue: Catalogue) -> None:
    found = srv.get("/api/v1/regions?q=Kiev").json()
    assert [r["code"] for r in found["regions"]] == [KYIV] and found["ambiguous"] is False
    for query in ("Kyiv", "%D0%9A%D0%B8%D1%97%D0%B2", "%23%D0%BC_%D0%9A%D0%B8%D1%97%D0%B2"):
        assert srv.get(f"/api/v1/regions?q={query}").json()["regions"][0]["code"] == KYIV
    detail = srv.get(f"/api/v1/regions/{KYIV}").json()
    assert len(detail["children"]) == 10
    assert {c["level"] for c in detail["children"]} == {"city_district"}
    assert detail["neighbours"][0]["code"] == by_api_id(catalogue, 14).code
    assert set(detail["status"]) == {"air_raid", "artillery_shelling", "urban_fights",
                                     "chemical", "nuclear"}
    oblasts = srv.get("/api/v1/regions?level=oblast,special_city").json()["regions"]
    assert len(oblasts) == 27


def test_history_pagination(server: Server) -> None:
    ids = []
    for _ in range(7):
        alert_id = server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"}
                               ).json()["alerts"][0]["id"]
        server.post(f"/api/v1/alerts/{alert_id}/end")
        ids.append(alert_id)
    seen: list[int] = []
    cursor = ""
    while True:
        page = server.get(f"/api/v1/history?limit=3{cursor}").json()
        seen.extend(a["id"] for a in page["alerts"])
        if page["next"] is None:
            break
        cursor = f"&cursor={page['next']}"
    assert seen == sorted(ids, reverse=True)


def test_incidents_over_http(server: Server, catalogue: Catalogue) -> None:
    darnytskyi = next(c for c in catalogue.children[KYIV]
                      if catalogue[c].name_en.startswith("Darnytskyi"))
    created = server.post("/api/v1/incidents", {
        "kind": "fire", "region": darnytskyi, "source": "Kyiv City Military Administration",
        "description": "fire in a 10-storey building", "latitude": 50.43, "longitude": 30.62})
    assert created.status == 201
    incident = created.json()["incident"]
    assert incident["status"] == "preliminary"
    patched = server.request("PATCH", f"/api/v1/incidents/{incident['id']}",
                             {"status": "confirmed"})
    assert patched.json()["incident"]["status"] == "confirmed"
    listed = server.get(f"/api/v1/incidents?region={KYIV}").json()["incidents"]
    assert [i["id"] for i in listed] == [incident["id"]]
    embargoed = server.post("/api/v1/incidents", {
        "kind": "damage", "region": darnytskyi, "source": "KCMA",
        "embargo_until": "2099-01-01T00:00:00+00:00"}).json()["incident"]
    public = server.get("/api/v1/incidents", token=None).json()["incidents"]
    assert embargoed["id"] not in [i["id"] for i in public]
    assert server.get(f"/api/v1/incidents/{embargoed['id']}", token=None).status == 404
    assert server.get(f"/api/v1/incidents/{embargoed['id']}").status == 200
    # The public log shows that the report exists, not what it says.
    logged = [e for e in server.get("/api/v1/events", token=None).json()["events"]
              if e["kind"] == "incident.reported"]
    assert logged[-1]["payload"] == {"incident_id": embargoed["id"], "embargoed": True,
                                     "embargo_until": "2099-01-01T00:00:00.000Z"}
    assert logged[0]["payload"]["description"] == "fire in a 10-storey building"


def test_openapi_and_docs(srv: Server) -> None:
    spec = srv.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in ("/alerts", "/status", "/history", "/regions", "/events", "/incidents"):
        assert "/api/v1" + path in spec["paths"]
    docs = srv.get("/api/v1/docs")
    assert docs.status == 200 and b"/api/v1/alerts" in docs.body


def test_two_workers_share_one_database(tmp_path: Path) -> None:
    running = start_server(tmp_path, "--workers", "2")
    try:
        created = running.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
        assert created.status == 201
        # The other worker follows the log within its poll interval; wait for that, then
        # every answer, from whichever worker, has the change.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pids = {running.get("/healthz").json()["pid"] for _ in range(20)}
            if len(pids) == 2:
                break
        assert len(pids) == 2, "both workers should answer"
        answers: list[str] = []
        while time.monotonic() < deadline + 5 and answers[-40:] != ["A"] * 40:
            answers.append(running.get("/api/v1/status").json()["regions"][KYIV]["air_raid"])
        assert answers[-40:] == ["A"] * 40
    finally:
        stop_server(running)


def test_lookup_by_api_id_and_neighbours_filter(server: Server, catalogue: Catalogue) -> None:
    assert server.get("/api/v1/regions?api_id=31").json()["regions"][0]["code"] == KYIV
    assert server.get("/api/v1/regions?q=31").json()["regions"][0]["code"] == KYIV
    assert server.get("/api/v1/regions?api_id=999999").json()["regions"] == []
    kyiv_oblast = by_api_id(catalogue, 14).code
    lviv = by_api_id(catalogue, 27).code
    server.post("/api/v1/alerts", {"regions": [kyiv_oblast, lviv], "type": "air_raid"})
    own = server.get(f"/api/v1/alerts/active?region={KYIV}").json()["alerts"]
    assert own == []
    near = server.get(f"/api/v1/alerts/active?region={KYIV}&neighbours=true").json()["alerts"]
    assert [a["region"] for a in near] == [kyiv_oblast]


def test_last_modified_moves_for_every_change_even_within_one_second(server: Server) -> None:
    # HTTP dates have whole seconds: a client that read the state before a second change in
    # the same second must not be told 304 about it.
    first = server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
    seen = server.get("/api/v1/status").headers["Last-Modified"]
    server.post(f"/api/v1/alerts/{first.json()['alerts'][0]['id']}/end")
    again = server.get("/api/v1/status", headers={"If-Modified-Since": seen})
    assert again.status == 200
    assert again.json()["regions"][KYIV]["air_raid"] == "N"


def test_unpaired_surrogates_and_doubled_regions_are_refused(srv: Server) -> None:
    raw = b'{"regions": ["' + KYIV.encode() + b'"], "type": "air_raid", "source": "\\ud800"}'
    assert_error(srv.request("POST", "/api/v1/alerts", raw=raw), 400, "malformed_json")
    assert_error(srv.post("/api/v1/alerts", {"regions": [KYIV], "region": "UA",
                                             "type": "air_raid"}), 422, "invalid_input",
                 "region")
    missing = srv.post("/api/v1/alerts", {"regions": ["Kyiv"], "type": "air_raid"})
    assert "'Kyiv'" in missing.json()["error"]["message"]


def test_if_modified_since_is_304_only_once_the_changes_second_is_over(srv: Server) -> None:
    srv.post("/api/v1/alerts", {"regions": [KYIV], "type": "urban_fights"})
    state = srv.get("/api/v1/status")
    changed = datetime.fromisoformat(state.json()["updated_at"].replace("Z", "+00:00"))
    second = changed.replace(microsecond=0)
    # A date inside the change's own second may predate the change: never 304 for it.
    same = format_datetime(second, usegmt=True)
    assert srv.get("/api/v1/status", headers={"If-Modified-Since": same}).status == 200
    after = format_datetime(second + timedelta(seconds=1), usegmt=True)
    assert srv.get("/api/v1/status", headers={"If-Modified-Since": after}).status == 304
    modified = parsedate_to_datetime(state.headers["Last-Modified"])
    assert modified <= parsedate_to_datetime(state.headers["Date"])
