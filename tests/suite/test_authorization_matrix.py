"""Who may do what: every documented operation × every kind of principal, on a real server.

The operations are those of the generated description at ``/api/v1/openapi.json`` of the real
``tryvoga serve`` under test (the test fails if one is documented and not in the table, or the
other way round), plus reads and writes of ids that do not exist. The principals:

- ``none``: no ``Authorization`` header;
- ``bad``: a malformed one (``Token …``, not ``Bearer <token>``);
- ``revoked``: a token that was revoked;
- ``read``: a read-only token for the whole country;
- ``kyiv``: a write token scoped to Kyiv city (where every resource here lies);
- ``lviv``: a write token scoped to Lviv oblast;
- ``ua``: a country-wide write token (a person's: bound by the two-person rule);
- ``auto``: a country-wide automated write token.

The documented rules the table encodes (README "API", docs/webhooks.md, docs/console.md,
docs/compat.md): reads are public (``none`` reads); a token that is given must be valid, so a
malformed or revoked one is 401 everywhere, reads included; writes need a write token whose
scope covers the region (read-only 403, other scope 403); webhooks and proposals are not public
and need a write token; a webhook belongs to the token that made it (others: 404), a proposal is
seen within the token's scope (others: 404); the ukrainealarm façade's webhooks need a token,
a read-only one is enough by default. A declaration over one oblast is not covered by the
two-person rule, so a person's country-wide token may make it.

Every resource an operation acts on is made fresh for it (by a separate automated admin token,
or for the webhooks by the owner the row names), so one principal's success does not change
what the next one gets. No answer may be a 5xx, and every 4xx must be in the API's error shape
(``{"error": {...}}`` on the native API, ``{"message"}`` on the façades).
"""

from __future__ import annotations

import http.client
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, run_cli, start_server, stop_server
from tests.paths import KYIV_STATEMENT
from tests.regions import KYIV

PRINCIPALS = ("none", "bad", "revoked", "read", "kyiv", "lviv", "ua", "auto")
KYIV_UID = "31"
HOOK = "http://127.0.0.1:9/hook"
WS = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
COUNTER = itertools.count(1)

# ---- the table -------------------------------------------------------------------------------
# One row per operation: method, path (``{alert}``, ``{incident}``, ``{proposal}``,
# ``{webhook}``, ``{cap}`` are made fresh before each request), body, and the expected answer
# for each principal in the order of PRINCIPALS: "2" any 2xx (101 for the WebSocket), or the
# exact 4xx status.
#
#                                                             none bad  rev  read kyiv lviv ua  auto
PUBLIC_READ = "2 401 401 2 2 2 2 2"
# The reference reads (the catalogue, the API description) never look at the header: a bad or
# revoked token is not refused there, unlike on every other public read (reported; harmless,
# as they are public and change nothing, but not uniform).
REFERENCE_READ = "2 2 2 2 2 2 2 2"
WRITE_IN_KYIV = "401 401 401 403 2 403 2 2"
TOKEN_WRITE_ONLY = "401 401 401 403 2 2 2 2"  # a write token, whatever its scope
OWN_WEBHOOK = "401 401 401 403 2 404 404 404"  # made by the kyiv token
KYIV_PROPOSAL = "401 401 401 403 2 404 2 2"
FACADE_WEBHOOK = "401 401 401 2 2 2 2 2"
MISSING_READ = "404 401 401 404 404 404 404 404"
MISSING_WRITE = "401 401 401 404 404 404 404 404"

