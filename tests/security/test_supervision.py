"""Issue 15, defect 6: ``--workers N``: workers die with their parent, and a dead worker is
restarted (with backoff). Real server processes and real SIGKILLs.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from ..conftest import Server, start_server, stop_server

DEADLINE = 30.0


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(t) for t in text)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def workers(server: Server, count: int) -> set[int]:
    until(lambda: len([p for p in children(server.process.pid) if alive(p)]) == count,
          f"{count} workers")
    return {p for p in children(server.process.pid) if alive(p)}


def port_free(server: Server) -> bool:
    host, port = server.base.removeprefix("http://").split(":")
    with socket.socket() as sock:
        try:
            sock.connect((host, int(port)))
        except ConnectionRefusedError:
            return True
    return False


def test_workers_die_with_their_parent(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--workers", "2")
    pids = workers(server, 2)
    try:
        server.process.kill()
        server.process.wait()
        until(lambda: not any(alive(p) for p in pids), "the orphaned workers to exit")
        until(lambda: port_free(server), "the port to be free")
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_killed_worker_is_restarted(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--workers", "2")
    try:
        first = workers(server, 2)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        until(lambda: not alive(victim), "the worker to die")
        after = workers(server, 2)
        assert victim not in after and len(after & first) == 1
        # Again, at once: a restart is held back a little (backoff), never given up.
        second_victim = max(after - first)
        os.kill(second_victim, signal.SIGKILL)
        until(lambda: not alive(second_victim), "the second worker to die")
        final = workers(server, 2)
        assert second_victim not in final
        for _ in range(10):
            assert server.get("/api/v1/status", token=None).status == 200
        assert "restart" in server.log.read_text()
    finally:
        stop_server(server)
        assert server.process.returncode == 0
