"""Abuse latency (issue 15): a normal client's latency while each abuse runs, against without it.

    python bench/abuse.py            # the full run: 15 s windows, a log of 2,400 events
    python bench/abuse.py --quick    # a small smoke run: 3 s windows, 400 events
    python bench/abuse.py --only read_flood,header_trickle

One ``tryvoga serve`` (defaults, but for ``--webhook-allow-networks 127.0.0.0/8`` so that
loopback webhook URLs may be registered, and a CAP feed served by this script). A normal
client in this process reads ``/api/v1/status`` (no token: the read front answers it) every
10 ms, as 100 residents in turn, each on a keep-alive connection from an address of its own
(127.0.1.1 to 127.0.1.100), and declares an alert every 250 ms (then ends it, not timed) from
127.0.0.1 with its own write token.
For each abuse, in turn: a window without it, then a window with it running in a child
process, each ``--seconds`` long; p50 and p99 of both, and their ratios. The abuses are those
of issue 15's defects, each with tokens of its own (so the normal client's per-token budget is
not the one spent):

- ``webhook_registrations``: 100 read-only tokens register ukrainealarm webhooks for every
  region, as fast as they are answered (each token is held to 10, all to 1,000);
- ``big_statements``: 6 concurrent statements of 50,000 characters (the most accepted; 99,000
  are refused at once), again and again;
- ``cap_drip``: the polled CAP feed sends a byte every 0.2 s (otherwise it is an empty feed);
- ``replay_never_reading``: 30 streams resume from ``Last-Event-ID: 0`` and never read;
- ``header_trickle``: 200 connections each send a request head a byte a second;
- ``idempotency_keys``: 4 loops of incident reports, each with a new 200-character key, and
  keys of 300 characters (refused);
- ``bad_input``: 8 loops of the inputs of defect 9, in turn: a JSON body nested 100,000
  deep, a 5,000-digit integer in a body, an id of a non-ASCII digit, a history-stats range
  of ten thousand years (each refused with a 4xx);
- ``concurrent_writes``: bursts of 2,000 concurrent incident reports from 4 tokens;
- ``read_flood``: 64 keep-alive connections from one address reading ``/api/v1/status`` and
  ``/api/v1/events?limit=100`` as fast as they are answered;
- ``concurrent_writes_limited`` and ``read_flood_limited``: the same two against a second
  server with per-address limits (``LIMITED``), as a server that clients reach directly (or
  through ``--trusted-proxies``) is run: one address sending without limit is bounded only by
  those, and they are off by default because thousands may share an address behind a NAT.

The abusers send from 127.0.0.2; the normal client from 127.0.0.1 (declarations) and
127.0.1.x (reads).

The bound stated for each abuse (docs/reliability.md): with the abuse running, the normal
client's declarations answered within ``BOUND_DECLARE`` ms and its status reads within
``BOUND_READ`` ms at the 99th percentile, on this two-core machine where the abuser takes a core
of its own. It is judged for every abuse but the two that only per-address limits bound
(``UNBOUNDED``: their ``_limited`` rows are judged instead), in every one of the newest
``KEEP_RUNS`` full runs (``bench/runs-abuse/``). Figures go to bench/RESULTS.md (between the
``abuse`` markers) on a full run; ``--quick`` and ``--only`` only print. Only 127.0.0.0/8 is
used; every abuse is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, free_port, raise_open_files, stop, wait_http, write_section

START = "<!-- abuse -->"
END = "<!-- /abuse -->"
ABUSES = ("webhook_registrations", "big_statements", "cap_drip", "replay_never_reading",
          "header_trickle", "idempotency_keys", "bad_input", "concurrent_writes", "read_flood",
          "concurrent_writes_limited", "read_flood_limited")
# The second server's per-address limits, for the ``_limited`` abuses: above what a normal
# client sends (a resident's read a second; the authority's 8 writes a second), far below what
# an abuser does.
LIMITED = ("--connections-per-address", "64", "--read-rate-address", "1200",
           "--write-rate-address", "1200")
ABUSER = "127.0.0.2"  # the abusers' source address (the normal client's is 127.0.0.1)
BOUND_DECLARE = 100.0  # ms: a declaration's p99 with any one abuse running
BOUND_READ = 25.0  # ms: a status read's p99 with any one abuse running
UNBOUNDED = ("concurrent_writes", "read_flood")  # with the defaults: no bound stated
RUNS = Path(__file__).resolve().parent / "runs-abuse"
KEEP_RUNS = 3
KYIV = "UA80000000000093317"
EMPTY_FEED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/'
              b'Atom"><id>urn:bench</id><title>bench</title><updated>2023-05-20T00:00:00Z'
              b'</updated></feed>')


# ---- the CAP feed: empty, or dripping -------------------------------------------------------

class Feed(BaseHTTPRequestHandler):
    drip = threading.Event()
    dripped = 0  # fetches answered by dripping

    def do_GET(self) -> None:
        if not self.drip.is_set():
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.send_header("Content-Length", str(len(EMPTY_FEED)))
            self.end_headers()
            self.wfile.write(EMPTY_FEED)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml")
        self.end_headers()
        Feed.dripped += 1
        try:
            for byte in EMPTY_FEED * 100:
                if not self.drip.is_set():
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            return

    def log_message(self, format: str, *args: Any) -> None:
        pass


# ---- the server ----------------------------------------------------------------------------

def make_tokens(db: Path) -> dict[str, list[str]]:
    """The tokens of the run, made before the server starts (one process, not a CLI each)."""
    from tryvoga.cli.kit import open_service

    made: dict[str, list[str]] = {"normal": [], "writers": [], "readers": []}
    with open_service(str(db)) as service:
        made["normal"].append(service.create_token("normal", ["UA"], True, automated=True)[1])
        for n in range(8):
            made["writers"].append(service.create_token(f"w{n}", ["UA"], True,
                                                        automated=True)[1])
        for n in range(100):
            made["readers"].append(service.create_token(f"r{n}", ["UA"], False)[1])
    return made


class Server:
    def __init__(self, folder: Path, feed_port: int, *extra: str) -> None:
        self.db = folder / f"abuse{len(extra)}.db"
        for old in folder.glob(f"{self.db.name}*"):
            old.unlink()
        self.tokens = make_tokens(self.db)
        self.port = free_port()
        self.log = (folder / f"tryvoga-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "tryvoga.cli", "serve", "--host", "127.0.0.1", "--port",
             str(self.port), "--db", str(self.db), "--log-level", "error",
             "--webhook-allow-networks", "127.0.0.0/8",
             "--cap-feeds", f"http://127.0.0.1:{feed_port}/feed", "--cap-poll-interval", "1",
             *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_http(self.port, "/healthz")

    def request(self, method: str, path: str, body: Any, token: str,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, json.dumps(body),
                         {"Authorization": f"Bearer {token}",
                          "Content-Type": "application/json", **(headers or {})})
            response = conn.getresponse()
            data = response.read()
            return response.status, json.loads(data) if data else None
        finally:
            conn.close()

    def seed(self, events: int) -> None:
        """A log of ``events`` incident reports of about 2 KB each, for the replays."""
        writers = self.tokens["writers"]
        for n in range(events):
            status, _ = self.request("POST", "/api/v1/incidents", {
                "kind": "debris", "region": KYIV, "source": "bench",
                "description": f"seed {n} " + "x" * 1900}, writers[(n // 900) % len(writers)])
            if status == 429:  # the token's budget: the next one
                writers.append(writers.pop(0))
            elif status >= 300:
                raise SystemExit(f"seeding failed: {status}")


# ---- the normal client -----------------------------------------------------------------------

READERS = 100  # residents whose status reads the normal client makes, in turn


class Normal:
    """Status reads every 10 ms, by ``READERS`` residents in turn (each from an address of its
    own, so about once a second each), and a declaration every 250 ms by the authority (from
    127.0.0.1), timed."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.token = server.tokens["normal"][0]
        self.region = 0
        self.errors = 0
        from tryvoga.domain.regions import Level, load_catalogue

        # Hromadas the normal client declares on, one after another (each ended after).
        self.regions = sorted(r.code for r in load_catalogue() if r.level is Level.HROMADA)[:8]

    def reader(self, n: int) -> http.client.HTTPConnection:
        """The keep-alive connection of resident ``n`` (each from an address of its own)."""
        return http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60,
                                          source_address=(f"127.0.1.{n + 1}", 0))

    def window(self, seconds: float) -> dict[str, list[float]]:
        reads: list[float] = []
        declares: list[float] = []
        conns = [self.reader(n) for n in range(READERS)]
        end = time.monotonic() + seconds
        next_declare = time.monotonic()
        turn = 0
        while time.monotonic() < end:
            n = turn % READERS
            turn += 1
            started = time.perf_counter()
            try:
                conns[n].request("GET", "/api/v1/status")
                response = conns[n].getresponse()
                response.read()
                reads.append(time.perf_counter() - started)
            except (OSError, http.client.HTTPException):
                self.errors += 1
                conns[n].close()
                conns[n] = self.reader(n)
            if time.monotonic() >= next_declare:
                next_declare += 0.25
                declares.append(self.declare())
            time.sleep(0.01)
        for conn in conns:
            conn.close()
        return {"read": reads, "declare": [d for d in declares if d >= 0]}

    def declare(self) -> float:
        region = self.regions[self.region % len(self.regions)]
        self.region += 1
        started = time.perf_counter()
        try:
            status, body = self.server.request("POST", "/api/v1/alerts", {
                "regions": [region], "type": "air_raid"}, self.token)
        except (OSError, http.client.HTTPException):
            self.errors += 1
            return -1.0
        took = time.perf_counter() - started
        if status not in (200, 201):
            self.errors += 1
            return -1.0
        self.server.request("POST", f"/api/v1/alerts/{body['alerts'][0]['id']}/end", {},
                            self.token)
        return took


