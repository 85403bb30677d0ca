"""The public pages in a real browser: Debian's chromium driven by Playwright.

Never ``playwright install``: the browser is ``/usr/bin/chromium`` (system-packages.txt).
Without it these tests skip, except in CI (``CI=true``), where they fail.
Screenshots go to ``tests/web/screenshots/`` (printed; ignored by git).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import TRYVOGA, Server, start_server, stop_server

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT = 15_000  # ms: how long a DOM poll may wait before the test fails (not a timing check)

RAION = "UA63020000000066931"  # Bohodukhivskyi raion, Kharkiv oblast
HROMADA = "UA63040010000010092"  # Balakliiska hromada
HROMADA_RAION = "UA63040000000023521"
OBLAST = "UA63000000000041885"
ALERT_FILL = "rgb(213, 94, 0)"  # --alert, Okabe-Ito vermillion


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("browser"))
    yield running
    stop_server(running)


class Watched:
    """A page with every request it made and every script error."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.page = context.new_page()
        self.requests: list[Any] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: self.console.append(
            f"{message.type}: {message.text}"))

    def hosts(self) -> set[str]:
        return {urlsplit(r.url).netloc for r in self.requests
                if urlsplit(r.url).scheme not in ("data", "about")}


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    # Playwright's wait_for_function evaluates strings in the page, which the pages' own
    # Content-Security-Policy forbids; test_first_view_is_under_300_kb runs under it.
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    yield Watched(context)
    context.close()


def shot(page: Any, name: str, full: bool = False) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=full)
    print(f"screenshot: {target}")


def state_of(code: str, group: str = "raions") -> str:
    return f"document.querySelector('#{group} path[data-code=\"{code}\"]')"


def declare(srv: Server, region: str, **extra: Any) -> None:
    result = srv.post("/api/v1/alerts", {"regions": [region], "type": "air_raid", **extra})
    assert result.status == 201, result.body


def end(srv: Server, region: str, status: str = "actual") -> None:
    srv.post("/api/v1/alerts/end", {"region": region, "type": "air_raid", "status": status})


def test_map_loads_from_this_host_only_and_follows_declarations(srv: Server,
                                                               watched: Watched) -> None:
    page = watched.page
    host = urlsplit(srv.base).netloc
    page.goto(srv.base + "/")
    page.wait_for_function("document.getElementById('mine') && "
                           "!document.getElementById('mine').hidden", timeout=WAIT)
    assert page.get_attribute(f'#raions path[data-code="{RAION}"]', "data-s") is None
    declare(srv, RAION, threats=[{"type": "drones", "level": "red"}])
    try:
        # Without a reload: the stream tells the page, which restyles that one raion.
        page.wait_for_function(f"{state_of(RAION)}.getAttribute('data-s') === 'a'",
                               timeout=WAIT)
        page.wait_for_function("document.getElementById('list').textContent"
                               ".includes('Богодухівський район')", timeout=WAIT)
        assert "Богодухівський район" in page.inner_text("#announce")
        declare(srv, HROMADA)
        page.wait_for_function(
            f"{state_of(HROMADA, 'hromadas')} && "
            f"{state_of(HROMADA, 'hromadas')}.getAttribute('data-s') === 'a'", timeout=WAIT)
        assert page.get_attribute(f'#raions path[data-code="{HROMADA_RAION}"]',
                                  "data-s") == "p"
        # The colour itself, as drawn (vermillion), for the raion and for the hromada.
        for code, group in ((RAION, "raions"), (HROMADA, "hromadas")):
            fill = page.evaluate(f"getComputedStyle({state_of(code, group)}).fill")
            assert fill == ALERT_FILL, (code, fill)
        shot(page, "map-desktop")
    finally:
        end(srv, RAION)
        end(srv, HROMADA)
    page.wait_for_function(f"!{state_of(RAION)}.hasAttribute('data-s')", timeout=WAIT)
    assert watched.hosts() == {host}, watched.hosts()
    assert not watched.errors


