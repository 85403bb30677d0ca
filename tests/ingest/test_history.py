"""The historical record: import, agreement with the source CSV, idempotency, the live state
untouched, the merged history list and the statistics."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.regions import KYIV
from tryvoga.commands import Declare, EndByRegion
from tryvoga.domain.events import parse_time
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import Catalogue, Level
from tryvoga.ingest.history import FORMER_NAMES
from tryvoga.service import Actor, Service
from tryvoga.storage.history import HistoryReader
from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import Server, run_cli, start_server, stop_server
from ..paths import OFFICIAL_EN, OFFICIAL_UK, VOLUNTEER_EN


def minute(text: str) -> str:
    """A CSV time ('2022-03-15 16:10:34+00:00') or a log time, to the minute in UTC."""
    return parse_time(text.replace(" ", "T", 1)).strftime("%Y-%m-%dT%H:%M")


def events_of(db: Path) -> list[Any]:
    storage = SQLiteStorage(db)
    try:
        return storage.read_events()
    finally:
        storage.close()


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A server on a database holding one live alert and the imported official record (uk)."""
    tmp = tmp_path_factory.mktemp("history")
    db = tmp / "history.db"
    run_cli("alert", "declare", KYIV, "--source", "KCMA", db=db)
    result = run_cli("import-history", str(OFFICIAL_UK), db=db)
    server = start_server(tmp, db=db)
    yield server, result.stdout
    stop_server(server)


