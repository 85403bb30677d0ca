"""CAP over real HTTP: messages, feeds, signatures, the ingest command, and two servers in a row."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from tests.certs import KeyPair
from tests.polling import wait_for
from tests.regions import KYIV, LVIV_OBLAST

from ..conftest import TRYVOGA, Server, run_cli, start_server, stop_server
from .conftest import assert_valid_cap, find, verify_independently

ATOM = {"a": "http://www.w3.org/2005/Atom"}


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, key_pair: KeyPair) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("cap-signed"), env={
        "TRYVOGA_CAP_SENDER": "cap@a.test", "TRYVOGA_CAP_SENDER_NAME": "Authority A",
        "TRYVOGA_CAP_SIGNING_KEY_FILE": str(key_pair.key),
        "TRYVOGA_CAP_SIGNING_CERT_FILE": str(key_pair.cert)})
    yield running
    stop_server(running)



def entries(server: Server) -> list[tuple[str, str]]:
    """(id, CAP link) of every entry of the server's Atom feed."""
    feed = server.get("/cap/feed.atom", token=None)
    assert feed.status == 200
    assert feed.headers["Content-Type"].startswith("application/atom+xml")
    root = etree.fromstring(feed.body)
    out = []
    for entry in root.findall("a:entry", ATOM):
        link = entry.find("a:link[@type='application/cap+xml']", ATOM)
        assert link is not None
        out.append((entry.findtext("a:id", namespaces=ATOM) or "", link.get("href") or ""))
    return out


def active(server: Server) -> set[tuple[str, str, str, tuple[str, ...]]]:
    alerts = server.get("/api/v1/alerts/active", token=None).json()["alerts"]
    return {(a["region"], a["type"], a["status"],
             tuple(f"{t['type']}:{t['level']}" for t in a["threats"])) for a in alerts}


def test_messages_and_feeds_over_http_signed(signed: Server, key_pair: KeyPair,
                                             tmp_path: Path) -> None:
    declared = signed.post("/api/v1/alerts", {
        "regions": [KYIV], "type": "air_raid", "threats": [{"type": "drones", "level": "red"}],
        "source": "Kyiv City Military Administration"})
    assert declared.status == 201
    found = entries(signed)
    assert found, "the feed lists the new message"
    identifier, href = found[0]
    assert identifier.startswith("urn:tryvoga:cap@a.test:")
    assert href.startswith(signed.base + "/cap/") and href.endswith(".xml")
    path = href[len(signed.base):]
    message = signed.get(path, token=None)
    assert message.status == 200
    assert message.headers["Content-Type"].startswith("application/cap+xml")
    root = assert_valid_cap(message.body)
    assert find(root, "cap:identifier") == [identifier]
    assert find(root, "cap:info/cap:senderName") == ["Authority A", "Authority A"]
    verify_independently(message.body, key_pair.cert, tmp_path)
    # Cached bytes with a strong ETag; a conditional request gets 304.
    again = signed.get(path, token=None, headers={"If-None-Match": message.headers["ETag"]})
    assert again.status == 304
    rss = signed.get("/cap/feed.rss", token=None)
    assert rss.status == 200 and rss.headers["Content-Type"].startswith("application/rss+xml")
    item = etree.fromstring(rss.body).find("channel/item")
    assert item is not None and item.findtext("guid") == identifier
    # The item's enclosure is the CAP message: its URL, its type, its length in bytes.
    enclosure = item.find("enclosure")
    assert enclosure is not None
    assert dict(enclosure.items()) == {"url": href, "type": "application/cap+xml",
                                       "length": str(len(message.body))}
    # One page holds it all; a page cursor that is no sequence number is refused plainly.
    assert b'rel="next"' not in rss.body
    for bad in ("abc", "0", "-1", "1.5"):
        refused = signed.get(f"/cap/feed.atom?before={bad}", token=None)
        assert refused.status == 400
        assert refused.json()["error"]["code"] == "invalid_input"
        assert refused.json()["error"]["field"] == "before"
    missing = signed.get("/cap/urn:tryvoga:cap@a.test:999999.xml", token=None)
    assert missing.status == 404
    assert missing.json()["error"]["code"] == "cap_message_not_found"


