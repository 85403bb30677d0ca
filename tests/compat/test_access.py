"""Tokens, anonymous reads, client networks, rate limits and errors of the façades, as the
real clients see them; and webhook registration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tryvoga.api.tokens import TTL
from tryvoga.storage.base import TokenRecord
from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import HTTPResult, Server, run_cli, start_server, stop_server
from ..polling import wait_for
from .conftest import KHARKIV_OBLAST, OpenClient, Scenario

READ_PATHS = ["/v1/alerts/active.json", "/v1/iot/active_air_raid_alerts_by_oblast.json",
              "/v2/iot/active_air_raid_alerts/31.json", "/api/v3/alerts", "/api/v3/alerts/31",
              "/api/v3/alerts/status", "/api/v3/regions"]


def assert_message(result: HTTPResult, status: int) -> str:
    """The façades' error shape: only a message."""
    assert result.status == status, result.body
    assert result.headers["Content-Type"].startswith("application/json")
    body = result.json()
    assert set(body) == {"message"} and isinstance(body["message"], str) and body["message"]
    message: str = body["message"]
    return message


def reader_token(server: Server, name: str) -> str:
    return run_cli("token", "create", "--name", name,
                   db=server.db).stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Façades that need a token, at most 4 requests a minute per token."""
    server = start_server(tmp_path_factory.mktemp("private"), "--compat-public-reads", "false",
                          "--compat-rate-token", "4", "--compat-rate-ip", "0")
    yield server
    stop_server(server)


def test_tokens_are_required_when_anonymous_reads_are_off(private: Server,
                                                          open_client: OpenClient) -> None:
    token = reader_token(private, "private-reader")
    for path in READ_PATHS:
        assert "token" in assert_message(private.get(path, token=None), 401)
        assert_message(private.get(path, token="tv_not-a-token"), 401)
    assert private.get("/v1/alerts/active.json", token=token).status == 200  # Bearer
    assert private.get(f"/v1/alerts/active.json?token={token}", token=None).status == 200
    assert private.get("/api/v3/alerts/31", token=None,
                       headers={"Authorization": token}).status == 200  # the raw key
    # Every client raises its own error class for it.
    official = open_client("alerts-in-ua", private, "tv_not-a-token")
    error = official.raised("active")
    assert error["type"] == "UnauthorizedError" and "HTTP Code:401" in error["message"]
    assert official.raised("active", flavour="async")["type"] == "UnauthorizedError"
    assert open_client("alerts-in-ua-py", private, "tv_nope").raised(
        "active")["type"] == "NotAuthorized"
    assert open_client("ua-alarm", private, None).raised("alerts")["type"] == "PermissionError"
    siren = open_client("uasiren", private, None).raised("alerts")
    assert siren["type"] == "ClientResponseError" and siren["status"] == 401
    assert open_client("ukrainealarm", private, token).call("status")["lastActionIndex"] == 0
    # A revoked token stops working for reads within the seconds a found token is remembered
    # (api/tokens.py), on the front's path and aiohttp's alike; a token never seen before its
    # revocation is refused at once.
    revoked = reader_token(private, "soon-revoked")
    never_used = reader_token(private, "never-used")
    assert private.get("/api/v3/alerts", token=None,
                       headers={"Authorization": revoked}).status == 200
    run_cli("token", "revoke", "soon-revoked", db=private.db)
    run_cli("token", "revoke", "never-used", db=private.db)
    assert_message(private.get("/api/v3/alerts", token=None,
                               headers={"Authorization": never_used}), 401)
    for path in ("/api/v3/alerts", "/api/v3/alerts/31"):

        def refused(path: str = path) -> bool:
            return private.get(path, token=None,
                               headers={"Authorization": revoked}).status == 401

        wait_for(refused, f"{path} refusing a revoked token", seconds=TTL + 30)
    assert_message(private.get("/api/v3/alerts", token=None,
                               headers={"Authorization": revoked}), 401)


def test_rate_limit_per_token(private: Server, open_client: OpenClient) -> None:
    token = reader_token(private, "limited")
    official = open_client("alerts-in-ua", private, token)
    raised = None
    for _ in range(10):
        answer = official.attempt("by_oblast", use_cache=False)
        if "error" in answer:
            raised = answer["error"]
            break
    assert raised is not None and raised["type"] == "RateLimitError"
    assert "HTTP Code:429" in raised["message"]
    limited = private.get("/api/v3/alerts", token=None, headers={"Authorization": token})
    assert "a minute" in assert_message(limited, 429)
    assert int(limited.headers["Retry-After"]) >= 1
    # Another token has its own allowance.
    assert private.get("/v1/alerts/active.json", token=reader_token(private, "fresh")).status \
        == 200


def test_rate_limit_per_address(tmp_path: Path, open_client: OpenClient) -> None:
    server = start_server(tmp_path, "--compat-rate-ip", "3")
    try:
        for _ in range(3):
            assert server.get("/api/v3/alerts/status", token=None).status == 200
        limited = server.get("/v1/alerts/active.json", token=None)
        assert "127.0.0.1" in assert_message(limited, 429)
        assert 1 <= int(limited.headers["Retry-After"]) <= 20
        error = open_client("uasiren", server, None).raised("alerts")
        assert error["type"] == "ClientResponseError" and error["status"] == 429
        # The native API keeps its own shape and is not limited by the façades' budget.
        assert server.get("/api/v1/alerts/active", token=None).status == 200
    finally:
        stop_server(server)


def test_networks_outside_the_allowed_ones_are_forbidden(tmp_path: Path,
                                                         open_client: OpenClient) -> None:
    server = start_server(tmp_path, "--compat-networks", "10.0.0.0/8,192.168.0.0/16")
    try:
        for path in READ_PATHS:
            assert "network" in assert_message(server.get(path, token=None), 403)
        error = open_client("alerts-in-ua", server, server.token).raised("active")
        assert error["type"] == "ForbiddenError" and "HTTP Code:403" in error["message"]
        assert open_client("alerts-in-ua-py", server, server.token).raised(
            "active")["type"] == "Forbidden"
        assert server.get("/api/v1/alerts/active", token=None).status == 200
    finally:
        stop_server(server)


def test_errors_have_the_facade_shape(scenario: Scenario) -> None:
    server = scenario.server
    assert_message(server.get("/v1/no/such.json", token=None), 404)
    assert_message(server.get("/v2/iot/nothing", token=None), 404)
    # A method the path does not have: 405 with the methods it has, in the façade's shape.
    not_allowed = server.post("/v1/alerts/active.json", {}, token=None)
    assert_message(not_allowed, 405)
    assert not_allowed.headers["Allow"] == "GET, HEAD"
    assert_message(server.get("/v1/iot/active_air_raid_alerts/9999.json", token=None), 404)
    assert_message(server.get("/v1/regions/22/alerts/year_ago.json", token=None), 400)
    assert_message(server.get("/v1/regions/abc/alerts/week_ago.json", token=None), 404)
    assert_message(server.get("/api/v3/alerts/abc", token=None), 404)
    assert_message(server.get("/api/v3/alerts/regionHistory", token=None), 400)
    assert_message(server.get("/api/v3/alerts/regionHistory?regionId=0", token=None), 404)
    assert_message(server.get("/api/v3/nothing", token=None), 404)
    assert_message(server.get("/v1/alerts/active.json", token="tv_wrong"), 401)
    assert_message(server.get("/v1/alerts/active.json", token=None,
                              headers={"Authorization": "Basic eDp5"}), 401)
    # A client given an empty token sends a bare "Bearer": anonymous, allowed here.
    assert server.get("/v1/alerts/active.json", token=None,
                      headers={"Authorization": "Bearer"}).status == 200
    assert_message(server.get("/api/v3/alerts", token=None,
                              headers={"Authorization": "tv_wrong"}), 401)
    # The native API is untouched: its own error shape.
    native = server.get("/api/v1/nothing")
    assert native.status == 404 and set(native.json()) == {"error"}


def test_webhook_registration(tmp_path: Path) -> None:
    private = start_server(tmp_path)
    try:
        webhook_registration(private)
    finally:
        stop_server(private)


def webhook_registration(private: Server) -> None:
    token = reader_token(private, "hooks")
    key = {"Authorization": token}

    def call(method: str, body: object, headers: dict[str, str] | None = key) -> HTTPResult:
        return private.request(method, "/api/v3/webhook", token=None, headers=headers,
                               raw=json.dumps(body).encode())

    # No alert is declared on this server, so nothing is ever sent to these addresses.
    url = "https://hooks.example.org/tryvoga"
    assert_message(call("POST", {"webHookUrl": url}, headers=None), 401)
    assert_message(call("POST", {"webHookUrl": "ftp://x"}), 400)
    assert_message(call("POST", {}), 400)
    assert_message(call("POST", {"webHookUrl": url, "regionIds": ["123456"]}), 404)
    # Loopback (and private) destinations only where TRYVOGA_WEBHOOK_ALLOW_NETWORKS allows.
    for refused in ("http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://10.0.0.1/"):
        message = assert_message(call("POST", {"webHookUrl": refused}), 400)
        assert "TRYVOGA_WEBHOOK_ALLOW_NETWORKS" in message, message
    assert_message(call("PATCH", {"webHookUrl": url}), 404)  # nothing registered yet
    created = call("POST", {"webHookUrl": url})
    assert created.status == 200
    assert created.json()["webHookUrl"] == url and created.json()["regionIds"] is None
    assert created.json()["signingSecret"].startswith("whsec_")  # shown this once
    again = call("POST", {"webHookUrl": url})
    assert again.status == 200 and "signingSecret" not in again.json()
    updated = call("PATCH", {"webHookUrl": url, "regionIds": [KHARKIV_OBLAST, "9999"]})
    assert updated.status == 200 and updated.json()["regionIds"] == [str(KHARKIV_OBLAST),
                                                                      "9999"]
    # A token's only registration moves to a URL it does not have yet (the original API keeps
    # one webhook per key); its region ids stay unless given.
    moved = call("PATCH", {"webHookUrl": url + "/moved"})
    assert moved.status == 200 and "signingSecret" not in moved.json()
    assert moved.json()["webHookUrl"] == url + "/moved"
    assert moved.json()["regionIds"] == [str(KHARKIV_OBLAST), "9999"]
    # With two, an unknown URL names neither.
    assert call("POST", {"webHookUrl": url, "regionIds": ["31"]}).status == 200
    assert "name the one" in assert_message(call("PATCH", {"webHookUrl": url + "/other"}), 404)
    listed = private.get("/api/v3/webhook", token=None, headers=key).json()["webHooks"]
    assert [(w["webHookUrl"], w["regionIds"]) for w in listed] == [
        (url + "/moved", [str(KHARKIV_OBLAST), "9999"]), (url, ["31"])]
    # Another token sees only its own.
    other = reader_token(private, "other-hooks")
    assert private.get("/api/v3/webhook", token=None,
                       headers={"Authorization": other}).json() == {"webHooks": []}
    # The operator lists every registration, with the delivery subscriptions of each.
    listing = json.loads(run_cli("compat", "webhooks", "--json", db=private.db).stdout)
    hooks = next(t.id for t in private_tokens(private) if t.name == "hooks")
    assert [(w["owner"], w["webHookUrl"], sorted(s["format"] for s in w["subscriptions"]))
            for w in listing["webHooks"]] == [
        (f"token:{hooks}", url + "/moved", ["ukrainealarm:22", "ukrainealarm:9999"]),
        (f"token:{hooks}", url, ["ukrainealarm:31"])]

    assert call("DELETE", {"webHookUrl": url}).status == 200
    assert call("DELETE", {"webHookUrl": url + "/moved"}).status == 200
    assert_message(call("DELETE", {"webHookUrl": url}), 404)
    storage = SQLiteStorage(private.db)
    try:
        actions = [r.action for r in storage.audit_records() if r.actor == "hooks"]
        events = storage.read_events()
        statuses = storage.query(  # a plain read of the subscriptions' table
            "SELECT status, COUNT(*) FROM webhooks GROUP BY status")
    finally:
        storage.close()
    assert actions == ["compat.webhook.registered", "compat.webhook.registered",
                       "compat.webhook.updated", "compat.webhook.updated",
                       "compat.webhook.registered", "compat.webhook.deleted",
                       "compat.webhook.deleted"]
    assert events == []  # registrations are no public-log events
    assert dict(statuses) == {"deleted": 30}  # 27 States for every region, then 22, 9999, 31
    assert "no registrations" in run_cli("compat", "webhooks", db=private.db).stdout


def private_tokens(server: Server) -> list[TokenRecord]:
    storage = SQLiteStorage(server.db)
    try:
        return storage.tokens()
    finally:
        storage.close()
