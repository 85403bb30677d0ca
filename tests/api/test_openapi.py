"""The OpenAPI description: valid, generated from the models, and true of real answers.

One real server on 127.0.0.1 with real data (alerts, an incident, imported history, a
statement's proposals, a channel post, webhook subscriptions of both kinds); every documented
operation is called, and each answer is checked against the schema the description gives for
its status: the success schema for a 2xx, the one error shape for a 4xx.
"""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs shipped
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tryvoga.api.openapi import spec

from ..conftest import HTTPResult, Server, run_cli, start_server, stop_server
from ..paths import KYIV_STATEMENT, OFFICIAL_UK
from ..regions import KYIV

DESCRIPTION = spec()
LOOPBACK = {"TRYVOGA_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
            "TRYVOGA_COMPAT_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}


def test_the_description_is_valid_openapi() -> None:
    validate(DESCRIPTION)
    assert DESCRIPTION["openapi"].startswith("3.1")


def test_request_schemas_come_from_the_command_models() -> None:
    schemas = DESCRIPTION["components"]["schemas"]
    declare = schemas["Declare"]
    assert declare["additionalProperties"] is False
    assert declare["properties"]["regions"]["anyOf"][0]["maxItems"] == 500
    incident = schemas["ReportIncident"]["properties"]
    assert incident["killed"]["anyOf"][0] == {"type": "integer", "minimum": 0,
                                              "maximum": 1_000_000}
    assert set(incident) >= {"kind", "region", "source", "alert_id"}
    body = DESCRIPTION["paths"]["/api/v1/alerts"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Declare"}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    root = {"components": DESCRIPTION["components"]}
    registry: Registry = Registry().with_resource(
        "urn:tryvoga:openapi", Resource.from_contents(root, default_specification=DRAFT202012))
    resolved = json.loads(json.dumps(schema).replace('"#/components/',
                                                     '"urn:tryvoga:openapi#/components/'))
    return Draft202012Validator(resolved, registry=registry)


def _expected(operation: dict[str, Any], status: int) -> dict[str, Any] | None:
    """The documented content for a status: exact, else its class (4XX), else None."""
    responses = operation["responses"]
    found = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
    assert found is not None, f"status {status} is not documented"
    content: dict[str, Any] = found.get("content", {})
    return content


def _check(method: str, path: str, answer: HTTPResult) -> None:
    operation = DESCRIPTION["paths"][path][method]
    assert answer.status < 500, (method, path, answer.status, answer.body[:300])
    content = _expected(operation, answer.status)
    if answer.status == 304 or not content:
        return
    media = answer.headers.get("Content-Type", "").split(";")[0].strip()
    assert media in content, (method, path, media, list(content))
    schema = content[media]["schema"]
    value: Any = (json.loads(answer.body) if media == "application/json"
                  else answer.body.decode("utf-8"))
    errors = sorted(_validator(schema).iter_errors(value), key=lambda e: list(e.path))
    assert not errors, (method, path, answer.status,
                        [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]])


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("openapi")
    db = tmp / "server.db"
    run_cli("import-history", str(OFFICIAL_UK), db=db)
    running = start_server(tmp, env=LOOPBACK, db=db)
    yield running
    stop_server(running)


def _stream_head(srv: Server, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """Status and Content-Type of a stream that does not end: read its head, then close."""
    host, port = srv.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, head
            head += chunk
    lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = dict(line.split(": ", 1) for line in lines[1:])
    return status, fields.get("Content-Type", "")


def test_every_documented_path_answers_as_its_schema_says(srv: Server) -> None:
    called: set[tuple[str, str]] = set()

    def call(method: str, path: str, url: str | None = None, body: Any = None,
             **kwargs: Any) -> HTTPResult:
        answer = srv.request(method.upper(), url or path, body, **kwargs)
        _check(method, path, answer)
        called.add((method, path))
        return answer

    v1 = "/api/v1"
    declared = call("post", f"{v1}/alerts", body={"regions": [KYIV], "type": "air_raid",
                                                  "threats": [{"type": "drones"}]})
    assert declared.status == 201
    alert_id = declared.json()["alerts"][0]["id"]
    call("patch", f"{v1}/alerts/{{id}}", f"{v1}/alerts/{alert_id}", {"note": "changed"})
    call("get", f"{v1}/alerts/{{id}}", f"{v1}/alerts/{alert_id}")
    call("get", f"{v1}/alerts/active")
    call("get", f"{v1}/alerts/active", f"{v1}/alerts/active?region={KYIV}&neighbours=true")
    call("post", f"{v1}/alerts/{{id}}/end", f"{v1}/alerts/{alert_id}/end", {"reason": "over"})
    call("post", f"{v1}/alerts", body={"region": KYIV, "type": "artillery_shelling"})
    call("post", f"{v1}/alerts/end", body={"region": KYIV, "type": "artillery_shelling"})
    call("post", f"{v1}/alerts", body={"regions": [KYIV], "type": "air_raid"})
    call("put", f"{v1}/regions/{{code}}/settings", f"{v1}/regions/{KYIV}/settings",
         {"shelter_seconds": 120})
    call("get", f"{v1}/regions", f"{v1}/regions?q=Kyiv")
    call("get", f"{v1}/regions", f"{v1}/regions?level=oblast&limit=5")
    call("get", f"{v1}/regions/{{code}}", f"{v1}/regions/{KYIV}")
    call("get", f"{v1}/status")
    call("get", f"{v1}/head")
    call("get", f"{v1}/history", f"{v1}/history?limit=20")
    imported = srv.get(f"{v1}/history?imported=true&limit=3").json()["alerts"]
    assert imported and imported[0]["imported"] is True
    call("get", f"{v1}/history", f"{v1}/history?imported=true&limit=3")
    reported = call("post", f"{v1}/incidents", body={
        "kind": "debris", "region": KYIV, "source": "police", "latitude": 50.45,
        "longitude": 30.52, "alert_id": alert_id})
    incident_id = reported.json()["incident"]["id"]
    call("patch", f"{v1}/incidents/{{id}}", f"{v1}/incidents/{incident_id}",
         {"status": "confirmed", "killed": 0})
    call("get", f"{v1}/incidents")
    call("get", f"{v1}/incidents/{{id}}", f"{v1}/incidents/{incident_id}")
    call("get", f"{v1}/events", f"{v1}/events?since=0&limit=100")
    call("get", f"{v1}/openapi.json")
    call("get", f"{v1}/docs")

    statement = call("post", f"{v1}/ingest/statement",
                     body={"text": KYIV_STATEMENT.read_text("utf-8"), "source": "KCMA"})
    proposals = statement.json()["proposals"]
    assert len(proposals) >= 2
    call("get", f"{v1}/proposals")
    call("get", f"{v1}/proposals/{{id}}", f"{v1}/proposals/{proposals[0]['id']}")
    call("post", f"{v1}/proposals/{{id}}/accept", f"{v1}/proposals/{proposals[0]['id']}/accept")
    call("post", f"{v1}/proposals/{{id}}/reject", f"{v1}/proposals/{proposals[1]['id']}/reject",
         {"reason": "test"})
    call("post", f"{v1}/ingest/channel", body={
        "channel": "air_alert_ua", "id": 9001, "date": "2024-08-22T08:40:01+03:00",
        "text": "🔴 08:39 Повітряна тривога в м. Київ\n#м_Київ"})
    hook = call("post", f"{v1}/webhooks", body={"url": "http://127.0.0.1:9/hook"}).json()
    hook_id = hook["webhook"]["id"]
    call("get", f"{v1}/webhooks")
    call("get", f"{v1}/webhooks/{{id}}", f"{v1}/webhooks/{hook_id}")
    call("get", f"{v1}/webhooks/{{id}}/attempts", f"{v1}/webhooks/{hook_id}/attempts")
    call("delete", f"{v1}/webhooks/{{id}}", f"{v1}/webhooks/{hook_id}")
    call("get", f"{v1}/history/stats")
    call("get", f"{v1}/history/stats", f"{v1}/history/stats?format=csv")
    call("get", f"{v1}/history/imports")

    feed = call("get", "/cap/feed.atom")
    call("get", "/cap/feed.rss")
    first = re.search(rb"<id>(urn:tryvoga:[^<]+)</id>", feed.body.split(b"<entry>", 1)[1])
    assert first is not None
    call("get", "/cap/{identifier}.xml", f"/cap/{first.group(1).decode()}.xml")

    token = f"?token={srv.token}"
    kyiv_uid = "31"
    call("get", "/v1/alerts/active.json", f"/v1/alerts/active.json{token}")
    call("get", "/v1/regions/{uid}/alerts/{period}.json",
         f"/v1/regions/{kyiv_uid}/alerts/week_ago.json{token}")
    for version in ("v1", "v2"):
        for path in (f"/{version}/iot/active_air_raid_alerts_by_oblast.json",
                     f"/{version}/iot/active_air_raid_alerts.json"):
            call("get", path, path + token)
        call("get", f"/{version}/iot/active_air_raid_alerts/{{uid}}.json",
             f"/{version}/iot/active_air_raid_alerts/{kyiv_uid}.json{token}")
    key: dict[str, Any] = {"token": None, "headers": {"Authorization": srv.token}}
    call("get", "/api/v3/alerts", **key)
    call("get", "/api/v3/alerts/status", **key)
    call("get", "/api/v3/regions", **key)
    region_id = srv.get("/api/v3/alerts", **key).json()[0]["regionId"]
    call("get", "/api/v3/alerts/{regionId}", f"/api/v3/alerts/{region_id}", **key)
    call("get", "/api/v3/alerts/regionHistory",
         f"/api/v3/alerts/regionHistory?regionId={region_id}", **key)
    call("post", "/api/v3/webhook", body={"webHookUrl": "http://127.0.0.1:9/ua",
                                          "regionIds": [region_id]}, **key)
    call("get", "/api/v3/webhook", **key)
    call("patch", "/api/v3/webhook", body={"webHookUrl": "http://127.0.0.1:9/ua",
                                           "regionIds": [region_id]}, **key)
    call("delete", "/api/v3/webhook", body={"webHookUrl": "http://127.0.0.1:9/ua"}, **key)

    for path, media in ((f"{v1}/stream", "text/event-stream"),
                        (f"{v1}/stream.ndjson", "application/x-ndjson")):
        status, content_type = _stream_head(srv, path + "?since=0", {})
        assert status == 200 and content_type.startswith(media)
        assert media in DESCRIPTION["paths"][path]["get"]["responses"]["200"]["content"]
        called.add(("get", path))
    status, _ = _stream_head(srv, f"{v1}/ws", {
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert status == 101 and "101" in DESCRIPTION["paths"][f"{v1}/ws"]["get"]["responses"]
    called.add(("get", f"{v1}/ws"))

    documented = {(method, path) for path, item in DESCRIPTION["paths"].items()
                  for method in item}
    assert documented - called == set()


@pytest.mark.parametrize("path", [
    "/api/v1/alerts/%C2%B2", "/api/v1/incidents/%C2%B2", "/api/v1/alerts/" + "9" * 5000,
    "/api/v1/proposals/10%C2%B3%E2%81%B0", "/api/v1/proposals/" + "1" * 30,
    "/v1/iot/active_air_raid_alerts/%C2%B2.json", "/cap/urn:tryvoga:x:%C2%B2.xml",
    "/api/v1/regions?api_id=%C2%B2", "/api/v1/stream?since=%C2%B2",
    "/api/v1/history?cursor=" + base64.urlsafe_b64encode(
        b"2024-01-01T00:00:00.000Z|" + b"9" * 30).decode(),
    "/api/v1/history/stats?from=0001-01-01&to=9999-12-31",
    "/api/v1/history?from=0001-01-01&to=9999-12-31",
])
def test_odd_ids_are_refused_in_the_error_shape(srv: Server, path: str) -> None:
    """Non-ASCII digits and ids too large for any record: a 4xx, never a 500 (issue 15, 9)."""
    answer = srv.get(path)
    assert 400 <= answer.status < 500, (path, answer.status, answer.body[:200])
    body = answer.json()
    assert "error" in body or "message" in body


@pytest.mark.parametrize("raw", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"regions": ["' + b"U" * 10 + b'"], "type": "air_raid", "threats": '
    + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"kind": "fire", "region": "UA", "source": "x", "killed": ' + b"9" * 5000 + b"}",
])
def test_hostile_bodies_are_refused_in_the_error_shape(srv: Server, raw: bytes) -> None:
    path = "/api/v1/incidents" if b"kind" in raw else "/api/v1/alerts"
    for target in (path, "/api/v1/webhooks"):  # a command model, and the plain JSON reader
        answer = srv.post(target, raw=raw)
        assert answer.status in (400, 413, 422), (target, answer.status, answer.body[:200])
        assert set(answer.json()) == {"error"}
