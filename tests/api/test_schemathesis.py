"""Schemathesis over the whole OpenAPI description against a real server (bounded, strict).

Every operation but the two never-ending streams (SSE and NDJSON, described and checked by
``test_openapi.py`` and ``test_streams.py``; the WebSocket path is in) gets generated requests:
examples, boundary cases (the coverage phase) and random ones, valid and invalid, from a fixed
seed, at most ``MAX_EXAMPLES`` per operation and phase, so a run is the same run in CI. Checks:

- no 5xx, and every status, Content-Type and body as documented for its status: every 4xx in
  the one error shape (``{"message"}`` on the façades, which the description says per path);
- data outside the schema is refused (``negative_data_rejection``; 413 counts as a refusal),
  data inside it is not (``positive_data_acceptance``), so the description is as strict as the
  validation and no stricter;
- a method a path does not document is a 405 (``unsupported_method``), and an operation that
  needs a token refuses a request without one (``missing_required_header``).

What the server refuses for reasons of state or policy that no schema can say is listed in
``ALSO_REFUSED`` per operation, each with its reason; nothing else may be refused.
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
          "response_schema_conformance,negative_data_rejection,positive_data_acceptance,"
          "unsupported_method,missing_required_header")
MAX_EXAMPLES = 5
SEED = 20230520
# schemathesis's own list of refusals of invalid data, and 413: a body over --max-body.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
# Schema-valid requests the server still refuses, and why (the description says each).
ALSO_REFUSED = {
    # An opaque cursor is valid only if this server gave it out.
    ("GET", "/api/v1/history"): ["400"],
    # The URL's address must not be loopback, private or reserved (delivery/safety.py); the
    # description gives the form of a URL, not the address policy.
    ("POST", "/api/v1/webhooks"): ["422"],
    ("POST", "/api/v3/webhook"): ["400"],
    ("PATCH", "/api/v3/webhook"): ["400"],
    ("DELETE", "/api/v3/webhook"): ["400"],
    # A region is not its own neighbour (the path names it, the body cannot know it).
    ("PUT", "/api/v1/regions/{code}/settings"): ["422"],
    # A WebSocket needs its handshake (Upgrade, Sec-WebSocket-Key), which no generated
    # request makes: 400 websocket_required; test_streams.py opens real ones.
    ("GET", "/api/v1/ws"): ["400"],
}
POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "429"]


def config() -> str:
    """schemathesis.toml: the refusals above, per operation."""
    lines = [f"[checks.negative_data_rejection]\nexpected-statuses = {REFUSALS}\n",
             f"[checks.positive_data_acceptance]\nexpected-statuses = {POSITIVE}\n"]
    for (method, path), statuses in ALSO_REFUSED.items():
        lines.append(f'[[operations]]\ninclude-name = "{method} {path}"\n'
                     f"checks.positive_data_acceptance.expected-statuses = "
                     f"{POSITIVE + statuses}\n")
    return "\n".join(lines).replace("'", '"')


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # No façade rate limit: generated requests test what is behind it, not the 429.
    running = start_server(tmp_path_factory.mktemp("schemathesis"), "--compat-rate-token", "0",
                           "--compat-rate-ip", "0")
    # Something to read and to change: an active alert and an incident.
    running.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
    running.post("/api/v1/incidents", {"kind": "fire", "region": KYIV, "source": "test"})
    yield running
    stop_server(running)


def test_no_server_errors_and_every_answer_as_described(srv: Server, tmp_path: Path) -> None:
    (tmp_path / "schemathesis.toml").write_text(config(), "utf-8")
    command = [str(Path(sys.executable).parent / "schemathesis"),
               "--config-file", str(tmp_path / "schemathesis.toml"), "run",
               f"{srv.base}/api/v1/openapi.json", "--checks", CHECKS,
               "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
               "--phases", "examples,coverage,fuzzing",
               "--exclude-path-regex", r"^/api/v1/(stream|stream\.ndjson)$",
               "--header", f"Authorization: Bearer {srv.token}",
               "--request-timeout", "20", "--no-color",
               # Generating a 50,000-character statement is slow on a busy machine; how fast
               # data is generated is not what this tests.
               "--suppress-health-check", "too_slow",
               "--report-dir", str(tmp_path)]
    # Its cache goes under the test's folder, not into the repository.
    result = subprocess.run(command, capture_output=True, text=True, timeout=900,
                            cwd=tmp_path)
    tail = result.stdout[-8000:]
    assert result.returncode == 0, tail
    assert "generated" in tail and "failed" not in tail.split("Test cases:")[-1], tail
    assert "Traceback" not in srv.log.read_text("utf-8", "replace")


def test_the_refusals_listed_are_documented_operations() -> None:
    """Every exception names an operation the description has (none is left over)."""
    from tryvoga.api.openapi import spec

    paths = spec()["paths"]
    for method, path in ALSO_REFUSED:
        assert method.lower() in paths.get(path, {}), (method, path)
