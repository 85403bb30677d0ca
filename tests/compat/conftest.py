"""Fixtures for the façade conformance tests: real clients in their own environments, a real
server, and the fixed scenario loaded through the native API."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tryvoga.domain.regions import Catalogue

from ..conftest import Server, by_api_id, run_cli, start_server, stop_server
from . import venvs

DRIVER = Path(__file__).with_name("driver.py")
ANSWER_TIMEOUT = 60.0


class ClientRaised(AssertionError):
    """The client raised; ``error`` holds its exception's type, message and status."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error['type']}: {error['message']}")
        self.error = error


def client_env() -> dict[str, str]:
    """The environment less anything that could send the clients' requests elsewhere."""
    env = {k: v for k, v in os.environ.items()
           if not k.lower().endswith("_proxy") and k not in ("PYTHONPATH", "PYTHONHOME",
                                                             "VIRTUAL_ENV")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


class ClientProcess:
    """One real client package running in ``driver.py`` under its own environment's python."""

    def __init__(self, python: Path, name: str, base: str, key: str | None) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [str(python), str(DRIVER), name, base, key or ""], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=client_env())
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        ready = self._answer()
        assert ready == {"ready": name}, ready

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _answer(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=ANSWER_TIMEOUT)
        except queue.Empty:
            self.process.kill()
            raise AssertionError(f"{self.name} gave no answer in {ANSWER_TIMEOUT} s") from None
        if line is None:
            assert self.process.stderr is not None
            raise AssertionError(f"{self.name} driver exited: {self.process.stderr.read()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def attempt(self, op: str, **args: Any) -> dict[str, Any]:
        """The raw answer: ``{"ok": ...}`` or ``{"error": ...}``."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def call(self, op: str, **args: Any) -> Any:
        answer = self.attempt(op, **args)
        if "error" in answer:
            raise ClientRaised(answer["error"])
        return answer["ok"]

    def raised(self, op: str, **args: Any) -> dict[str, Any]:
        answer = self.attempt(op, **args)
        assert "error" in answer, f"{self.name} {op} did not raise: {answer}"
        error: dict[str, Any] = answer["error"]
        return error

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


OpenClient = Callable[[str, Server, str | None], ClientProcess]


@pytest.fixture(scope="session")
def client_pythons(pytestconfig: pytest.Config) -> Callable[[str], Path]:
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")

    def progress(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)

    def python(name: str) -> Path:
        return venvs.ensure(name, progress)

    return python


@pytest.fixture
def open_client(client_pythons: Callable[[str], Path]) -> Iterator[OpenClient]:
    opened: list[ClientProcess] = []

    def start(name: str, server: Server, key: str | None) -> ClientProcess:
        client = ClientProcess(client_pythons(name), name, server.base, key)
        opened.append(client)
        return client

    yield start
    for client in opened:
        client.close()


# ---- the fixed scenario ------------------------------------------------------------------

KHARKIV_OBLAST = 22
DNIPRO_OBLAST = 9
NIKOPOL_RAION = 47
NIKOPOL_HROMADA = 351  # in Nikopol raion
SUMY_OBLAST = 20
LVIV_OBLAST = 27
KYIV_CITY = 31


@dataclass
class Scenario:
    """What the native API was told, and what every façade must therefore say."""

    server: Server
    reader: str  # a read-only token
    ids: dict[str, int] = field(default_factory=dict)  # alert name -> alert id
    sumy_hromada: int = 0  # api id of the hromada with an alert in Sumy oblast

    # (api id of the region, type) of every actual active alert
    def expected_active(self) -> set[tuple[int, str]]:
        return {(KHARKIV_OBLAST, "air_raid"), (NIKOPOL_RAION, "air_raid"),
                (self.sumy_hromada, "air_raid"), (NIKOPOL_HROMADA, "artillery_shelling")}


def declare(server: Server, catalogue: Catalogue, api_id: int, type_: str,
            threats: list[dict[str, str]] | None = None, **extra: Any) -> int:
    region = by_api_id(catalogue, api_id)
    answer = server.post("/api/v1/alerts", {"regions": [region.code], "type": type_,
                                            "threats": threats or [], **extra})
    assert answer.status == 201, answer.body
    alert_id: int = answer.json()["alerts"][0]["id"]
    return alert_id


def load_scenario(server: Server, catalogue: Catalogue) -> Scenario:
    reader = run_cli("token", "create", "--name", "reader",
                     db=server.db).stdout.strip().splitlines()[-1]
    scenario = Scenario(server, reader)
    # A hromada of Sumy oblast, a level below one of its raions.
    sumy = by_api_id(catalogue, SUMY_OBLAST)
    raion = catalogue.children[sumy.code][0]
    hromada = next(catalogue[c] for c in catalogue.children[raion]
                   if catalogue[c].api_id is not None)
    assert hromada.api_id is not None
    scenario.sumy_hromada = hromada.api_id
    ids = scenario.ids
    ids["kyiv"] = declare(server, catalogue, KYIV_CITY, "air_raid",
                          [{"type": "ballistic", "level": "red"}],
                          source="Kyiv City Military Administration")
    ended = server.post(f"/api/v1/alerts/{ids['kyiv']}/end", {"reason": "all clear"})
    assert ended.status == 200, ended.body
    ids["kharkiv"] = declare(server, catalogue, KHARKIV_OBLAST, "air_raid",
                             [{"type": "missiles", "level": "red"}],
                             source="Kharkiv Oblast Military Administration",
                             note="missiles from the north-east")
    ids["nikopol_raion"] = declare(server, catalogue, NIKOPOL_RAION, "air_raid",
                                   [{"type": "drones", "level": "yellow"}])
    ids["sumy_hromada"] = declare(server, catalogue, hromada.api_id, "air_raid",
                                  [{"type": "guided_bombs", "level": "yellow"}])
    ids["nikopol_artillery"] = declare(server, catalogue, NIKOPOL_HROMADA,
                                       "artillery_shelling")
    ids["lviv_exercise"] = declare(server, catalogue, LVIV_OBLAST, "air_raid",
                                   [{"type": "drones", "level": "red"}], status="exercise")
    return scenario


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory,
             catalogue: Catalogue) -> Iterator[Scenario]:
    """One server with the fixed scenario, read by every client test (none changes it)."""
    # Loopback webhooks allowed: the registration tests give 127.0.0.1:9, which never answers.
    server = start_server(tmp_path_factory.mktemp("compat"),
                          env={"TRYVOGA_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"})
    try:
        yield load_scenario(server, catalogue)
    finally:
        stop_server(server)