# ---- the abusers (a child process each) ------------------------------------------------------

async def _flood(port: int, seconds: float, concurrency: int, make: Any,
                 counts: dict[str, int], *, once: bool = False) -> None:
    """``concurrency`` loops of requests ``make`` makes, until ``seconds`` are over (with
    ``once``: one request each, all at once)."""
    import aiohttp

    end = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0, local_addr=(ABUSER, 0))
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=120)) as session:
        async def loop(n: int) -> None:
            i = 0
            while (once and i == 0) or (not once and time.monotonic() < end):
                method, path, kwargs = make(n, i)
                i += 1
                try:
                    async with session.request(method, f"http://127.0.0.1:{port}{path}",
                                               **kwargs) as response:
                        await response.read()
                        key = str(response.status)
                except (aiohttp.ClientError, TimeoutError):
                    key = "error"
                counts[key] = counts.get(key, 0) + 1

        await asyncio.gather(*(loop(n) for n in range(concurrency)))


async def _hold(port: int, seconds: float, count: int, first: bytes, trickle: bytes) -> dict[
        str, int]:
    """``count`` connections that send ``first`` and then ``trickle`` a byte a second, and
    never read."""
    end = time.monotonic() + seconds
    counts = {"opened": 0, "closed by the server": 0}

    async def one() -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        sock.bind((ABUSER, 0))
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_connect(sock, ("127.0.0.1", port))
            counts["opened"] += 1
            await loop.sock_sendall(sock, first)
            for byte in trickle:
                if time.monotonic() >= end:
                    return
                await asyncio.sleep(1.0)
                await loop.sock_sendall(sock, bytes([byte]))
            await asyncio.sleep(max(0.0, end - time.monotonic()))
        except OSError:
            counts["closed by the server"] += 1
        finally:
            sock.close()

    await asyncio.gather(*(one() for _ in range(count)))
    return counts