def test_server_rendered_state_without_javascript(srv: Server, browser: Any) -> None:
    declare(srv, OBLAST, status="exercise")
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(srv.base + "/")
        assert page.get_attribute(f'#raions path[data-code="{RAION}"]', "data-s") == "x"
        assert "НАВЧАННЯ" in page.inner_text("#list")
        assert "НАВЧАННЯ" in page.text_content("#labels")
        assert page.is_hidden("#mine")  # needs the script: hidden without it
        assert "© OpenStreetMap contributors" in page.inner_text("footer")
        shot(page, "map-no-script")
    finally:
        context.close()
        end(srv, OBLAST, "exercise")


def test_first_view_is_under_300_kb(srv: Server, browser: Any) -> None:
    """Also: the page works under its own Content-Security-Policy (no bypass here)."""
    context = browser.new_context(viewport=DESKTOP)
    try:
        first_view(srv, Watched(context))
    finally:
        context.close()


def first_view(srv: Server, watched: Watched) -> None:
    page = watched.page
    declare(srv, OBLAST, status="exercise")
    try:
        with page.expect_response(lambda r: "/map/state.json" in r.url):
            page.goto(srv.base + "/", wait_until="load")
        page.locator("#mine:not([hidden])").wait_for()  # the script ran
        with page.expect_response(lambda r: "/map/state.json" in r.url):
            end(srv, OBLAST, "exercise")  # the stream (connect-src 'self') says so
    finally:
        end(srv, OBLAST, "exercise")
    assert not [m for m in watched.console if "Content Security Policy" in m], watched.console
    assert not watched.errors
    total = 0
    for request in list(watched.requests):
        if "/api/v1/stream" in request.url:
            continue  # open-ended; its first bytes are a few hundred
        response = request.response()
        if response is None:
            continue
        response.finished()
        sizes = request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    print(f"first view transferred: {total} bytes in {len(watched.requests)} requests")
    assert 0 < total < 300_000
    assert not any("/geo/hromadas.json" in r.url for r in watched.requests)


def test_language_switch_and_phone(srv: Server, browser: Any) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                  bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(srv.base + "/")
        assert page.get_attribute("html", "lang") == "uk"
        page.click("text=English")
        page.wait_for_url("**/?lang=en")
        assert page.get_attribute("html", "lang") == "en"
        assert "Active alerts" in page.inner_text("#list")
        page.goto(srv.base + "/")  # remembered
        assert page.get_attribute("html", "lang") == "en"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways on a phone: {width}px"
        assert page.locator("#map").bounding_box()["width"] <= PHONE["width"]
        shot(page, "map-phone", full=True)
        page.click("text=Українська")
        page.wait_for_url("**/?lang=uk")
        assert "Активні тривоги" in page.inner_text("#list")
    finally:
        context.close()


def test_my_region_is_remembered_and_notifies(srv: Server, browser: Any) -> None:
    context = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    try:
        context.grant_permissions(["notifications"], origin=srv.base)
        # Record what the page shows as notifications (the browser's own would need a desktop).
        context.add_init_script("""
            window.__shown = [];
            const Real = window.Notification;
            window.Notification = function (title, options) {
                window.__shown.push(title + ' | ' + (options && options.body));
                return new Real(title, options);
            };
            window.Notification.permission = 'granted';
            window.Notification.requestPermission = () => Promise.resolve('granted');
        """)
        page = context.new_page()
        page.goto(srv.base + "/")
        page.wait_for_function("!document.getElementById('mine').hidden", timeout=WAIT)
        page.select_option("#my-region", RAION)
        page.check("#my-notify")
        page.reload()
        page.wait_for_function("!document.getElementById('mine').hidden", timeout=WAIT)
        assert page.input_value("#my-region") == RAION
        assert page.is_checked("#my-notify")
        page.wait_for_function("document.getElementById('my-state').dataset.s === 'n'",
                               timeout=WAIT)
        declare(srv, RAION)
        try:
            page.wait_for_function("document.getElementById('my-state').dataset.s === 'a'",
                                   timeout=WAIT)
            assert "тривога" in page.inner_text("#my-state")
            page.wait_for_function("window.__shown.length === 1", timeout=WAIT)
        finally:
            end(srv, RAION)
        page.wait_for_function("window.__shown.length === 2", timeout=WAIT)
        shown = page.evaluate("window.__shown")
        assert "Богодухівський район: тривога" in shown[0]
        assert "Богодухівський район: відбій" in shown[1]
        assert "відбій" in page.inner_text("#announce")
    finally:
        context.close()


