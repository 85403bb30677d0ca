"""The polled reads' fast path keeps what HTTP says, and errors keep the one shape without a
middleware (each handler is wrapped; what no route takes goes to a catch-all)."""

from __future__ import annotations

from tests.conftest import Server
from tests.regions import KYIV


def test_a_cached_read_and_its_304_carry_their_validators(server: Server) -> None:
    server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
    for path in ("/api/v1/status", "/api/v1/alerts/active"):
        full = server.get(path)
        assert full.status == 200
        assert full.headers["Content-Type"] == "application/json; charset=utf-8"
        assert full.headers["Cache-Control"] == "no-cache"
        etag, modified = full.headers["ETag"], full.headers["Last-Modified"]
        again = server.get(path, headers={"If-None-Match": etag})
        assert again.status == 304 and again.body == b""
        assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "no-cache"
        assert again.headers["Last-Modified"]
        listed = server.get(path, headers={"If-None-Match": f'"other", {etag}'})
        assert listed.status == 304
        assert server.get(path, headers={"If-None-Match": '"other"'}).status == 200
        assert modified


def test_query_parameters_still_choose_the_representation(server: Server) -> None:
    server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
    plain = server.get("/api/v1/status").json()["regions"]
    raions = server.get("/api/v1/status?level=raion").json()["regions"]
    assert KYIV in plain and KYIV not in raions and len(raions) > len(plain)
    assert server.get("/api/v1/alerts/active?type=artillery_shelling").json()["alerts"] == []
    assert len(server.get("/api/v1/alerts/active?type=air_raid").json()["alerts"]) == 1
    bad = server.get("/api/v1/status?level=galaxy")
    assert bad.status == 400 and bad.json()["error"]["field"] == "level"


def test_what_no_route_takes_has_the_one_shape(server: Server) -> None:
    missing = server.get("/api/v1/nothing-here")
    assert missing.status == 404
    assert missing.json()["error"] == {"code": "not_found", "status": 404,
                                       "message": "no such endpoint: GET /api/v1/nothing-here"}
    wrong = server.request("DELETE", "/api/v1/status")
    assert wrong.status == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    assert set(wrong.headers["Allow"].split(",")) == {"GET", "HEAD"}
    dynamic = server.post("/api/v1/alerts/5")
    assert dynamic.status == 405 and "PATCH" in dynamic.headers["Allow"].split(",")
    head = server.request("HEAD", "/api/v1/status")
    assert head.status == 200 and head.body == b""
