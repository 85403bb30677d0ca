"""Operators: the CLI, argon2 hashes, lockout, session expiry; the rule's coverage."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import TRYVOGA, run_cli
from tests.regions import KYIV
from tryvoga import approval
from tryvoga.commands import Declare
from tryvoga.domain.model import AlertStatus, AlertType
from tryvoga.domain.regions import Catalogue
from tryvoga.errors import Forbidden
from tryvoga.operators import LoginRefused, Operators
from tryvoga.service import Actor, Service
from tryvoga.storage.operators import OperatorReader
from tryvoga.storage.sqlite import SQLiteStorage

PASSWORD = "correct horse battery staple"
LVIV = "UA46000000000026241"
LVIV_RAION = "UA46060000000042587"


def operator_cli(db: Path, *args: str, password: str = PASSWORD
                 ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TRYVOGA, "operator", *args, "--db", str(db)],
                          input=password + "\n", capture_output=True, text=True, timeout=60)


def test_cli_creates_lists_and_disables(db_path: Path) -> None:
    made = operator_cli(db_path, "create", "olena", "--scope", "Kiev", "--role", "approver")
    assert made.returncode == 0, made.stderr
    assert f"approver olena, scope {KYIV}" in made.stdout
    again = operator_cli(db_path, "create", "olena", "--scope", "UA")
    assert again.returncode == 1 and "already exists" in again.stderr
    short = operator_cli(db_path, "create", "ivan", "--scope", "UA", password="short")
    assert short.returncode == 1 and "at least 12" in short.stderr
    listing = run_cli("operator", "list", db=db_path).stdout
    assert "olena" in listing and "approver" in listing and "ivan" not in listing
    assert PASSWORD not in db_path.read_bytes().decode("latin-1")
    storage = SQLiteStorage(db_path)
    try:
        record = OperatorReader(db_path).operator("olena")
        assert record is not None and record.password.startswith("$argon2id$")
        run_cli("operator", "disable", "olena", db=db_path)
        assert "disabled" in run_cli("operator", "list", db=db_path).stdout
        actions = [r.action for r in storage.audit_records()]
        assert actions == ["operator.created", "operator.disabled"]
    finally:
        storage.close()


def test_lockout_grows_and_a_login_resets_it(storage: SQLiteStorage,
                                             catalogue: Catalogue, db_path: Path) -> None:
    desk = Operators(storage, catalogue, failures=2, lockout=60)
    desk.create("olena", PASSWORD, "operator", [KYIV])
    reader = OperatorReader(db_path)
    with pytest.raises(LoginRefused) as first:
        desk.login(reader, "olena", "wrong wrong wrong", "127.0.0.1")
    assert first.value.code == "login_failed"
    before = time.time()
    with pytest.raises(LoginRefused) as second:
        desk.login(reader, "olena", "wrong wrong wrong", "127.0.0.1")
    assert second.value.code == "operator_locked"
    locked = reader.operator("olena")
    assert locked is not None and locked.failures == 2 and locked.locked_until >= before + 60
    with pytest.raises(LoginRefused) as right_but_locked:
        desk.login(reader, "olena", PASSWORD, "127.0.0.1")
    assert right_but_locked.value.code == "operator_locked"
    # The lock lapses (moved into the past here); one more failure doubles the next lock.
    with storage.writer() as tx:
        tx.operators().login_failed("olena", 2, 1.0)
    before = time.time()
    with pytest.raises(LoginRefused):
        desk.login(reader, "olena", "wrong wrong wrong", "127.0.0.1")
    again = reader.operator("olena")
    assert again is not None and again.failures == 3
    assert again.locked_until >= before + 120  # doubled
    with storage.writer() as tx:
        tx.operators().login_failed("olena", 3, 1.0)
    login = desk.login(reader, "olena", PASSWORD, "127.0.0.1")
    reset = reader.operator("olena")
    assert reset is not None and reset.failures == 0
    assert desk.session(reader, login.session_id) is not None
    reader.close()


def test_sessions_expire_end_and_die_with_their_operator(storage: SQLiteStorage,
                                                         catalogue: Catalogue,
                                                         db_path: Path) -> None:
    desk = Operators(storage, catalogue, idle=600)
    desk.create("olena", PASSWORD, "operator", [KYIV])
    reader = OperatorReader(db_path)
    one = desk.login(reader, "olena", PASSWORD, "")
    two = desk.login(reader, "olena", PASSWORD, "")
    assert one.session_id != two.session_id and one.csrf != two.csrf
    found = desk.session(reader, one.session_id)
    assert found is not None
    assert desk.session(reader, "not a session") is None
    with storage.writer() as tx:  # unused for longer than the idle limit
        tx.operators().session_seen(found[0].id, 0.0)
    assert desk.session(reader, one.session_id) is None
    live = desk.session(reader, two.session_id)
    assert live is not None
    desk.logout(live[0])
    assert desk.session(reader, two.session_id) is None
    three = desk.login(reader, "olena", PASSWORD, "")
    desk.disable("olena")
    assert desk.session(reader, three.session_id) is None
    with pytest.raises(LoginRefused):
        desk.login(reader, "olena", PASSWORD, "")
    reader.close()


def test_what_the_rule_covers(catalogue: Catalogue) -> None:
    policy = approval.Policy()
    air, actual = AlertType.AIR_RAID, AlertStatus.ACTUAL
    assert approval.covers(policy, catalogue, [KYIV], air, actual) == []
    assert approval.covers(policy, catalogue, [LVIV, LVIV_RAION], air, actual) == []
    assert approval.covers(policy, catalogue, [KYIV, LVIV], air, actual) == ["several_oblasts"]
    assert approval.covers(policy, catalogue, ["UA"], air, AlertStatus.TEST) == [
        "whole_country"]
    assert approval.covers(policy, catalogue, [KYIV], AlertType.NUCLEAR,
                           AlertStatus.EXERCISE) == ["chemical_or_nuclear"]
    strict = approval.Policy(all_actual=True)
    assert approval.covers(strict, catalogue, [KYIV], air, actual) == ["actual"]
    assert approval.covers(strict, catalogue, [KYIV], air, AlertStatus.EXERCISE) == []


def test_the_service_refuses_a_bound_actor_and_stamps_the_others(service: Service) -> None:
    person = Actor("duty", bound=True)
    with pytest.raises(Forbidden) as refused:
        service.handle(person, Declare.of(regions=[KYIV], type="chemical"))
    assert refused.value.code == "approval_required"
    assert service.state.seq == 0
    approved = service.handle(
        Actor("duty", bound=True, approval=7),
        Declare.of(regions=[KYIV], type="chemical"),
    )
    assert approved.events[0].payload["authorised"] == "two-person"
    assert approved.events[0].payload["approval"] == 7
    alone = service.handle(Actor("replay"), Declare.of(regions=[KYIV, LVIV], type="air_raid"))
    assert [e.payload["authorised"] for e in alone.events] == ["automated", "automated"]
    plain = service.handle(person, Declare.of(regions=[LVIV], type="artillery_shelling"))
    assert "authorised" not in plain.events[0].payload


def test_an_approval_is_decided_once(storage: SQLiteStorage, catalogue: Catalogue) -> None:
    Operators(storage, catalogue).create("olena", PASSWORD, "operator", [KYIV])
    with storage.writer() as tx:
        tables = tx.operators()
        approval_id = tables.approval_add("olena", "s", "form-1", "2026-01-01T00:00:00.000Z",
                                          10.0, {"regions": [KYIV]}, ["chemical_or_nuclear"])
        # Lapsed: an approval cannot land after the time limit; a rejection still can.
        assert not tables.approval_decide(approval_id, "approved", "ivan", "t", "", (), 11.0)
        assert tables.approval_decide(approval_id, "rejected", "ivan", "t", "no", (), 11.0)
        assert not tables.approval_decide(approval_id, "rejected", "ivan", "t", "no", (), 1.0)
        with pytest.raises(Exception, match="UNIQUE"):
            tables.approval_add("olena", "s", "form-1", "t", 10.0, {}, [])