def test_ingest_command_takes_files_and_loopback_urls(signed: Server, tmp_path: Path) -> None:
    signed.post("/api/v1/alerts", {"regions": [LVIV_OBLAST], "type": "air_raid"})
    _, href = entries(signed)[0]
    body = signed.get(href[len(signed.base):], token=None).body
    message = tmp_path / "message.xml"
    message.write_bytes(body)
    db = tmp_path / "b.db"
    first = run_cli("ingest", "cap", str(message), db=db)
    assert first.stdout.startswith("ingested: urn:tryvoga:cap@a.test:"), first.stdout
    again = run_cli("ingest", "cap", str(message), db=db)
    assert again.stdout.startswith("ignored: ") and "seen before" in again.stdout
    feed = run_cli("ingest", "cap", signed.base + "/cap/feed.atom", db=db)
    assert "rejected" not in feed.stdout and "ingested" in feed.stdout, feed.stdout
    listed = run_cli("alert", "list", "--json", db=db)
    regions = {a["region"] for a in json.loads(listed.stdout)["alerts"]}
    assert {KYIV, LVIV_OBLAST} <= regions

    elsewhere = run_cli("ingest", "cap", "http://warnings.example.org/cap/feed.atom", db=db,
                        check=False)
    assert elsewhere.returncode == 1 and "only from loopback" in elsewhere.stdout
    bad = tmp_path / "bad.xml"
    bad.write_bytes(body.replace(LVIV_OBLAST.encode(), b"UA99000000000000001"))
    before = run_cli("verify", db=db).stdout
    refused = run_cli("ingest", "cap", str(bad), db=db, check=False)
    assert refused.returncode == 1
    assert "rejected:" in refused.stdout and "unknown KATOTTG code" in refused.stdout
    assert "Traceback" not in refused.stderr
    assert run_cli("verify", db=db).stdout == before  # nothing appended


@pytest.mark.parametrize("feed", ["atom", "rss"])
def test_round_trip_b_polls_a_and_holds_the_same_active_alerts(tmp_path: Path,
                                                                feed: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = start_server(tmp_path / "a", env={"TRYVOGA_CAP_SENDER": "cap@a.test"})
    b = start_server(tmp_path / "b", env={"TRYVOGA_CAP_SENDER": "cap@b.test",
                                 "TRYVOGA_CAP_FEEDS": f"{a.base}/cap/feed.{feed}",
                                 "TRYVOGA_CAP_POLL_INTERVAL": "0.2"})
    try:
        kyiv = a.post("/api/v1/alerts", {
            "regions": [KYIV], "type": "air_raid",
            "threats": [{"type": "drones", "level": "yellow"}]}).json()["alerts"][0]["id"]
        a.post("/api/v1/alerts", {"regions": [LVIV_OBLAST], "type": "artillery_shelling"})
        a.post("/api/v1/alerts", {"regions": ["UA"], "type": "nuclear", "status": "exercise"})
        wait_for(lambda: active(b) == active(a), "B to hold A's three alerts")
        assert len(active(b)) == 3

        a.request("PATCH", f"/api/v1/alerts/{kyiv}",
                  {"threats": [{"type": "ballistic", "level": "red"}]})
        wait_for(lambda: active(b) == active(a), "B to see the new threat")
        a.post("/api/v1/alerts/end", {"region": LVIV_OBLAST, "type": "artillery_shelling"})
        a.post(f"/api/v1/alerts/{kyiv}/end", {"withdraw": True})
        wait_for(lambda: active(b) == active(a), "B to end and withdraw")
        assert {r for r, _, _, _ in active(b)} == {"UA"}
        log = b.get("/api/v1/events?limit=100", token=None).json()["events"]
        withdrawn = [e for e in log if e["kind"] == "alert.withdrawn"]
        assert [(e["payload"]["region"], e["actor"]) for e in withdrawn] == [
            (KYIV, "cap:cap@a.test")]
        # B publishes what it took in, as its own CAP messages.
        assert all(i.startswith("urn:tryvoga:cap@b.test:") for i, _ in entries(b))
    finally:
        stop_server(b)
        stop_server(a)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_half_configured_signature_stops_the_server(tmp_path: Path, key_pair: KeyPair,
                                                      workers: str) -> None:
    env = {**os.environ, "TRYVOGA_CAP_SIGNING_KEY_FILE": str(key_pair.key)}
    done = subprocess.run([*TRYVOGA, "serve", "--port", "0", "--db", str(tmp_path / "x.db"),
                           "--workers", workers],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "TRYVOGA_CAP_SIGNING_CERT" in done.stderr and "Traceback" not in done.stderr
