"""The console in a real browser (Debian's chromium through Playwright), against a real server.

Screenshots go to ``build/screenshots/console/`` (``conftest.SCREENSHOTS``).
"""

from __future__ import annotations

import importlib
import re
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.conftest import Server, start_server, stop_server
from tests.console.conftest import PASSWORD, SCREENSHOTS, login, shot
from tests.regions import KYIV
from tryvoga.domain.regions import load_catalogue
from tryvoga.operators import Operators
from tryvoga.storage.sqlite import SQLiteStorage

LVIV = "UA46000000000026241"


def active(server: Server) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = server.get("/api/v1/alerts/active", token=None).json()["alerts"]
    return alerts


def choose(page: Page, server: Server, query: str, code: str) -> None:
    """Find a region by name on the declare page and add it to the selection."""
    page.fill("#q", query)
    page.click("form.search button[type=submit]")
    page.locator("ul.found li", has_text=code).locator("a.add").click()
    expect(page.locator("ul.selected li")).to_have_count(1)


def fill_details(page: Page, type_: str, status: str, threats: tuple[str, ...] = ()) -> None:
    page.select_option("#type", type_)
    for threat in threats:
        page.check(f"#new-{threat}")
    page.check(f"#st-{status}")
    page.fill("#source", "Kyiv City Military Administration")
    page.click("form.details button[type=submit]")


def axe_check(page: Page, name: str) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    axe = importlib.import_module("axe_playwright_python.sync_playwright").Axe()
    results = axe.run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in bad)


def test_log_in_declare_confirm_visible_end(page: Page, console_server: Server) -> None:
    server = console_server
    login(page, server, "bob")
    expect(page.locator("h1")).to_have_text("Поточний стан")
    page.click("nav >> text=Оголосити")
    choose(page, server, "Kiev", KYIV)  # an English spelling finds Київ
    fill_details(page, "air_raid", "actual", ("drones",))
    # The confirmation names the status in words and what goes out, before anything does.
    expect(page.locator(".banner")).to_contain_text("СПРАВЖНЯ ТРИВОГА — НЕ НАВЧАННЯ")
    expect(page.locator("dl.summary")).to_contain_text("1 регіон(и), що охоплюють 1 громад(и)")
    expect(page.locator("dl.summary")).to_contain_text("вебхуків")
    expect(page.locator("dl.summary")).to_contain_text("CAP 1.2")
    expect(page.locator("button.send")).to_have_text("Оголосити СПРАВЖНЮ тривогу")
    shot(page, "desktop-confirm-actual")
    assert active(server) == []
    page.dblclick("button.send")  # a double click declares once
    expect(page.locator(".flash")).to_contain_text("Оголошено: 1")
    alerts = active(server)
    assert [(a["region"], a["type"], a["status"]) for a in alerts] == [
        (KYIV, "air_raid", "actual")]
    # On the public map, drawn by the server and coloured as an alert, before the end.
    public = page.context.new_page()
    public.goto(server.base + "/")
    kyiv_shape = f'#cities path[data-code="{KYIV}"]'
    expect(public.locator(kyiv_shape)).to_have_attribute("data-s", "a")
    expect(public.locator("#list")).to_contain_text("Київ")
    page.goto(server.base + "/console")
    expect(page.locator(f"#alert-{alerts[0]['id']}")).to_contain_text("ударні БпЛА")
    shot(page, "desktop-home-active")
    page.locator(f"#alert-{alerts[0]['id']} button.end").click()
    expect(page.locator(".flash")).to_contain_text("Відбій: 1")
    assert active(server) == []
    # The open public page follows the stream: Kyiv is no longer under alert there.
    expect(public.locator(kyiv_shape)).not_to_have_attribute("data-s", "a")
    public.close()
    events = SQLiteStorage(server.db).read_events()
    assert [e.actor for e in events] == ["operator:bob", "operator:bob"]
    # The audit trail has who did what from which session, in the same commits as the events.
    audit = [r for r in SQLiteStorage(server.db).audit_records()
             if r.action.startswith("console.")]
    assert [(r.action, r.actor, r.detail["events"]) for r in audit] == [
        ("console.declared", "operator:bob", [1]), ("console.ended", "operator:bob", [2])]
    page.goto(server.base + "/console/audit?action=console.")
    expect(page.locator("table.audit tbody tr")).to_have_count(2)
    expect(page.locator("table.audit")).to_contain_text(audit[0].detail["session"])


