"""Polled reads: /api/v1/status and /api/v1/alerts/active, 200 and 304, with wrk on loopback.

The same bytes are served by Tryvoga as ``tryvoga serve`` runs (uvloop, the read front); by
Tryvoga with ``--fast-reads false`` (aiohttp answers every request) and with ``--event-loop
asyncio``, for comparison; by nginx as static files; and by minimal apps that only return the
bytes with an ETag: aiohttp on uvloop, and ASGI (``minimal_asgi.py``) under uvicorn (uvloop,
httptools) and granian. Each server runs as one process (nginx and granian: one worker); wrk
runs one thread with 64 connections on the same two cores, so the server's own CPU time per
request is read from /proc as well (every thread of the server's processes).

All the servers run at once, and the measurements are interleaved: for each round, for each
read, every server in turn. So the servers of one row are measured within seconds of each
other, and load from elsewhere on the machine falls on all of them alike; the table gives the
median of the rounds and the range of the per-round ratios.
"""

from __future__ import annotations

import http.client
import os
import re
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from common import (
    BENCH,
    PYTHON,
    cpu_seconds,
    free_port,
    process_tree,
    start_nginx,
    start_tryvoga,
    stop,
    wait_http,
)

PATHS = ("/api/v1/status", "/api/v1/alerts/active")
# The reads the most frequent pollers make beyond those two (LED maps, bots, Home Assistant):
# the façades with a token (in the query or a header, as their clients send it) and the
# native read of one region; ``{token}`` is the bench's token. (label, path, header)
FACADE = (
    ("/v1/iot/active_air_raid_alerts_by_oblast.json?token=…",
     "/v1/iot/active_air_raid_alerts_by_oblast.json?token={token}", None),
    ("/v1/iot/active_air_raid_alerts/31.json, Bearer",
     "/v1/iot/active_air_raid_alerts/31.json", "Authorization: Bearer {token}"),
    ("/v1/alerts/active.json?token=…", "/v1/alerts/active.json?token={token}", None),
    ("/api/v3/alerts, key", "/api/v3/alerts", "Authorization: {token}"),
    ("/api/v3/alerts/31, key", "/api/v3/alerts/31", "Authorization: {token}"),
    ("/api/v1/alerts/active?region=…", "/api/v1/alerts/active?region=UA80000000000093317",
     None),
)
FACADE_SERVERS = ("tryvoga", "nginx", "tryvoga aiohttp")
# Rate limits high enough never to refuse the bench, low enough to be checked on every read.
RATE = ("--compat-rate-token", "1000000000", "--compat-rate-ip", "1000000000")
OBLASTS = ("UA46000000000026241", "UA32000000000030281", "UA63000000000041885",
           "UA12000000000090473", "UA80000000000093317")
SERVERS = ("tryvoga", "nginx", "minimal uvloop", "minimal uvicorn", "minimal granian",
           "tryvoga aiohttp", "tryvoga asyncio")


def fetch(port: int, path: str, headers: dict[str, str] | None = None
          ) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body, response.getheader("ETag") or ""


def wrk(port: int, path: str, seconds: int, etag: str | None,
        header: str | None = None) -> dict[str, Any]:
    command = ["wrk", "-t1", "-c64", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"]
    if etag:
        command[1:1] = ["-H", f"If-None-Match: {etag}"]
    if header:
        command[1:1] = ["-H", header]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": requests, "rps": rate, "bad": int(bad.group(1)) if bad else 0,
            "command": " ".join(command)}


def measure(port: int, pids: list[int], path: str, etag: str | None,
            seconds: int, header: str | None = None) -> dict[str, Any]:
    before = cpu_seconds(pids)
    result = wrk(port, path, seconds, etag, header)
    used = cpu_seconds(pids) - before
    return {**result, "cpu_us_per_request": used / max(result["requests"], 1) * 1e6}


