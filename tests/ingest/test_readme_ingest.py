"""The README's commands for channel posts, the record, statistics and replay run as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_ingest_commands_run(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    block = re.search(r"<!-- ingest -->\n```sh\n(.*?)```\n<!-- /ingest -->", readme, re.S)
    assert block, "README has no ingest block"
    script = block.group(1)
    # Two stand-ins: a small export for the reader's own `result.json`, and a replay fast
    # enough for a test (the documented 60x plays the day in 24 minutes).
    export = tmp_path / "result.json"
    export.write_text(json.dumps({"name": "Повітряна тривога", "messages": [
        {"id": 1, "type": "message", "date_unixtime": "1684532491",
         "text": "🔴 00:41 Повітряна тривога в м. Київ"},
        {"id": 2, "type": "message", "date_unixtime": "1684540895",
         "text": "🟢 03:01 Відбій тривоги в м. Київ."}]}, ensure_ascii=False), "utf-8")
    script = script.replace("result.json", str(export))
    script = script.replace("--speed 60", "--speed 1000000")
    assert "tryvoga replay --date 2023-05-20" in script
    env = {**os.environ, "TRYVOGA_DB": str(tmp_path / "readme.db"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "2 posts: applied 2" in out
    assert "imported official_data_en.csv" in out
    assert "region,name_en,name_uk,group,bucket" in out
    assert "replayed 51 exercise alerts of 2023-05-20" in out
