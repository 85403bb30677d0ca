"""CAP from URLs: failed fetches are tried again, a bad link costs only its own entry, bad URLs
are refused in one line, and a paged feed is read to its end.

Another authority's feed is played by a plain ``http.server`` on 127.0.0.1 whose documents the
test changes while Tryvoga polls it; it answers conditional requests as a real server would.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lxml import etree

from tests.polling import wait_for
from tests.regions import LVIV_OBLAST, ODESA_OBLAST
from tryvoga.cap import sources
from tryvoga.cap.parse import CapRejected
from tryvoga.cap.sources import FetchFailed, items, next_page, read_pages
from tryvoga.domain.regions import Catalogue, Level

from ..conftest import Server, run_cli, start_server, stop_server
from .test_http import active

ATOM_NS = "http://www.w3.org/2005/Atom"
KHARKIV_ISO = "UA-63"
ODESA_ISO = "UA-51"


def message(identifier: str, iso: str) -> bytes:
    """A CAP Alert from another authority, naming its oblast by ISO 3166-2 code only."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier><sender>ova@other.example</sender>
  <sent>2023-05-20T00:41:31+03:00</sent><status>Actual</status><msgType>Alert</msgType>
  <scope>Public</scope>
  <info><language>en-US</language><category>Security</category><event>Air Raid Warning</event>
    <urgency>Immediate</urgency><severity>Extreme</severity><certainty>Observed</certainty>
    <senderName>Other Military Administration</senderName>
    <area><areaDesc>{iso}</areaDesc>
      <geocode><valueName>ISO3166-2</valueName><value>{iso}</value></geocode></area>
  </info>
</alert>""".encode()


def atom_feed(*entries: tuple[str, str], next_page: str | None = None) -> bytes:
    """An Atom feed of (id, href) entries, newest first, as publishers list them; a page of a
    paged feed when it names its next page."""
    body = "" if next_page is None else f'<link rel="next" href="{next_page}"/>'
    body += "".join(
        f'<entry><id>{entry_id}</id><title>{entry_id}</title>'
        f'<updated>2023-05-20T00:41:31+03:00</updated>'
        f'<link rel="alternate" type="application/cap+xml" href="{href}"/></entry>'
        for entry_id, href in entries)
    return (f'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="{ATOM_NS}"><id>urn:feed</id>'
            f'<title>Other</title><updated>2023-05-20T00:41:31+03:00</updated>{body}'
            f'</feed>').encode()


class Site:
    """Documents served on 127.0.0.1 with a strong ETag; every request is counted."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.requests: list[tuple[str, int]] = []  # (path, status)
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site.lock:
                    body = site.documents.get(self.path)
                etag = None if body is None else '"' + hashlib.sha256(body).hexdigest() + '"'
                if body is None:
                    status = 404
                elif self.headers.get("If-None-Match") == etag:
                    status = 304
                else:
                    status = 200
                with site.lock:
                    site.requests.append((self.path, status))
                self.send_response(status)
                if etag is not None:
                    self.send_header("ETag", etag)
                if status == 200 and body is not None:
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def put(self, path: str, body: bytes) -> None:
        with self.lock:
            self.documents[path] = body

    def count(self, path: str, status: int | None = None) -> int:
        with self.lock:
            return sum(1 for p, s in self.requests if p == path and status in (None, s))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    running = Site()
    yield running
    running.close()


def poller(tmp_path: Path, feed: str) -> Server:
    return start_server(tmp_path, env={"TRYVOGA_CAP_FEEDS": feed,
                                       "TRYVOGA_CAP_POLL_INTERVAL": "0.1"})


def regions(server: Server) -> set[str]:
    return {region for region, _, _, _ in active(server)}


