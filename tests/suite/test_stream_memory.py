"""Subscribers that never read stay within the documented memory bound during live fan-out (issue
15; the replay side is ``tests/security/test_stream_replay.py``).

A real ``tryvoga serve`` with the documented ``TRYVOGA_STREAM_BUFFER`` (256 KiB). ``NEVER``
subscribers, in all five encodings (SSE and NDJSON over HTTP/1.1 and 1.0, WebSocket), with a 4
KiB receive buffer, take their response head and then read nothing while a burst of large
events (about 12.5 MB for each of them) is declared; one subscriber reads everything. The burst
is that large because the bound is what waits in the server *beyond* the socket: the kernel
holds up to ``net.ipv4.tcp_wmem``'s maximum (4 MB here) of each socket's unsent bytes outside
the process's resident size, so a burst smaller than that proves nothing (a first version of
this test sent 3.8 MB each and passed with the bound switched off). The server's resident size
is sampled from ``/proc`` through the burst. It must grow by no more than the bound for each
never-reading subscriber plus an allowance: what the same burst grows the server by with no
such subscriber (measured first, on a burst of the same shape), plus 8 MB. Unbounded, the
server would hold every frame not yet in a socket; the hub shares one bytes object per event
and encoding among its subscribers, so that is about a copy of the burst per encoding (with the
bound off: 81 MB, failing). Then each never-reading subscriber reads what it was sent: the
events in order from the first, and last a ``reconnect`` frame, reason ``too_slow``, naming the
last event it was sent (it was cut, as docs/streams.md says); the reading subscriber has every
event.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

from tryvoga.domain.regions import Catalogue, Level

from ..conftest import Server, start_server, stop_server
from ..security.test_stream_replay import resident_bytes
from .stream_client import Sub

NEVER = 20
BOUND = 256 * 1024
ALLOWANCE = 8 * 1024 * 1024
NOTE = "н" * 2000  # 4 KB of UTF-8, in the note and in the source: frames of about 8.5 KB
PER_COMMAND = 50
TYPES = ("air_raid", "artillery_shelling")
# The five encodings of a frame: the hub writes one shared bytes object per event and encoding
# to all its subscribers, so what piles up unbounded is a copy of the burst per encoding.
ENCODINGS = [("sse", False), ("sse", True), ("ndjson", False), ("ndjson", True), ("ws", False)]


def burst(server: Server, regions: list[str], kind: str) -> int:
    for start in range(0, len(regions), PER_COMMAND):
        answer = server.post("/api/v1/alerts", {"regions": regions[start:start + PER_COMMAND],
                                                "type": kind, "note": NOTE, "source": NOTE})
        assert answer.status in (200, 201), answer.body[:200]
    version: int = server.get("/api/v1/events?since=0&limit=1").json()["version"]
    return version


def peak_growth(server: Server, during: Any) -> tuple[int, Any]:
    """Run ``during()`` while sampling the server's resident size; its largest growth."""
    before = resident_bytes(server.process.pid)
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], resident_bytes(server.process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = during()
    finally:
        stop.set()
        sampler.join()
    peak[0] = max(peak[0], resident_bytes(server.process.pid))
    return peak[0] - before, result


def subscribe(server: Server, fmt: str, rcvbuf: int | None, since: int,
              http10: bool = False) -> tuple[socket.socket, Sub]:
    host, port = server.base.removeprefix("http://").split(":")
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((host, int(port)))
    sub = Sub(0, fmt, "", since, http10)  # since: the head, so the stream is live at once
    sub.sock = sock
    sock.sendall(sub.request(host, int(port)))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)  # byte by byte: nothing of the stream is read with the head
        assert chunk, "the server closed the stream"
        head += chunk
    assert head.split(b" ", 2)[1] in (b"200", b"101"), head
    return sock, sub


def read_to_end(sock: socket.socket, sub: Sub) -> None:
    sock.settimeout(30)
    while True:
        data = sock.recv(262144)
        if not data:
            return
        sub.raw += data
        if not sub.parse():
            return


def test_never_reading_subscribers_stay_within_the_bound_during_live_fan_out(
        tmp_path: Path, catalogue: Catalogue) -> None:
    hromadas = sorted(r.code for r in catalogue.at_level(Level.HROMADA))
    server = start_server(tmp_path)
    try:
        # The allowance: the same burst's growth with nobody subscribed.
        alone, _ = peak_growth(server, lambda: burst(server, hromadas, TYPES[0]))
        start = server.get("/api/v1/events?since=0&limit=1").json()["version"]
        reader_sock, reader = subscribe(server, "sse", None, start)
        never = [subscribe(server, fmt, 4096, start, http10)
                 for fmt, http10 in (ENCODINGS[i % len(ENCODINGS)] for i in range(NEVER))]
        collected: list[bytes] = []

        def drain_reader() -> None:
            reader_sock.settimeout(60)
            while True:
                try:
                    data = reader_sock.recv(262144)
                except OSError:
                    return
                if not data:
                    return
                collected.append(data)
                reader.raw += data
                reader.parse()
                if reader.seqs and reader.seqs[-1] >= start + len(hromadas):
                    return

        reading = threading.Thread(target=drain_reader)
        reading.start()
        grown, head = peak_growth(server, lambda: burst(server, hromadas, TYPES[1]))
        reading.join(timeout=60)
        assert head == start + len(hromadas)
        sent = sum(len(c) for c in collected)
        bound = NEVER * BOUND + max(alone, 0) + ALLOWANCE
        print(f"the burst alone grew the server by {alone / 1e6:.1f} MB; with {NEVER} "
              f"subscribers that never read by {grown / 1e6:.1f} MB (bound "
              f"{bound / 1e6:.1f} MB: {NEVER} x 256 KiB + {alone / 1e6:.1f} MB + 8 MB; "
              f"each was sent {sent / 1e6:.1f} MB)")
        assert grown <= bound, f"the server grew by {grown / 1e6:.1f} MB"

        # The reading subscriber has every event; the others were cut, each told where it was.
        assert reader.seqs == list(range(start + 1, head + 1)), reader.seqs[:5]
        for sock, sub in never:
            read_to_end(sock, sub)
            sock.close()
            assert sub.reconnect_ids == [sub.last], (sub.fmt, sub.reconnect_ids, sub.seqs[-3:])
            assert not sub.errors, sub.errors
            assert sub.seqs == list(range(start + 1, start + 1 + len(sub.seqs))), sub.seqs[:5]
            assert len(sub.seqs) < len(hromadas), "a subscriber that never read got everything"
        reader_sock.close()
    finally:
        stop_server(server)
