"""Two ``tryvoga serve`` nodes on one PostgreSQL database: how long until a declaration made
on one is in the other's ``/api/v1/status`` (with the same ETag).

    .venv/bin/python scripts/two_nodes.py [--count 1000] [--admin-url postgresql://...]

Creates a database of its own (dropped at the end), runs ``tryvoga migrate``, starts two nodes
on free 127.0.0.1 ports, then declares (and ends) alerts one at a time, alternating the node
written to. After each write is acknowledged the other node's /api/v1/status is polled until
it has the new version; its ETag and bytes must equal the writer's. Prints the delays'
median, p99 and maximum for the declarations (the acceptance figure) and for the ends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psycopg

KYIV = "UA80000000000093317"
CLI = [sys.executable, "-m", "tryvoga.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(bases: list[str], token: str, count: int) -> tuple[list[float], list[float]]:
    headers = {"Authorization": f"Bearer {token}"}
    declared: list[float] = []
    ended: list[float] = []
    async with aiohttp.ClientSession() as http:
        for index in range(count * 2):
            writer, reader = (bases[0], bases[1]) if (index // 2) % 2 == 0 else (
                bases[1], bases[0])
            if index % 2 == 0:
                path, body, want = "/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"}, 201
            else:
                path, body, want = "/api/v1/alerts/end", {"region": KYIV, "type": "air_raid"}, 200
            async with http.post(writer + path, json=body, headers=headers) as response:
                assert response.status == want, await response.text()
            acknowledged = time.perf_counter()
            async with http.get(writer + "/api/v1/status") as response:
                expected = await response.read()
                etag = response.headers["ETag"]
            while True:
                async with http.get(reader + "/api/v1/status") as response:
                    got = await response.read()
                    if response.headers["ETag"] == etag:
                        delay = time.perf_counter() - acknowledged
                        assert got == expected
                        break
                await asyncio.sleep(0.0005)
            (declared if index % 2 == 0 else ended).append(delay)
    return declared, ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--admin-url", default=os.environ.get(
        "TRYVOGA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    name = f"tryvoga_two_nodes_{secrets.token_hex(4)}"
    url = args.admin_url.rpartition("/")[0] + "/" + name
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TRYVOGA_")},
           "TRYVOGA_DATABASE_URL": url}
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([*CLI, "migrate"], env=env, check=True, capture_output=True)
        token = subprocess.run([*CLI, "token", "create", "--name", "bench", "--scope", "UA",
                                "--write"], env=env, check=True, capture_output=True,
                               text=True).stdout.strip().splitlines()[-1]
        bases = []
        logs = Path(tempfile.mkdtemp(prefix="tryvoga-two-nodes-"))
        for _ in range(2):
            port = free_port()
            with (logs / f"node-{port}.log").open("wb") as out:
                nodes.append(subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env,
                                              stdout=out, stderr=subprocess.STDOUT))
            bases.append(f"http://127.0.0.1:{port}")
        for base in bases:
            for _ in range(600):
                try:
                    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])),
                                                  timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
        declared, ended = asyncio.run(measure(bases, token, args.count))
        for label, values in (("declarations", declared), ("ends", ended)):
            print(f"{label}: {len(values)}; other node's /api/v1/status had it (same ETag) "
                  f"after median {percentile(values, 0.5) * 1000:.1f} ms, p99 "
                  f"{percentile(values, 0.99) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms")
        verify = subprocess.run([*CLI, "verify"], env=env, capture_output=True, text=True)
        print(verify.stdout.strip() or verify.stderr.strip())
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            node.wait(timeout=30)
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
