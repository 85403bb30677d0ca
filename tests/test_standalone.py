"""The repository stands alone: nothing it runs or tests reads a path beside or outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A path that leaves the repository: its sibling folder, or an absolute path of this machine.
# (The names are written as classes so that this file does not name those paths itself.)
OUTSIDE = re.compile(r"\.\./[s]hared|/[w]ork/[s]hared|parents\[\d\]\.parent")
TEXT = {".py", ".md", ".sh", ".toml", ".cfg", ".txt", ".yml", ".yaml", ".json", ".html", ".js"}


def test_no_tracked_file_reads_outside_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    assert tracked, "not a git checkout"
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in TEXT and path.name not in {"Makefile", "run"}:
            continue
        if not path.is_file():
            continue
        text = path.read_text("utf-8", errors="replace")
        offenders += [f"{name}: {m.group(0)}" for m in OUTSIDE.finditer(text)]
    assert offenders == []
