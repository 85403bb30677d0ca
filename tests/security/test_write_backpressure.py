"""Issue 15, defect 10: writes have backpressure. Beyond its sender's share of
``--write-queue`` commands waiting for the writer, a command is refused at once with 503 and
Retry-After in the one error shape, and nothing of it is applied; another sender, with none of
its own waiting, is never refused for it (``tryvoga.turns``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from ..conftest import run_cli, start_server, stop_server
from ..regions import KYIV

Answer = tuple[int, dict[str, str], dict[str, Any]]


async def burst(base: str, token: str, count: int) -> list[Answer]:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async def one(n: int) -> Answer:
            async with session.post(f"{base}/api/v1/alerts", json={
                    "regions": [KYIV], "type": "air_raid", "note": f"n{n}"}) as response:
                return response.status, dict(response.headers), await response.json()

        return await asyncio.gather(*(one(n) for n in range(count)))


def test_commands_beyond_the_queue_get_503_with_retry_after(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--write-queue", "1")
    try:
        answers = []
        for _ in range(20):  # until a burst overflows the queue of one
            answers += asyncio.run(burst(server.base, server.token, 40))
            if any(status == 503 for status, _, _ in answers):
                break
        refused = [(h, body) for status, h, body in answers if status == 503]
        assert refused, "no command was refused"
        for headers, body in refused:
            assert int(headers["Retry-After"]) >= 1
            assert body["error"]["code"] == "overloaded" and body["error"]["status"] == 503
        # Declared on a region that already has one: the first is 201, later ones 200.
        applied = [s for s, _, _ in answers if s in (200, 201)]
        assert len(applied) + len(refused) == len(answers)
        events = server.get("/api/v1/events?limit=1000", token=None).json()["events"]
        notes = [e["payload"].get("note") for e in events]
        assert len(events) >= 1 and all(n is not None for n in notes)
    finally:
        stop_server(server)


def test_a_flood_from_one_token_refuses_no_one_else(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--write-queue", "16")  # two waiting per sender
    authority = run_cli("token", "create", "--name", "authority", "--scope", "UA", "--write",
                        "--automated", db=server.db).stdout.strip().splitlines()[-1]

    async def scenario() -> tuple[list[Answer], list[int]]:
        flood = asyncio.create_task(burst(server.base, server.token, 300))
        statuses: list[int] = []
        async with aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {authority}"}) as session:
            while not flood.done() or not statuses:
                async with session.post(f"{server.base}/api/v1/incidents", json={
                        "region": KYIV, "kind": "debris", "source": "authority"}) as response:
                    statuses.append(response.status)
        return await flood, statuses

    try:
        flooded, statuses = asyncio.run(scenario())
        assert any(status == 503 for status, _, _ in flooded), "the flood was never refused"
        assert statuses and set(statuses) == {201}, statuses
    finally:
        stop_server(server)
