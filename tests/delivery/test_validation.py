"""What ``POST /api/v1/webhooks`` and ``tryvoga webhook create`` refuse rather than guess at,
against a real server process and the real command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.regions import KHARKIV_KYIVSKYI

from ..api.test_native import assert_error
from ..conftest import Server, run_cli, start_server, stop_server

URL = "http://127.0.0.1:9/hook"  # never answered: these tests are about the subscriptions


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("validation"),
                           env={"TRYVOGA_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"})
    yield running
    stop_server(running)


@pytest.mark.parametrize(("body", "field", "says"), [
    # The body's model (api/bodies.py) says these in its words: the type wanted and given.
    ({"url": URL, "regions": "UA"}, "regions", "must be a list or null, not a string"),
    ({"url": URL, "regions": []}, "regions", "must not be empty"),
    ({"url": URL, "regions": [""]}, "regions[0]", "must not be empty"),
    ({"url": URL, "regions": ["UA", 7]}, "regions[1]", "must be a string, not a whole number"),
    ({"url": URL, "regions": {"UA": True}}, "regions", "must be a list"),
    ({"url": URL, "types": "air_raid"}, "types", "not a string"),
    ({"url": URL, "types": []}, "types", "must not be empty"),
    ({"url": URL, "kinds": []}, "kinds", "must not be empty"),
    ({"url": 123}, "url", "url: must be a string"),
    ({"url": ["http://127.0.0.1:9/"]}, "url", "not a list"),
    ({"url": "  "}, "url", "url is empty"),
    ({}, "url", "url: is required"),
])
def test_loose_bodies_are_refused_naming_the_field(srv: Server, body: dict[str, object],
                                                   field: str, says: str) -> None:
    answer = srv.post("/api/v1/webhooks", body)
    assert_error(answer, 422, "invalid_input", field)
    assert says in answer.json()["error"]["message"]
    # Nothing was made.
    assert srv.get("/api/v1/webhooks").json()["webhooks"] == []


def test_left_out_or_null_filters_are_the_defaults(srv: Server) -> None:
    made = srv.post("/api/v1/webhooks", {"url": URL + "/defaults", "regions": None,
                                         "types": None})
    assert made.status == 201, made.body
    hook = made.json()["webhook"]
    assert hook["regions"] == ["UA"] and hook["types"] == [] and hook["kinds"] == []
    srv.request("DELETE", f"/api/v1/webhooks/{hook['id']}")


def test_the_cli_resolves_a_shared_name_within_a_parent(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    url = "https://hooks.example.org/kyivskyi"
    ambiguous = run_cli("webhook", "create", url, "--region", "Kyivskyi", db=db, check=False)
    assert ambiguous.returncode == 1 and "--within a parent" in ambiguous.stderr
    assert "Traceback" not in ambiguous.stderr
    created = run_cli("webhook", "create", url, "--region", "Kyivskyi", "--within", "Kharkiv",
                      db=db)
    assert created.stdout.strip().splitlines()[-1].startswith("whsec_")
    unknown = run_cli("webhook", "create", url, "--region", "Kyivskyi", "--within", "Atlantis",
                      db=db, check=False)
    assert unknown.returncode == 1 and "no region matches 'Atlantis'" in unknown.stderr
    # No filters given: all of them, as the API's defaults (no empty lists sent).
    run_cli("webhook", "create", url + "/all", db=db)
    listed = json.loads(run_cli("webhook", "list", "--json", db=db).stdout)["webhooks"]
    assert sorted((w["url"], w["regions"], w["types"], w["kinds"]) for w in listed) == [
        (url, [KHARKIV_KYIVSKYI], [], []), (url + "/all", ["UA"], [], [])]
