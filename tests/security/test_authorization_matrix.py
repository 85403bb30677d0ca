"""The authorization matrix (issue 15's guarantee suite, begun): every route the application
has (read from its router, so a new endpoint is in the matrix without anyone adding it) × every
kind of principal, on a real server. Invariants:

* nothing answers 5xx;
* a write (POST, PUT, PATCH, DELETE) is never accepted without a valid write token: no token,
  a malformed one, a revoked one get 401, a read-only one 403 (the ukrainealarm webhook
  endpoints take read-only tokens, as ``TRYVOGA_UKRAINEALARM_WEBHOOKS_READ_ONLY`` says);
* a malformed or revoked token is never treated better than no token at all;
* a token scoped to Lviv oblast writes nothing in Kyiv (403 for every write naming Kyiv).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from tryvoga.api.app import create_app
from tryvoga.api.formats import webhook_formats
from tryvoga.node import build_node
from tryvoga.settings import Settings
from tryvoga.web import add_routes as pages

from ..conftest import Server, run_cli, start_server, stop_server
from ..regions import KYIV, LVIV_OBLAST

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
VALUES = {"code": KYIV, "id": "1", "identifier": "urn:x", "uid": "31", "period": "month_ago",
          "regionId": "31", "tail": "x"}
BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/alerts": {"regions": [KYIV], "type": "air_raid"},
    "/api/v1/alerts/end": {"region": KYIV, "type": "air_raid"},
    "/api/v1/incidents": {"region": KYIV, "kind": "explosion", "source": "matrix"},
    "/api/v1/regions/{code}/settings": {"shelter_seconds": 90},
    "/api/v1/webhooks": {"url": "https://hooks.example.org/m", "regions": [KYIV]},
    "/api/v3/webhook": {"webHookUrl": "https://hooks.example.org/m"},
    "/api/v1/ingest/channel": {"channel": "c", "id": 1, "date": "2024-03-01T10:00:00+02:00",
                               "text": "Повітряна тривога в м. Київ"},
    "/api/v1/ingest/statement": {"text": "Повітряна тривога в м. Київ."},
}
READ_ONLY_ALLOWED = {"/api/v3/webhook"}
# Streams never end, so an answer cannot be read whole: their admission is the stream tests'.
STREAMS = {"/api/v1/stream", "/api/v1/stream.ndjson", "/api/v1/ws"}
# The console takes no bearer tokens: people log in, with sessions and CSRF tokens, and its
# refusals are the console tests' (tests/console).
CONSOLE = "/console"


def routes() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        node = build_node(Settings(db=os.path.join(folder, "routes.db")),
                          formats=webhook_formats())
        try:
            app = create_app(node, pages=[pages])
            found = []
            for route in app.router.routes():
                info = route.resource.get_info() if route.resource is not None else {}
                path = info.get("path") or info.get("formatter")
                if (path and route.method not in ("*", "HEAD") and path not in STREAMS
                        and not path.startswith(CONSOLE)
                        and (route.method, path) not in found):
                    found.append((route.method, path))
            return found
        finally:
            node.close()


ROUTES = routes()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("matrix"))
    running.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})

    def make(name: str, *args: str) -> str:
        return run_cli("token", "create", "--name", name, *args,
                       db=running.db).stdout.splitlines()[-1]

    revoked = make("revoked", "--scope", "UA", "--write")
    run_cli("token", "revoke", "revoked", db=running.db)
    running.extra["tokens"] = {
        "none": None, "malformed": "not-a-token", "revoked": revoked,
        "read_only": make("read-only"), "lviv_writer": make("lviv", "--scope", LVIV_OBLAST,
                                                            "--write"),
        "country_writer": running.token}
    yield running
    stop_server(running)


def fill(path: str) -> str:
    for name, value in VALUES.items():
        path = path.replace("{" + name + "}", value)
    return path


def ask(srv: Server, method: str, path: str, who: str) -> int:
    secret = srv.extra["tokens"][who]
    body = BODIES.get(path, {}) if method in WRITES else None
    raw = None if body is None else json.dumps(body).encode()
    if path.startswith("/api/v3/"):  # the ukrainealarm façade: the raw key, no Bearer
        headers = {} if secret is None else {"Authorization": secret}
        return srv.request(method, fill(path), token=None, headers=headers, raw=raw).status
    return srv.request(method, fill(path), token=secret, raw=raw).status


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_by_every_principal(srv: Server, method: str, path: str) -> None:
    answers = {who: ask(srv, method, path, who) for who in srv.extra["tokens"]}
    assert all(status < 500 for status in answers.values()), answers
    if method in WRITES:
        for who in ("none", "malformed", "revoked"):
            assert answers[who] == 401, (who, answers)
        if path not in READ_ONLY_ALLOWED:
            # 403, or a 4xx for the body or the id first; never a success.
            assert 400 <= answers["read_only"] < 500, answers
        if path in BODIES and KYIV in json.dumps(BODIES[path]) and path != "/api/v1/alerts/end":
            assert answers["lviv_writer"] in (403, 404), answers
    for who in ("malformed", "revoked"):
        if 400 <= answers["none"] < 500:
            assert 400 <= answers[who] < 500, (who, answers)


def test_a_read_only_token_applies_no_channel_post(srv: Server) -> None:
    before = srv.get("/api/v1/events?limit=1000", token=None).json()["events"]
    answer = srv.post("/api/v1/ingest/channel", {**BODIES["/api/v1/ingest/channel"], "id": 77},
                      token=srv.extra["tokens"]["read_only"])
    assert answer.status == 403 and answer.json()["error"]["code"] == "token_read_only", answer.body
    assert srv.get("/api/v1/events?limit=1000", token=None).json()["events"] == before


def test_the_matrix_covers_the_write_endpoints() -> None:
    writes = {p for m, p in ROUTES if m in WRITES}
    assert {"/api/v1/alerts", "/api/v1/webhooks", "/api/v3/webhook",
            "/api/v1/ingest/channel"} <= writes


