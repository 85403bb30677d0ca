"""The server's event loop: uvloop by default where installed, asyncio's own on request."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

from tests.conftest import TRYVOGA, free_port, start_server, stop_server
from tests.regions import KYIV
from tryvoga.errors import BadRequest
from tryvoga.eventloop import new_event_loop, resolve
from tryvoga.settings import Settings, SettingsError

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None


def test_auto_means_uvloop_where_installed_and_asyncio_is_always_there() -> None:
    assert resolve("auto") == ("uvloop" if HAVE_UVLOOP else "asyncio")
    assert resolve("asyncio") == "asyncio"
    loop = new_event_loop("asyncio")
    try:
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()
    with pytest.raises(BadRequest):
        resolve("twisted")


def test_a_bad_value_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="TRYVOGA_EVENT_LOOP"):
        Settings.load({"TRYVOGA_EVENT_LOOP": "tornado"})
    result = subprocess.run(
        [*TRYVOGA, "serve", "--port", str(free_port()), "--db", str(tmp_path / "x.db"),
         "--event-loop", "gevent"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--event-loop" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("choice", ["asyncio", "auto"])
def test_the_server_reads_and_writes_on_either_loop(tmp_path: Path, choice: str) -> None:
    server = start_server(tmp_path, "--event-loop", choice)
    try:
        declared = server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
        assert declared.status == 201
        first = server.get("/api/v1/status")
        assert first.json()["regions"][KYIV]["air_raid"] == "A"
        again = server.get("/api/v1/status", headers={"If-None-Match": first.headers["ETag"]})
        assert again.status == 304
    finally:
        stop_server(server)
    startup = server.log.read_text()
    assert f", {resolve(choice)})" in startup, startup
