"""Operators, a real server and Debian's chromium driven by Playwright, for the console tests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import TRYVOGA, Server, start_server, stop_server
from tryvoga.domain.regions import load_catalogue
from tryvoga.operators import Operators
from tryvoga.storage.sqlite import SQLiteStorage

PASSWORD = "correct horse battery staple"
# The folder the console's screenshots are written to (ignored by git; see the README).
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "console"


def create_operator(db: Path, name: str, *scopes: str, role: str = "operator",
                    password: str = PASSWORD) -> None:
    """``tryvoga operator create``, the password given on stdin as a script would."""
    args = [*TRYVOGA, "operator", "create", name, "--role", role, "--db", str(db)]
    for scope in scopes:
        args += ["--scope", scope]
    result = subprocess.run(args, input=password + "\n", capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def console_server(tmp_path: Path) -> Iterator[Server]:
    """A server with a whole-country approver (alice) and operator (bob), a Kyiv-only
    operator (kyiv) and a second approver for Lviv oblast only (lviv)."""
    db = tmp_path / "console.db"
    create_operator(db, "alice", "UA", role="approver")  # the command, as an admin would
    storage = SQLiteStorage(db)  # the rest in-process: one command costs a second
    try:
        desk = Operators(storage, load_catalogue())
        desk.create("bob", PASSWORD, "operator", ["UA"])
        desk.create("kyiv", PASSWORD, "operator", ["UA80000000000093317"])
        desk.create("lviv", PASSWORD, "approver", ["UA46000000000026241"])
    finally:
        storage.close()
    running = start_server(tmp_path, "--console-lockout-failures", "3", db=db)
    yield running
    stop_server(running)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="uk-UA")
    opened = context.new_page()
    yield opened
    context.close()


def login(page: Page, server: Server, name: str, password: str = PASSWORD) -> None:
    page.goto(server.base + "/console/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("form.login button[type=submit]")


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