def test_a_message_that_failed_to_fetch_is_fetched_again_at_the_next_poll(
        tmp_path: Path, site: Site) -> None:
    site.put("/feed.atom", atom_feed(("urn:other:1", site.base + "/m1.xml")))
    b = poller(tmp_path, site.base + "/feed.atom")
    try:
        wait_for(lambda: site.count("/m1.xml", 404) >= 1, "B to try the message")
        # The feed has not changed, but its message was not had: the next poll asks again.
        wait_for(lambda: site.count("/m1.xml", 404) >= 3, "B to try the message again")
        assert site.count("/feed.atom", 304) == 0  # the feed's validators were not kept
        site.put("/m1.xml", message("OTHER-1", "UA-46"))
        wait_for(lambda: regions(b) == {LVIV_OBLAST}, "B to take the message once it is there")
        # Every entry handled now: the validators are kept, and polls cost a 304.
        wait_for(lambda: site.count("/feed.atom", 304) >= 2, "B to poll with If-None-Match")
        log = b.log.read_text()
        assert "entry " + site.base + "/m1.xml not fetched, tried again at the next poll: " \
               "HTTP 404" in log
        assert "Traceback" not in log
    finally:
        stop_server(b)


def test_a_bad_link_is_that_entry_s_rejection_and_the_feed_goes_on(
        tmp_path: Path, site: Site) -> None:
    bad_port, bad_ipv6 = "http://127.0.0.1:abc/x.xml", "http://[::1/y.xml"
    site.put("/m2.xml", message("OTHER-2", KHARKIV_ISO))
    site.put("/m3.xml", message("OTHER-3", ODESA_ISO))
    site.put("/feed.atom", atom_feed(("urn:other:2", site.base + "/m2.xml"),
                                     ("urn:other:bad-port", bad_port),
                                     ("urn:other:bad-ipv6", bad_ipv6)))
    b = poller(tmp_path, site.base + "/feed.atom")
    try:
        wait_for(lambda: len(regions(b)) == 1, "B to take the good entry")
        wait_for(lambda: site.count("/feed.atom", 304) >= 2, "B's polls to settle on 304")
        # Something newer in the same feed is still taken.
        site.put("/feed.atom", atom_feed(("urn:other:3", site.base + "/m3.xml"),
                                         ("urn:other:2", site.base + "/m2.xml"),
                                         ("urn:other:bad-port", bad_port),
                                         ("urn:other:bad-ipv6", bad_ipv6)))
        wait_for(lambda: len(regions(b)) == 2, "B to take the newer entry")
        wait_for(lambda: site.count("/feed.atom", 304) >= 4, "B's polls to settle again")
        lines = b.log.read_text().splitlines()
        for link, reason in ((bad_port, "Port could not be cast to integer value as 'abc'"),
                             (bad_ipv6, "Invalid IPv6 URL")):
            said = [line for line in lines if f"rejected: {link}: not a valid URL" in line]
            # Once: a rejected entry is handled, not tried at every poll.
            assert len(said) == 1, said
            assert reason in said[0] and "(in " + site.base + "/feed.atom)" in said[0]
        assert not any("Traceback" in line or "poll failed" in line for line in lines)
    finally:
        stop_server(b)


def test_the_cli_refuses_bad_urls_in_one_line(tmp_path: Path, site: Site) -> None:
    db = tmp_path / "b.db"
    for source, reason in (("http://[::1", "not a valid URL (Invalid IPv6 URL)"),
                           ("http://127.0.0.1:abc/", "not a valid URL (Port could not be cast "
                                                     "to integer value as 'abc')"),
                           ("http://127.0.0.1:99999/", "not a valid URL (Port out of range")):
        done = run_cli("ingest", "cap", source, db=db, check=False)
        assert done.returncode == 1, (source, done.stdout, done.stderr)
        assert done.stderr == "", (source, done.stderr)
        assert done.stdout.count("\n") == 1, done.stdout
        assert done.stdout.startswith(f"rejected: {source}: {reason}"), done.stdout
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"junk")
    done = run_cli("ingest", "cap", str(junk), db=db, check=False)
    assert done.returncode == 1 and done.stderr == ""
    assert done.stdout == (f"rejected: {junk}: not well-formed XML: line 1, column 1: Start tag "
                           "expected, '<' not found\n")
    # In a feed, a bad link is that entry's rejection; the others are taken.
    site.put("/m2.xml", message("OTHER-2", KHARKIV_ISO))
    site.put("/feed.atom", atom_feed(("urn:other:2", site.base + "/m2.xml"),
                                     ("urn:other:bad", "http://127.0.0.1:abc/x.xml")))
    done = run_cli("ingest", "cap", site.base + "/feed.atom", db=db, check=False)
    assert done.returncode == 1 and done.stderr == ""
    assert done.stdout.splitlines() == [
        "rejected: http://127.0.0.1:abc/x.xml: not a valid URL (Port could not be cast to "
        "integer value as 'abc')",
        "ingested: OTHER-2: declared air_raid alert 1"], done.stdout