def run(folder: Path, seconds: int = 4, rounds: int = 3, facade_seconds: int = 3
        ) -> list[dict[str, Any]]:
    """One row per server, read and status: medians over ``rounds``, and every round's
    figures (``rounds_rps``, ``rounds_cpu``) for the ratios' ranges. The ``FACADE`` reads
    are measured on ``FACADE_SERVERS`` only, ``facade_seconds`` each."""
    processes: list[subprocess.Popen[bytes]] = []
    servers: dict[str, tuple[int, list[int]]] = {}
    tags: dict[tuple[str, str], str] = {}
    try:
        tryvoga = start_tryvoga(folder / "tryvoga", *RATE)
        processes.append(tryvoga.process)
        for region in OBLASTS:  # a realistic night: a few regions under alert
            status, body = tryvoga.request("POST", "/api/v1/alerts", {
                "regions": [region], "type": "air_raid",
                "threats": [{"type": "drones", "level": "red"}]})
            assert status == 201, body
        servers["tryvoga"] = (tryvoga.port, tryvoga.pids)
        for name, flags in (("tryvoga aiohttp", ["--fast-reads", "false"]),
                            ("tryvoga asyncio", ["--event-loop", "asyncio"])):
            port = free_port()
            processes.append(subprocess.Popen(
                [PYTHON, "-m", "tryvoga.cli", "serve", "--host", "127.0.0.1", "--port",
                 str(port), "--db", str(folder / "tryvoga" / "bench.db"), "--log-level",
                 "warning", *RATE, *flags], stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT))
            wait_http(port, "/healthz")
            servers[name] = (port, [processes[-1].pid])

        static = folder / "static"
        (static / "api" / "v1" / "alerts").mkdir(parents=True, exist_ok=True)
        flat = folder / "flat"
        flat.mkdir(exist_ok=True)
        bodies: dict[str, bytes] = {}
        for path in PATHS:
            status, body, etag = fetch(tryvoga.port, path)
            assert status == 200
            bodies[path] = body
            (static / path.lstrip("/")).write_bytes(body)
            (flat / (path.removeprefix("/api/v1/").replace("/", "_") + ".json")).write_bytes(
                body)

        facade: list[tuple[str, str, str | None, str]] = []  # label, path, header, nginx's
        (static / "facade").mkdir(exist_ok=True)
        for index, (label, template, header) in enumerate(FACADE):
            path = template.format(token=tryvoga.token)
            line = None if header is None else header.format(token=tryvoga.token)
            name, _, value = (line or "").partition(": ")
            status, body, _ = fetch(tryvoga.port, path, {name: value} if line else None)
            assert status == 200, (label, status, body[:200])
            bodies[label] = body
            (static / "facade" / f"{index}.json").write_bytes(body)
            query = path.partition("?")[2]
            facade.append((label, path, line, f"/facade/{index}.json"
                           + (f"?{query}" if query else "")))

        nginx = start_nginx(folder / "nginx", f"""
        location / {{ root {static}; default_type application/json; etag on; }}
""")
        processes.append(nginx.process)
        servers["nginx"] = (nginx.port, nginx.pids)
        port = free_port()
        processes.append(subprocess.Popen(
            [PYTHON, str(BENCH / "minimal_app.py"), str(port), str(flat), "uvloop"]))
        wait_http(port, PATHS[0])
        servers["minimal uvloop"] = (port, [processes[-1].pid])
        asgi = {**os.environ, "TRYVOGA_BENCH_FILES": str(flat), "PYTHONPATH": str(BENCH)}
        for name, command in (
                ("minimal uvicorn", [PYTHON, "-m", "uvicorn", "minimal_asgi:app", "--host",
                                     "127.0.0.1", "--loop", "uvloop", "--http", "httptools",
                                     "--no-access-log", "--log-level", "warning",
                                     "--backlog", "4096", "--port"]),
                ("minimal granian", [PYTHON, "-m", "granian", "--interface", "asgi",
                                     "--host", "127.0.0.1", "--workers", "1",
                                     "--runtime-threads", "1", "--loop", "uvloop",
                                     "--no-access-log", "--log-level", "warning",
                                     "--backlog", "4096", "minimal_asgi:app", "--port"])):
            port = free_port()
            processes.append(subprocess.Popen([*command, str(port)], env=asgi, cwd=BENCH))
            wait_http(port, PATHS[0])
            # granian serves from a worker process it starts: count the whole tree.
            servers[name] = (port, process_tree(processes[-1].pid))

        for name, (port, _) in servers.items():
            for path in PATHS:
                status, body, etag = fetch(port, path)
                assert status == 200 and body == bodies[path], name
                assert fetch(port, path, {"If-None-Match": etag})[0] == 304, name
                tags[(name, path)] = etag
                for tag in (None, etag):
                    wrk(port, path, 1, tag)  # warm up

        for name in FACADE_SERVERS:
            port = servers[name][0]
            for label, path, line, static_path in facade:
                if name == "nginx":
                    path = static_path
                name_, _, value = (line or "").partition(": ")
                headers = {name_: value} if line else {}
                status, body, etag = fetch(port, path, headers)
                assert status == 200 and body == bodies[label], (name, label)
                assert fetch(port, path, {**headers, "If-None-Match": etag})[0] == 304, name
                tags[(name, label)] = etag
                for tag in (None, etag):
                    wrk(port, path, 1, tag, line)  # warm up

        figures: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        for _ in range(rounds):
            for path in PATHS:
                for status in (200, 304):
                    for name in SERVERS:
                        port, pids = servers[name]
                        tag = tags[(name, path)] if status == 304 else None
                        figures.setdefault((name, path, status), []).append(
                            measure(port, pids, path, tag, seconds))
            for label, path, line, static_path in facade:
                for status in (200, 304):
                    for name in FACADE_SERVERS:
                        port, pids = servers[name]
                        tag = tags[(name, label)] if status == 304 else None
                        figures.setdefault((name, label, status), []).append(measure(
                            port, pids, static_path if name == "nginx" else path, tag,
                            facade_seconds, line))
    finally:
        for process in processes:
            stop(process)
    time.sleep(0.1)
    results = []
    for (name, path, status), runs in figures.items():
        results.append({
            "server": name, "path": path, "status": status,
            "rps": statistics.median(r["rps"] for r in runs),
            "cpu_us_per_request": statistics.median(r["cpu_us_per_request"] for r in runs),
            "rounds_rps": [r["rps"] for r in runs],
            "rounds_cpu": [r["cpu_us_per_request"] for r in runs],
            "bad": sum(r["bad"] for r in runs),
            "command": runs[0]["command"].replace(tryvoga.token, "<token>"),
            "facade": path not in PATHS})
    return results
