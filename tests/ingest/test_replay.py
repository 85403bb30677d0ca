"""Replaying a past day through the live system, as an exercise, and the demo of `serve`."""

from __future__ import annotations

import csv
import signal
import subprocess
from datetime import date
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import pytest

from tests.polling import wait_for
from tests.regions import KYIV
from tests.regions import NIKOPOL_HROMADA as NIKOPOL
from tryvoga.api.formats import outbox
from tryvoga.domain.events import parse_time
from tryvoga.domain.regions import Catalogue
from tryvoga.ingest.replay import Window, bundled_path, load_day, play, timeline
from tryvoga.service import Actor, Service
from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import TRYVOGA, Server, run_cli, start_server, stop_server
from ..paths import OFFICIAL_UK

NIGHT = Window.of(date(2023, 5, 20))



def test_the_bundled_slice_is_the_official_record_of_that_day() -> None:
    with bundled_path().open(newline="", encoding="utf-8") as handle:
        bundled = list(csv.reader(handle))
    with OFFICIAL_UK.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    start, end = NIGHT.iso()
    overlapping = [r for r in rows[1:]
                   if parse_time(r[4].replace(" ", "T")) < parse_time(end)
                   and parse_time(r[5].replace(" ", "T")) > parse_time(start)]
    assert bundled[0] == rows[0] and bundled[1:] == overlapping
    assert (bundled_path().parent / "LICENSE").read_text().startswith("MIT License")


def test_replay_plays_the_record_as_exercises(service: Service, catalogue: Catalogue) -> None:
    played, origin = load_day(NIGHT, None, catalogue)
    assert origin == "the bundled official record"
    steps = timeline(played, NIGHT)
    kyiv = [p for p in played if p.region == KYIV]
    assert [(p.start, p.end) for p in kyiv] == [(
        parse_time("2023-05-19T21:41:31Z").timestamp(),
        parse_time("2023-05-20T00:01:35Z").timestamp())]
    seen: list[tuple[bool, str, int]] = []

    def watch(step: Any) -> None:
        state = service.state
        live = [a for a in state.active_alerts() if a.region == step.played.region]
        seen.append((step.start, step.played.region, len(live)))

    declared = play(service, steps, NIGHT, 1_000_000, actor=Actor("replay"), on_step=watch)
    assert declared == len(played) == 51  # the day's 51 rows; none overlap on one region
    state = service.state
    alerts = list(state.alerts.values())
    assert len(alerts) == len(played)
    assert all(a.status.value == "exercise" and not a.active for a in alerts)
    assert sorted(a.region for a in alerts) == sorted(p.region for p in played)
    # While it played, each start made its region active and each end cleared it.
    assert all(count == (1 if start else 0) for start, _, count in seen)
    # Exercises never count: the status map stayed empty all along.
    assert state.effective(alerts[0].type) == {}


