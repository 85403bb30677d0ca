"""``tryvoga serve`` nodes on one PostgreSQL database, and a TCP proxy that can cut them off."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

from ..conftest import TRYVOGA, Server, free_port

__all__ = ["Proxy", "create_token", "migrate", "start_node"]


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYVOGA_")}
    env["TRYVOGA_DATABASE_URL"] = url
    return env


def migrate(url: str) -> str:
    result = subprocess.run([*TRYVOGA, "migrate"], env=_env(url), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def create_token(url: str, name: str = "ops") -> str:
    result = subprocess.run([*TRYVOGA, "token", "create", "--name", name, "--scope", "UA",
                             "--write"], env=_env(url), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def verify(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TRYVOGA, "verify"], env=_env(url), capture_output=True, text=True,
                          timeout=120)


def start_node(tmp: Path, url: str, token: str, *args: str) -> Server:
    port = free_port()
    log = tmp / f"node-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*TRYVOGA, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            stdout=out, stderr=subprocess.STDOUT, env=_env(url))
    node = Server(f"http://127.0.0.1:{port}", tmp / "unused.db", token, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"node exited: {log.read_text()}")
        try:
            if node.get("/healthz", token=None).status == 200:
                return node
        except OSError:
            pass
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"node did not start: {log.read_text()}")


class Proxy:
    """Forwards 127.0.0.1:port to PostgreSQL; ``cut()`` refuses new connections and closes
    every open one (as a database that went away), ``restore()`` listens again on the same
    port. The shared PostgreSQL server itself is never touched."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.restore()

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone would not stop it
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.cut()