ROWS: list[tuple[str, str, Any, str]] = [
    # the native API: reads
    ("GET", "/api/v1/regions?q=Kyiv", None, REFERENCE_READ),
    ("GET", f"/api/v1/regions/{KYIV}", None, REFERENCE_READ),
    ("GET", "/api/v1/alerts/active", None, PUBLIC_READ),
    ("GET", f"/api/v1/alerts/active?region={KYIV}", None, PUBLIC_READ),
    ("GET", "/api/v1/alerts/{alert}", None, PUBLIC_READ),
    ("GET", "/api/v1/status", None, PUBLIC_READ),
    ("GET", "/api/v1/history?limit=5", None, PUBLIC_READ),
    ("GET", "/api/v1/history/stats", None, PUBLIC_READ),
    ("GET", "/api/v1/history/imports", None, PUBLIC_READ),
    ("GET", "/api/v1/incidents", None, PUBLIC_READ),
    ("GET", "/api/v1/incidents/{incident}", None, PUBLIC_READ),
    ("GET", "/api/v1/events?since=0&limit=10", None, PUBLIC_READ),
    ("GET", "/api/v1/head", None, PUBLIC_READ),
    ("GET", "/api/v1/openapi.json", None, REFERENCE_READ),
    ("GET", "/api/v1/docs", None, REFERENCE_READ),
    ("GET", "/api/v1/stream?since=0", None, PUBLIC_READ),
    ("GET", "/api/v1/stream.ndjson?since=0", None, PUBLIC_READ),
    ("GET", "/api/v1/ws", None, PUBLIC_READ),
    ("GET", "/cap/feed.atom", None, PUBLIC_READ),
    ("GET", "/cap/feed.rss", None, PUBLIC_READ),
    ("GET", "/cap/{cap}.xml", None, PUBLIC_READ),
    # the native API: writes in Kyiv
    ("POST", "/api/v1/alerts", {"regions": [KYIV], "type": "artillery_shelling"},
     WRITE_IN_KYIV),
    ("PATCH", "/api/v1/alerts/{alert}", {"note": "matrix"}, WRITE_IN_KYIV),
    ("POST", "/api/v1/alerts/{alert}/end", {}, WRITE_IN_KYIV),
    ("POST", "/api/v1/alerts/end", {"region": KYIV, "type": "air_raid"}, WRITE_IN_KYIV),
    ("PUT", f"/api/v1/regions/{KYIV}/settings", {"shelter_seconds": 90}, WRITE_IN_KYIV),
    ("POST", "/api/v1/incidents", {"kind": "debris", "region": KYIV, "source": "matrix"},
     WRITE_IN_KYIV),
    ("PATCH", "/api/v1/incidents/{incident}", {"description": "matrix"}, WRITE_IN_KYIV),
    ("POST", "/api/v1/webhooks", {"url": HOOK, "regions": [KYIV]}, WRITE_IN_KYIV),
    # statements and the channel: any write token may send them (what they would change is
    # checked against its scope per proposal or post, inside a 2xx answer)
    ("POST", "/api/v1/ingest/statement", "statement", TOKEN_WRITE_ONLY),
    ("POST", "/api/v1/ingest/channel", "post", TOKEN_WRITE_ONLY),
    # proposals: not public; seen and decided within the token's scope
    ("GET", "/api/v1/proposals", None, TOKEN_WRITE_ONLY),
    ("GET", "/api/v1/proposals/{proposal}", None, KYIV_PROPOSAL),
    ("POST", "/api/v1/proposals/{proposal}/accept", {}, "401 401 401 403 2 403 2 2"),
    ("POST", "/api/v1/proposals/{proposal}/reject", {"reason": "matrix"},
     "401 401 401 403 2 403 2 2"),
    # webhook subscriptions: a write token's own
    ("GET", "/api/v1/webhooks", None, TOKEN_WRITE_ONLY),
    ("GET", "/api/v1/webhooks/{webhook}", None, OWN_WEBHOOK),
    ("GET", "/api/v1/webhooks/{webhook}/attempts", None, OWN_WEBHOOK),
    ("DELETE", "/api/v1/webhooks/{webhook}", None, OWN_WEBHOOK),
    # ids that do not exist
    ("GET", "/api/v1/alerts/999999999", None, MISSING_READ),
    ("GET", "/api/v1/incidents/999999999", None, MISSING_READ),
    ("GET", "/cap/urn:tryvoga:none:999999999.xml", None, MISSING_READ),
    ("PATCH", "/api/v1/alerts/999999999", {"note": "x"}, MISSING_WRITE),
    ("POST", "/api/v1/alerts/999999999/end", {}, MISSING_WRITE),
    ("PATCH", "/api/v1/incidents/999999999", {"description": "x"}, MISSING_WRITE),
    # alerts.in.ua (public reads by default)
    ("GET", "/v1/alerts/active.json", None, PUBLIC_READ),
    ("GET", f"/v1/regions/{KYIV_UID}/alerts/week_ago.json", None, PUBLIC_READ),
    ("GET", "/v1/iot/active_air_raid_alerts_by_oblast.json", None, PUBLIC_READ),
    ("GET", "/v1/iot/active_air_raid_alerts.json", None, PUBLIC_READ),
    ("GET", f"/v1/iot/active_air_raid_alerts/{KYIV_UID}.json", None, PUBLIC_READ),
    ("GET", "/v2/iot/active_air_raid_alerts_by_oblast.json", None, PUBLIC_READ),
    ("GET", "/v2/iot/active_air_raid_alerts.json", None, PUBLIC_READ),
    ("GET", f"/v2/iot/active_air_raid_alerts/{KYIV_UID}.json", None, PUBLIC_READ),
    # ukrainealarm (public reads by default; its webhooks need a token, read-only is enough)
    ("GET", "/api/v3/alerts", None, PUBLIC_READ),
    ("GET", "/api/v3/alerts/status", None, PUBLIC_READ),
    ("GET", f"/api/v3/alerts/regionHistory?regionId={KYIV_UID}", None, PUBLIC_READ),
    ("GET", f"/api/v3/alerts/{KYIV_UID}", None, PUBLIC_READ),
    ("GET", "/api/v3/regions", None, PUBLIC_READ),
    ("GET", "/api/v3/webhook", None, FACADE_WEBHOOK),
    ("POST", "/api/v3/webhook", {"webHookUrl": HOOK, "regionIds": [KYIV_UID]},
     FACADE_WEBHOOK),
    ("PATCH", "/api/v3/webhook", {"webHookUrl": HOOK, "regionIds": [KYIV_UID]},
     FACADE_WEBHOOK),
    ("DELETE", "/api/v3/webhook", {"webHookUrl": HOOK}, FACADE_WEBHOOK),
]