def all_history(server: Server, query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = server.get(f"/api/v1/history?limit=5000&{query}{cursor}", token=None)
        assert page.status == 200, page.body
        body = page.json()
        items += body["alerts"]
        if body["next"] is None:
            return items
        cursor = f"&cursor={body['next']}"


def test_the_imported_record_agrees_with_the_csv_on_every_row(
        imported: tuple[Server, str], catalogue: Catalogue) -> None:
    server, output = imported
    with OFFICIAL_UK.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert f"{len(rows)} rows, {len(rows)} resolved, {len(rows)} added" in output
    assert "0 unresolved" in output

    got = all_history(server, "imported=true")
    assert len(got) == len(rows)
    assert all(a["imported"] and a["source"] == "official" and a["status"] == "actual"
               for a in got)

    def place(row: dict[str, str]) -> str:
        return ", ".join(p for p in (row["oblast"], row["raion"], row["hromada"]) if p)

    # Every row, to the minute, per place as the record writes it.
    expected = Counter((place(r), minute(r["started_at"]), minute(r["finished_at"]))
                       for r in rows)
    actual = Counter((a["place"], minute(a["started_at"]), minute(a["ended_at"]))
                     for a in got)
    assert actual == expected

    # Each place resolved to one region of the row's level, inside the oblast and raion the
    # row names (by their names in the codifier; renamed places by their current names).
    def current(name: str) -> str:
        return " ".join(FORMER_NAMES.get(w.lower(), w.lower()) for w in name.split())

    regions: dict[str, set[str]] = {}
    for item in got:
        regions.setdefault(item["place"], set()).add(item["region"])
    assert all(len(codes) == 1 for codes in regions.values())
    by_place = {place(r): r for r in rows}
    for text, (code,) in regions.items():
        row = by_place[text]
        region = catalogue[code]
        chain = [catalogue[c] for c in (code, *catalogue.ancestors(code))]
        oblast, raion = row["oblast"], row["raion"]
        if oblast.endswith("район"):  # one row has its oblast and raion swapped
            oblast, raion = raion, oblast
        level = {"oblast": (Level.OBLAST, Level.SPECIAL_CITY), "raion": (Level.RAION,),
                 "hromada": (Level.HROMADA,)}[row["level"]]
        assert region.level in level, text
        top = chain[-2]
        assert (top.name_uk == oblast or (oblast == "м. Київ" and top.code == KYIV)), text
        if raion:
            names = [r.name_uk.lower() for r in chain if r.level is Level.RAION]
            assert names == [current(raion)], text

    # Per region, the count and the times match the CSV: Kyiv city and Nikopol's hromada.
    nikopol = NameIndex(catalogue).find("м. Нікополь та Нікопольська територіальна громада")
    assert nikopol.region is not None
    for code, name in ((KYIV, "м. Київ"), (nikopol.region.code, None)):
        in_csv = [r for r in rows if (place(r) == name if name else
                                      r["hromada"].startswith("м. Нікополь"))]
        listed = [a for a in all_history(server, f"imported=true&region={code}")]
        assert len(listed) == len(in_csv) > 10
        assert sorted((minute(a["started_at"]), minute(a["ended_at"])) for a in listed) == \
            sorted((minute(r["started_at"]), minute(r["finished_at"])) for r in in_csv)


def test_import_is_one_event_and_leaves_the_live_state_alone(
        imported: tuple[Server, str]) -> None:
    server, _ = imported
    events = server.get("/api/v1/events?limit=100", token=None).json()["events"]
    assert [e["kind"] for e in events] == ["alert.declared", "history.imported"]
    payload = events[1]["payload"]
    assert payload["source"] == "official" and payload["file"] == "official_data_uk.csv"
    assert payload["rows"] == 33978 and len(payload["sha256"]) == 64
    assert payload["period"] == {"from": "2022-03-15T16:10:34.000Z",
                                 "to": "2023-12-19T00:18:18.000Z"}
    # The live state: one active alert, and the status map shows only it.
    active = server.get("/api/v1/alerts/active", token=None).json()["alerts"]
    assert [a["region"] for a in active] == [KYIV]
    status = server.get("/api/v1/status", token=None).json()["regions"]
    assert [c for c, s in status.items() if s["air_raid"] != "N"] == [KYIV]
    # The history list runs through both, newest first, without gaps or repeats.
    first = server.get("/api/v1/history?limit=3", token=None).json()
    assert first["alerts"][0]["imported"] is False and first["alerts"][0]["region"] == KYIV
    assert all(a["imported"] for a in first["alerts"][1:])
    live_only = server.get("/api/v1/history?imported=false", token=None).json()["alerts"]
    assert len(live_only) == 1
    drills = server.get("/api/v1/history?status=exercise", token=None).json()["alerts"]
    assert drills == []


def test_paging_through_live_and_imported_alerts(imported: tuple[Server, str]) -> None:
    server, _ = imported
    query = f"region={KYIV}&from=2022-06-01T00:00:00Z&to=2022-09-01T00:00:00Z"
    whole = server.get(f"/api/v1/history?limit=5000&{query}", token=None).json()["alerts"]
    assert whole and whole[-1]["started_at"] >= "2022-05-31"
    paged: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = server.get(f"/api/v1/history?limit=7&{query}{cursor}", token=None).json()
        paged += page["alerts"]
        if page["next"] is None:
            break
        cursor = f"&cursor={page['next']}"
    assert [a["id"] for a in paged] == [a["id"] for a in whole]
    keys = [(a["started_at"], a["id"]) for a in paged]
    assert [k[0] for k in keys] == sorted((k[0] for k in keys), reverse=True)
    bad = server.get("/api/v1/history?cursor=bm9wZQ", token=None)
    assert bad.status == 400 and bad.json()["error"]["field"] == "cursor"


def test_importing_twice_adds_nothing_and_the_other_language_adds_only_what_is_new(
        tmp_path: Path) -> None:
    db = tmp_path / "twice.db"
    run_cli("import-history", str(OFFICIAL_UK), db=db)
    again = run_cli("import-history", str(OFFICIAL_UK), db=db)
    assert "already imported" in again.stdout and "nothing added" in again.stdout
    assert [e.kind for e in events_of(db)] == ["history.imported"]
    # The English copy holds the same alerts and four more months: only those are added.
    english = json.loads(run_cli("import-history", str(OFFICIAL_EN), "--json", db=db).stdout)
    with OFFICIAL_UK.open(newline="", encoding="utf-8") as handle:
        known = {(r["started_at"], r["finished_at"]) for r in csv.DictReader(handle)}
    with OFFICIAL_EN.open(newline="", encoding="utf-8") as handle:
        newer = sum(1 for r in csv.DictReader(handle)
                    if (r["started_at"], r["finished_at"]) not in known)
    assert english["rows"] == 43031 and english["resolved"] == 43031
    # Every row of the English file resolved to the region its Ukrainian twin did (or the
    # twin would not have been recognised), and the store holds each English row once.
    assert english["added"] == newer and english["already_in_history"] == 43031 - newer
    assert [e.kind for e in events_of(db)] == ["history.imported"] * 2
    reader = HistoryReader(db)
    try:
        stored = Counter((minute(a.started_at), minute(a.ended_at)) for a in reader.alerts())
    finally:
        reader.close()
    with OFFICIAL_EN.open(newline="", encoding="utf-8") as handle:
        assert stored == Counter((minute(r["started_at"]), minute(r["finished_at"]))
                                 for r in csv.DictReader(handle))


def test_unresolved_rows_are_listed_and_volunteer_rows_marked(tmp_path: Path) -> None:
    record = tmp_path / "volunteer_data_en.csv"
    record.write_text(
        "region,started_at,finished_at,naive\n"
        "Kyiv City,2022-02-25 16:36:22+00:00,2022-02-25 17:06:22+00:00,True\n"
        "Cherkaska oblast,2022-02-25 18:36:21+00:00,2022-02-25 19:32:11+00:00,False\n"
        "Atlantis oblast,2022-02-25 18:40:00+00:00,2022-02-25 19:00:00+00:00,False\n"
        "Zakarpatska oblast,2022-02-26 10:00:00+00:00,2022-02-26 09:00:00+00:00,False\n",
        "utf-8")
    db = tmp_path / "volunteer.db"
    result = run_cli("import-history", str(record), db=db)
    assert "4 rows, 2 resolved, 2 added" in result.stdout
    assert "row 4: Atlantis oblast: no region is named 'Atlantis oblast'" in result.stdout
    assert "row 5: Zakarpatska oblast: ends before it starts" in result.stdout
    listed = json.loads(run_cli("history", "--json", db=db).stdout)["alerts"]
    assert [(a["region_name_en"], a["source"], a["end_estimated"]) for a in listed] == [
        ("Cherkasy Oblast", "volunteer", False), ("Kyiv", "volunteer", True)]
    assert "[imported: volunteer]" in run_cli("history", db=db).stdout


def test_a_file_that_is_not_a_record_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b,c\n1,2,3\n", "utf-8")
    result = run_cli("import-history", str(other), db=tmp_path / "x.db", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: other.csv: not a record")
    assert "Traceback" not in result.stderr
    assert events_of(tmp_path / "x.db") == []


# ---- statistics -----------------------------------------------------------------------------


def union_seconds(intervals: list[tuple[float, float]], low: float, high: float) -> float:
    total, end = 0.0, low
    for start, stop in sorted(intervals):
        start, stop = max(start, end, low), min(stop, high)
        if stop > start:
            total += stop - start
            end = stop
    return total


def test_statistics_agree_with_the_csv(imported: tuple[Server, str]) -> None:
    server, _ = imported
    low, high = "2023-05-01T00:00:00+03:00", "2023-06-01T00:00:00+03:00"
    period = f"from={quote(low)}&to={quote(high)}"
    answer = server.get(f"/api/v1/history/stats?region={KYIV}&{period}&imported=true",
                        token=None)
    assert answer.status == 200, answer.body
    [kyiv] = answer.json()["regions"]
    start, stop = parse_time(low).timestamp(), parse_time(high).timestamp()
    with OFFICIAL_UK.open(newline="", encoding="utf-8") as handle:
        rows = [(parse_time(r["started_at"].replace(" ", "T")).timestamp(),
                 parse_time(r["finished_at"].replace(" ", "T")).timestamp())
                for r in csv.DictReader(handle) if r["oblast"] == "м. Київ"]
    assert kyiv["alerts"] == sum(1 for a, _ in rows if start <= a < stop) > 0
    assert kyiv["total_seconds"] == round(union_seconds(rows, start, stop))
    assert sum(h["seconds"] for h in kyiv["by_hour"]) == pytest.approx(kyiv["total_seconds"],
                                                                        abs=24)
    assert sum(h["alerts"] for h in kyiv["by_hour"]) == kyiv["alerts"]
    assert [m["month"] for m in kyiv["by_month"]] == ["2023-05"]
    assert kyiv["longest_seconds"] == max(
        round(min(b, stop) - max(a, start)) for a, b in rows if a < stop and b > start)

    # The default: every oblast and Kyiv; CSV export of the same.
    every = server.get("/api/v1/history/stats?imported=true", token=None).json()["regions"]
    assert len(every) == 27
    assert next(r for r in every if r["region"] == KYIV)["alerts"] == len(rows)
    table = server.get(f"/api/v1/history/stats?region={KYIV}&format=csv&{period}"
                       "&imported=true", token=None)
    assert table.headers["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(table.body.decode().splitlines()))
    assert lines[0] == ["region", "name_en", "name_uk", "group", "bucket", "alerts", "seconds",
                        "longest_seconds"]
    assert lines[1][:7] == [KYIV, "Kyiv", "Київ", "total", "", str(kyiv["alerts"]),
                            str(kyiv["total_seconds"])]
    assert len(lines) == 1 + 1 + 24 + 1

    bad = server.get("/api/v1/history/stats?format=xml", token=None)
    assert bad.status == 400 and bad.json()["error"]["field"] == "format"
    unknown = server.get("/api/v1/history/stats?region=UA99", token=None)
    assert unknown.status == 404 and unknown.json()["error"]["code"] == "region_not_found"


def test_stats_command_exports_csv_and_json(imported: tuple[Server, str],
                                            tmp_path: Path) -> None:
    server, _ = imported
    out = tmp_path / "kyiv.csv"
    run_cli("stats", "--region", "Kyiv", "--from", "2023-05-01", "--to", "2023-06-01",
            "--imported", "only", "--format", "csv", "--output", str(out), db=server.db)
    api = server.get(f"/api/v1/history/stats?region={KYIV}&from=2023-05-01T00:00:00%2B03:00"
                     "&to=2023-06-01T00:00:00%2B03:00&imported=true&format=csv",
                     token=None).body.decode()
    assert out.read_text("utf-8") == api
    as_json = json.loads(run_cli("stats", "--region", KYIV, "--format", "json",
                                 db=server.db).stdout)
    [kyiv] = as_json["regions"]
    # Live and imported together: the record's alerts and the one live alert.
    assert kyiv["alerts"] == server.get(f"/api/v1/history/stats?region={KYIV}",
                                        token=None).json()["regions"][0]["alerts"]
    table = run_cli("stats", db=server.db).stdout
    assert "Kyiv" in table and "Dnipropetrovsk Oblast" in table


def test_stats_count_live_alerts_but_never_drills(tmp_path: Path, service: Service,
                                                  catalogue: Catalogue) -> None:
    admin = Actor("admin")
    service.handle(
        admin,
        Declare.of(regions=[KYIV], started_at="2023-05-20T00:41:31+03:00", type="air_raid"),
    )
    service.handle(
        admin,
        Declare.of(
            regions=[KYIV],
            status="exercise",
            started_at="2023-05-20T01:00:00+03:00",
            type="air_raid",
        ),
    )
    service.handle(
        admin,
        EndByRegion.of(region=KYIV, ended_at="2023-05-20T03:01:35+03:00", type="air_raid"),
    )
    from tryvoga.domain.stats import compute
    from tryvoga.query.records import spans

    now = datetime.fromisoformat("2023-05-21T00:00:00+00:00")
    [kyiv] = compute(catalogue, spans(service.state, None, service.state.alerts[1].type,
                                      now=now), [KYIV], None, now.timestamp())
    assert kyiv.alerts == 1 and round(kyiv.total_seconds) == 2 * 3600 + 20 * 60 + 4
    assert [h for h, b in enumerate(kyiv.by_hour) if b.alerts] == [0]  # 00:41 Kyiv time
    assert [h for h, b in enumerate(kyiv.by_hour) if b.seconds] == [0, 1, 2, 3]


# ---- one alert however many records hold it; the CLI's and the API's inputs ------------------


def kyiv_may_2023(tmp: Path) -> tuple[Path, Path, int]:
    """Kyiv's alerts of May 2023 (UTC) from the official and the volunteer record, as files of
    their own, and how many of the official ones started in May Kyiv time."""
    official, volunteer = tmp / "official_data_uk.csv", tmp / "volunteer_data_en.csv"
    with OFFICIAL_UK.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    kept = [r for r in rows[1:] if r[0] == "м. Київ" and r[4].startswith("2023-05")]
    with official.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([rows[0], *kept])
    with VOLUNTEER_EN.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    with volunteer.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([rows[0], *(r for r in rows[1:] if r[0] == "Kyiv City"
                                                and r[1].startswith("2023-05"))])
    low, high = parse_time("2023-05-01T00:00+03:00"), parse_time("2023-06-01T00:00+03:00")
    in_may = sum(1 for r in kept if low <= parse_time(r[4].replace(" ", "T")) < high)
    return official, volunteer, in_may


@pytest.fixture(scope="module")
def both_records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on a database holding the official and the volunteer record of Kyiv's May."""
    tmp = tmp_path_factory.mktemp("both")
    db = tmp / "both.db"
    official, volunteer, _ = kyiv_may_2023(tmp)
    run_cli("import-history", str(official), db=db)
    run_cli("import-history", str(volunteer), db=db)
    server = start_server(tmp, db=db)
    yield server
    stop_server(server)


def cli_stats(db: Path, *args: str) -> dict[str, Any]:
    answer = run_cli("stats", "--region", "Kyiv", "--from", "2023-05-01", "--to", "2023-06-01",
                     "--format", "json", *args, db=db)
    [kyiv] = json.loads(answer.stdout)["regions"]
    assert isinstance(kyiv, dict)
    return kyiv


def test_an_alert_in_both_records_counts_once(both_records: Server, tmp_path: Path) -> None:
    server = both_records
    _, _, in_may = kyiv_may_2023(tmp_path)
    official = cli_stats(server.db, "--source", "official")
    volunteer = cli_stats(server.db, "--source", "volunteer")
    both = cli_stats(server.db)
    assert official["alerts"] == volunteer["alerts"] == in_may == 33
    # The same 33 alerts, told twice, are 33 alerts; each hour's count likewise.
    assert both["alerts"] == 33
    assert sum(h["alerts"] for h in both["by_hour"]) == 33
    assert [h["alerts"] for h in both["by_hour"]] == [h["alerts"] for h in official["by_hour"]]
    assert [m["alerts"] for m in both["by_month"]] == [33]
    # The time under alert is the union of both: never less than either, never their sum.
    assert max(official["total_seconds"], volunteer["total_seconds"]) <= \
        both["total_seconds"] < official["total_seconds"] + 3600
    # The API counts the same way.
    period = f"region={KYIV}&from=2023-05-01&to=2023-06-01"
    [api] = server.get(f"/api/v1/history/stats?{period}", token=None).json()["regions"]
    assert api == both
    [api_official] = server.get(f"/api/v1/history/stats?{period}&source=official",
                                token=None).json()["regions"]
    assert api_official == official


def test_stats_count_a_live_alert_and_its_imported_copy_once(catalogue: Catalogue) -> None:
    from tryvoga.domain.stats import Span, compute

    def at(text: str) -> float:
        return parse_time(text).timestamp()

    spans = [Span(KYIV, at("2023-05-19T21:41:31Z"), at("2023-05-20T00:01:35Z")),  # official
             Span(KYIV, at("2023-05-19T21:41:43Z"), at("2023-05-20T00:01:46Z")),  # volunteer
             Span(KYIV, at("2023-05-19T21:41:40Z"), at("2023-05-20T00:01:30Z")),  # live
             Span(KYIV, at("2023-05-20T10:00:00Z"), at("2023-05-20T10:30:00Z"))]  # another
    [kyiv] = compute(catalogue, spans, [KYIV], None, at("2023-05-21T00:00:00Z"))
    assert kyiv.alerts == 2
    assert kyiv.total_seconds == at("2023-05-20T00:01:46Z") - at("2023-05-19T21:41:31Z") + 1800


def test_the_api_takes_plain_dates_as_the_cli_does(both_records: Server) -> None:
    server = both_records
    by_date = server.get(f"/api/v1/history/stats?region={KYIV}&from=2023-05-01&to=2023-06-01",
                         token=None)
    assert by_date.status == 200, by_date.body
    iso = server.get(f"/api/v1/history/stats?region={KYIV}&from=2023-05-01T00:00:00%2B03:00"
                     "&to=2023-06-01T00:00:00%2B03:00", token=None).json()
    body = by_date.json()
    # A date is midnight at its start, Kyiv time (EEST in May, +03:00).
    assert (body["from"], body["to"]) == ("2023-04-30T21:00:00.000Z", "2023-05-31T21:00:00.000Z")
    assert body["regions"] == iso["regions"]
    assert server.get("/api/v1/history/stats?from=2026-01-01", token=None).status == 200
    assert body["regions"] == json.loads(run_cli(
        "stats", "--region", KYIV, "--from", "2023-05-01", "--to", "2023-06-01", "--format",
        "json", db=server.db).stdout)["regions"]
    # The history list reads its period the same way.
    listed = server.get(f"/api/v1/history?region={KYIV}&from=2023-05-30&to=2023-05-31",
                        token=None).json()["alerts"]
    assert listed == server.get(f"/api/v1/history?region={KYIV}"
                                "&from=2023-05-30T00:00:00%2B03:00"
                                "&to=2023-05-31T00:00:00%2B03:00", token=None).json()["alerts"]
    assert {a["started_at"][:10] for a in listed} == {"2023-05-29"}  # 23:06 UTC is the 30th
    for bad in ("2023-13-01", "yesterday", "2023-05-01T00:00:00"):
        for path in ("/api/v1/history/stats", "/api/v1/history"):
            answer = server.get(f"{path}?from={bad}", token=None)
            assert answer.status == 400, (path, bad)
            assert answer.json()["error"]["field"] == "from"
            assert "midnight Kyiv time" in answer.json()["error"]["message"]


def test_history_limit_is_checked(both_records: Server) -> None:
    for limit in ("0", "-5", "5001"):
        result = run_cli("history", "--region", "Kyiv", "--limit", limit, db=both_records.db,
                         check=False)
        assert result.returncode == 1, limit
        assert result.stderr == f"error: --limit must be between 1 and 5000, not {limit}\n"
        assert result.stdout == ""
    one = run_cli("history", "--region", "Kyiv", "--limit", "1", "--json", db=both_records.db)
    [newest] = json.loads(one.stdout)["alerts"]
    assert newest["started_at"].startswith("2023-05-31")


def test_stats_to_a_file_that_cannot_be_written(both_records: Server, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "x.csv"
    result = run_cli("stats", "--region", "Kyiv", "--format", "csv", "-o", str(target),
                     db=both_records.db, check=False)
    assert result.returncode == 1
    assert result.stderr == (f"error: --output: cannot write {target}: No such file or "
                             "directory\n")
    assert not target.parent.exists()


def test_stats_regions_by_default_are_the_27_the_docs_name(both_records: Server) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "ingest.md").read_text("utf-8")
    assert "By default the 27 top-level regions: the 24 oblasts, Crimea, and the cities" in docs
    table = run_cli("stats", db=both_records.db).stdout.splitlines()
    assert len(table) == 1 + 27
    assert any(line.startswith("Sevastopol") for line in table)
    assert any(line.startswith("Autonomous Republic of Crimea") for line in table)
    helped = " ".join(run_cli("stats", "--help", db=None).stdout.split())
    assert "the 27 top-level regions: 24 oblasts, Crimea, Kyiv and Sevastopol" in helped
    regions = both_records.get("/api/v1/history/stats", token=None).json()["regions"]
    assert len(regions) == 27


def test_a_record_of_which_nothing_resolves_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "nothing.db"
    record = tmp_path / "volunteer_data_x.csv"
    record.write_text("region,started_at,finished_at,naive\n"
                      "Atlantis oblast,2022-02-25 18:40:00+00:00,2022-02-25 19:00:00+00:00,"
                      "False\n"
                      "Lemuria oblast,2022-02-25 18:40:00+00:00,2022-02-25 19:00:00+00:00,"
                      "False\n", "utf-8")
    result = run_cli("import-history", str(record), db=db, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[-1] == ("error: volunteer_data_x.csv: none of its 2 rows resolved to a region "
                         "and valid times; nothing imported")
    assert "row 2: Atlantis oblast: no region is named 'Atlantis oblast' there" in lines[0]
    assert "None" not in result.stderr
    empty = tmp_path / "volunteer_data_y.csv"
    empty.write_text("region,started_at,finished_at,naive\n", "utf-8")
    result = run_cli("import-history", str(empty), db=db, check=False)
    assert result.returncode == 1
    assert result.stderr == "error: volunteer_data_y.csv: it holds no rows; nothing imported\n"
    assert events_of(db) == []


def test_import_shows_progress_only_on_a_terminal(tmp_path: Path) -> None:
    official, _, _ = kyiv_may_2023(tmp_path)
    rows = len(official.read_text("utf-8").splitlines()) - 1
    piped = run_cli("import-history", str(official), db=tmp_path / "piped.db")
    assert piped.stderr == ""
    assert piped.stdout.startswith(f"imported {official.name} (official record): {rows} rows")
    # On a terminal, the bar and the writing step show on stderr; the summary on stdout.
    stdout, stderr = run_on_terminal("import-history", str(official), "--db",
                                     str(tmp_path / "tty.db"))
    assert f"reading {official.name}" in stderr and f"writing {rows} alerts" in stderr
    assert stdout.startswith(f"imported {official.name}")


def run_on_terminal(*args: str) -> tuple[str, str]:
    """Run ``tryvoga`` with stderr on a pseudo-terminal; returns stdout and what the terminal
    showed."""
    import os
    import pty
    import subprocess

    from ..conftest import TRYVOGA

    master, slave = pty.openpty()
    with subprocess.Popen([*TRYVOGA, *args], stdout=subprocess.PIPE, stderr=slave) as process:
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side closed
                break
            if not chunk:
                break
            shown += chunk
        assert process.stdout is not None
        stdout = process.stdout.read().decode()
        assert process.wait(timeout=60) == 0, shown
    os.close(master)
    return stdout, shown.decode(errors="replace")
