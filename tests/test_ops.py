"""Operations against a real ``tryvoga serve``: /healthz, /readyz, /metrics (one worker and
several), request ids, JSON logs, and no secret in any log line."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import Server, free_port, run_cli, start_server, stop_server
from tests.regions import KYIV
from tryvoga.api.app import CONTEXT, create_app
from tryvoga.api.formats import webhook_formats
from tryvoga.api.ops import OPS
from tryvoga.logs import redact
from tryvoga.node import build_node
from tryvoga.settings import Settings

LVIV = "UA46000000000026241"


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text; 0 when the series is not there."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return 0.0


def wait_until(condition: Any, what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers every POST with ``status``."""

    def __init__(self, status: int) -> None:
        outer = self
        self.count = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.count += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("ops"), "--access-log", "true",
                           "--log-format", "json",
                           env={"TRYVOGA_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
                                "TRYVOGA_WEBHOOK_BACKOFF": "3600"})
    yield running
    stop_server(running)


# ---- /healthz, /readyz, /metrics ------------------------------------------------------------

def test_health_and_readiness(srv: Server) -> None:
    health = srv.get("/healthz", token=None)
    assert health.status == 200 and health.json()["ok"] is True
    ready = srv.get("/readyz", token=None)
    assert ready.status == 200, ready.body
    body = ready.json()
    assert body["ready"] is True and body["reason"] is None
    assert {name for name, check in body["checks"].items() if check["ok"]} == {
        "database", "projection", "follower", "webhook_worker"}
    assert body["checks"]["projection"]["lag"] == 0
    # An alert declared with the CLI (another process) is in the projection when it is ready.
    run_cli("alert", "declare", LVIV, db=srv.db)
    ready = srv.get("/readyz", token=None).json()
    assert ready["ready"] and ready["checks"]["projection"]["applied"] == ready["checks"][
        "projection"]["head"] >= 1


def test_metrics_count_by_route_template(srv: Server) -> None:
    before = srv.get("/metrics", token=None).body.decode()
    declared = srv.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"})
    assert declared.status == 201, declared.body
    alert_id = declared.json()["alerts"][0]["id"]
    for _ in range(3):
        assert srv.get(f"/api/v1/alerts/{alert_id}", token=None).status == 200
    assert srv.get("/api/v1/alerts/999999", token=None).status == 404
    scraped = srv.get("/metrics", token=None)
    assert scraped.status == 200
    assert scraped.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = scraped.body.decode()
    route = "/api/v1/alerts/{id}"
    assert metric(text, "tryvoga_http_requests_total", route=route, method="GET",
                  status="200") - metric(before, "tryvoga_http_requests_total", route=route,
                                         method="GET", status="200") == 3
    assert metric(text, "tryvoga_http_requests_total", route=route, method="GET",
                  status="404") >= 1
    count = metric(text, "tryvoga_http_request_duration_seconds_count", route=route,
                   method="GET")
    assert count - metric(before, "tryvoga_http_request_duration_seconds_count", route=route,
                          method="GET") == 4
    assert metric(text, "tryvoga_http_request_duration_seconds_bucket", route=route,
                  method="GET", le="+Inf") == count
    assert 0 < metric(text, "tryvoga_http_request_duration_seconds_bucket", route=route,
                      method="GET", le="10.0") <= count
    assert 0 < metric(text, "tryvoga_http_request_duration_seconds_sum", route=route,
                      method="GET") < 10 * count
    assert f"/api/v1/alerts/{alert_id}\"" not in text  # never the raw path
    assert metric(text, "tryvoga_events_appended_total") - metric(
        before, "tryvoga_events_appended_total") == 1
    assert metric(text, "tryvoga_log_head_seq") >= 1
    assert metric(text, "tryvoga_projection_lag_events") == 0
    for name in ("tryvoga_stream_frames_dropped_total", "tryvoga_database_errors_total"):
        assert f"\n{name} " in text, name
    for transport in ("sse", "ndjson", "ws"):
        assert f'tryvoga_stream_subscribers{{transport="{transport}"}}' in text


def test_metrics_see_polled_reads_and_stream_subscribers(srv: Server) -> None:
    import urllib.request

    before = metric(srv.get("/metrics", token=None).body.decode(), "tryvoga_front_reads_total")
    for _ in range(5):
        assert srv.get("/api/v1/status", token=None).status == 200
    streams = [urllib.request.urlopen(srv.base + "/api/v1/stream.ndjson", timeout=30)
               for _ in range(2)]
    try:
        text = srv.get("/metrics", token=None).body.decode()
        assert metric(text, "tryvoga_front_reads_total") - before == 5
        assert metric(text, "tryvoga_stream_subscribers", transport="ndjson") == 2
    finally:
        for stream in streams:
            stream.close()
    wait_until(lambda: metric(srv.get("/metrics", token=None).body.decode(),
                              "tryvoga_stream_subscribers", transport="ndjson") == 0,
               "the closed streams to leave the count")