def test_a_page_that_failed_to_fetch_is_fetched_again_at_the_next_poll(
        tmp_path: Path, site: Site) -> None:
    site.put("/m2.xml", message("OTHER-2", KHARKIV_ISO))
    site.put("/m3.xml", message("OTHER-3", ODESA_ISO))
    site.put("/feed.atom", atom_feed(("urn:other:3", site.base + "/m3.xml"),
                                     next_page="/feed.atom?page=2"))
    b = poller(tmp_path, site.base + "/feed.atom")
    try:
        wait_for(lambda: site.count("/feed.atom?page=2", 404) >= 3, "B to try page 2 again")
        assert regions(b) == {ODESA_OBLAST}  # page 1's entry is taken meanwhile
        assert site.count("/feed.atom", 304) == 0
        site.put("/feed.atom?page=2", atom_feed(("urn:other:2", site.base + "/m2.xml")))
        wait_for(lambda: len(regions(b)) == 2, "B to take page 2's entry")
        wait_for(lambda: site.count("/feed.atom", 304) >= 2, "B to poll with If-None-Match")
        log = b.log.read_text()
        assert f"page {site.base}/feed.atom?page=2 not read, the feed is read again at the " \
               "next poll: HTTP 404" in log
        assert "Traceback" not in log
    finally:
        stop_server(b)


