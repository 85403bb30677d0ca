"""The assembly (``tryvoga.node``): one read of the log for every projection, and the
follower's listeners in their declared order, checked by what each of them sees."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.regions import KYIV, KYIV_OBLAST, LVIV_OBLAST
from tryvoga.api.formats import outbox, webhook_formats
from tryvoga.cap.ingest import Ingester
from tryvoga.cap.projection import CapProjection
from tryvoga.cap.render import Publisher
from tryvoga.commands import Declare, UpdateAlert
from tryvoga.domain.events import Event
from tryvoga.domain.filters import StreamFilter
from tryvoga.domain.regions import Catalogue
from tryvoga.live.frames import Format
from tryvoga.node import LISTENER_ORDER, build_node
from tryvoga.service import OPERATOR, Service
from tryvoga.settings import Settings
from tryvoga.storage.sqlite import SQLiteStorage


class Recording:
    """A stream's socket that notes, at each write, how far the node's projections were."""

    def __init__(self, seen: list[tuple[int, int]], progress: object) -> None:
        self.seen = seen
        self.progress = progress

    def write(self, data: bytes) -> None:
        self.seen.append(self.progress())  # type: ignore[operator]  # a bound lambda

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False


def test_the_declared_order_is_the_followers(tmp_path: Path, catalogue: Catalogue) -> None:
    node = build_node(Settings(db=str(tmp_path / "n.db")), formats=webhook_formats(),
                      catalogue=catalogue)
    try:
        assert LISTENER_ORDER == ("streams", "cap", "webhooks")
        assert [name for name, _ in node.listeners] == list(LISTENER_ORDER)
        assert node.follower.listeners == [listener for _, listener in node.listeners]
    finally:
        node.close()


async def test_streams_have_an_event_before_the_cap_projection(
        tmp_path: Path, catalogue: Catalogue) -> None:
    node = build_node(Settings(db=str(tmp_path / "n.db")), formats=webhook_formats(),
                      catalogue=catalogue)
    try:
        seen: list[tuple[int, int]] = []
        transport = Recording(seen, lambda: (node.follower.state.seq, node.cap.seq))
        sub = node.hub.subscribe(transport, Format.NDJSON, False, StreamFilter.build(catalogue),
                                 node.follower.state.seq)

        async def read(since: int, limit: int) -> list[Event]:
            return node.storage.read_events(since, limit)

        async def drain() -> None:
            return None

        await node.hub.start(sub, read, drain)
        seen.clear()  # the replay (nothing) and any greeting
        result = await node.command(node.service.handle, OPERATOR,
                                    Declare.of(regions=[KYIV_OBLAST], type="air_raid"))
        [event] = result.events
        # Written to the stream when the read side had the event and the CAP projection did
        # not yet: the hub is called first.
        assert seen and seen[0] == (event.seq, event.seq - 1)
        assert node.cap.seq == event.seq  # and the CAP projection after it
        node.hub.remove(sub, "gone")
    finally:
        node.close()


def test_every_projection_starts_from_one_read(tmp_path: Path, catalogue: Catalogue,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "n.db"
    storage = SQLiteStorage(db)
    service = Service(storage, catalogue, outbox=outbox(catalogue))
    service.handle(OPERATOR, Declare.of(regions=[KYIV_OBLAST], type="air_raid"))
    service.handle(OPERATOR, Declare.of(regions=[LVIV_OBLAST], type="air_raid"))
    storage.close()

    reads = 0
    original = SQLiteStorage.iter_events

    def counted(self: SQLiteStorage, *args: Any) -> Iterator[Event]:
        nonlocal reads
        reads += 1
        return original(self, *args)

    monkeypatch.setattr(SQLiteStorage, "iter_events", counted)
    node = build_node(Settings(db=str(db)), formats=webhook_formats(), catalogue=catalogue)
    monkeypatch.undo()
    try:
        assert reads == 1
        assert node.service.state.seq == node.follower.state.seq == node.cap.seq == 2
        assert node.service.state is not node.follower.state  # one per thread
        assert {a.region for a in node.follower.state.active_alerts()} == {KYIV_OBLAST,
                                                                           LVIV_OBLAST}
    finally:
        node.close()


def test_the_cap_ingester_knows_earlier_messages_from_the_one_read(
        tmp_path: Path, catalogue: Catalogue) -> None:
    """After a restart, an update to a CAP alert ingested before changes that alert (the
    ingester's index of origins is built in the node's one read of the log)."""
    publisher = Publisher(sender="cap@a.test", sender_name="Authority A")
    a = Service(SQLiteStorage(tmp_path / "a.db"), catalogue, outbox=outbox(catalogue))

    def published() -> list[bytes]:
        projection = CapProjection(catalogue)
        projection.apply_all(a.storage.iter_events())
        return [publisher.render(m, catalogue) for m in projection.messages.values()]

    alert_id = a.handle(
        OPERATOR,
        Declare.of(regions=[KYIV], type="air_raid"),
    ).body["alerts"][0]["id"]
    b_storage = SQLiteStorage(tmp_path / "b.db")
    [first] = published()
    assert Ingester(Service(b_storage, catalogue, outbox=outbox(catalogue))
                    ).ingest_bytes(first).verdict == "ingested"
    b_storage.close()

    node = build_node(Settings(db=str(tmp_path / "b.db"), cap_feeds=("http://127.0.0.1:9/",)),
                      formats=webhook_formats(), catalogue=catalogue)
    try:
        assert node.poller is not None
        ingester = node.poller.ingester
        assert ingester.index.seq == node.service.state.seq == 1
        a.handle(
            OPERATOR,
            UpdateAlert.of(threats=[{"type": "drones", "level": "yellow"}], note="drones"),
            alert_id,
        )
        outcome = ingester.ingest_bytes(published()[-1])
        assert outcome.verdict == "ingested", outcome
        [alert] = node.service.state.active_alerts()  # the same alert, updated
        assert [t.type.value for t in alert.threats] == ["drones"]
    finally:
        node.close()
        a.storage.close()


def test_no_route_module_registers_a_listener_or_runs_anything() -> None:
    """What runs beside the routes is the node's: no module of the HTTP application but
    ``app.py`` (which starts and stops the node) and the server runner touches the follower's
    listeners or the application's lifecycle hooks. ``ops.py`` is the application's own
    instrumentation, installed by ``create_app`` over every route: its sampler lives and dies
    with the application, as the node does."""
    import ast

    from tests.test_imports import PACKAGE

    hooks = {"listeners", "cleanup_ctx", "on_startup", "on_shutdown", "on_cleanup"}
    found = []
    for folder in ("api", "web"):
        for path in sorted((PACKAGE / folder).glob("*.py")):
            if path.name in ("app.py", "server.py", "ops.py"):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found += [f"{folder}/{path.name}:{node.lineno} .{node.attr}"
                      for node in ast.walk(tree)
                      if isinstance(node, ast.Attribute) and node.attr in hooks]
    assert not found, found


async def test_a_command_goes_to_the_writer_before_other_writes(
        tmp_path: Path, catalogue: Catalogue) -> None:
    # Issue 15, defect 1: registrations flooding the one writer made a declaration wait behind
    # every one of them. Other writes reach the writer one at a time; a command goes first.
    node = build_node(Settings(db=str(tmp_path / "n.db")), formats=webhook_formats(),
                      catalogue=catalogue)
    order: list[str] = []
    started, gate = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        gate.wait(30)
        order.append("held")

    def other(n: int) -> None:
        order.append(f"other {n}")

    def declare(*args: Any) -> Any:
        order.append("command")
        return node.service.handle(*args)

    try:
        first = asyncio.create_task(node.write(hold))
        await asyncio.to_thread(started.wait, 30)
        others = [asyncio.create_task(node.write(other, n)) for n in range(3)]
        command = asyncio.create_task(node.command(
            declare, OPERATOR, Declare.of(regions=[KYIV_OBLAST], type="air_raid")))
        for _ in range(10):  # every task has run up to its first wait
            await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(first, command, *others)
        assert order == ["held", "command", "other 0", "other 1", "other 2"]
    finally:
        gate.set()
        node.close()