# Cells where the server does not yet give the documented answer, each with why. A row that
# fails only in these cells is an expected failure (named in the report), and passes by itself
# once the server is fixed.
# (None now: the ownership rules of issue 15 defect 10 and the channel endpoint's refusal of
# read-only tokens were the last ones.)
KNOWN: dict[tuple[str, str], str] = {}


# ---- running it ------------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    body: bytes


@dataclass
class World:
    server: Server
    tokens: dict[str, str | None]  # principal -> secret (None: no header)
    admin: str
    port: int

    def send(self, method: str, path: str, body: Any, principal: str | None,
             headers: dict[str, str] | None = None) -> Answer:
        """One request on its own connection; a stream's head only."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            fields = dict(headers or {})
            if principal == "bad":
                fields["Authorization"] = "Token " + self.admin
            elif principal == "admin":
                fields["Authorization"] = f"Bearer {self.admin}"
            elif principal is not None and self.tokens[principal] is not None:
                fields["Authorization"] = f"Bearer {self.tokens[principal]}"
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                fields["Content-Type"] = "application/json"
            connection.request(method, path, body=data, headers=fields)
            response = connection.getresponse()
            streaming = response.status in (101, 200) and (
                "stream" in path or path.endswith("/ws"))
            content = b"" if streaming else response.read()
            return Answer(response.status, content)
        finally:
            connection.close()

    def admin_json(self, method: str, path: str, body: Any = None,
                   principal: str = "admin") -> Any:
        answer = self.send(method, path, body, principal)
        assert answer.status < 300, (method, path, answer.status, answer.body[:300])
        return json.loads(answer.body)


def _token(db: Path, name: str, *args: str) -> str:
    out = run_cli("token", "create", "--name", name, *args, db=db).stdout
    return out.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("matrix")
    db = tmp / "matrix.db"
    tokens: dict[str, str | None] = {"none": None, "bad": None}
    tokens["revoked"] = _token(db, "revoked", "--scope", "UA", "--write", "--automated")
    run_cli("token", "revoke", "revoked", db=db)
    tokens["read"] = _token(db, "read", "--scope", "UA")
    tokens["kyiv"] = _token(db, "kyiv", "--scope", KYIV, "--write")
    tokens["lviv"] = _token(db, "lviv", "--scope", "UA46000000000026241", "--write")
    tokens["ua"] = _token(db, "ua", "--scope", "UA", "--write")
    tokens["auto"] = _token(db, "auto", "--scope", "UA", "--write", "--automated")
    server = start_server(tmp, "--compat-rate-token", "0", "--compat-rate-ip", "0",
                          "--webhook-worker", "false", "--webhook-allow-networks",
                          "127.0.0.0/8", db=db)
    port = int(server.base.rsplit(":", 1)[1])
    yield World(server, tokens, server.token, port)
    stop_server(server)


Maker = Callable[[World, str], str]


def _alert(world: World, _: str) -> str:
    """An active air-raid alert on Kyiv (the one already active, or a new one)."""
    body = world.admin_json("POST", "/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
    return str(body["alerts"][0]["id"])


def _incident(world: World, _: str) -> str:
    body = world.admin_json("POST", "/api/v1/incidents",
                            {"kind": "debris", "region": KYIV, "source": "matrix"})
    return str(body["incident"]["id"])


def _statement() -> dict[str, str]:
    """The Kyiv statement, made new each time (the same text gives back its proposals)."""
    return {"text": KYIV_STATEMENT.read_text("utf-8") + f"\n\n{next(COUNTER)}",
            "source": "matrix"}


def _proposal(world: World, _: str) -> str:
    body = world.admin_json("POST", "/api/v1/ingest/statement", _statement())
    chosen = [p for p in body["proposals"] if p["kind"] == "alert"] or body["proposals"]
    return str(chosen[0]["id"])


def _webhook(world: World, _: str) -> str:
    body = world.admin_json("POST", "/api/v1/webhooks", {"url": HOOK, "regions": [KYIV]},
                            principal="kyiv")
    return str(body["webhook"]["id"])


def _cap(world: World, _: str) -> str:
    """The identifier of the newest CAP message (the first entry of the feed)."""
    _alert(world, "")
    feed = world.send("GET", "/cap/feed.atom", None, None).body.decode()
    entry = feed.index("<entry>")
    start = feed.index("<id>", entry) + len("<id>")
    return feed[start:feed.index("</id>", start)]


MAKERS: dict[str, Maker] = {"{alert}": _alert, "{incident}": _incident,
                            "{proposal}": _proposal, "{webhook}": _webhook, "{cap}": _cap}


def _prepare(world: World, method: str, path: str, body: Any, principal: str
             ) -> tuple[str, Any, dict[str, str]]:
    for placeholder, make in MAKERS.items():
        if placeholder in path:
            path = path.replace(placeholder, make(world, principal))
    if body == "statement":
        body = _statement()
    elif body == "post":  # a new post each time: an air-raid alert in Kyiv, stated now
        body = {"channel": "air_alert_ua", "id": 9000 + next(COUNTER),
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "text": "🔴 Повітряна тривога в м. Київ\n#м_Київ"}
    if path == "/api/v1/alerts/end":
        _alert(world, principal)
    headers = WS if path.endswith("/ws") else {}
    if path == "/api/v3/webhook" and method in ("PATCH", "DELETE") \
            and world.tokens.get(principal) and principal != "revoked":
        # The principal's own registration, to change or delete.
        world.admin_json("POST", path, {"webHookUrl": HOOK, "regionIds": [KYIV_UID]},
                         principal=principal)
    return path, body, headers


def _matches(expected: str, status: int) -> bool:
    return (status < 300) if expected == "2" else status == int(expected)


def _check_shape(path: str, answer: Answer) -> str | None:
    if answer.status < 400:
        return None
    try:
        body = json.loads(answer.body)
    except ValueError:
        return f"a {answer.status} that is not JSON: {answer.body[:120]!r}"
    facade = path.startswith(("/v1/", "/v2/", "/api/v3/"))
    good = (isinstance(body, dict) and isinstance(body.get("message"), str)) if facade else (
        isinstance(body, dict) and isinstance(body.get("error"), dict)
        and body["error"].get("status") == answer.status)
    return None if good else f"a {answer.status} outside the error shape: {body!r:.160}"


def _template(path: str) -> str:
    return path.split("?", 1)[0]


@pytest.mark.parametrize(("method", "path", "body", "expected"), ROWS,
                         ids=[f"{m} {p}" for m, p, _, _ in ROWS])
def test_authorization(world: World, method: str, path: str, body: Any,
                       expected: str) -> None:
    wanted = expected.split()
    assert len(wanted) == len(PRINCIPALS)
    wrong: list[str] = []
    pending: list[str] = []
    for principal, want in zip(PRINCIPALS, wanted, strict=True):
        real_path, real_body, headers = _prepare(world, method, path, body, principal)
        answer = world.send(method, real_path, real_body, principal, headers)
        assert answer.status < 500, (principal, method, real_path, answer.status,
                                     answer.body[:300])
        shape = _check_shape(real_path, answer)
        if shape:
            wrong.append(f"{principal}: {shape}")
        if not _matches(want, answer.status):
            line = (f"{principal}: expected {want}, got {answer.status} "
                    f"{answer.body[:160]!r}")
            known = KNOWN.get((_template(path), principal))
            (pending if known else wrong).append(f"{line} [{known}]" if known else line)
    assert not wrong, f"{method} {path}:\n" + "\n".join(wrong)
    if pending:
        pytest.xfail("known departures: " + "; ".join(pending))


def test_the_table_covers_every_documented_operation(world: World) -> None:
    description = world.admin_json("GET", "/api/v1/openapi.json")
    documented = {(method.upper(), path) for path, item in description["paths"].items()
                  for method in item if method in ("get", "post", "put", "patch", "delete")}
    placeholders = {"{alert}": "{id}", "{incident}": "{id}", "{proposal}": "{id}",
                    "{webhook}": "{id}", "{cap}": "{identifier}", KYIV: "{code}",
                    f"/alerts/{KYIV_UID}": "/alerts/{regionId}",
                    f"/regions/{KYIV_UID}/alerts/week_ago": "/regions/{uid}/alerts/{period}",
                    f"active_air_raid_alerts/{KYIV_UID}": "active_air_raid_alerts/{uid}"}
    covered = set()
    for method, path, _, _ in ROWS:
        template = _template(path)
        if "999999999" in template or "none:999999999" in template:
            continue
        for real, name in placeholders.items():
            template = template.replace(real, name)
        covered.add((method, template))
    assert documented - covered == set(), "documented but not in the table"
    assert covered - documented == set(), "in the table but not documented"
