"""Schemathesis over the whole OpenAPI description against a real server (bounded).

Every operation but the never-ending streams gets generated requests: examples, boundary cases
(the coverage phase) and random ones, valid and invalid. Checks: no 5xx, every answer's status
documented, its Content-Type documented, and its body valid against the schema documented for
that status, which for every 4xx is the one error shape (``{"message"}`` on the façades).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import Server, start_server, stop_server
from ..regions import KYIV

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("schemathesis"))
    # Something to read and to change: an active alert and an incident.
    running.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
    running.post("/api/v1/incidents", {"kind": "fire", "region": KYIV, "source": "test"})
    yield running
    stop_server(running)


def test_no_server_errors_and_every_answer_as_described(srv: Server, tmp_path: Path) -> None:
    command = [str(Path(sys.executable).parent / "schemathesis"), "run",
               f"{srv.base}/api/v1/openapi.json", "--checks", CHECKS,
               "--max-examples", "5", "--seed", "20230520",
               "--phases", "examples,coverage,fuzzing",
               "--exclude-path-regex", r"^/api/v1/(stream|stream\.ndjson|ws)$",
               "--header", f"Authorization: Bearer {srv.token}",
               "--request-timeout", "20", "--no-color",
               "--report-dir", str(tmp_path)]
    # Its cache goes under the test's folder, not into the repository.
    result = subprocess.run(command, capture_output=True, text=True, timeout=900,
                            cwd=tmp_path)
    tail = result.stdout[-6000:]
    assert result.returncode == 0, tail
    assert "generated" in tail and "failed" not in tail.split("Test cases:")[-1], tail
    assert "Traceback" not in srv.log.read_text("utf-8", "replace")
