"""Statements and proposals over real HTTP against a real ``tryvoga serve`` process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.regions import KYIV, LVIV_OBLAST
from tests.regions import KYIV_DARNYTSKYI as DARNYTSKYI
from tests.regions import KYIV_DNIPROVSKYI as DNIPROVSKYI

from ..conftest import Server, run_cli, start_server, stop_server
from ..ingest.test_statements import EXAMPLE, KEYS
from .test_native import assert_error


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("proposals"))
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def proposals(srv: Server) -> list[dict[str, object]]:
    answer = srv.post("/api/v1/ingest/statement", {"text": EXAMPLE.read_text("utf-8")})
    assert answer.status == 201, answer.body
    body = answer.json()
    assert set(body) == {"proposals", "unresolved"}
    items: list[dict[str, object]] = body["proposals"]
    return items


def token(srv: Server, name: str, *args: str) -> str:
    return run_cli("token", "create", "--name", name, *args, db=srv.db).stdout.splitlines()[-1]


def test_the_answer_has_the_agreed_shape(srv: Server,
                                         proposals: list[dict[str, object]]) -> None:
    assert [set(p) - {"id", "state"} for p in proposals] == [KEYS] * 4
    assert [(p["kind"], p["region"]) for p in proposals] == [
        ("alert", KYIV), ("incident", DARNYTSKYI), ("incident", DNIPROVSKYI),
        ("incident", DNIPROVSKYI)]
    assert all(isinstance(p["id"], int) and p["state"] == "pending" for p in proposals)
    # The same statement again proposes nothing new; as text/plain it is the same statement.
    again = srv.request("POST", "/api/v1/ingest/statement",
                        raw=EXAMPLE.read_text("utf-8").encode(),
                        headers={"Content-Type": "text/plain; charset=utf-8"})
    assert again.status == 200
    assert [p["id"] for p in again.json()["proposals"]] == [p["id"] for p in proposals]
    assert again.json()["unresolved"][0]["reason"] == "vague"
    # Proposals are not public: nothing in the log, nothing active.
    assert srv.get("/api/v1/events").json()["events"] == []
    assert srv.get("/api/v1/alerts/active").json()["alerts"] == []


def test_accept_applies_and_a_second_accept_is_refused(srv: Server,
                                                       proposals: list[dict[str, object]]
                                                       ) -> None:
    alert_id = proposals[0]["id"]
    accepted = srv.post(f"/api/v1/proposals/{alert_id}/accept")
    assert accepted.status == 201, accepted.body
    body = accepted.json()
    assert body["proposal"]["state"] == "accepted"
    assert body["result"]["alerts"][0]["region"] == KYIV
    active = srv.get("/api/v1/alerts/active").json()["alerts"]
    assert [(a["region"], a["threats"]) for a in active] == [
        (KYIV, [{"type": "drones", "level": "red"}])]
    assert_error(srv.post(f"/api/v1/proposals/{alert_id}/accept"), 409, "proposal_decided")
    assert len(srv.get("/api/v1/events").json()["events"]) == 1
    shown = srv.get(f"/api/v1/proposals/{alert_id}").json()["proposal"]
    assert shown["decided_by"].startswith("test-") and shown["events"] == [1]


def test_reject_applies_nothing(srv: Server, proposals: list[dict[str, object]]) -> None:
    debris_id = proposals[2]["id"]
    before = len(srv.get("/api/v1/events").json()["events"])
    rejected = srv.post(f"/api/v1/proposals/{debris_id}/reject", {"reason": "duplicate"})
    assert rejected.status == 200 and rejected.json()["proposal"]["state"] == "rejected"
    assert_error(srv.post(f"/api/v1/proposals/{debris_id}/accept"), 409, "proposal_decided")
    assert len(srv.get("/api/v1/events").json()["events"]) == before
    assert srv.get("/api/v1/incidents").json()["incidents"] == []
    states = {p["id"]: p["state"] for p in
              srv.get("/api/v1/proposals?state=all").json()["proposals"]}
    assert states[debris_id] == "rejected"


def test_a_token_out_of_scope_or_read_only_cannot_decide(srv: Server,
                                                         proposals: list[dict[str, object]]
                                                         ) -> None:
    fire_id = proposals[1]["id"]
    lviv = token(srv, "lviv-op", "--scope", LVIV_OBLAST, "--write")
    assert_error(srv.post(f"/api/v1/proposals/{fire_id}/accept", token=lviv), 403,
                 "out_of_scope")
    assert_error(srv.post(f"/api/v1/proposals/{fire_id}/reject", token=lviv), 403,
                 "out_of_scope")
    reader = token(srv, "reader")
    assert_error(srv.post(f"/api/v1/proposals/{fire_id}/accept", token=reader), 403,
                 "token_read_only")
    assert_error(srv.get("/api/v1/proposals", token=reader), 403, "token_read_only")
    assert_error(srv.get("/api/v1/proposals", token=None), 401, "token_missing")
    assert_error(srv.post("/api/v1/ingest/statement", {"text": "Тривога в Києві."},
                          token=None), 401, "token_missing")
    pending = srv.get("/api/v1/proposals?state=pending").json()["proposals"]
    assert fire_id in [p["id"] for p in pending]
    # The token whose scope holds Kyiv may.
    kyiv = token(srv, "kyiv-op", "--scope", KYIV, "--write")
    reported = srv.post(f"/api/v1/proposals/{fire_id}/accept", token=kyiv)
    assert reported.status == 201
    assert reported.json()["result"]["incident"]["region"] == DARNYTSKYI


def test_bad_requests_get_the_one_error_shape(srv: Server) -> None:
    assert_error(srv.post("/api/v1/ingest/statement", {"text": ""}), 422, "statement_empty",
                 "text")
    assert_error(srv.post("/api/v1/ingest/statement", {"text": "x", "lang": "uk"}), 422,
                 "invalid_input", "lang")
    assert_error(srv.post("/api/v1/ingest/statement", {"text": "x", "within": "UA1"}), 404,
                 "region_not_found", "within")
    assert_error(srv.request("POST", "/api/v1/ingest/statement", raw=b"{nope"), 400,
                 "malformed_json")
    assert_error(srv.get("/api/v1/proposals?state=maybe"), 400, "invalid_input", "state")
    assert_error(srv.post("/api/v1/proposals/424242/accept"), 404, "proposal_not_found")
    assert_error(srv.post("/api/v1/proposals/abc/reject"), 422, "invalid_input")
    assert_error(srv.post("/api/v1/proposals/1/reject", {"why": "x"}), 422, "invalid_input",
                 "why")