def test_region_page(srv: Server, watched: Watched) -> None:
    page = watched.page
    declare(srv, OBLAST, threats=[{"type": "ballistic", "level": "red"}])
    try:
        page.goto(srv.base + f"/regions/{RAION}")
        assert "Богодухівський район" in page.inner_text("h1")
        assert "оголошено на рівні Харківська область" in page.inner_text("#status")
        assert page.locator("table.bars").count() == 3
        shot(page, "region-desktop", full=True)
    finally:
        end(srv, OBLAST)
    page.wait_for_function("document.getElementById('status').textContent"
                           ".includes('тривоги немає')", timeout=WAIT)


def test_accessibility(srv: Server, watched: Watched) -> None:
    # The package ships no type information (no py.typed), hence the ignore.
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    declare(srv, HROMADA, threats=[{"type": "guided_bombs", "level": "yellow"}])
    declare(srv, OBLAST, status="test")
    try:
        found = []
        for path in ("/", f"/regions/{RAION}", "/?lang=en"):
            watched.page.goto(srv.base + path)
            results = Axe().run(watched.page)
            for violation in results.response["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    found.append((path, violation["id"], violation["help"],
                                  [n["target"] for n in violation["nodes"]][:3]))
        assert not found, found
    finally:
        end(srv, HROMADA)
        end(srv, OBLAST, "test")


def test_the_page_resumes_after_a_server_restart(tmp_path: Path, watched: Watched) -> None:
    server = start_server(tmp_path)
    port = urlsplit(server.base).port
    page = watched.page
    try:
        page.goto(server.base + "/")
        page.wait_for_function("document.getElementById('conn-text').textContent"
                               ".startsWith('Стан на')", timeout=WAIT)
        stop_server(server)
        page.wait_for_function("document.body.classList.contains('stale')", timeout=WAIT)
        assert "Немає з’єднання з" in page.inner_text("#conn")
        shot(page, "map-offline")
        with server.log.open("ab") as out:
            server.process = subprocess.Popen(
                [*TRYVOGA, "serve", "--host", "127.0.0.1", "--port", str(port),
                 "--db", str(server.db)], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                if server.get("/healthz", token=None).status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        declare(server, RAION)
        page.wait_for_function(f"{state_of(RAION)}.getAttribute('data-s') === 'a'",
                               timeout=30_000)
        page.wait_for_function("!document.body.classList.contains('stale')", timeout=WAIT)
    finally:
        stop_server(server)


def test_zooming_in_loads_the_hromadas(srv: Server, watched: Watched) -> None:
    page = watched.page
    page.goto(srv.base + "/")
    page.wait_for_function("!document.getElementById('zoom').hidden", timeout=WAIT)
    assert page.locator("#hromadas path").count() == 0
    with page.expect_response(lambda r: "/geo/hromadas.json" in r.url):
        page.click("#zoom-in")
    page.wait_for_function("document.querySelectorAll('#hromadas path').length === 1469",
                           timeout=WAIT)
    assert page.get_attribute("#map", "viewBox") != "0 0 1000 676"
    page.mouse.move(683, 350)
    page.mouse.down()
    page.mouse.move(583, 300, steps=5)
    page.mouse.up()
    shot(page, "map-zoomed")
    page.click("#zoom-reset")
    assert page.get_attribute("#map", "viewBox") == "0 0 1000 676"
