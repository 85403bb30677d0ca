"""Atom and RSS feeds: what they list, how they link, and that a busy night stays small."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from tryvoga.cap import feeds
from tryvoga.cap.projection import CapProjection
from tryvoga.cap.render import Publisher, cap_time
from tryvoga.domain.events import GENESIS_HASH, Event, Kind, format_time, make_event
from tryvoga.domain.regions import Catalogue, Level
from tryvoga.service import Actor, Service
from tryvoga.storage.sqlite import SQLiteStorage

from .conftest import kyiv_night

ATOM = {"a": feeds.ATOM_NS}
PUBLISHER = Publisher(sender="cap@tryvoga.test", sender_name="Test authority")


class SyntheticLog:
    """A log written event by event, as the Service would, ten seconds apart."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, kind: Kind, payload: dict[str, Any]) -> None:
        moment = datetime(2023, 5, 19, 18, tzinfo=UTC) + timedelta(seconds=10 * len(self.events))
        time = format_time(moment)
        previous = self.events[-1].hash if self.events else GENESIS_HASH
        self.events.append(make_event(len(self.events) + 1, time, "test", kind.value, payload,
                                      previous))


def busy_night(catalogue: Catalogue) -> SyntheticLog:
    """Every oblast and raion and 300 hromadas under alert, with threats changing, half of
    them ended, and incidents reported: far busier than any night so far."""
    log = SyntheticLog()
    regions = [r.code for r in catalogue.at_level(Level.OBLAST, Level.SPECIAL_CITY, Level.RAION)]
    regions += [r.code for r in catalogue.at_level(Level.HROMADA)][:300]
    for alert_id, code in enumerate(regions, start=1):
        log.add(Kind.ALERT_DECLARED, {
            "alert_id": alert_id, "region": code, "type": "air_raid", "status": "actual",
            "threats": [{"type": "drones", "level": "yellow"}], "source": "Regional military "
            "administration", "note": "", "shelter_seconds": 120})
    for alert_id in range(1, len(regions) + 1, 2):
        log.add(Kind.ALERT_UPDATED, {"alert_id": alert_id, "region": regions[alert_id - 1],
                                     "type": "air_raid",
                                     "threats": [{"type": "ballistic", "level": "red"}]})
    for incident_id in range(1, 41):
        log.add(Kind.INCIDENT_REPORTED, {
            "incident_id": incident_id, "kind": "debris", "region": regions[incident_id],
            "status": "preliminary", "source": "State Emergency Service",
            "description": "Debris fell on a residential building", "alert_id": incident_id + 1})
    for alert_id in range(2, len(regions) + 1, 2):
        log.add(Kind.ALERT_ENDED, {"alert_id": alert_id, "region": regions[alert_id - 1],
                                   "type": "air_raid"})
    return log


def test_a_busy_night_stays_under_100_kb(catalogue: Catalogue) -> None:
    log = busy_night(catalogue)
    projection = CapProjection(catalogue)
    projection.apply_all(log.events)
    assert len(projection.messages) > 900
    listed = projection.feed("2023-05-20T06:00:00.000Z", feeds.RECENT_SECONDS)
    base = "https://warnings.example.org"
    atom = feeds.atom(listed, PUBLISHER, catalogue, base, projection.state.last_time)
    rss = feeds.rss(listed, PUBLISHER, catalogue, base, projection.state.last_time)
    assert len(atom) < 100_000 and len(rss) < 100_000
    root = etree.fromstring(atom)
    entries = root.findall("a:entry", ATOM)
    assert len(entries) > 100
    assert len(etree.fromstring(rss).findall("channel/item")) > 100
    # Newest first; each entry names its CAP message and links to its XML.
    assert entries[0].findtext("a:id", namespaces=ATOM) == PUBLISHER.identifier(
        max(m.seq for m in listed))
    for entry in entries:
        seq = int((entry.findtext("a:id", namespaces=ATOM) or "").rsplit(":", 1)[1])
        assert entry.findtext("a:updated", namespaces=ATOM) == cap_time(
            projection.messages[seq].time)
        link = entry.find("a:link", ATOM)
        assert link is not None and link.get("type") == "application/cap+xml"
        assert link.get("href") == base + PUBLISHER.path(seq)


def test_the_feed_lists_active_alerts_and_recent_changes_once_each(
        service: Service, admin: Actor, storage: SQLiteStorage, catalogue: Catalogue) -> None:
    ids = kyiv_night(service, admin)
    projection = CapProjection(catalogue)
    projection.apply_all(storage.iter_events())
    listed = projection.feed("2099-01-01T00:00:00.000Z", feeds.RECENT_SECONDS)
    chains = [m.chain for m in listed]
    assert len(chains) == len(set(chains))  # one entry per chain: its newest message
    assert {f"alert:{ids['kyiv']}", f"alert:{ids['lviv']}", f"alert:{ids['drill']}",
            f"alert:{ids['test']}", f"incident:{ids['fire']}"} <= set(chains)
    newest = {m.chain: m for m in listed}
    assert newest[f"alert:{ids['kyiv']}"].phase.value == "ended"
    assert [m.seq for m in listed] == sorted((m.seq for m in listed), reverse=True)
