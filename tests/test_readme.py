"""The README's commands work as written, and its settings table matches the code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path

from tests.polling import wait_for
from tests.regions import KYIV
from tryvoga.settings import markdown_table

from .conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text("utf-8")


def between(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n(.*?)<!-- /{marker} -->", README, re.S)
    assert match, f"README has no {marker} block"
    return match.group(1)


def test_settings_table_matches_the_code() -> None:
    assert between("settings-table").strip() == markdown_table().strip()


def test_quick_start_make_run_then_the_documented_commands(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TRYVOGA_PORT": str(port), "TRYVOGA_DB": str(tmp_path / "qs.db")}
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:
        server = subprocess.Popen(["make", "-s", "run"], cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:

        def healthy() -> bool:
            assert server.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    return True
            except OSError:
                return False

        try:
            wait_for(healthy, "make run to serve", seconds=120)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {log.read_text()}") from None
        script = between("quick-start").split("```sh\n", 1)[1].rsplit("```", 1)[0]
        script = script.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        # curl prints the two answers back to back: decode them one after the other.
        decoder = json.JSONDecoder()
        declared, end = decoder.raw_decode(done.stdout)
        status, _ = decoder.raw_decode(done.stdout, end)
        assert declared["alerts"][0]["region"] == KYIV
        assert status["regions"][KYIV]["air_raid"] == "A"
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
