"""Polled reads: /api/v1/status and /api/v1/alerts/active, 200 and 304, with wrk on loopback.

The same bytes are served by Tryvoga, by nginx as static files and by a minimal aiohttp app.
Each server runs as one process (nginx: one worker); wrk runs one thread with 64 connections
on the same two cores, so the server's own CPU time per request is read from /proc as well.
"""

from __future__ import annotations

import http.client
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from common import (
    BENCH,
    PYTHON,
    cpu_seconds,
    free_port,
    start_nginx,
    start_tryvoga,
    stop,
    wait_http,
)

PATHS = ("/api/v1/status", "/api/v1/alerts/active")
OBLASTS = ("UA46000000000026241", "UA32000000000030281", "UA63000000000041885",
           "UA12000000000090473", "UA80000000000093317")


def fetch(port: int, path: str, headers: dict[str, str] | None = None
          ) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body, response.getheader("ETag") or ""


def wrk(port: int, path: str, seconds: int, etag: str | None) -> dict[str, float]:
    command = ["wrk", "-t1", "-c64", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"]
    if etag:
        command[1:1] = ["-H", f"If-None-Match: {etag}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests": requests, "rps": rate, "bad": int(bad.group(1)) if bad else 0,
            "command": " ".join(command)}


def measure(name: str, port: int, pids: list[int], path: str, etag: str | None,
            seconds: int) -> dict[str, Any]:
    wrk(port, path, 1, etag)  # warm up
    before = cpu_seconds(pids)
    result = wrk(port, path, seconds, etag)
    used = cpu_seconds(pids) - before
    return {"server": name, "path": path, "status": 304 if etag else 200, **result,
            "cpu_us_per_request": used / max(result["requests"], 1) * 1e6}


def run(folder: Path, seconds: int = 5) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    tryvoga = start_tryvoga(folder / "tryvoga")
    try:
        for region in OBLASTS:  # a realistic night: a few regions under alert
            status, body = tryvoga.request("POST", "/api/v1/alerts", {
                "regions": [region], "type": "air_raid",
                "threats": [{"type": "drones", "level": "red"}]})
            assert status == 201, body
        static = folder / "static"
        (static / "api" / "v1" / "alerts").mkdir(parents=True, exist_ok=True)
        flat = folder / "flat"
        flat.mkdir(exist_ok=True)
        bodies: dict[str, tuple[bytes, str]] = {}
        for path in PATHS:
            status, body, etag = fetch(tryvoga.port, path)
            assert status == 200
            bodies[path] = (body, etag)
            (static / path.lstrip("/")).write_bytes(body)
            (flat / (path.removeprefix("/api/v1/").replace("/", "_") + ".json")).write_bytes(
                body)
        for path in PATHS:
            body, etag = bodies[path]
            assert fetch(tryvoga.port, path, {"If-None-Match": etag})[0] == 304
            for tag in (None, etag):
                results.append(measure("tryvoga", tryvoga.port, tryvoga.pids, path, tag,
                                       seconds))
    finally:
        stop(tryvoga.process)

    nginx = start_nginx(folder / "nginx", f"""
        location / {{ root {static}; default_type application/json; etag on; }}
""")
    try:
        for path in PATHS:
            status, body, etag = fetch(nginx.port, path)
            assert status == 200 and body == bodies[path][0]
            assert fetch(nginx.port, path, {"If-None-Match": etag})[0] == 304
            for tag in (None, etag):
                results.append(measure("nginx", nginx.port, nginx.pids, path, tag, seconds))
    finally:
        stop(nginx.process)

    port = free_port()
    minimal = subprocess.Popen([PYTHON, str(BENCH / "minimal_app.py"), str(port), str(flat)])
    try:
        wait_http(port, PATHS[0])
        for path in PATHS:
            status, body, etag = fetch(port, path)
            assert status == 200 and body == bodies[path][0]
            for tag in (None, etag):
                results.append(measure("minimal aiohttp", port, [minimal.pid], path, tag,
                                       seconds))
    finally:
        stop(minimal)
    time.sleep(0.1)
    return results
