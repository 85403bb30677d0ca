"""Issue 15, defect 3: a CAP source cannot stall the poller, hold up shutdown, or aim the
server at another host.

A dripping peer is a real socket server on 127.0.0.1 that answers a status line and then one
byte at a time, forever; the other feed is a plain ``http.server`` (``tests/cap``'s ``Site``).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..cap.test_sources import ODESA_ISO, Site, atom_feed, message, regions
from ..conftest import start_server, stop_server
from ..polling import wait_for
from ..regions import ODESA_OBLAST


class Dripper:
    """Accepts connections and sends an HTTP answer one byte every 0.2 s, never finishing."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/feed.atom"
        self.stop = threading.Event()
        self.connections = 0
        self.connected = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self.connected.set()
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/atom+xml\r\n"
        with conn:
            try:
                conn.sendall(head)
                while not self.stop.wait(0.2):
                    conn.sendall(b"X")
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def dripper() -> Iterator[Dripper]:
    running = Dripper()
    yield running
    running.close()


@pytest.fixture
def site() -> Iterator[Site]:
    running = Site()
    yield running
    running.close()


def test_a_dripping_feed_does_not_stop_the_next_one_being_polled(
        tmp_path: Path, dripper: Dripper, site: Site) -> None:
    site.put("/m1.xml", message("urn:other:1", ODESA_ISO))
    site.put("/feed.atom", atom_feed(("urn:other:1", site.base + "/m1.xml")))
    server = start_server(tmp_path, env={
        "TRYVOGA_CAP_FEEDS": f"{dripper.url} {site.base}/feed.atom",
        "TRYVOGA_CAP_POLL_INTERVAL": "0.1", "TRYVOGA_CAP_FETCH_TIMEOUT": "1"})
    try:
        wait_for(lambda: ODESA_OBLAST in regions(server), "the second feed to be polled")
        wait_for(lambda: "no complete answer within 1 s" in server.log.read_text(),
                 "the dripping feed's fetch to be given up")
    finally:
        stop_server(server)


def test_sigterm_does_not_wait_for_a_dripping_feed(tmp_path: Path, dripper: Dripper) -> None:
    server = start_server(tmp_path, env={"TRYVOGA_CAP_FEEDS": dripper.url,
                                         "TRYVOGA_CAP_FETCH_TIMEOUT": "3600"})
    try:
        assert dripper.connected.wait(30), "the feed was never fetched"
        server.process.terminate()
        # A bound for a hang, not a measurement: the peer drips for as long as the test runs.
        assert server.process.wait(timeout=20) == 0
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def test_an_entry_on_another_host_is_not_fetched(tmp_path: Path, site: Site) -> None:
    other = Site()
    try:
        other.put("/m1.xml", message("urn:other:1", ODESA_ISO))
        site.put("/m2.xml", message("urn:other:2", ODESA_ISO))
        site.put("/feed.atom", atom_feed(("urn:other:1", other.base + "/m1.xml"),
                                         ("urn:other:2", site.base + "/m2.xml")))
        server = start_server(tmp_path, env={"TRYVOGA_CAP_FEEDS": site.base + "/feed.atom",
                                             "TRYVOGA_CAP_POLL_INTERVAL": "0.1"})
        try:
            wait_for(lambda: site.count("/m2.xml") >= 1, "the feed's own entry to be fetched")
            wait_for(lambda: "not on the feed's host" in server.log.read_text(),
                     "the other host's entry to be rejected")
            assert other.count("/m1.xml") == 0
        finally:
            stop_server(server)
    finally:
        other.close()
