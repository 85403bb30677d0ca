"""Shared fixtures: the packaged catalogue, a real SQLite file, the service on it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.polling import wait_for
from tryvoga.api.formats import outbox
from tryvoga.domain.regions import Catalogue, Region, load_catalogue
from tryvoga.service import Actor, Service
from tryvoga.storage.sqlite import SQLiteStorage


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


def by_api_id(catalogue: Catalogue, api_id: int) -> Region:
    return catalogue.by_api_id[api_id]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tryvoga.db"


@pytest.fixture
def storage(db_path: Path) -> Iterator[SQLiteStorage]:
    store = SQLiteStorage(db_path)
    yield store
    store.close()


@pytest.fixture
def service(storage: SQLiteStorage, catalogue: Catalogue) -> Service:
    return Service(storage, catalogue, outbox=outbox(catalogue))


@pytest.fixture
def admin() -> Actor:
    return Actor("admin")


# ---- a real server process -------------------------------------------------------------------


TRYVOGA = [sys.executable, "-m", "tryvoga.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_cli(*args: str, db: Path | str | None, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
    """Run the real ``tryvoga`` command (with ``--db`` unless db is None)."""
    command = [*TRYVOGA, *args] + ([] if db is None else ["--db", str(db)])
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"tryvoga {' '.join(args)} failed: {result.stderr}")
    return result


@dataclass
class HTTPResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    """A ``tryvoga serve`` process on a free 127.0.0.1 port, with a whole-country write token."""

    base: str
    db: Path
    token: str
    process: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None, token: str | None = "default",
                raw: bytes | None = None) -> HTTPResult:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization",
                               f"Bearer {self.token if token == 'default' else token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return HTTPResult(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return HTTPResult(error.code, dict(error.headers), error.read())

    def get(self, path: str, **kwargs: Any) -> HTTPResult:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> HTTPResult:
        return self.request("POST", path, body, **kwargs)


def start_server(tmp: Path, *extra_args: str, env: dict[str, str] | None = None,
                 db: Path | None = None) -> Server:
    db = db or tmp / "server.db"
    # An automated source: tests of the two-person rule make their own bound tokens.
    token = run_cli("token", "create", "--name", f"test-{time.monotonic_ns()}", "--scope", "UA",
                    "--write", "--automated", db=db).stdout.strip().splitlines()[-1]
    port = free_port()
    log = tmp / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*TRYVOGA, "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(db),
             *extra_args],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    server = Server(f"http://127.0.0.1:{port}", db, token, process, log)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()}")
        try:
            return server.get("/healthz", token=None).status == 200
        except OSError:
            return False

    try:
        wait_for(healthy, "the server to start", seconds=30)
    except AssertionError:
        process.kill()
        raise AssertionError(f"server did not start: {log.read_text()}") from None
    return server


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path)
    yield running
    stop_server(running)


# ---- a real browser: Debian's chromium driven by Playwright (never a downloaded one) -------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium per test module, closed with it: Playwright's sync API keeps an event
    loop running while it is open, which the asyncio tests of later modules must not see."""
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing: apt-get install chromium fonts-dejavu-core"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
