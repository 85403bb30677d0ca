"""A reconnect storm's replays (``api/streams.py``): streams resuming from one point at the
same time share one read of the log per batch, and one that ends while it waits does not take
the read from the others. A real node on SQLite; the storage's read is counted, not replaced."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.regions import KYIV_OBLAST, LVIV_OBLAST
from tryvoga.api import streams
from tryvoga.api.context import Context
from tryvoga.api.formats import webhook_formats
from tryvoga.commands import Declare
from tryvoga.domain.regions import Catalogue
from tryvoga.node import build_node
from tryvoga.service import OPERATOR
from tryvoga.settings import Settings


async def test_concurrent_replays_share_one_read(tmp_path: Path, catalogue: Catalogue) -> None:
    node = build_node(Settings(db=str(tmp_path / "n.db")), formats=webhook_formats(),
                      catalogue=catalogue)
    try:
        for region in (KYIV_OBLAST, LVIV_OBLAST):
            await node.command(node.service.handle, OPERATOR,
                               Declare.of(regions=[region], type="air_raid"))
        ctx = Context(node)
        real = node.storage.read_events
        calls: list[tuple[int, int]] = []

        def counted(since: int, limit: int) -> Any:
            calls.append((since, limit))
            return real(since, limit)

        ctx.storage = type("Counted", (), {"read_events": staticmethod(counted)})()
        expected = real(0, 25)
        assert len(expected) >= 2

        waiting = [asyncio.ensure_future(streams._read(ctx, 0, 25)) for _ in range(200)]
        await asyncio.sleep(0)
        waiting[0].cancel()  # one stream ends while it waits
        done = await asyncio.gather(*waiting[1:])
        assert calls == [(0, 25)]  # one read for all 200
        assert all([e.seq for e in batch] == [e.seq for e in expected] for batch in done)
        assert waiting[0].cancelled()

        # Once answered, the next replay from there reads again (nothing is kept after).
        again = await streams._read(ctx, 1, 25)
        assert calls == [(0, 25), (1, 25)]
        assert [e.seq for e in again] == [e.seq for e in expected[1:]]
        assert not streams._REPLAYS
        ctx.tokens.close()
    finally:
        node.close()