def abuser(kind: str, port: int, tokens: dict[str, list[str]], seconds: float) -> dict[str, int]:
    counts: dict[str, int] = {}
    writers, readers = tokens["writers"], tokens["readers"]
    kind = kind.removesuffix("_limited")  # the same abuse, against the limited server

    def auth(secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    if kind == "webhook_registrations":
        def make(n: int, i: int) -> tuple[str, str, dict[str, Any]]:
            secret = readers[(n * 7 + i) % len(readers)]
            return "POST", "/api/v3/webhook", {"headers": auth(secret), "json": {
                "webHookUrl": f"http://127.0.0.1:9/hook/{n}/{i}", "regionIds": None}}
        asyncio.run(_flood(port, seconds, 16, make, counts))
    elif kind == "big_statements":
        text = ("Вночі у Києві було чути вибухи, на Дарниці горить склад. " * 900)[:50_000]

        def make(n: int, i: int) -> tuple[str, str, dict[str, Any]]:
            return "POST", "/api/v1/ingest/statement", {
                "headers": auth(writers[n % 2]), "json": {"text": text, "source": "bench"}}
        asyncio.run(_flood(port, seconds, 6, make, counts))
    elif kind == "cap_drip":
        time.sleep(seconds)  # the feed drips (this script's Feed); nothing else to do
    elif kind == "replay_never_reading":
        head = b"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 0\r\n\r\n"
        counts = asyncio.run(_hold(port, seconds, 30, head, b""))
    elif kind == "header_trickle":
        counts = asyncio.run(_hold(port, seconds, 200, b"G", b"ET /api/v1/status HTTP/1.1\r\n"
                                   b"Host: x\r\nX-Slow: " + b"a" * 200))
    elif kind == "idempotency_keys":
        def make(n: int, i: int) -> tuple[str, str, dict[str, Any]]:
            length = 300 if i % 4 == 3 else 200
            key = f"{n}-{i}-".ljust(length, "k")
            return "POST", "/api/v1/incidents", {
                "headers": {**auth(writers[2 + n % 2]), "Idempotency-Key": key},
                "json": {"kind": "debris", "region": KYIV, "source": "bench"}}
        asyncio.run(_flood(port, seconds, 4, make, counts))
    elif kind == "bad_input":
        deep = "[" * 100_000 + "]" * 100_000
        huge = ('{"region": "' + KYIV + '", "kind": "debris", "source": "bench", "count": '
                + "9" * 5000 + "}")

        def make(n: int, i: int) -> tuple[str, str, dict[str, Any]]:
            body = {"headers": {**auth(writers[n % 2]), "Content-Type": "application/json"}}
            match i % 4:
                case 0:
                    return "POST", "/api/v1/alerts", {**body, "data": deep}
                case 1:
                    return "POST", "/api/v1/incidents", {**body, "data": huge}
                case 2:
                    return "GET", "/api/v1/alerts/%C2%B2", {}
            return "GET", "/api/v1/history/stats?from=0001-01-01&to=9999-12-31", {}
        asyncio.run(_flood(port, seconds, 8, make, counts))
    elif kind == "concurrent_writes":
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            def make(n: int, i: int) -> tuple[str, str, dict[str, Any]]:
                return "POST", "/api/v1/incidents", {
                    "headers": auth(writers[4 + n % 4]),
                    "json": {"kind": "debris", "region": KYIV, "source": "bench"}}
            asyncio.run(_flood(port, seconds, 2000, make, counts, once=True))
    elif kind == "read_flood":
        def make(n: int, i: int) -> tuple[str, str, dict[str, Any]]:
            return "GET", "/api/v1/status" if n % 2 else "/api/v1/events?limit=100", {}
        asyncio.run(_flood(port, seconds, 64, make, counts))
    return counts


# ---- the run ---------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def summary(window: dict[str, list[float]]) -> dict[str, float]:
    return {f"{kind}_{name}": pct(values, q) for kind, values in window.items()
            for name, q in (("p50", 0.5), ("p99", 0.99))} | {
        "reads": len(window["read"]), "declarations": len(window["declare"])}


def measure(server: Server, normal: Normal, kind: str, seconds: float, folder: Path
            ) -> dict[str, Any]:
    base = normal.window(seconds)
    out = folder / f"abuser-{kind}.json"
    if kind == "cap_drip":
        Feed.drip.set()
    child = subprocess.Popen([PYTHON, __file__, "--abuser", kind, "--port", str(server.port),
                              "--tokens", json.dumps(server.tokens), "--seconds",
                              str(seconds + 2), "--out", str(out)])
    time.sleep(1.0)  # the abuse gets going
    during = normal.window(seconds)
    try:
        child.wait(timeout=seconds + 180)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGKILL)
        child.wait()
    Feed.drip.clear()
    counts = json.loads(out.read_text()) if out.exists() else {}
    if kind == "cap_drip":
        counts = {"feed fetches dripped": Feed.dripped}
    wait_http(server.port, "/readyz", timeout=120)
    time.sleep(1.0)  # what the abuse left (closing sockets, queued writes) settles
    return {"abuse": kind, "without": summary(base), "with": summary(during),
            "abuser answers": counts}


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b and a == a and b == b else "n/a"


