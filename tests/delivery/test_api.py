"""/api/v1/webhooks and ``tryvoga webhook`` against a real server process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.regions import KYIV, LVIV_OBLAST
from tryvoga.storage.sqlite import SQLiteStorage

from ..api.test_native import assert_error
from ..conftest import Server, run_cli, start_server, stop_server

URL = "http://127.0.0.1:9/hook"  # never answered: these tests are about the subscriptions


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("webhooks"),
                           env={"TRYVOGA_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"})
    yield running
    stop_server(running)


def token(srv: Server, name: str, *args: str) -> str:
    return run_cli("token", "create", "--name", name, *args, db=srv.db).stdout.splitlines()[-1]


def test_create_list_get_delete_with_the_secret_shown_once(srv: Server) -> None:
    created = srv.post("/api/v1/webhooks", {"url": URL, "regions": [KYIV],
                                            "types": ["air_raid"], "kinds": ["alert.*"],
                                            "description": "sirens app"})
    assert created.status == 201, created.body
    body = created.json()
    hook = body["webhook"]
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert hook["url"] == URL and hook["regions"] == [KYIV] and hook["status"] == "active"
    assert hook["types"] == ["air_raid"] and hook["kinds"] == ["alert.*"]
    assert "secret" not in hook

    listed = srv.get("/api/v1/webhooks").json()["webhooks"]
    assert hook["id"] in [w["id"] for w in listed]
    one = srv.get(f"/api/v1/webhooks/{hook['id']}").json()["webhook"]
    assert one["deliveries"] == {"pending": 0, "delivered": 0, "failed": 0, "cancelled": 0}
    assert body["secret"] not in srv.get("/api/v1/webhooks").body.decode()
    assert body["secret"] not in srv.get(f"/api/v1/webhooks/{hook['id']}").body.decode()
    assert srv.get(f"/api/v1/webhooks/{hook['id']}/attempts").json()["attempts"] == []

    gone = srv.request("DELETE", f"/api/v1/webhooks/{hook['id']}")
    assert gone.status == 200 and gone.json()["webhook"]["status"] == "deleted"
    assert_error(srv.get(f"/api/v1/webhooks/{hook['id']}"), 404, "webhook_not_found")
    assert_error(srv.request("DELETE", f"/api/v1/webhooks/{hook['id']}"), 404,
                 "webhook_not_found")
    assert hook["id"] not in [w["id"] for w in srv.get("/api/v1/webhooks").json()["webhooks"]]

    # Secrets stay out of the public log; create and delete are in the audit log.
    events = srv.get("/api/v1/events").body.decode()
    assert body["secret"] not in events and hook["id"] not in events
    storage = SQLiteStorage(srv.db)
    try:
        audit = [(r.action, r.detail["id"]) for r in storage.audit_records()
                 if r.action.startswith("webhook.")]
    finally:
        storage.close()
    assert ("webhook.created", hook["id"]) in audit and ("webhook.deleted", hook["id"]) in audit


def test_an_idempotency_key_makes_a_retried_create_a_no_op(srv: Server) -> None:
    first = srv.post("/api/v1/webhooks", {"url": URL + "/idem"},
                     headers={"Idempotency-Key": "hook-1"})
    again = srv.post("/api/v1/webhooks", {"url": URL + "/idem"},
                     headers={"Idempotency-Key": "hook-1"})
    assert first.status == again.status == 201 and first.json() == again.json()
    urls = [w["url"] for w in srv.get("/api/v1/webhooks").json()["webhooks"]]
    assert urls.count(URL + "/idem") == 1
    assert_error(srv.post("/api/v1/webhooks", {"url": URL + "/other"},
                          headers={"Idempotency-Key": "hook-1"}), 409,
                 "idempotency_key_reused")


def test_writes_need_a_write_token_within_scope(srv: Server) -> None:
    kyiv = token(srv, "kyiv-hooks", "--scope", KYIV, "--write")
    reader = token(srv, "reader-hooks", "--scope", "UA")
    assert_error(srv.post("/api/v1/webhooks", {"url": URL}, token=None), 401, "token_missing")
    assert_error(srv.post("/api/v1/webhooks", {"url": URL}, token=reader), 403,
                 "token_read_only")
    assert_error(srv.get("/api/v1/webhooks", token=reader), 403, "token_read_only")
    assert_error(srv.post("/api/v1/webhooks", {"url": URL, "regions": [LVIV_OBLAST]},
                          token=kyiv), 403, "out_of_scope", "regions[0]")
    own = srv.post("/api/v1/webhooks", {"url": URL + "/kyiv"}, token=kyiv).json()["webhook"]
    # Owned by the token's id (issue 15: a name can be reused after a revocation).
    assert own["regions"] == [KYIV] and own["owner"].startswith("token:tok_")
    country = srv.post("/api/v1/webhooks", {"url": URL + "/ua"}).json()["webhook"]
    mine = [w["id"] for w in srv.get("/api/v1/webhooks", token=kyiv).json()["webhooks"]]
    assert own["id"] in mine and country["id"] not in mine
    assert_error(srv.request("DELETE", f"/api/v1/webhooks/{country['id']}", token=kyiv), 404,
                 "webhook_not_found")
    assert_error(srv.get(f"/api/v1/webhooks/{country['id']}/attempts", token=kyiv), 404,
                 "webhook_not_found")


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"url": "http://10.1.2.3/hook"}, 422, "webhook_destination_refused", "url"),
    ({"url": "http://169.254.169.254/latest/meta-data"}, 422, "webhook_destination_refused",
     "url"),
    ({"url": "gopher://example.org/"}, 422, "webhook_url_invalid", "url"),
    ({}, 422, "invalid_input", "url"),
    ({"url": URL, "regions": ["UA123"]}, 404, "region_not_found", "regions[0]"),
    ({"url": URL, "types": ["hail"]}, 422, "invalid_input", "types[0]"),
    ({"url": URL, "kinds": "alert.declared,alert.ended"}, 422, "invalid_input", "kinds"),
    ({"url": URL, "secret": "mine"}, 422, "invalid_input", "secret"),
])
def test_bad_subscriptions_get_one_error_shape(srv: Server, body: dict[str, object],
                                               status: int, code: str, field: str) -> None:
    assert_error(srv.post("/api/v1/webhooks", body), status, code, field)


def test_malformed_requests(srv: Server) -> None:
    assert_error(srv.post("/api/v1/webhooks", raw=b"{nope"), 400, "malformed_json")
    assert_error(srv.get("/api/v1/webhooks/wh_0000/attempts?limit=0"), 400, "invalid_input",
                 "limit")


def test_the_cli_manages_subscriptions(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    refused = run_cli("webhook", "create", "http://127.0.0.1:9/", db=db, check=False)
    assert refused.returncode == 1 and "private, loopback" in refused.stderr
    assert "Traceback" not in refused.stderr
    created = run_cli("webhook", "create", "https://hooks.example.org/tryvoga", "--region",
                      "Kyiv", "--type", "air_raid", "--kind", "alert.declared", db=db)
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    listed = json.loads(run_cli("webhook", "list", "--json", db=db).stdout)["webhooks"]
    assert [(w["url"], w["regions"], w["types"], w["kinds"]) for w in listed] == [
        ("https://hooks.example.org/tryvoga", [KYIV], ["air_raid"], ["alert.declared"])]
    webhook_id = listed[0]["id"]
    assert secret not in run_cli("webhook", "list", db=db).stdout
    assert "no attempts yet" in run_cli("webhook", "attempts", webhook_id, db=db).stdout
    assert run_cli("webhook", "delete", webhook_id, db=db).stdout.strip() == f"deleted {webhook_id}"
    assert run_cli("webhook", "list", db=db).stdout.strip() == "no webhooks"
    missing = run_cli("webhook", "delete", webhook_id, db=db, check=False)
    assert missing.returncode == 1 and "no webhook with id" in missing.stderr
