"""The README's "Production" commands work as written: two nodes on one PostgreSQL database
(a fresh one, in place of the example URL; free 127.0.0.1 ports in place of 8001 and 8002)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..conftest import free_port
from ..pg import fresh_database
from ..regions import KYIV
from .nodes import create_token

ROOT = Path(__file__).resolve().parents[2]


def production_script() -> str:
    readme = (ROOT / "README.md").read_text("utf-8")
    match = re.search(r"<!-- production -->\n```sh\n(.*?)```\n<!-- /production -->", readme,
                      re.S)
    assert match, "README has no production block"
    return match.group(1)


def test_two_nodes_in_three_commands(tmp_path: Path) -> None:
    script = production_script()
    assert len(script.strip().splitlines()) == 3
    ports = [free_port(), free_port()]
    with fresh_database() as url:
        script = re.sub(r"postgresql://\S+", url, script)
        script = script.replace("0.0.0.0", "127.0.0.1")
        script = script.replace("8001", str(ports[0])).replace("8002", str(ports[1]))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRYVOGA_")}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        log = tmp_path / "production.log"
        with log.open("wb") as out:
            shell = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script + "wait\n"],
                                     env=env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            deadline = time.monotonic() + 120
            for base in bases:
                while True:
                    assert shell.poll() is None, log.read_text()
                    try:
                        with urllib.request.urlopen(base + "/healthz", timeout=2):
                            break
                    except OSError:
                        assert time.monotonic() < deadline, log.read_text()
                        time.sleep(0.1)
            token = create_token(url)
            request = urllib.request.Request(
                bases[0] + "/api/v1/alerts", method="POST",
                data=json.dumps({"regions": [KYIV], "type": "air_raid"}).encode(),
                headers={"Authorization": f"Bearer {token}",
                         "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 201
            while True:
                with urllib.request.urlopen(bases[1] + "/api/v1/status", timeout=30) as got:
                    if json.loads(got.read())["regions"][KYIV]["air_raid"] == "A":
                        break
                assert time.monotonic() < deadline
                time.sleep(0.01)
        finally:
            os.killpg(shell.pid, signal.SIGTERM)
            shell.wait(timeout=30)
