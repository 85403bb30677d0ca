"""The public pages over HTTP, without a browser: geometry, server-rendered state, region pages."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import Server, start_server, stop_server
from tests.regions import KYIV
from tryvoga.api.formats import outbox
from tryvoga.commands import Declare
from tryvoga.domain.events import format_time
from tryvoga.domain.regions import Catalogue
from tryvoga.domain.state import State
from tryvoga.service import Actor, Service
from tryvoga.web.public import LAYERS, drawn_codes, layer, marks

RAION = "UA63020000000066931"  # Bohodukhivskyi raion, Kharkiv oblast
OBLAST = "UA63000000000041885"  # Kharkiv oblast
HROMADA = "UA63040010000010092"  # Balakliiska hromada, Iziumskyi raion
HROMADA_RAION = "UA63040000000023521"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("web"))
    yield running
    stop_server(running)


def attribute(page: str, code: str) -> str | None:
    """The ``data-s`` of the first shape of a region in a rendered page."""
    found = re.search(rf'<path d="[^"]*" data-code="{code}"(?: data-s="(\w)")?', page)
    assert found is not None, f"{code} is not drawn"
    return found.group(1)


def test_every_layer_is_served_with_etag_and_gzip(srv: Server, catalogue: Catalogue) -> None:
    for name in LAYERS:
        plain = srv.get(f"/geo/{name}.json", token=None)
        assert plain.status == 200
        doc = plain.json()
        assert doc["layer"] == name and doc["features"]
        assert all(f["code"] in catalogue for f in doc["features"])
        assert "OpenStreetMap" in doc["attribution"] or "Natural Earth" in doc["attribution"]
        etag = plain.headers["ETag"]
        assert srv.get(f"/geo/{name}.json", token=None,
                       headers={"If-None-Match": etag}).status == 304
        zipped = srv.get(f"/geo/{name}.json", token=None, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert json.loads(gzip.decompress(zipped.body)) == doc
    assert len(layer("raions")["features"]) == 136
    assert len(layer("hromadas")["features"]) == 1469
    assert srv.get("/geo/nothing.json", token=None).json()["error"]["code"] == "not_found"
    script = srv.get("/static/map.js", token=None, headers={"Accept-Encoding": "gzip"})
    assert script.status == 200 and script.headers["Content-Encoding"] == "gzip"
    assert script.headers["Content-Type"].startswith("text/javascript")
    for missing in ("/static/nothing.js", "/static/map-raions.json", "/static/..%2Fi18n.py"):
        assert srv.get(missing, token=None).status == 404, missing


def test_the_map_page_carries_the_state_and_no_outside_reference(srv: Server) -> None:
    declared = srv.post("/api/v1/alerts", {"regions": [RAION], "type": "air_raid",
                                           "threats": [{"type": "drones", "level": "red"}]})
    assert declared.status == 201, declared.body
    try:
        page = srv.get("/", token=None).body.decode()
        assert attribute(page, RAION) == "a"
        assert attribute(page, HROMADA_RAION) is None
        assert "Богодухівський район" in page and "ударні БпЛА" in page
        assert "© OpenStreetMap contributors" in page
        # Nothing from another host: every URL in the page is relative to this one.
        assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
        served = srv.get("/", token=None)
        assert "default-src 'self'" in served.headers["Content-Security-Policy"]
        english = srv.get("/?lang=en", token=None)
        assert "Bohodukhivskyi Raion" in english.body.decode()
        assert "lang=en" in english.headers["Set-Cookie"]
    finally:
        srv.post("/api/v1/alerts/end", {"region": RAION, "type": "air_raid"})


def test_state_json_marks_a_hromada_and_its_raion(srv: Server) -> None:
    srv.post("/api/v1/alerts", {"regions": [HROMADA], "type": "air_raid",
                                "threats": [{"type": "guided_bombs", "level": "yellow"}]})
    try:
        state = srv.get("/map/state.json", token=None).json()
        assert state["marks"][HROMADA] == "y"
        assert state["marks"][HROMADA_RAION] == "p"
        assert state["marks"][OBLAST] == "p"
        assert state["hromadas"] is True
        assert "Балаклійська" in state["panel"]
        page = srv.get("/", token=None).body.decode()
        assert attribute(page, HROMADA) == "y"  # the server draws marked hromadas itself
    finally:
        srv.post("/api/v1/alerts/end", {"region": HROMADA, "type": "air_raid"})
    assert HROMADA not in srv.get("/map/state.json", token=None).json()["marks"]


def test_an_exercise_is_hatched_and_named(srv: Server) -> None:
    srv.post("/api/v1/alerts", {"regions": [OBLAST], "type": "air_raid", "status": "exercise"})
    try:
        state = srv.get("/map/state.json?lang=en", token=None).json()
        assert state["marks"][RAION] == "x" and state["marks"][OBLAST] == "x"
        assert "EXERCISE" in state["labels"] and "EXERCISE" in state["panel"]
        assert "not a real alert" in state["panel"]
        # A whole oblast shows on its raions: no hromada is drawn or fetched for it.
        assert state["hromadas"] is False and state["marks"][HROMADA] == "x"
        assert '<g id="hromadas"></g>' in srv.get("/", token=None).body.decode()
    finally:
        srv.post("/api/v1/alerts/end", {"region": OBLAST, "type": "air_raid",
                                        "status": "exercise"})


def test_embargoed_incidents_stay_off_the_page(srv: Server) -> None:
    later = format_time(datetime.now(UTC) + timedelta(hours=2))
    hidden = srv.post("/api/v1/incidents", {"region": KYIV, "kind": "fire", "source": "КМВА",
                                            "description": "секретна пожежа",
                                            "embargo_until": later})
    assert hidden.status == 201, hidden.body
    shown = srv.post("/api/v1/incidents", {"region": KYIV, "kind": "debris", "source": "КМВА",
                                           "description": "уламки на даху"})
    assert shown.status == 201, shown.body
    page = srv.get("/", token=None).body.decode()
    assert "уламки на даху" in page and "секретна пожежа" not in page
    assert "секретна пожежа" not in srv.get("/map/state.json", token=None).body.decode()


def test_region_page(srv: Server) -> None:
    assert srv.request("PUT", f"/api/v1/regions/{RAION}/settings",
                       {"shelter_seconds": 90}).status == 200
    srv.post("/api/v1/alerts", {"regions": [OBLAST], "type": "air_raid"})
    try:
        page = srv.get(f"/regions/{RAION}", token=None).body.decode()
        assert "Богодухівський район" in page
        assert "під тривогою" in page and "оголошено на рівні" in page  # inherited
        assert "Час до укриття" in page and "90" in page
        assert "Сусідні регіони" in page
        assert "/regions/UA63060000000053698" in page  # a raion sharing its border
        assert f"/api/v1/history/stats?region={RAION}&amp;format=csv" in page
        assert "Тривог на день" in page and "За годиною доби" in page
        status = srv.get(f"/regions/{RAION}/status?lang=en", token=None).body.decode()
        assert "under alert" in status
    finally:
        srv.post("/api/v1/alerts/end", {"region": OBLAST, "type": "air_raid"})
    missing = srv.get("/regions/UA00", token=None)
    assert missing.status == 404 and missing.json()["error"]["code"] == "region_not_found"


def test_marks_follow_the_rules(tmp_path: Path, catalogue: Catalogue) -> None:
    from tryvoga.storage.sqlite import SQLiteStorage

    storage = SQLiteStorage(tmp_path / "m.db")
    try:
        service = Service(storage, catalogue, outbox=outbox(catalogue))
        admin = Actor("admin")
        service.handle(admin, Declare.of(regions=[HROMADA], status="actual", type="air_raid"))
        service.handle(admin, Declare.of(regions=[OBLAST], status="test", type="air_raid"))
        state = State(catalogue)
        state.apply_all(storage.read_events(0))
        found = marks(state, drawn_codes())
        assert found[HROMADA] == "a"  # an actual alert wins over the test around it
        assert found[HROMADA_RAION] == "p"
        assert found[OBLAST] == "p"
        assert found[RAION] == "t"
        assert KYIV not in found
    finally:
        storage.close()


def test_region_history_includes_the_imported_official_record(tmp_path: Path) -> None:
    from tests.conftest import run_cli
    from tests.paths import OFFICIAL_UK

    db = tmp_path / "record.db"
    run_cli("import-history", str(OFFICIAL_UK), db=db)
    server = start_server(tmp_path, db=db)
    try:
        stats = server.get(f"/api/v1/history/stats?region={KYIV}").json()["regions"][0]
        assert stats["alerts"] > 100  # the record is there
        page = server.get(f"/regions/{KYIV}", token=None).body.decode()
        # The same figures as the statistics endpoint, which reads the same record.
        assert f"<p>{stats['alerts']} тривог, {stats['total_seconds'] / 3600:.1f} год.</p>" \
            in page
        for month in stats["by_month"]:
            assert f'<th scope="row">{month["month"]}</th>' in page
    finally:
        stop_server(server)


def test_yellow_and_red_as_the_state_says(tmp_path: Path, catalogue: Catalogue) -> None:
    """The map's red/yellow split agrees with State.effective_level for every drawn region."""
    from tryvoga.domain.model import ThreatLevel
    from tryvoga.storage.sqlite import SQLiteStorage

    storage = SQLiteStorage(tmp_path / "y.db")
    try:
        service = Service(storage, catalogue, outbox=outbox(catalogue))
        admin = Actor("admin")
        yellow = [{"type": "guided_bombs", "level": "yellow"}]
        red = [{"type": "missiles", "level": "red"}]
        service.handle(
            admin,
            Declare.of(regions=[HROMADA_RAION], threats=yellow, status="actual", type="air_raid"),
        )
        service.handle(
            admin,
            Declare.of(regions=[HROMADA], threats=red, status="actual", type="air_raid"),
        )
        service.handle(
            admin,
            Declare.of(regions=[RAION], threats=yellow, status="actual", type="air_raid"),
        )
        service.handle(admin, Declare.of(regions=[KYIV], status="actual", type="air_raid"))
        state = State(catalogue)
        state.apply_all(storage.read_events(0))
        found = marks(state, drawn_codes())
        for code, letter in found.items():
            if letter in ("a", "y"):
                expected = "y" if state.effective_level(code) is ThreatLevel.YELLOW else "a"
                assert letter == expected, code
        assert found[RAION] == "y" and found[HROMADA] == "a" and found[HROMADA_RAION] == "a"
        assert found[KYIV] == "a"
    finally:
        storage.close()


def test_a_drill_over_many_hromadas_is_labelled_once_per_oblast(tmp_path: Path,
                                                                catalogue: Catalogue) -> None:
    from tryvoga.domain.regions import Level
    from tryvoga.storage.sqlite import SQLiteStorage
    from tryvoga.web.public import drill_labels

    storage = SQLiteStorage(tmp_path / "d.db")
    try:
        service = Service(storage, catalogue, outbox=outbox(catalogue))
        inside = sorted(r.code for r in catalogue.at_level(Level.HROMADA)
                        if catalogue.is_within(r.code, OBLAST))[:5]
        service.handle(
            Actor("admin"),
            Declare.of(regions=inside, status="exercise", type="air_raid"),
        )
        service.handle(Actor("admin"), Declare.of(regions=[KYIV], status="test", type="air_raid"))
        state = State(catalogue)
        state.apply_all(storage.read_events(0))
        labels = drill_labels(state, "en")
        assert labels.count("EXERCISE") == 1 and labels.count("TEST") == 1
    finally:
        storage.close()