def test_incidents_with_embargo_and_proposals(page: Page, console_server: Server) -> None:
    server = console_server
    login(page, server, "bob")
    page.goto(server.base + "/console/incidents")
    page.select_option("#i-kind", "fire")
    page.fill("#i-region", "Дарницький район")
    page.fill("#i-source", "ДСНС")
    page.fill("#i-desc", "пожежа у 10-поверховому будинку")
    page.fill("#i-embargo", "2099-01-01T00:00")
    page.click("form[action='/console/incidents'] button[type=submit]")
    expect(page.locator(".flash")).to_have_text("Готово.")
    expect(page.locator("ul.incidents")).to_contain_text("Дарницький")
    public = server.get("/api/v1/incidents", token=None).json()["incidents"]
    assert public == []  # under embargo
    page.fill("input[id^=em-]", "")  # lift the embargo, confirm it
    page.select_option("select[id^=st-]", "confirmed")
    page.click("ul.incidents button[type=submit]")
    expect(page.locator(".flash")).to_have_text("Готово.")
    public = server.get("/api/v1/incidents", token=None).json()["incidents"]
    assert [(i["kind"], i["status"]) for i in public] == [("fire", "confirmed")]
    # A statement's proposals: one rejected with a reason.
    server.post("/api/v1/ingest/statement", {"text": "У Києві оголошено повітряну тривогу.",
                                             "source": "КМВА"})
    page.goto(server.base + "/console/proposals")
    page.locator("ul.proposals input[name=reason]").first.fill("already declared")
    page.locator("ul.proposals button", has_text="Відхилити").first.click()
    expect(page.locator(".flash")).to_have_text("Готово.")
    rejected = server.get("/api/v1/proposals?state=rejected").json()["proposals"]
    assert rejected and rejected[0]["reason"] == "already declared"
    assert rejected[0]["decided_by"] == "operator:bob"


def test_a_resubmitted_form_declares_once(page: Page, console_server: Server) -> None:
    server = console_server
    login(page, server, "bob")
    page.goto(server.base + f"/console/declare?sel={KYIV}")
    fill_details(page, "air_raid", "exercise")
    expect(page.locator(".banner")).to_contain_text("НАВЧАННЯ")
    form = page.locator("form[action='/console/declare/confirm']")
    fields: dict[str, str | float | bool] = {
        name: form.locator(f"input[name={name}]").first.input_value()
        for name in ("csrf", "form_key", "type", "status", "sel")}
    first = page.request.post(server.base + "/console/declare/confirm", form=fields)
    second = page.request.post(server.base + "/console/declare/confirm", form=fields)
    assert first.status == second.status == 200
    assert "Оголошено: 1" in first.text()
    assert "повторно нічого не оголошено" in second.text()
    assert len(active(server)) == 1


