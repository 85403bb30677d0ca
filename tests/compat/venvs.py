"""One virtual environment per real client package, created from PyPI on first use and kept.

Two of the packages import as ``alerts_in_ua`` and two pin old dependencies, so each client
gets its own environment. An environment lives in ``.cache/client-venvs/<name>-<hash>``
(gitignored), where the hash covers the pins and the Python version: changing a pin makes a new
one, and a run with everything in place installs nothing and reaches no network. A lock file
keeps two test runs from building the same environment at once.

``python -m tests.compat.venvs`` builds them all ahead of a test run, with progress.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("TRYVOGA_CLIENT_VENVS", ROOT / ".cache" / "client-venvs"))

# The environments' own dependencies, pinned to what the clients were checked against.
AIOHTTP = "aiohttp==3.14.5"
REQUESTS = "requests==2.34.2"
PYDANTIC = "pydantic==2.14.4"


@dataclass(frozen=True, slots=True)
class ClientSpec:
    name: str
    module: str  # what the driver imports, to check the environment works
    installs: tuple[tuple[str, ...], ...]  # pip install argument lists, in order


CLIENTS: dict[str, ClientSpec] = {spec.name: spec for spec in (
    ClientSpec("alerts-in-ua", "alerts_in_ua",
               (("alerts-in-ua==0.4.0", AIOHTTP, REQUESTS, "pytz==2026.6"),)),
    # Pins aiohttp~=3.8.3 and friends, which do not build on this Python: no deps, then
    # current ones.
    ClientSpec("alerts-in-ua-py", "alerts_in_ua",
               (("--no-deps", "alerts-in-ua-py==1.4.4"),
                (AIOHTTP, REQUESTS, PYDANTIC, "svglib==2.3.2", "reportlab==5.1.0"))),
    ClientSpec("ukrainealarm", "ukrainealarm.client", (("ukrainealarm==0.0.1", AIOHTTP),)),
    ClientSpec("uasiren", "uasiren.client", (("uasiren==0.0.1", AIOHTTP),)),
    # Newer releases carry inconsistent version metadata and pip refuses them; 1.3.7.2 pins
    # old dependencies as well.
    ClientSpec("ua-alarm", "ua_alarm",
               (("--no-deps", "ua-alarm==1.3.7.2"), (AIOHTTP, PYDANTIC))),
)}


def _key(spec: ClientSpec) -> str:
    text = json.dumps([spec.name, spec.installs, list(sys.version_info[:2])])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def ensure(name: str, progress: Callable[[str], None] = lambda _: None) -> Path:
    """The python of client ``name``'s environment, built first if it is not there."""
    spec = CLIENTS[name]
    target = CACHE / f"{name}-{_key(spec)}"
    python = target / "bin" / "python"
    stamp = target / ".complete"
    if stamp.exists():
        return python
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():  # another run built it while we waited
            return python
        shutil.rmtree(target, ignore_errors=True)
        try:
            progress(f"client venv {name}: creating {target}")
            _run([sys.executable, "-m", "venv", str(target)], f"creating the {name} venv")
            for step, args in enumerate(spec.installs, 1):
                progress(f"client venv {name}: pip install {' '.join(args)} "
                         f"({step}/{len(spec.installs)})")
                _run([str(python), "-m", "pip", "install", "--quiet", "--no-input",
                      "--disable-pip-version-check", *args], f"installing {args} for {name}")
            _run([str(python), "-c", f"import {spec.module}"], f"importing {spec.module}")
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        stamp.write_text(json.dumps({"name": name, "installs": spec.installs}))
        progress(f"client venv {name}: ready")
    return python


def main() -> None:
    for name in CLIENTS:
        print(ensure(name, lambda line: print(line, flush=True)), flush=True)


if __name__ == "__main__":
    main()
