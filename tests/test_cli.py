"""The ``tryvoga`` command, run as a real process."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.regions import KYIV

from .conftest import TRYVOGA, run_cli


def test_token_create_prints_the_token_alone_on_its_last_line(db_path: Path) -> None:
    result = run_cli("token", "create", "--name", "ops", "--scope", KYIV, "--scope",
                     "Lviv oblast", "--write", db=db_path)
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("tv_") and " " not in last and len(last) > 30
    listed = run_cli("token", "list", db=db_path).stdout
    assert "ops" in listed and last not in listed  # the secret is never shown again
    # Only the hash is stored.
    conn = sqlite3.connect(db_path)
    stored = [row[0] for row in conn.execute("SELECT hash FROM tokens")]
    conn.close()
    assert stored and last not in stored


def test_alert_commands_resolve_names(db_path: Path) -> None:
    declared = run_cli("alert", "declare", "Kiev", "--threat", "drones:yellow", "--source",
                       "KCMA", db=db_path).stdout
    assert "declared: alert 1 air_raid in Kyiv" in declared
    again = run_cli("alert", "declare", "Київ", db=db_path).stdout
    assert "already active: alert 1" in again
    listed = run_cli("alert", "list", db=db_path).stdout
    assert "Kyiv" in listed and "drones:yellow" in listed
    ended = run_cli("alert", "end", "--region", "м. Київ", db=db_path).stdout
    assert "ended: alert 1" in ended
    assert "no active alerts" in run_cli("alert", "list", db=db_path).stdout
    assert "Kyiv" in run_cli("history", db=db_path).stdout


@pytest.mark.parametrize("args", [
    ("alert", "declare", "Atlantis"),
    ("alert", "declare", KYIV, "--type", "storm"),
    ("alert", "declare", KYIV, "--threat", "ufo:red"),
    ("alert", "end", "7"),
    ("alert", "end",),
    ("incident", "report", "--kind", "fire", "--region", "Dnipro district", "--source", "x"),
    ("incident", "update", "3", "--status", "confirmed"),
    ("token", "revoke", "nobody"),
    ("token", "create", "--name", "x", "--scope", "Nowhere"),
])
def test_bad_input_is_one_clear_line_and_a_non_zero_exit(db_path: Path,
                                                         args: tuple[str, ...]) -> None:
    result = run_cli(*args, db=db_path, check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_ambiguous_name_lists_candidates(db_path: Path) -> None:
    result = run_cli("incident", "report", "--kind", "fire", "--region", "Dnipro district",
                     "--source", "x", db=db_path, check=False)
    assert "several regions" in result.stderr and "Dniprovskyi" in result.stderr
    ok = run_cli("incident", "report", "--kind", "debris", "--region", "Dnipro district",
                 "--within", "Kyiv", "--source", "Mayor of Kyiv", db=db_path)
    assert "Dniprovskyi District" in ok.stdout


def test_region_find() -> None:
    out = run_cli("region", "find", "Kharkov", db=None).stdout
    assert "Kharkiv" in out
    out = run_cli("region", "find", "Darnitsya district", db=None).stdout
    assert "Darnytskyi District" in out
    missing = run_cli("region", "find", "Qwertyuiop", db=None, check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("error: no region")


def test_verify_reports_the_first_broken_link(db_path: Path) -> None:
    for _ in range(3):
        run_cli("alert", "declare", KYIV, db=db_path)
        run_cli("alert", "end", "--region", KYIV, db=db_path)
    assert run_cli("verify", db=db_path).stdout.startswith("ok: 6 events")
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE events SET payload = replace(payload, 'air_raid', 'nuclear') "
                 "WHERE seq = 4")
    conn.commit()
    conn.close()
    result = run_cli("verify", db=db_path, check=False)
    assert result.returncode == 1
    assert "sequence 4" in result.stderr and "altered" in result.stderr


def test_serve_refuses_a_bad_setting(db_path: Path) -> None:
    result = run_cli("serve", "--port", "99999", db=db_path, check=False)
    assert result.returncode != 0 and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_newer_database(db_path: Path) -> None:
    run_cli("token", "list", db=db_path)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    result = run_cli("serve", "--port", "0", db=db_path, check=False)
    assert result.returncode != 0 and "newer Tryvoga" in result.stderr


def test_serve_flags_work_on_the_bare_command_and_are_refused_elsewhere(db_path: Path) -> None:
    bad = run_cli("--port", "99999", db=None, check=False)
    assert bad.returncode != 0 and "--port" in bad.stderr and "Traceback" not in bad.stderr
    misplaced = run_cli("--port", "8001", "token", "list", db=db_path, check=False)
    assert misplaced.returncode == 2 and "put it after the command" in misplaced.stderr


def test_write_token_needs_an_explicit_scope(db_path: Path) -> None:
    result = run_cli("token", "create", "--name", "w", "--write", db=db_path, check=False)
    assert result.returncode == 1 and "--scope" in result.stderr
    assert "UA" in run_cli("token", "create", "--name", "w", "--write", "--scope", "UA",
                           db=db_path).stdout


def test_region_find_by_api_id() -> None:
    assert run_cli("region", "find", "31", db=None).stdout.startswith(KYIV)


def test_configure_and_end_drills_by_name(db_path: Path) -> None:
    out = run_cli("region", "configure", "Dnipro district", "--within", "Kyiv",
                  "--shelter-seconds", "60", db=db_path).stdout
    assert '"shelter_seconds": 60' in out
    run_cli("alert", "declare", KYIV, "--status", "exercise", db=db_path)
    plain = run_cli("alert", "end", "--region", KYIV, db=db_path, check=False)
    assert plain.returncode == 1 and "no active actual" in plain.stderr
    assert "ended: alert 1" in run_cli("alert", "end", "--region", KYIV, "--status",
                                       "exercise", db=db_path).stdout


def test_text_that_is_not_text_is_refused(db_path: Path) -> None:
    result = subprocess.run([*TRYVOGA, "alert", "declare", KYIV, "--source", "\udcff",
                             "--db", str(db_path)], capture_output=True, timeout=60)
    assert result.returncode == 1 and b"source is not valid text" in result.stderr


def test_verify_needs_an_existing_database(tmp_path: Path) -> None:
    result = run_cli("verify", db=tmp_path / "typo.db", check=False)
    assert result.returncode == 1 and "no database" in result.stderr
    assert not (tmp_path / "typo.db").exists()


def _tamper(db_path: Path, sql: str) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute(sql)
    conn.commit()
    conn.close()


def test_verify_finds_a_cut_end_and_an_unreadable_event(db_path: Path) -> None:
    for _ in range(2):
        run_cli("alert", "declare", KYIV, db=db_path)
        run_cli("alert", "end", "--region", KYIV, db=db_path)
    _tamper(db_path, "DELETE FROM events WHERE seq = 4")
    cut = run_cli("verify", db=db_path, check=False)
    assert cut.returncode == 1 and "removed from its end" in cut.stderr
    _tamper(db_path, "UPDATE events SET payload = '{bad' WHERE seq = 2")
    corrupt = run_cli("verify", db=db_path, check=False)
    assert corrupt.returncode == 1 and "sequence 2" in corrupt.stderr
    assert "Traceback" not in corrupt.stderr
    listed = run_cli("alert", "list", db=db_path, check=False)
    assert listed.returncode != 0 and listed.stderr.startswith("error: event 2 is corrupt")
