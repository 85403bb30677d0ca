"""The cost of aiohttp middlewares against wrapping each route's handler, side by side.

Every route's errors get the one shape (``api/app.py`` ``errors``) and every request its id,
count and latency (``api/ops.py`` ``instrumented``). Until this round both were applied by
replacing each route's private ``_handler`` with a wrapper; now they are ordinary aiohttp
middlewares. This runs the same application both ways, in two server processes started from
one database: ``middleware`` is ``create_app`` as it is; ``patched`` is the same application
with its middleware list emptied and the same two functions bound to each route's handler as
before (``errors`` outermost). The requests are ones the read front does not answer (it
answers the two hottest reads without aiohttp at all, so it sees no middleware): two cached
reads with a query, ``/healthz`` and an unknown path (the error path), all cheap, so that the
wrapping is as large a share of each request as it can be. Rounds are interleaved (for
each round, each server in turn), and the CPU time is every thread of the server process
(``/proc/<pid>/task/*/schedstat``), divided by the requests sent.

    .venv/bin/python bench/middleware.py --requests 1000 --rounds 10

prints the CPU per request of each and the ratio middleware / patched per round and overall.
Read it with the machine in mind: on a shared machine run it several times.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import statistics
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path

from common import PYTHON, cpu_seconds, free_port, stop, wait_http

PATHS = ("/api/v1/status?level=oblast", "/api/v1/alerts/active?type=air_raid", "/healthz",
         "/api/v1/no-such-thing")
VARIANTS = ("patched", "middleware")


def serve(variant: str, port: int, db: str) -> None:
    """One server process: the application of ``variant`` on 127.0.0.1:``port``."""
    from aiohttp import web

    from tryvoga.api import ops
    from tryvoga.api.app import create_app, errors
    from tryvoga.api.formats import webhook_formats
    from tryvoga.eventloop import new_event_loop
    from tryvoga.node import build_node
    from tryvoga.settings import Settings

    loop = new_event_loop("auto")
    asyncio.set_event_loop(loop)
    app = create_app(build_node(Settings(db=db, webhook_worker=False),
                                formats=webhook_formats()))
    if variant == "patched":
        assert list(app.middlewares) == [errors, ops.instrumented]
        app.middlewares.clear()
        for route in app.router.routes():
            inner = partial(ops.instrumented, handler=route.handler)
            route._handler = partial(errors, handler=inner)

    async def start() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=128).start()

    loop.run_until_complete(start())
    loop.run_forever()


def send(port: int, count: int) -> None:
    """``count`` requests over one kept-alive connection, cycling through PATHS."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(count):
        connection.request("GET", PATHS[i % len(PATHS)])
        response = connection.getresponse()
        response.read()
        if response.status not in (200, 404):
            raise SystemExit(f"{PATHS[i % len(PATHS)]}: {response.status}")
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="per server and round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.db)
        return
    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "bench.db")
        servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            for variant in VARIANTS:
                port = free_port()
                process = subprocess.Popen([PYTHON, __file__, "--serve", variant,
                                            "--port", str(port), "--db", db])
                servers[variant] = (process, port)
                wait_http(port, "/healthz")
            for _, port in servers.values():
                send(port, 300)  # warm up: caches, the middleware chains
            per_request: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for turn in range(args.rounds):
                # ABBA order: whichever goes second in a round is not always the same one.
                for variant in VARIANTS if turn % 2 == 0 else VARIANTS[::-1]:
                    process, port = servers[variant]
                    before = cpu_seconds([process.pid])
                    started = time.perf_counter()
                    send(port, args.requests)
                    wall = time.perf_counter() - started
                    used = cpu_seconds([process.pid]) - before
                    per_request[variant].append(used / args.requests * 1e6)
                    print(f"{variant:>10}: {used / args.requests * 1e6:7.1f} µs CPU per request "
                          f"({args.requests / wall:,.0f} requests/s)", flush=True)
        finally:
            for process, _ in servers.values():
                stop(process)
    ratios = [m / p for m, p in zip(per_request["middleware"], per_request["patched"],
                                    strict=True)]
    print("middleware / patched, CPU per request, per round: "
          + ", ".join(f"{r:.3f}" for r in ratios))
    print(f"median of the rounds: patched {statistics.median(per_request['patched']):.1f} µs, "
          f"middleware {statistics.median(per_request['middleware']):.1f} µs, ratio "
          f"{statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
