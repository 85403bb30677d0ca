"""Issue 15, defect 9: bad input that was a 500 (with a traceback in the log) is a 4xx in the
one error shape. A real server; each request as the issue found it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from ..conftest import Server, start_server, stop_server

CURSOR = base64.urlsafe_b64encode(b"2024-01-01T00:00:00.000Z|" + b"9" * 30).decode()
NATIVE = [
    ("GET", "/api/v1/alerts/%C2%B2", None),
    ("GET", "/api/v1/incidents/%C2%B2", None),
    ("GET", "/api/v1/alerts/" + "9" * 5000, None),
    ("GET", "/api/v1/incidents/" + "9" * 5000, None),
    ("GET", "/api/v1/history?cursor=" + CURSOR, None),
    ("GET", "/api/v1/history/stats?from=0001-01-01&to=9999-12-31", None),
    ("GET", "/api/v1/history?from=0001-01-01T00:00:00%2B03:00", None),
    ("GET", "/api/v1/proposals/10%C2%B3%E2%81%B0", None),
    ("GET", "/api/v1/proposals/" + "9" * 30, None),
    ("POST", "/api/v1/proposals/" + "9" * 30 + "/accept", b"{}"),
    ("POST", "/api/v1/alerts", b"[" * 100_000 + b"]" * 100_000),
    ("POST", "/api/v1/alerts", b'{"regions": [' * 50_000),
    ("POST", "/api/v1/alerts", b'{"regions": ["UA"], "type": "air_raid", "note": '
     + b"9" * 5000 + b"}"),
    ("POST", "/api/v1/ingest/channel", json.dumps(
        {"channel": "x", "id": 1, "date_unixtime": 1e18,
         "text": "Повітряна тривога в м. Київ"}).encode()),
    ("POST", "/api/v1/ingest/channel", json.dumps(
        {"channel": "x", "id": 1, "date_unixtime": 1e12,
         "text": "Повітряна тривога в м. Київ"}).encode()),
]
FACADES = [
    ("GET", "/v1/iot/active_air_raid_alerts/%C2%B2.json", None),
    ("GET", "/v1/iot/active_air_raid_alerts/" + "9" * 5000 + ".json", None),
    ("POST", "/api/v3/webhook", b"[" * 100_000),
]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("bad"))
    yield running
    stop_server(running)


@pytest.mark.parametrize(("method", "path", "body"), NATIVE,
                         ids=[f"{m} {p[:48]}" for m, p, _ in NATIVE])
def test_native_bad_input_is_a_4xx_in_the_one_shape(srv: Server, method: str, path: str,
                                                   body: bytes | None) -> None:
    before = srv.log.read_text().count("Traceback")
    answer = srv.request(method, path, raw=body)
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    error = answer.json()["error"]
    assert set(error) >= {"code", "message", "status"} and error["status"] == answer.status
    assert srv.log.read_text().count("Traceback") == before


@pytest.mark.parametrize(("method", "path", "body"), FACADES,
                         ids=[f"{m} {p[:48]}" for m, p, _ in FACADES])
def test_facade_bad_input_is_a_4xx(srv: Server, method: str, path: str,
                                   body: bytes | None) -> None:
    before = srv.log.read_text().count("Traceback")
    answer = srv.request(method, path, raw=body)
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    assert "message" in answer.json()
    assert srv.log.read_text().count("Traceback") == before


def test_the_widest_period_that_can_be_written_is_answered(srv: Server) -> None:
    answer = srv.get("/api/v1/history/stats?from=0002-01-01&to=9999-12-31", token=None)
    assert answer.status == 200 and answer.json()["from"].startswith("0001-12-31T")