def test_pages_are_followed_on_the_same_server_and_no_further_than_max_pages(
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = "http://127.0.0.1:8001"
    documents: dict[str, bytes] = {}

    def get(url: str) -> bytes:
        if url not in documents:
            raise FetchFailed("HTTP 404 Not Found")
        return documents[url]

    def read(first: str, **kwargs: bool) -> sources.Feed:
        return read_pages(etree.fromstring(documents[first]), first, get, **kwargs)

    def ids(feed: sources.Feed) -> list[str]:
        return [item.key.split("|")[0] for item in feed.items]

    # Three pages, newest first; relative next links; one entry listed twice (it moved while
    # the pages were read) is taken once.
    documents[f"{base}/f"] = atom_feed(("e6", "/6.xml"), ("e5", "/5.xml"), next_page="/f?p=2")
    documents[f"{base}/f?p=2"] = atom_feed(("e5", "/5.xml"), ("e4", "/4.xml"),
                                           next_page=f"{base}/f?p=3")
    documents[f"{base}/f?p=3"] = atom_feed(("e3", "/3.xml"))
    feed = read(f"{base}/f")
    assert (ids(feed), feed.pages, feed.problems) == (["e3", "e4", "e5", "e6"], 3, [])
    assert feed.items[0].url == f"{base}/3.xml"

    # A page that cannot be had ends the walk: what came before is kept, the feed is not
    # complete.
    documents[f"{base}/f?p=2"] = atom_feed(("e4", "/4.xml"), next_page="/f?p=9")
    feed = read(f"{base}/f")
    assert ids(feed) == ["e4", "e5", "e6"] and not feed.complete
    assert feed.problems == [(f"{base}/f?p=9", "HTTP 404 Not Found")]

    # Pages that loop, another server, not loopback, not a feed, a bad next link.
    for next_link, problem in (
            ("/f", "the pages loop"),
            ("http://127.0.0.2:8001/f?p=3", "a next page must be on the same server"),
            ("https://127.0.0.1:8001/f?p=3", "a next page must be on the same server"),
            ("http://127.0.0.1:abc/f", "its next page: not a valid URL (Port could not be")):
        documents[f"{base}/f?p=2"] = atom_feed(("e4", "/4.xml"), next_page=next_link)
        feed = read(f"{base}/f", loopback_only=True)
        assert ids(feed) == ["e4", "e5", "e6"], next_link
        assert len(feed.problems) == 1 and problem in feed.problems[0][1], feed.problems
    documents[f"{base}/f?p=2"] = b"<html/>"
    assert "root element is 'html'" in read(f"{base}/f").problems[0][1]
    far = "http://warnings.example.org"
    documents[f"{far}/f"] = atom_feed(("e1", "/1.xml"), next_page="/f?p=2")
    documents[f"{far}/f?p=2"] = atom_feed(("e0", "/0.xml"))
    assert read(f"{far}/f", loopback_only=True).problems == [
        (f"{far}/f?p=2", "the CLI fetches CAP only from loopback addresses (127.0.0.1, ::1, "
                         "localhost); save the file and give its path")]

    # At most MAX_PAGES pages.
    monkeypatch.setattr(sources, "MAX_PAGES", 5)
    for n in range(1, 8):
        documents[f"{base}/g?p={n}"] = atom_feed((f"g{n}", f"/g{n}.xml"),
                                                 next_page=f"/g?p={n + 1}")
    feed = read(f"{base}/g?p=1")
    assert feed.pages == 5 and ids(feed) == ["g5", "g4", "g3", "g2", "g1"]
    assert feed.problems == [(f"{base}/g?p=1", "more than 5 pages; the rest is left out")]
    with pytest.raises(CapRejected):
        read_pages(etree.fromstring(b"<html/>"), base, get)


def test_800_active_alerts_paged_feeds_round_trip(tmp_path: Path, catalogue: Catalogue) -> None:
    """A busy night: every page of both feeds under 100 KB, and B (polling A's Atom feed) and
    C (``tryvoga ingest cap`` on A's RSS feed) end up with exactly A's active alerts."""
    hromadas = [r.code for r in catalogue.at_level(Level.HROMADA)][:806]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = start_server(tmp_path / "a", env={"TRYVOGA_CAP_SENDER": "cap@a.test"})
    b = None
    try:
        for start in range(0, len(hromadas), 400):
            answer = a.post("/api/v1/alerts", {
                "regions": hromadas[start:start + 400], "type": "air_raid",
                "threats": [{"type": "drones", "level": "red"}],
                "note": "Groups of attack drones over the region"})
            assert answer.status == 201, answer.body
        expected = active(a)
        assert len(expected) == 806

        for kind in ("atom", "rss"):
            url: str | None = f"{a.base}/cap/feed.{kind}"
            pages = []
            while url:
                assert url.startswith(a.base + "/cap/feed."), url
                page = a.get(url[len(a.base):], token=None)
                assert page.status == 200 and len(page.body) < 100_000, (url, len(page.body))
                pages.append(page.body)
                url = next_page(etree.fromstring(page.body), url)
            found = [item for page in pages for item in items(etree.fromstring(page), a.base)]
            assert len(pages) > 2 and len(found) == 806 == len({i.key for i in found}), kind

        b = poller(tmp_path / "b", a.base + "/cap/feed.atom")
        c = tmp_path / "c.db"
        done = run_cli("ingest", "cap", a.base + "/cap/feed.rss", db=c, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr
        assert done.stdout.count("ingested: ") == 806
        listed = json.loads(run_cli("alert", "list", "--json", db=c).stdout)["alerts"]
        assert {(x["region"], x["type"], x["status"],
                 tuple(f"{t['type']}:{t['level']}" for t in x["threats"]))
                for x in listed} == expected
        wait_for(lambda: active(b) == expected, "B to hold A's 806 alerts", seconds=90)
    finally:
        if b is not None:
            stop_server(b)
        stop_server(a)