def test_replay_command_moves_a_running_server(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        result = run_cli("replay", "--date", "2023-05-20", "--from", "00:00", "--to", "03:00",
                         "--speed", "100000", "-q", db=server.db)
        assert result.stdout.startswith("replayed ")

        def seen() -> list[dict[str, Any]]:
            answer: list[dict[str, Any]] = server.get(
                "/api/v1/history?status=exercise&limit=500", token=None).json()["alerts"]
            return answer if answer and not any(a["active"] for a in answer) else []

        drills = wait_for(seen, "the server to follow the replay")
        assert KYIV in {a["region"] for a in drills}
        assert all(a["actual"] is False and a["source"].startswith("replay of") for a in drills)
        events = server.get("/api/v1/events?limit=1000", token=None).json()["events"]
        assert {e["kind"] for e in events} == {"alert.declared", "alert.ended"}
        assert server.get("/api/v1/history?status=actual", token=None).json()["alerts"] == []
    finally:
        stop_server(server)


def test_replay_prefers_the_imported_record(tmp_path: Path) -> None:
    record = tmp_path / "official.csv"
    record.write_text("oblast,raion,hromada,level,started_at,finished_at,source\n"
                      "м. Київ,,,oblast,2024-01-02 03:00:00+00:00,2024-01-02 04:00:00+00:00,"
                      "official\n", "utf-8")
    db = tmp_path / "r.db"
    run_cli("import-history", str(record), db=db)
    result = run_cli("replay", "--date", "2024-01-02", "--speed", "1000000", db=db)
    assert "from the imported official record" in result.stderr
    assert "replayed 1 exercise alerts of 2024-01-02" in result.stdout
    missing = run_cli("replay", "--date", "2024-01-03", db=db, check=False)
    assert missing.returncode == 1 and "import-history" in missing.stderr
    bad = run_cli("replay", "--date", "2023-05-20", "--speed", "0", db=db, check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("error: speed must be above 0")


def test_serve_demo_fills_an_empty_database_only(tmp_path: Path) -> None:
    (tmp_path / "fresh").mkdir()
    demo = start_server(tmp_path / "fresh", "--demo", "true")
    try:
        active = wait_for(lambda: demo.get("/api/v1/alerts/active", token=None).json()["alerts"],
                          "the demo's first alerts")
        assert all(a["status"] == "exercise" for a in active)
    finally:
        stop_server(demo)
    # A database with a real event gets no demo.
    (tmp_path / "used").mkdir()
    db = tmp_path / "used" / "server.db"
    run_cli("alert", "declare", KYIV, db=db)
    used: Server = start_server(tmp_path / "used", "--demo", "true", db=db)
    try:
        wait_for(lambda: "demo replay skipped" in used.log.read_text(), "the demo to decline")
        events = used.get("/api/v1/events", token=None).json()["events"]
        assert [e["kind"] for e in events] == ["alert.declared"]
    finally:
        stop_server(used)




def test_notes_give_the_replayed_alerts_own_dates_and_times(service: Service,
                                                             catalogue: Catalogue) -> None:
    # Until 03:00 only: Kyiv's alert (00:41-03:01) and Nikopol's (since 22:17 the evening
    # before, until 05:47) are both cut by the window; their notes are not.
    window = Window.of(date(2023, 5, 20), None, clock_time(3, 0))
    played, _ = load_day(window, None, catalogue)
    play(service, timeline(played, window), window, 1_000_000, actor=Actor("replay"))
    notes = {a.region: a.note for a in service.state.alerts.values()}
    assert catalogue[NIKOPOL].name_uk.startswith("Нікопольська")
    assert notes[NIKOPOL].startswith(
        "exercise: the alert of 2023-05-19 22:17 to 2023-05-20 05:47 Kyiv time (")
    assert notes[KYIV] == ("exercise: the alert of 2023-05-20 00:41 to 2023-05-20 03:01 Kyiv "
                           "time (м. Київ)")
    # The alerts themselves ran only as long as the window: ended at its end.
    assert all(not a.active for a in service.state.alerts.values())


def active_exercises(db: Path, catalogue: Catalogue) -> list[str]:
    storage = SQLiteStorage(db)
    try:
        state = Service(storage, catalogue, outbox=outbox(catalogue)).state
        return [a.region for a in state.active_alerts() if a.status.value == "exercise"]
    finally:
        storage.close()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_replay_stopped_by_a_signal_ends_its_alerts(tmp_path: Path, catalogue: Catalogue,
                                                      sig: signal.Signals) -> None:
    db = tmp_path / "stopped.db"
    run_cli("token", "list", db=db)  # the database exists before the replay and the polls
    # A shell that starts jobs in the background (as CI scripts may) leaves SIGINT ignored, and
    # an ignored signal stays ignored across exec: give the replay the default, as a terminal
    # would.
    with subprocess.Popen([*TRYVOGA, "replay", "--date", "2023-05-20", "--speed", "600", "-q",
                           "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, preexec_fn=_default_sigint) as process:
        try:
            running = wait_for(lambda: len(active_exercises(db, catalogue)) >= 4,
                               "the replay's first alerts")
            assert running and process.poll() is None
            process.send_signal(sig)
            _, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 128 + sig
    assert stderr.splitlines()[-1] == (f"stopped by {sig.name}; the replay's alerts were "
                                       "ended")
    assert "Traceback" not in stderr
    assert active_exercises(db, catalogue) == []
    storage = SQLiteStorage(db)
    try:
        ended = [e for e in storage.read_events() if e.kind == "alert.ended"]
    finally:
        storage.close()
    assert any(e.payload.get("reason") == "the replay stopped" for e in ended)
