"""Atom and RSS feeds: what they list, how they link, and that a busy night is paged small but
complete."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from tryvoga.cap import feeds
from tryvoga.cap.projection import CapProjection
from tryvoga.cap.render import Publisher, cap_time
from tryvoga.cap.sources import items, next_page
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


def walk(first: bytes, get: Callable[[str], bytes]) -> list[bytes]:
    """Every page of a feed, following its next links, as Tryvoga's own ingest reads them."""
    pages = [first]
    while (link := next_page(etree.fromstring(pages[-1]), "https://warnings.example.org")):
        assert len(pages) < 50, "the pages do not end"
        pages.append(get(link))
    return pages


def test_a_busy_night_is_paged_under_100_kb_and_lists_every_active_alert(
        catalogue: Catalogue) -> None:
    log = busy_night(catalogue)
    projection = CapProjection(catalogue)
    projection.apply_all(log.events)
    assert len(projection.messages) > 900
    listed = projection.feed("2023-05-20T06:00:00.000Z", feeds.RECENT_SECONDS)
    active = {f"alert:{a.id}" for a in projection.state.active_alerts()}
    assert len(active) > 200 and active <= {m.chain for m in listed}
    base = "https://warnings.example.org"
    updated = projection.state.last_time
    length = {m.seq: len(PUBLISHER.render(m, catalogue)) for m in listed}

    def cursor(url: str) -> int | None:
        query = parse_qs(urlsplit(url).query)
        assert set(query) <= {"before"}, url
        return int(query["before"][0]) if query else None

    def atom_page(url: str) -> bytes:
        assert url.startswith(base + "/cap/feed.atom")
        return feeds.atom(listed, PUBLISHER, catalogue, base, updated, cursor(url))

    def rss_page(url: str) -> bytes:
        assert url.startswith(base + "/cap/feed.rss")
        return feeds.rss(listed, PUBLISHER, catalogue, base, updated, lambda m: length[m.seq],
                         cursor(url))

    for kind, get in (("atom", atom_page), ("rss", rss_page)):
        pages = walk(get(f"{base}/cap/feed.{kind}"), get)
        assert len(pages) > 2, kind
        assert all(len(page) < 100_000 for page in pages), [len(p) for p in pages]
        found = [item for page in pages for item in items(etree.fromstring(page), base)]
        ids = [item.key.split("|")[0] for item in found]
        # Every entry once, on some page: nothing left out, nothing doubled.
        assert sorted(ids) == sorted(PUBLISHER.identifier(m.seq) for m in listed), kind
        assert all(item.problem is None and item.url is not None for item in found)
        # Newest first across the pages (items() gives each page oldest first).
        seqs = [int(i.rsplit(":", 1)[1]) for page in pages
                for i in reversed([it.key.split("|")[0]
                                   for it in items(etree.fromstring(page), base)])]
        assert seqs == sorted(seqs, reverse=True)

    root = etree.fromstring(atom_page(f"{base}/cap/feed.atom"))
    entries = root.findall("a:entry", ATOM)
    assert entries[0].findtext("a:id", namespaces=ATOM) == PUBLISHER.identifier(
        max(m.seq for m in listed))
    for entry in entries:
        seq = int((entry.findtext("a:id", namespaces=ATOM) or "").rsplit(":", 1)[1])
        assert entry.findtext("a:updated", namespaces=ATOM) == cap_time(
            projection.messages[seq].time)
        link = entry.find("a:link", ATOM)
        assert link is not None and link.get("type") == "application/cap+xml"
        assert link.get("href") == base + PUBLISHER.path(seq)
    # The first page says where the next starts (RFC 5005), before its entries; a later page
    # points back at the first.
    links = root.findall("a:link", ATOM)
    assert [link.get("rel") for link in links] == ["self", "alternate", "next"]
    assert list(root).index(links[-1]) < list(root).index(entries[0])
    second = etree.fromstring(atom_page(links[-1].get("href") or ""))
    assert {link.get("rel"): link.get("href") for link in second.findall("a:link", ATOM)}[
        "first"] == base + "/cap/feed.atom"

    # RSS: each item's enclosure is the CAP message, with its type and its length in bytes.
    channel = etree.fromstring(rss_page(f"{base}/cap/feed.rss")).find("channel")
    assert channel is not None
    for item in channel.findall("item"):
        seq = int((item.findtext("guid") or "").rsplit(":", 1)[1])
        enclosure = item.find("enclosure")
        assert enclosure is not None
        assert dict(enclosure.items()) == {"url": base + PUBLISHER.path(seq),
                                           "type": "application/cap+xml",
                                           "length": str(length[seq])}
    assert channel.find("a:link[@rel='next']", ATOM) is not None


def test_a_change_while_a_reader_walks_the_pages_skips_nothing_still_listed(
        catalogue: Catalogue) -> None:
    log = busy_night(catalogue)
    projection = CapProjection(catalogue)
    projection.apply_all(log.events[:-5])
    now = "2023-05-20T06:00:00.000Z"
    base = "https://warnings.example.org"
    before = projection.feed(now, feeds.RECENT_SECONDS)
    first = etree.fromstring(feeds.atom(before, PUBLISHER, catalogue, base,
                                        projection.state.last_time))
    # Then five more changes, among them chains listed on the first page already.
    projection.apply_all(log.events[-5:])
    after = projection.feed(now, feeds.RECENT_SECONDS)
    link = next_page(first, base)
    seen = {i.key.split("|")[0] for i in items(first, base)}
    while link:
        cursor = int(parse_qs(urlsplit(link).query)["before"][0])
        page = etree.fromstring(feeds.atom(after, PUBLISHER, catalogue, base,
                                           projection.state.last_time, cursor))
        seen |= {i.key.split("|")[0] for i in items(page, base)}
        link = next_page(page, base)
    new = {m.seq for m in after} - {m.seq for m in before}
    assert len(new) == 5
    # Everything listed now was read, but for the new messages: those are on the first page,
    # whose ETag has changed, so the reader's next poll takes them.
    assert {PUBLISHER.identifier(m.seq) for m in after if m.seq not in new} <= seen


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