def test_webhook_attempts_by_outcome(srv: Server) -> None:
    good, bad = Receiver(200), Receiver(500)
    try:
        for receiver in (good, bad):
            made = srv.post("/api/v1/webhooks", {"url": receiver.url, "regions": [KYIV]})
            assert made.status == 201, made.body
        before = srv.get("/metrics", token=None).body.decode()
        assert srv.post("/api/v1/alerts/end", {"region": KYIV, "type": "air_raid"}).status \
            == 200
        wait_until(lambda: good.count >= 1 and bad.count >= 1, "both receivers to be called")

        def grown(outcome: str) -> float:
            now = srv.get("/metrics", token=None).body.decode()
            return (metric(now, "tryvoga_webhook_attempts_total", outcome=outcome)
                    - metric(before, "tryvoga_webhook_attempts_total", outcome=outcome))

        wait_until(lambda: grown("delivered") == 1 and grown("failed") == 1,
                   "the attempts to be counted")
    finally:
        good.close()
        bad.close()


def test_readiness_says_why_not(tmp_path: Path) -> None:
    """The reasons /readyz gives, with the failures made inside a real application on a real
    127.0.0.1 port: a database that errors, a projection left behind, a stuck follower."""

    async def scenario() -> list[tuple[int, dict[str, Any]]]:
        import aiohttp

        settings = Settings(db=str(tmp_path / "r.db"), webhook_worker=False)
        app = create_app(build_node(settings, formats=webhook_formats()))
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ctx = app[CONTEXT]
        answers = []
        try:
            async with aiohttp.ClientSession() as session:
                async def ready() -> tuple[int, dict[str, Any]]:
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                        return response.status, await response.json()

                answers.append(await ready())
                real_head = ctx.storage.head

                def broken() -> tuple[int, str]:
                    raise sqlite3.OperationalError("disk I/O error")

                ctx.storage.head = broken  # type: ignore[method-assign]  # the fault
                answers.append(await ready())
                ctx.storage.head = (  # type: ignore[method-assign]  # a log ahead
                    lambda: (real_head()[0] + 3, ""))
                answers.append(await ready())
                ctx.storage.head = real_head  # type: ignore[method-assign]
                ctx.follower.heartbeat -= 60
                answers.append(await ready())
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    text = await response.text()
                answers.append((response.status, {"db_errors": metric(
                    text, "tryvoga_database_errors_total")}))
        finally:
            await runner.cleanup()
        assert app[OPS].metrics is not None
        return answers

    fine, no_db, behind, stuck, errors = asyncio.run(scenario())
    assert fine[0] == 200 and fine[1]["ready"]
    assert no_db[0] == 503 and "database unreachable" in no_db[1]["reason"]
    assert "disk I/O error" in no_db[1]["checks"]["database"]["detail"]
    assert no_db[1]["checks"]["projection"]["last_read_seconds_ago"] >= 0
    assert "reads serve the log as read" in no_db[1]["reason"]
    assert behind[0] == 503 and "3 event(s) behind" in behind[1]["reason"]
    assert stuck[0] == 503 and "follower has not run" in stuck[1]["reason"]
    assert errors[1]["db_errors"] >= 1


def test_metrics_add_up_over_workers(tmp_path: Path) -> None:
    """With --workers 3 a scrape reaches one worker, and says what all of them did."""
    running = start_server(tmp_path, "--workers", "3")
    try:
        pids: set[int] = set()
        sent = 0
        # Until at least two workers have answered (the kernel picks; 30 requests at least).
        while sent < 30 or (len(pids) < 2 and sent < 1000):
            answer = running.get("/api/v1/regions/UA", token=None)
            assert answer.status == 200
            sent += 1
            pids.add(running.get("/healthz", token=None).json()["pid"])
        assert len(pids) > 1, "the requests all went to one worker: the test shows nothing"
        # Each worker copies its counts into the shared files within a second.
        route = "/api/v1/regions/{code}"

        def counted() -> bool:
            text = running.get("/metrics", token=None).body.decode()
            return metric(text, "tryvoga_http_requests_total", route=route, method="GET",
                          status="200") == sent
        wait_until(counted, "every worker's requests in the sum")
        for _ in range(6):  # whichever worker answers the scrape
            text = running.get("/metrics", token=None).body.decode()
            assert metric(text, "tryvoga_http_requests_total", route=route,
                          method="GET", status="200") == sent
            assert metric(text, "tryvoga_http_request_duration_seconds_count",
                          route=route, method="GET") == sent
            assert metric(text, "tryvoga_http_request_duration_seconds_bucket",
                          route=route, method="GET", le="+Inf") == sent
            assert metric(text, "tryvoga_http_requests_total", route="/healthz", method="GET",
                          status="200") >= sent
    finally:
        stop_server(running)


# ---- request ids ------------------------------------------------------------------------------