def test_two_person_rule(browser: Browser, console_server: Server) -> None:
    server = console_server
    bob = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    alice = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    lviv = browser.new_context().new_page()
    try:
        login(bob, server, "bob")
        bob.goto(server.base + f"/console/declare?sel={KYIV}")
        bob.click("svg a[aria-label$='Львівська область']")  # picked on the map
        expect(bob.locator("ul.selected li")).to_have_count(2)
        expect(bob.locator("svg path.on")).to_have_count(2)
        shot(bob, "desktop-declare-map")
        fill_details(bob, "chemical", "exercise")
        expect(bob.locator(".needs-approval")).to_contain_text("хімічна або радіаційна")
        expect(bob.locator(".needs-approval")).to_contain_text("більше ніж одна область")
        expect(bob.locator(".banner")).to_contain_text("НАВЧАННЯ")
        bob.click("button.send")
        expect(bob).to_have_url(re.compile(r"/console/approvals/\d+$"))
        request_url = bob.url
        expect(bob.locator(".own")).to_be_visible()
        expect(bob.locator("button", has_text="Затвердити")).to_have_count(0)
        shot(bob, "desktop-approval-requester")
        assert active(server) == []  # nothing goes out before approval
        # The requester cannot approve their own request, even by posting the form.
        csrf = bob.locator("input[name=csrf]").first.input_value()
        own = bob.request.post(request_url + "/approve", form={"csrf": csrf})
        assert own.status == 403 and "approval_own_request" in own.text()
        assert active(server) == []
        # An approver outside the scope does not even see it.
        login(lviv, server, "lviv")
        hidden = lviv.goto(request_url)
        assert hidden is not None and hidden.status == 404
        # A second operator with the approver role, within scope, approves: then it goes out.
        login(alice, server, "alice")
        expect(alice.locator("ul.approvals")).to_contain_text("bob")
        alice.locator("ul.approvals a").first.click()
        expect(alice.locator(".banner")).to_contain_text("НАВЧАННЯ")
        shot(alice, "desktop-approval-approver")
        alice.locator("button.send").click()
        expect(alice.locator(".flash")).to_contain_text("Оголошено: 2")
        alerts = active(server)
        assert sorted((a["region"], a["type"], a["status"]) for a in alerts) == [
            (LVIV, "chemical", "exercise"), (KYIV, "chemical", "exercise")]
        bob.reload()
        expect(bob.locator(".state")).to_contain_text("затверджено")
        declared = [e for e in SQLiteStorage(server.db).read_events()
                    if e.kind == "alert.declared"]
        assert [e.actor for e in declared] == ["operator:bob", "operator:bob"]
        assert [e.payload["authorised"] for e in declared] == ["two-person", "two-person"]
        audit = [r.action for r in SQLiteStorage(server.db).audit_records()]
        assert "approval.requested" in audit and "approval.approved" in audit
    finally:
        for opened in (bob, alice, lviv):
            opened.context.close()


def test_an_approval_lapses(browser: Browser, tmp_path: Path) -> None:
    """Past its time limit a request cannot be approved; nothing goes out."""
    db = tmp_path / "lapse.db"
    storage = SQLiteStorage(db)
    try:
        desk = Operators(storage, load_catalogue())
        desk.create("bob", PASSWORD, "operator", ["UA"])
        desk.create("alice", PASSWORD, "approver", ["UA"])
    finally:
        storage.close()
    server = start_server(tmp_path, "--approval-seconds", "1", db=db)
    context = browser.new_context()
    try:
        page = context.new_page()
        login(page, server, "bob")
        page.goto(server.base + f"/console/declare?sel={KYIV}")
        fill_details(page, "nuclear", "test")
        page.click("button.send")
        expect(page).to_have_url(re.compile(r"/console/approvals/\d+$"))
        url = page.url
        page.context.clear_cookies()
        login(page, server, "alice")
        def lapsed() -> bool:
            page.goto(url)
            return "прострочено" in page.content()

        deadline = time.monotonic() + 30
        while not lapsed():  # polls with a deadline: it lapses a second after the request
            assert time.monotonic() < deadline, "the request never lapsed"
            page.wait_for_timeout(200)
        expect(page.locator("button.send")).to_have_count(0)
        csrf = page.locator("input[name=csrf]").first.input_value()
        late = page.request.post(url + "/approve", form={"csrf": csrf})
        assert late.status == 409 and "approval_not_pending" in late.text()
        assert active(server) == []
    finally:
        context.close()
        stop_server(server)


def test_login_failures_lock_the_account(page: Page, console_server: Server) -> None:
    server = console_server
    for _ in range(2):
        login(page, server, "bob", "wrong password, twelve+")
        expect(page.locator(".flash.error")).to_have_text("Неправильне ім'я або пароль.")
    login(page, server, "bob", "wrong password, twelve+")  # the third: locked (setting: 3)
    expect(page.locator(".flash.error")).to_contain_text("заблоковано")
    shot(page, "desktop-login-locked")
    login(page, server, "bob", PASSWORD)  # the right password is refused while locked
    expect(page.locator(".flash.error")).to_contain_text("заблоковано")
    login(page, server, "nobody", PASSWORD)
    expect(page.locator(".flash.error")).to_have_text("Неправильне ім'я або пароль.")
    login(page, server, "alice", PASSWORD)  # another account is not affected
    expect(page.locator("h1")).to_have_text("Поточний стан")
    actions = [r.action for r in SQLiteStorage(server.db).audit_records()]
    assert actions.count("login.failed") == 4 and "operator.locked" in actions
    assert "login.refused" in actions and "login.succeeded" in actions


