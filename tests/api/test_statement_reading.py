"""Statements are read where they cannot stall anyone (issue 15, defect 2): in a child process
of the server, a bounded number at a time, within a deadline; the text has a size limit.

The server test stops the reader process (SIGSTOP) while it holds a large statement: the
statement cannot be answered until it is let go, and meanwhile public reads are answered."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tryvoga.domain.regions import Catalogue
from tryvoga.errors import BadRequest
from tryvoga.ingest.proposals import MAX_STATEMENT
from tryvoga.ingest.statements.pool import ReaderBusy, StatementPool

from ..conftest import HTTPResult, Server, start_server, stop_server
from ..ingest.test_statements import EXAMPLE
from .test_native import assert_error


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("reading"))
    yield running
    stop_server(running)


def reader_processes(parent: int) -> list[int]:
    """The statement readers the process ``parent`` started (multiprocessing's spawn)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def large_statement(size: int) -> str:
    text = EXAMPLE.read_text("utf-8") + "\n\n"
    return (text * (size // len(text) + 1))[:size]


def test_public_reads_are_answered_while_a_statement_is_being_read(srv: Server) -> None:
    # A first statement starts the reader process.
    first = srv.post("/api/v1/ingest/statement", {"text": "Повітряна тривога в Харкові."})
    assert first.status == 201, first.body
    (reader,) = reader_processes(srv.process.pid)
    assert reader != srv.process.pid

    os.kill(reader, signal.SIGSTOP)
    answers: list[HTTPResult] = []
    sending = threading.Thread(target=lambda: answers.append(srv.post(
        "/api/v1/ingest/statement", {"text": large_statement(MAX_STATEMENT)})))
    try:
        sending.start()
        # The reader is stopped with the statement in hand; the server answers reads.
        for _ in range(20):
            events = srv.get("/api/v1/events", token=None)
            assert events.status == 200
            assert srv.get("/api/v1/alerts/active", token=None).status == 200
        assert sending.is_alive() and answers == []
    finally:
        os.kill(reader, signal.SIGCONT)
    sending.join(60)
    (answer,) = answers
    assert answer.status == 201, answer.body
    assert any(p["kind"] == "alert" for p in answer.json()["proposals"])


def test_a_statement_over_the_limit_is_refused_unread(srv: Server) -> None:
    answer = srv.post("/api/v1/ingest/statement", {"text": "а" * (MAX_STATEMENT + 1)})
    assert_error(answer, 413, "statement_too_long", field="text")


def test_a_reading_past_its_deadline_is_stopped(catalogue: Catalogue) -> None:
    async def scenario() -> None:
        pool = StatementPool(catalogue, deadline=1.0, queue=0)
        try:
            first = await pool.read("Повітряна тривога в Харкові.", "", None)
            assert [p.kind for p in first.proposals] == ["alert"]
            (child,) = pool._idle
            os.kill(child.process.pid or 0, signal.SIGSTOP)
            reading = asyncio.ensure_future(pool.read("Пожежа в Києві.", "", None))
            await asyncio.sleep(0)
            # One reader, no queue: a second statement meanwhile is refused, to come back.
            with pytest.raises(ReaderBusy) as busy:
                await pool.read("Пожежа в Одесі.", "", None)
            assert busy.value.status == 503 and busy.value.retry_after >= 1
            with pytest.raises(BadRequest) as slow:
                await reading
            assert slow.value.code == "statement_too_slow"
            assert not child.process.is_alive()
            # A new reader takes the next statement.
            again = await pool.read("Пожежа в Києві.", "", None)
            assert [p.incident_kind for p in again.proposals] == ["fire"]
        finally:
            pool.close()

    asyncio.run(scenario())