def test_request_ids(srv: Server) -> None:
    given = srv.get("/api/v1/regions/UA", token=None, headers={"X-Request-Id": "trace-42.a"})
    assert given.headers["X-Request-Id"] == "trace-42.a"
    made = {srv.get("/api/v1/regions/UA", token=None).headers["X-Request-Id"] for _ in range(5)}
    assert len(made) == 5 and all(re.fullmatch(r"[0-9a-f]{16}", rid) for rid in made)
    insane = srv.get("/api/v1/regions/UA", token=None,
                     headers={"X-Request-Id": "a b<script>"}).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{16}", insane)
    assert re.fullmatch(r"[0-9a-f]{16}", srv.get("/api/v1/regions/UA", token=None, headers={
        "X-Request-Id": "x" * 129}).headers["X-Request-Id"])
    # Errors and the unrouted carry one too.
    assert "X-Request-Id" in srv.get("/api/v1/nothing-here", token=None).headers
    assert srv.post("/api/v1/alerts", {"regions": []}, token="tv_wrong",
                    headers={"X-Request-Id": "bad-write"}).headers["X-Request-Id"] == "bad-write"
    # Polled reads from cached bytes: none unless asked for, then echoed.
    assert "X-Request-Id" not in srv.get("/api/v1/status", token=None).headers
    assert srv.get("/api/v1/status", token=None, headers={"X-Request-Id": "poll-7"}).headers[
        "X-Request-Id"] == "poll-7"
    # The access log carries the id, as JSON.
    wait_until(lambda: '"request_id": "trace-42.a"' in srv.log.read_text(), "the access line")
    line = next(json.loads(x) for x in srv.log.read_text().splitlines()
                if '"request_id": "trace-42.a"' in x)
    assert line["route"] == "/api/v1/regions/{code}" and line["status"] == 200


def test_every_log_line_is_json(srv: Server) -> None:
    lines = srv.log.read_text().splitlines()
    assert lines[0].startswith("Tryvoga ")  # the start line, before logging is set up
    parsed = [json.loads(line) for line in lines[1:]]
    assert parsed and all({"time", "level", "logger", "message", "pid"} <= set(p)
                          for p in parsed)


# ---- no secret in the log -----------------------------------------------------------------------

@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_in_any_log_line(tmp_path: Path, log_format: str) -> None:
    env = {"TRYVOGA_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8", "TRYVOGA_WEBHOOK_BACKOFF": "0.2",
           "TRYVOGA_WEBHOOK_RETRY_WINDOW": "1"}
    secrets: list[str] = []
    running = start_server(tmp_path, "--log-level", "debug", "--access-log", "true",
                           "--log-format", log_format, env=env)
    receiver = Receiver(500)
    try:
        secrets.append(running.token)
        reader = run_cli("token", "create", "--name", "reader", "--scope", "UA",
                         db=running.db).stdout.strip().splitlines()[-1]
        secrets.append(reader)
        hook = running.post("/api/v1/webhooks", {"url": receiver.url, "regions": [KYIV]})
        assert hook.status == 201
        secrets.append(hook.json()["secret"])
        # A URL with credentials in it, rejected: its password must not be logged.
        running.post("/api/v1/webhooks", {"url": "http://user:hunter2pass@127.0.0.1:9/x",
                                          "regions": [KYIV]})
        secrets.append("hunter2pass")
        wrong = "tv_" + "Q" * 43
        secrets.append(wrong)
        basic = base64.b64encode(b"admin:correct-horse-battery").decode()
        secrets += [basic, "correct-horse-battery"]
        for header in (f"Bearer {wrong}", f"Basic {basic}", "Token s3cr3t-t0ken-value",
                       f"Bearer {reader}"):
            running.post("/api/v1/alerts", {"regions": [KYIV]}, token=None,
                         headers={"Authorization": header})
        secrets.append("s3cr3t-t0ken-value")
        running.get(f"/v1/alerts/active.json?token={wrong}", token=None)
        running.get("/api/v3/alerts", token=None, headers={"Authorization": wrong})
        assert running.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid"}).status \
            == 201
        wait_until(lambda: receiver.count >= 2, "failed deliveries and their retries")
        running.get("/metrics", token=None)
    finally:
        receiver.close()
        stop_server(running)
    text = running.log.read_text()
    assert "POST /api/v1/alerts" in text and "webhook" in text  # the log did say things
    for secret in secrets:
        assert secret not in text, f"a secret is in the {log_format} log"


def test_redaction_patterns() -> None:
    cases = {
        "Authorization: Bearer abc.def": "Authorization: ",
        "header was Bearer abc.def": "Bearer ",
        "got token=tv_abcdefghijkl&x=1": "x=1",
        "{'secret': 'whsec_0123456789abcdef'}": "'secret'",
        '{"password": "pa55"}': '"password"',
        "key -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- end": "end",
        "url http://u:pw77@h/?api_key=zzz9": "http://u:[redacted]@h/?api_key=",
    }
    for text, kept in cases.items():
        clean = redact(text)
        assert kept in clean and "[redacted]" in clean, (text, clean)
    for secret in ("abc.def", "tv_abcdefghijkl", "whsec_0123456789abcdef", "pa55", "MIIE",
                   "zzz9", "pw77"):
        assert all(secret not in redact(text) for text in cases)