def bound(row: dict[str, Any]) -> str:
    """The row's verdict on the stated bound."""
    if row["abuse"] in UNBOUNDED:
        return "none stated with the defaults (see its `_limited` row)"
    during = row["with"]
    met = during["declare_p99"] <= BOUND_DECLARE and during["read_p99"] <= BOUND_READ
    return "met" if met else "**missed**"


def table(rows: list[dict[str, Any]], meta: str) -> str:
    lines = [meta, "",
             "| abuse | status read p50 / p99 ms, without → with | **ratio p50 · p99** | "
             "declaration p50 / p99 ms, without → with | **ratio p50 · p99** | what the "
             f"abuser was answered | bound: p99 declaration ≤ {BOUND_DECLARE:g} ms, status "
             f"read ≤ {BOUND_READ:g} ms |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        a, b = row["without"], row["with"]
        answers = ", ".join(f"{k}: {v:,}" for k, v in sorted(row["abuser answers"].items()))
        lines.append(
            f"| {row['abuse']} | {a['read_p50']:.2f} / {a['read_p99']:.2f} → "
            f"{b['read_p50']:.2f} / {b['read_p99']:.2f} | **{ratio(b['read_p50'], a['read_p50'])}"
            f" · {ratio(b['read_p99'], a['read_p99'])}** | {a['declare_p50']:.1f} / "
            f"{a['declare_p99']:.1f} → {b['declare_p50']:.1f} / {b['declare_p99']:.1f} | "
            f"**{ratio(b['declare_p50'], a['declare_p50'])} · "
            f"{ratio(b['declare_p99'], a['declare_p99'])}** | {answers or '–'} | "
            f"{bound(row)} |")
    return "\n".join(lines)


def keep(rows: list[dict[str, Any]], started: float) -> None:
    """Keep a full run's rows; drop all but the newest ``KEEP_RUNS``."""
    RUNS.mkdir(exist_ok=True)
    name = time.strftime("%Y-%m-%dT%H%M%SZ.json", time.gmtime(started))
    (RUNS / name).write_text(json.dumps(rows, indent=1))
    for old in sorted(RUNS.glob("*.json"))[:-KEEP_RUNS]:
        old.unlink()


def judged() -> str:
    """The bounds over the kept runs: met only if met in every one."""
    files = sorted(RUNS.glob("*.json"))
    runs = [json.loads(f.read_text()) for f in files]
    worst: dict[str, list[float]] = {}
    missed: set[str] = set()
    for rows in runs:
        for row in rows:
            if row["abuse"] in UNBOUNDED:
                continue
            pair = worst.setdefault(row["abuse"], [0.0, 0.0])
            pair[0] = max(pair[0], row["with"]["declare_p99"])
            pair[1] = max(pair[1], row["with"]["read_p99"])
            if bound(row) != "met":
                missed.add(row["abuse"])
    if not runs:
        return "No full run kept yet (`bench/runs-abuse/`): the bounds are not judged."
    worst_text = "; ".join(f"{k} {v[0]:.1f} / {v[1]:.1f} ms" for k, v in worst.items())
    verdict = (f"**missed** by {', '.join(sorted(missed))}" if missed
               else "met by every bounded abuse in every run")
    return (f"The bounds over the {len(runs)} newest full runs (`bench/runs-abuse/`): "
            f"{verdict}. Worst p99 with the abuse (declaration / status read): {worst_text}.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="3 s windows, 400 events")
    parser.add_argument("--seconds", type=float, help="length of each window")
    parser.add_argument("--only", default="", help="comma-separated abuses (default: all)")
    parser.add_argument("--abuser", help=argparse.SUPPRESS)
    for name in ("port", "tokens", "out"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.abuser:
        counts = abuser(args.abuser, int(args.port), json.loads(args.tokens), args.seconds)
        Path(args.out).write_text(json.dumps(counts))
        return 0
    seconds = args.seconds or (3.0 if args.quick else 15.0)
    events = 400 if args.quick else 2400
    kinds = [k for k in args.only.split(",") if k] or list(ABUSES)
    unknown = set(kinds) - set(ABUSES)
    if unknown:
        raise SystemExit(f"unknown abuse: {', '.join(sorted(unknown))}")
    raise_open_files()
    folder = Path(tempfile.mkdtemp(prefix="tryvoga-abuse-"))
    feed = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    feed.daemon_threads = True
    threading.Thread(target=feed.serve_forever, daemon=True).start()
    started_at = time.time()
    rows = []
    servers: list[Server] = []
    errors = 0
    try:
        for limited in (False, True):
            mine = [k for k in kinds if k.endswith("_limited") == limited]
            if not mine:
                continue
            server = Server(folder, feed.server_address[1], *(LIMITED if limited else ()))
            servers.append(server)
            started = time.monotonic()
            server.seed(events if not limited else min(events, 400))
            print(f"seeded in {time.monotonic() - started:.0f} s", file=sys.stderr)
            normal = Normal(server)
            normal.window(1.0)  # warm up
            for kind in mine:
                row = measure(server, normal, kind, seconds, folder)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
            errors += normal.errors
            stop(server.process)
    finally:
        for server in servers:
            stop(server.process)
        feed.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
    meta = (f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} "
            f"cores: windows of {seconds:g} s, a log of {events:,} events of about 2 KB; "
            f"{errors} of the normal client's requests failed. Ratios: with the abuse "
            "over without, side by side in one run.")
    full = not args.quick and not args.only
    if full:
        keep(rows, started_at)
    text = table(rows, meta) + "\n\n" + (judged() if full else "Not a full run: not kept.")
    print(text)
    if full:
        write_section(START, END, text, "## A normal client's latency under abuse (issue 15)\n\n"
                      "`bench/abuse.py`: the bound per abuse judged over its newest full runs.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
