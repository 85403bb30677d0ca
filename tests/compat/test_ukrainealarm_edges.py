"""The ukrainealarm façade's edges, against a real server: a bare ``Bearer``, the durations of
``regionHistory``, and what ``DELETE /api/v3/webhook`` answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tryvoga.domain.regions import Catalogue

from ..conftest import Server, by_api_id, run_cli, start_server, stop_server
from .conftest import KHARKIV_OBLAST, KYIV_CITY

BARE = {"Authorization": "Bearer"}  # what a client made with an empty key sends


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("public"))
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("private"), "--compat-public-reads", "false")
    yield server
    stop_server(server)


def test_a_bare_bearer_is_anonymous_on_both_facades(public: Server, private: Server) -> None:
    for path in ("/api/v3/alerts/status", "/api/v3/alerts", "/v1/alerts/active.json"):
        for header in ("Bearer", "bearer", "BEARER"):
            answer = public.get(path, token=None, headers={"Authorization": header})
            assert answer.status == 200, (path, header, answer.body)
        # Where anonymous reads are off, it is refused as no token, not as a wrong one.
        refused = private.get(path, token=None, headers=BARE)
        assert refused.status == 401, (path, refused.body)
        assert set(refused.json()) == {"message"} and "needs a token" in refused.json()["message"]
        wrong = public.get(path, token=None, headers={"Authorization": "Bearer tv_wrong"})
        assert wrong.status == 401 and "unknown or revoked" in wrong.json()["message"]
    # A real key still works in either form.
    key = run_cli("token", "create", "--name", "edges-reader",
                  db=private.db).stdout.strip().splitlines()[-1]
    for header in (key, f"Bearer {key}"):
        assert private.get("/api/v3/alerts/status", token=None,
                           headers={"Authorization": header}).status == 200


def _seconds(duration: str) -> int:
    days, _, clock = duration.rpartition(".")
    hours, minutes, secs = (int(p) for p in clock.split(":"))
    return int(days or 0) * 86400 + hours * 3600 + minutes * 60 + secs


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_history_durations_are_the_difference_of_the_times_shown(
        public: Server, catalogue: Catalogue) -> None:
    kyiv = by_api_id(catalogue, KYIV_CITY).code
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)

    def stamp(moment: datetime, millis: int) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"

    # Ended: from ...:00.999 to ...:02.000 is shown as 00 → 02, so two seconds, not one.
    declared = public.post("/api/v1/alerts", {"regions": [kyiv], "type": "air_raid",
                                              "started_at": stamp(base, 999)})
    assert declared.status == 201, declared.body
    alert_id = declared.json()["alerts"][0]["id"]
    ended = public.post(f"/api/v1/alerts/{alert_id}/end",
                        {"ended_at": stamp(base + timedelta(seconds=2), 0)})
    assert ended.status == 200, ended.body
    # Continuing: started at .999 of a second, so it runs to the second the answer is made.
    continuing = public.post("/api/v1/alerts", {"regions": [kyiv], "type": "artillery_shelling",
                                                "started_at": stamp(base, 999)})
    assert continuing.status == 201, continuing.body

    answer = public.get(f"/api/v3/alerts/regionHistory?regionId={KYIV_CITY}", token=None)
    assert answer.status == 200, answer.body
    alarms = answer.json()["alarms"]
    assert {a["alertType"] for a in alarms} == {"AIR", "ARTILLERY"}
    for alarm in alarms:
        shown = _moment(alarm["endDate"]) - _moment(alarm["startDate"])
        assert _seconds(alarm["duration"]) == shown.total_seconds(), alarm
    [finished] = [a for a in alarms if not a["isContinue"]]
    assert finished["duration"] == "00:00:02"


def test_delete_answers_the_deleted_registration(public: Server) -> None:
    key = {"Authorization": run_cli("token", "create", "--name", "edges-hooks",
                                    db=public.db).stdout.strip().splitlines()[-1]}
    url = "https://hooks.example.org/edges"  # nothing is ever sent: no alert is declared for it

    def call(method: str, body: object) -> dict[str, object]:
        answer = public.request(method, "/api/v3/webhook", token=None, headers=key,
                                raw=json.dumps(body).encode())
        assert answer.status == 200, answer.body
        found: dict[str, object] = answer.json()
        return found

    created = call("POST", {"webHookUrl": url, "regionIds": [str(KHARKIV_OBLAST), "9999"]})
    deleted = call("DELETE", {"webHookUrl": url})
    assert set(deleted) == {"webHookUrl", "regionIds", "createdAt", "updatedAt"}
    assert deleted == {key: created[key] for key in deleted}
    assert deleted["regionIds"] == [str(KHARKIV_OBLAST), "9999"]
    # One for every region answers null, as it was registered.
    call("POST", {"webHookUrl": url})
    assert call("DELETE", {"webHookUrl": url})["regionIds"] is None