def test_csrf_refusal(page: Page, console_server: Server) -> None:
    server = console_server
    login(page, server, "bob")
    page.goto(server.base + f"/console/declare?sel={KYIV}")
    fill_details(page, "air_raid", "actual")
    # A forged token in the real form: refused, nothing declared.
    page.evaluate("document.querySelectorAll('input[name=csrf]')"
                  ".forEach(i => { i.value = 'forged'; })")
    page.click("button.send")
    expect(page.locator(".error-code")).to_contain_text("csrf_invalid (403)")
    # A form posted with no token at all, with the session cookie: refused too.
    answer = page.request.post(server.base + "/console/declare/confirm",
                               form={"sel": KYIV, "type": "air_raid", "status": "actual",
                                     "form_key": "k" * 20})
    assert answer.status == 403 and "csrf_invalid" in answer.text()
    # The login form's own token.
    page.context.clear_cookies()
    answer = page.request.post(server.base + "/console/login",
                               form={"name": "bob", "password": PASSWORD, "csrf": "x"})
    assert answer.status == 403
    assert active(server) == []


def test_language_switch_and_scope(page: Page, console_server: Server) -> None:
    server = console_server
    login(page, server, "kyiv")
    page.click("a.lang")
    expect(page.locator("h1")).to_have_text("Current state")
    expect(page.locator("nav")).to_contain_text("Declare")
    page.goto(server.base + "/console/declare")
    page.fill("#q", "Lviv")
    page.click("form.search button[type=submit]")
    expect(page.locator("main")).to_contain_text("Nothing found in your scope.")
    expect(page.locator("svg a")).to_have_count(1)  # the map offers Kyiv alone
    expect(page.locator("svg a[aria-label$='Kyiv']")).to_have_count(1)
    shot(page, "desktop-declare-en")
    # The server refuses it anyway.
    page.goto(server.base + f"/console/declare?sel={KYIV}")
    csrf = page.locator("input[name=csrf]").first.input_value()
    answer = page.request.post(server.base + "/console/declare/review",
                               form={"csrf": csrf, "sel": LVIV, "type": "air_raid",
                                     "status": "test"})
    assert answer.status == 403 and "out_of_scope" in answer.text()
    page.click("a.lang")
    expect(page.locator("h1")).to_have_text("Оголосити")


def test_phone_viewport(browser: Browser, console_server: Server) -> None:
    server = console_server
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    try:
        login(page, server, "bob")
        page.goto(server.base + "/console/declare?q=Kyiv")
        fits = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(fits)
        shot(page, "phone-declare")
        page.locator("ul.found li", has_text=KYIV).locator("a.add").click()
        fill_details(page, "air_raid", "test", ("missiles",))
        expect(page.locator(".banner")).to_contain_text("ТЕСТ")
        assert page.evaluate(fits)
        shot(page, "phone-confirm-test")
        page.click("button.send")
        page.goto(server.base + "/console")
        assert page.evaluate(fits)
        shot(page, "phone-home")
    finally:
        context.close()


def test_accessibility(page: Page, console_server: Server) -> None:
    server = console_server
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    page.goto(server.base + "/console/login")
    axe_check(page, "login")
    login(page, server, "alice")
    server.post("/api/v1/alerts", {"regions": [KYIV], "type": "air_raid", "status": "exercise",
                                   "threats": [{"type": "drones", "level": "yellow"}]})
    page.goto(server.base + "/console")
    axe_check(page, "home")
    page.goto(server.base + f"/console/declare?q=Kyiv&sel={KYIV}")
    axe_check(page, "declare")
    fill_details(page, "nuclear", "actual")
    axe_check(page, "review")
    shot(page, "desktop-confirm-nuclear")
    page.click("button.send")
    axe_check(page, "approval")
    for path in ("/console/incidents", "/console/proposals", "/console/audit"):
        page.goto(server.base + path)
        axe_check(page, path)
    shot(page, "desktop-audit")
    page.click("a.lang")
    axe_check(page, "audit-en")
    assert SCREENSHOTS.is_dir()
    assert hosts == {server.base.split("/")[2]}  # nothing fetched from anywhere else
