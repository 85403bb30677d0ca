"""Proposals on a real SQLite file: nothing applied until accepted; accept applies once,
through the Service with the actor's scope; reject applies nothing; every decision audited.
The CLI is run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.regions import KYIV, LVIV_OBLAST
from tests.regions import KYIV_DARNYTSKYI as DARNYTSKYI
from tests.regions import KYIV_DNIPROVSKYI as DNIPROVSKYI
from tryvoga.commands import Declare
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import Catalogue
from tryvoga.errors import BadRequest, Conflict, Forbidden, NotFound
from tryvoga.ingest.proposals import ProposalDesk
from tryvoga.service import Actor, Service
from tryvoga.storage.proposals import ProposalReader
from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import TRYVOGA, run_cli
from .test_statements import EXAMPLE

OPERATOR = Actor("operator")


@pytest.fixture(scope="module")
def names(catalogue: Catalogue) -> NameIndex:
    return NameIndex(catalogue)


@pytest.fixture
def desk(storage: SQLiteStorage, service: Service, names: NameIndex) -> Iterator[ProposalDesk]:
    reader = ProposalReader(storage.path)
    yield ProposalDesk(service, names, reader)
    reader.close()


def ingest_example(desk: ProposalDesk) -> list[int]:
    result = desk.ingest(OPERATOR, EXAMPLE.read_text("utf-8"))
    assert result.created
    return [p["id"] for p in result.body["proposals"]]


def test_nothing_is_applied_until_accepted(desk: ProposalDesk, storage: SQLiteStorage) -> None:
    alert, fire, debris, debris_fire = ingest_example(desk)
    assert storage.read_events() == []
    assert [r.state for r in desk.list(OPERATOR)] == ["pending"] * 4
    assert [a.action for a in storage.audit_records()] == ["statement.ingested"]

    again = desk.ingest(OPERATOR, EXAMPLE.read_text("utf-8"))
    assert not again.created
    assert [p["id"] for p in again.body["proposals"]] == [alert, fire, debris, debris_fire]
    assert again.body["unresolved"][0]["text"] == "several Ukrainian regions in eastern Ukraine"
    assert len(desk.list(OPERATOR, "all")) == 4


def test_accept_applies_through_the_service_once(desk: ProposalDesk, service: Service,
                                                 storage: SQLiteStorage) -> None:
    alert, fire, _, _ = ingest_example(desk)
    accepted = desk.accept(OPERATOR, alert)
    assert accepted.created
    (declared,) = accepted.events
    assert declared.kind == "alert.declared" and declared.actor == "operator"
    assert declared.payload["region"] == KYIV
    assert declared.payload["threats"] == [{"type": "drones", "level": "red"}]
    assert declared.payload["source"] == "Kyiv City Military Administration"
    assert accepted.body["proposal"]["state"] == "accepted"
    assert accepted.body["proposal"]["events"] == [declared.seq]
    assert accepted.body["result"]["alerts"][0]["region"] == KYIV

    with pytest.raises(Conflict) as twice:
        desk.accept(OPERATOR, alert)
    assert twice.value.code == "proposal_decided"
    assert len(storage.read_events()) == 1

    reported = desk.accept(OPERATOR, fire)
    incident = reported.body["result"]["incident"]
    assert (incident["kind"], incident["region"], incident["status"]) == (
        "fire", DARNYTSKYI, "preliminary")
    assert "10-storey building" in incident["description"]
    actions = [(a.action, a.actor, a.detail.get("proposal")) for a in storage.audit_records()]
    assert actions[1:] == [("proposal.accepted", "operator", alert),
                           ("proposal.accepted", "operator", fire)]
    assert [r.state for r in desk.list(OPERATOR, "pending")] == ["pending"] * 2
    assert service.state.alerts[1].active


def test_reject_applies_nothing_and_then_accept_is_refused(desk: ProposalDesk,
                                                           storage: SQLiteStorage) -> None:
    _, _, debris, _ = ingest_example(desk)
    rejected = desk.reject(OPERATOR, debris, "the mayor retracted it")
    assert rejected.body["proposal"]["state"] == "rejected"
    assert rejected.body["proposal"]["reason"] == "the mayor retracted it"
    assert storage.read_events() == []
    with pytest.raises(Conflict):
        desk.accept(OPERATOR, debris)
    with pytest.raises(Conflict):
        desk.reject(OPERATOR, debris)
    assert storage.read_events() == []
    assert [a.action for a in storage.audit_records()] == ["statement.ingested",
                                                           "proposal.rejected"]


def test_a_token_out_of_scope_cannot_accept(desk: ProposalDesk, storage: SQLiteStorage) -> None:
    alert, _, debris, _ = ingest_example(desk)
    lviv = Actor("lviv-operator", scopes=(LVIV_OBLAST,))
    for decide in (desk.accept, desk.reject):
        with pytest.raises(Forbidden) as refused:
            decide(lviv, alert)
        assert refused.value.code == "out_of_scope"
    reader = Actor("reader", write=False)
    with pytest.raises(Forbidden) as read_only:
        desk.accept(reader, debris)
    assert read_only.value.code == "token_read_only"
    with pytest.raises(Forbidden):
        desk.ingest(reader, "Air raid alert in Kyiv.")
    assert storage.read_events() == []
    assert desk.get(OPERATOR, alert).state == "pending"
    refusals = [a for a in storage.audit_records() if a.action == "proposal.refused"]
    assert [(a.actor, a.detail["code"]) for a in refusals] == [
        ("lviv-operator", "out_of_scope"), ("lviv-operator", "out_of_scope"),
        ("reader", "token_read_only")]
    # The Kyiv-scoped operator may.
    kyiv = Actor("kyiv-operator", scopes=(KYIV,))
    assert desk.accept(kyiv, alert).events[0].payload["region"] == KYIV


def test_an_all_clear_ends_the_alert_and_waits_while_there_is_none(desk: ProposalDesk,
                                                                   storage: SQLiteStorage
                                                                   ) -> None:
    answer = desk.ingest(OPERATOR, "Повітряна тривога в Києві! Згодом — відбій тривоги.")
    alert, clear = answer.body["proposals"]
    assert (alert["kind"], clear["kind"]) == ("alert", "all_clear")
    with pytest.raises(Conflict) as nothing_active:
        desk.accept(OPERATOR, clear["id"])
    assert nothing_active.value.code == "alert_not_active"
    assert desk.get(OPERATOR, clear["id"]).state == "pending"
    desk.accept(OPERATOR, alert["id"])
    ended = desk.accept(OPERATOR, clear["id"])
    assert ended.events[0].kind == "alert.ended"
    assert ended.body["result"]["alert"]["ended_at"] is not None
    assert [e.kind for e in storage.read_events()] == ["alert.declared", "alert.ended"]


def test_an_alert_already_active_is_accepted_without_a_second_declaration(
        desk: ProposalDesk, service: Service, storage: SQLiteStorage) -> None:
    service.handle(OPERATOR, Declare.of(regions=[KYIV], source="by hand", type="air_raid"))
    alert, _, _, _ = ingest_example(desk)
    accepted = desk.accept(OPERATOR, alert)
    assert not accepted.created and accepted.events == ()
    assert accepted.body["result"]["alerts"][0]["created"] is False
    assert accepted.body["proposal"]["state"] == "accepted"
    assert [e.kind for e in storage.read_events()] == ["alert.declared"]


def test_bad_input_is_refused_with_one_error_shape(desk: ProposalDesk) -> None:
    for text in ("", "   ", None, 42):
        with pytest.raises(BadRequest) as empty:
            desk.ingest(OPERATOR, text)
        assert empty.value.field == "text"
    with pytest.raises(NotFound) as unknown:
        desk.ingest(OPERATOR, "Air raid alert in Kyiv.", within="UA999")
    assert unknown.value.code == "region_not_found"
    with pytest.raises(NotFound) as missing:
        desk.accept(OPERATOR, 999)
    assert missing.value.code == "proposal_not_found"
    with pytest.raises(BadRequest):
        desk.accept(OPERATOR, "one")
    with pytest.raises(BadRequest):
        desk.list(OPERATOR, "maybe")


# ---- the CLI, as real processes ----------------------------------------------------------------

def test_the_cli_reads_lists_accepts_and_rejects(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    read = run_cli("ingest", "statement", str(EXAMPLE), db=db)
    assert "4 proposals, 1 unresolved place" in read.stdout
    assert "Darnytskyi District, Kyiv" in read.stdout
    assert "unresolved (vague): 'several Ukrainian regions in eastern Ukraine'" in read.stdout

    listed = run_cli("proposal", "list", db=db)
    assert listed.stdout.count("pending") == 4
    accepted = run_cli("proposal", "accept", "1", db=db)
    assert "accepted proposal 1: alert 1 declared in Kyiv" in accepted.stdout
    twice = run_cli("proposal", "accept", "1", db=db, check=False)
    assert twice.returncode == 1
    assert twice.stderr.startswith("error: proposal 1 was already accepted")
    assert "Traceback" not in twice.stderr
    run_cli("proposal", "reject", "3", "--reason", "duplicate", db=db)
    assert "rejected" in run_cli("proposal", "list", "--state", "rejected", db=db).stdout
    alerts = run_cli("alert", "list", db=db).stdout
    assert "Kyiv (UA80000000000093317)" in alerts and "drones:red" in alerts
    assert "no incidents" in run_cli("incident", "list", db=db).stdout

    statement = tmp_path / "mykolaiv.txt"
    statement.write_text("Повітряна тривога в Миколаєві.", "utf-8")
    answer = json.loads(run_cli("ingest", "statement", str(statement), "--json", "--within",
                                "Mykolaiv Oblast", db=db).stdout)
    assert [p["region"] for p in answer["proposals"]] == ["UA48060150010035747"]
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", "utf-8")
    refused = run_cli("ingest", "statement", str(empty), db=db, check=False)
    assert refused.returncode == 1 and refused.stderr.startswith("error: text must be")
    missing = run_cli("ingest", "statement", str(tmp_path / "nope.txt"), db=db, check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("error: cannot read")


def test_concurrent_accepts_apply_a_proposal_once(tmp_path: Path) -> None:
    db = tmp_path / "race.db"
    run_cli("ingest", "statement", str(EXAMPLE), db=db)
    racers = [subprocess.Popen([*TRYVOGA, "proposal", "accept", "2", "--db", str(db)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(4)]
    codes = [r.wait(timeout=60) for r in racers]
    for racer in racers:
        assert racer.stdout is not None and racer.stderr is not None
        racer.stdout.close()
        racer.stderr.close()
    assert sorted(codes) == [0, 1, 1, 1]
    storage = SQLiteStorage(db)
    try:
        events = storage.read_events()
        assert [(e.kind, e.payload["region"]) for e in events] == [
            ("incident.reported", DARNYTSKYI)]
    finally:
        storage.close()
    assert DNIPROVSKYI not in run_cli("incident", "list", db=db).stdout


def test_the_readme_commands_run_as_written(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text("utf-8")
    block = readme.split("<!-- statements -->\n", 1)[1].split("<!-- /statements -->", 1)[0]
    script = block.split("```sh\n", 1)[1].rsplit("```", 1)[0]
    bin_dir = str(Path(TRYVOGA[0]).parent)
    env = {**os.environ, "TRYVOGA_DB": str(tmp_path / "readme.db"),
           "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "accepted proposal 1: alert 1 declared in Kyiv" in done.stdout
    assert "rejected proposal 3" in done.stdout
