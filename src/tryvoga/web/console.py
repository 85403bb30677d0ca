"""The operator console at ``/console``: server-rendered pages, usable without scripts.

Every action goes through the same Service commands, checks and audit as the API, with the
operator as a bound actor (``operators.actor_of``): the Service refuses anything outside the
operator's scope and any declaration the two-person rule covers unless it was approved here
(``approval.py``; the approval steps are in this module, ``approve``). Pages offer only what
lies within the operator's scope.

Security: a session cookie (``tv_session``: HttpOnly, SameSite=Strict, Secure behind TLS, path
``/console``), a CSRF token in every form (the login form's in a cookie of its own), an
Origin check on every POST, a new session id at login, pages never cached and never framed.
Double clicks and resubmitted forms: every form that changes something carries a one-time key
(``form_key``) that becomes the command's idempotency key, or the approval request's key.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from tryvoga import approval
from tryvoga.api.context import CONTEXT, Context, context_of
from tryvoga.commands import Declare, EndAlert, ReportIncident, UpdateAlert, UpdateIncident
from tryvoga.domain.events import Event, format_time, now_utc, parse_time
from tryvoga.domain.model import Alert, AlertStatus, AlertType, IncidentStatus
from tryvoga.domain.regions import COUNTRY, Level
from tryvoga.errors import BadRequest, Conflict, Forbidden, NotFound, TryvogaError
from tryvoga.operators import LoginRefused, Operators, actor_of
from tryvoga.service import Actor, Result
from tryvoga.storage.base import WriteTransaction
from tryvoga.storage.operators import ApprovalRecord, OperatorReader, OperatorRecord
from tryvoga.web import console_map
from tryvoga.web.console_text import (
    INCIDENT_KINDS,
    INCIDENT_STATUSES,
    KYIV,
    LANGS,
    LEVELS,
    SEND_WORDS,
    STATUS_SHORT,
    STATUS_WORDS,
    THREATS,
    TYPES,
    h,
    kyiv,
    kyiv_epoch,
    static,
    t,
    template,
    word,
)

T = TypeVar("T")
SESSION_COOKIE = "tv_session"
LOGIN_COOKIE = "tv_login"
LANG_COOKIE = "tv_lang"
PATH = "/console"


class Console:
    def __init__(self, context: Context) -> None:
        settings = context.settings
        self.ctx = context
        self.operators = Operators(context.storage, context.catalogue,
                                   failures=settings.console_lockout_failures,
                                   lockout=settings.console_lockout,
                                   idle=settings.console_session)
        self.reader = context.node.operators  # closed with the node
        self.secure = settings.console_secure_cookie
        # The node set the rule's policy on the one Service of this process (tryvoga.node).
        self.policy = context.service.approval_policy

    async def write(self, call: Callable[..., T], *args: Any) -> T:
        """Work that writes, on the process's one writer thread."""
        return await self.ctx.write(call, *args)

    def read(self, call: Callable[[OperatorReader], T]) -> T:
        with self.reader.lock:
            return call(self.reader)


CONSOLE = web.AppKey("console", Console)


@dataclass(frozen=True, slots=True)
class Who:
    session: str
    csrf: str
    operator: OperatorRecord
    actor: Actor
    lang: str

    @property
    def approver(self) -> bool:
        return self.operator.role == "approver"


class Redirect(Exception):
    def __init__(self, location: str) -> None:
        self.location = location


# ---- pages ----------------------------------------------------------------------------------

def _lang(request: web.Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "")
    return lang if lang in LANGS else "uk"


def _page(request: web.Request, who: Who | None, title: str, body: str, *, status: int = 200,
          flash: str = "", body_class: str = "") -> web.Response:
    lang = who.lang if who else _lang(request)
    other = "en" if lang == "uk" else "uk"
    nav = ""
    whos = ""
    if who is not None:
        links = [("/console", "home"), ("/console/declare", "declare"),
                 ("/console/incidents", "incidents"), ("/console/proposals", "proposals"),
                 ("/console/audit", "audit")]
        nav = "".join(
            f'<a href="{href}"{" aria-current=page" if request.path == href else ""}>'
            f'{h(t(lang, key))}</a>' for href, key in links)
        role = t(lang, f"role_{who.operator.role}")
        whos = (h(t(lang, "who", name=who.operator.name, role=role,
                    scope=", ".join(_region_name(request, c, lang)
                                    for c in who.operator.scopes)))
                + _form(who, "/console/logout", "", t(lang, "logout"), cls="inline"))
    text = template().substitute(
        lang=lang, title=h(title), body_class=body_class, skip=h(t(lang, "skip")),
        console_word=h(t(lang, "console")), nav_label=h(t(lang, "nav")), nav=nav, who=whos,
        other_lang=other, other_lang_name=h(t(other, "lang_name")),
        next=h(request.path_qs if request.method == "GET" else "/console"),
        flash=flash, body=body, footer=h(t(lang, "footer")))
    response = web.Response(text=text, status=status, content_type="text/html",
                            charset="utf-8")
    _harden(response)
    return response


def _redirect(location: str) -> web.Response:
    response = web.Response(status=303, headers={"Location": location})
    _harden(response)
    return response


def _harden(response: web.StreamResponse) -> None:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"


def _form(who: Who, action: str, fields: str, button: str, *, cls: str = "",
          button_cls: str = "", key: bool = False, method: str = "post") -> str:
    hidden = f'<input type="hidden" name="csrf" value="{h(who.csrf)}">'
    if key:
        hidden += f'<input type="hidden" name="form_key" value="{secrets.token_urlsafe(16)}">'
    return (f'<form method="{method}" action="{h(action)}" class="{cls}">{hidden}{fields}'
            f'<button type="submit" class="{button_cls}">{h(button)}</button></form>')


def _flash(text: str, kind: str = "ok") -> str:
    role = "alert" if kind == "error" else "status"
    return f'<div class="flash {kind}" role="{role}">{text}</div>'


def _region_name(request: web.Request, code: str, lang: str) -> str:
    catalogue = request.app[CONTEXT].catalogue
    if code == COUNTRY:
        return "Україна" if lang == "uk" else "Ukraine"
    region = catalogue.get(code)
    if region is None:
        return code
    return region.name_uk if lang == "uk" else region.name_en


def _region_label(request: web.Request, code: str, lang: str) -> str:
    """The region with its parents, so that two places of one name are told apart."""
    catalogue = request.app[CONTEXT].catalogue
    chain = [code, *[c for c in catalogue.ancestors(code) if c != COUNTRY]][:3] \
        if code != COUNTRY else [code]
    return " · ".join(_region_name(request, c, lang) for c in chain)


def _status_badge(status: str, lang: str) -> str:
    return (f'<span class="badge status-{h(status)}">{h(word(STATUS_SHORT, status, lang))}'
            '</span>')


def _error_page(request: web.Request, who: Who | None, exc: TryvogaError) -> web.Response:
    lang = who.lang if who else _lang(request)
    message = t(lang, exc.code) if exc.code in ("csrf_invalid",) else exc.message
    body = (f'<p class="error-code">{h(exc.code)} ({exc.status})</p>'
            f'<p><a href="/console">{h(t(lang, "home"))}</a></p>')
    return _page(request, who, t(lang, "error"), body, status=exc.status,
                 flash=_flash(h(message), "error"))


# ---- sessions, CSRF ---------------------------------------------------------------------------

async def _who(request: web.Request) -> Who | None:
    console = request.app[CONSOLE]
    found = await console.write(console.operators.session, console.reader,
                                request.cookies.get(SESSION_COOKIE))
    if found is None:
        return None
    session, record = found
    return Who(session.id, session.csrf, record, actor_of(record), _lang(request))


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    return origin.split("://", 1)[-1] == request.host


async def _post(request: web.Request, who: Who) -> dict[str, Any]:
    """The form, after its CSRF token and origin are checked."""
    form = await request.post()
    token = form.get("csrf")
    if (not isinstance(token, str) or not hmac.compare_digest(token, who.csrf)
            or not _same_origin(request)):
        detail = {"path": request.path, "session": who.session[:12]}
        await request.app[CONSOLE].write(_audit, request.app[CONSOLE], who.actor.name,
                                         "console.csrf_refused", detail)
        raise Forbidden("the form's CSRF token is missing or wrong", code="csrf_invalid")
    values: dict[str, Any] = {}
    for key in form:
        items = [v for v in form.getall(key) if isinstance(v, str)]
        values[key] = items if len(items) > 1 else (items[0] if items else "")
    return values


def _audited(who: Who, action: str, **detail: Any) -> Callable[[WriteTransaction,
                                                                 Sequence[Event]], None]:
    """The audit entry of a console action, written in the same commit as its events (the
    Service's ``store`` hook; a replayed form appends nothing and records nothing)."""

    def store(tx: WriteTransaction, events: Sequence[Event]) -> None:
        if events:
            tx.audit(now_utc(), who.actor.name, action,
                     {**detail, "events": [e.seq for e in events], "session": who.session[:12]})

    return store


async def _audit_after(request: web.Request, who: Who, action: str, result: Result,
                       **detail: Any) -> None:
    """For the commands without a ``store`` hook: the audit entry right after the commit."""
    if result.events and not result.replayed:
        console = request.app[CONSOLE]
        await console.write(_audit, console, who.actor.name, action,
                            {**detail, "events": [e.seq for e in result.events],
                             "session": who.session[:12]})


def _audit(console: Console, actor: str, action: str, detail: dict[str, Any]) -> None:
    with console.ctx.storage.writer() as tx:
        tx.audit(now_utc(), actor, action, detail)


def _list(values: dict[str, Any], key: str) -> list[str]:
    value = values.get(key, [])
    return [value] if isinstance(value, str) else list(value)


Handler = Callable[[web.Request, Who], Any]


def page(handler: Handler) -> Callable[[web.Request], Any]:
    """A console page: needs a live session; errors become pages in the operator's language."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        who = await _who(request)
        if who is None:
            if request.method == "GET":
                return _redirect("/console/login?" + urlencode({"next": request.path_qs}))
            return _error_page(request, None, TryvogaError(
                "your session has ended: log in again", code="session_expired", status=401))
        try:
            response: web.StreamResponse = await handler(request, who)
        except Redirect as redirect:
            response = _redirect(redirect.location)
        except TryvogaError as exc:
            return _error_page(request, who, exc)
        return response

    return wrapped


# ---- login, logout, language ------------------------------------------------------------------

def _set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str,
                max_age: int | None = None) -> None:
    secure = request.app[CONSOLE].secure or request.secure
    response.set_cookie(name, value, path=PATH, httponly=True, samesite="Strict",
                        secure=secure, max_age=max_age)


async def login_form(request: web.Request, *, status: int = 200, message: str = "",
                     name: str = "") -> web.Response:
    lang = _lang(request)
    token = secrets.token_urlsafe(32)
    next_path = request.query.get("next", "/console")
    body = (
        '<form method="post" action="/console/login" class="card login">'
        f'<input type="hidden" name="csrf" value="{token}">'
        f'<input type="hidden" name="next" value="{h(next_path)}">'
        f'<label for="name">{h(t(lang, "name"))}</label>'
        f'<input id="name" name="name" autocomplete="username" required autofocus '
        f'maxlength="64" value="{h(name)}">'
        f'<label for="password">{h(t(lang, "password"))}</label>'
        '<input id="password" name="password" type="password" required '
        'autocomplete="current-password" maxlength="1024">'
        f'<button type="submit" class="primary">{h(t(lang, "log_in"))}</button></form>')
    response = _page(request, None, t(lang, "login"), body, status=status,
                     flash=_flash(h(message), "error") if message else "")
    _set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    return response


async def login_page(request: web.Request) -> web.Response:
    return await login_form(request)


async def login(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    lang = _lang(request)
    form = await request.post()
    token = form.get("csrf")
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if (not isinstance(token, str) or not cookie or not hmac.compare_digest(token, cookie)
            or not _same_origin(request)):
        return _error_page(request, None, Forbidden("the login form's CSRF token is missing "
                                                    "or wrong", code="csrf_invalid"))
    name = str(form.get("name", "")).strip()[:64]
    password = str(form.get("password", ""))[:1024]
    remote = request.remote or ""
    try:
        done = await asyncio.get_running_loop().run_in_executor(
            None, console.operators.login, console.reader, name, password, remote)
    except LoginRefused as exc:
        return await login_form(request, status=401, message=t(lang, exc.code), name=name)
    next_path = str(form.get("next", "/console"))
    if not next_path.startswith("/console") or next_path.startswith("/console/login"):
        next_path = "/console"
    response = _redirect(next_path)
    _set_cookie(request, response, SESSION_COOKIE, done.session_id)
    response.del_cookie(LOGIN_COOKIE, path=PATH)
    return response


@page
async def logout(request: web.Request, who: Who) -> web.StreamResponse:
    await _post(request, who)
    console = request.app[CONSOLE]
    found = console.read(lambda r: r.session(who.session))
    if found is not None:
        await console.write(console.operators.logout, found)
    response = _redirect("/console/login")
    response.del_cookie(SESSION_COOKIE, path=PATH)
    return response


async def set_lang(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    if lang not in LANGS:
        raise web.HTTPNotFound()
    next_path = request.query.get("next", "/console")
    if not next_path.startswith("/console/") and next_path != "/console":
        next_path = "/console"
    response = _redirect(next_path)
    _set_cookie(request, response, LANG_COOKIE, lang, max_age=365 * 86400)
    return response


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    body = static(name)
    if body is None:
        raise web.HTTPNotFound()
    kind = "text/css" if name.endswith(".css") else "text/javascript"
    response = web.Response(body=body, content_type=kind, charset="utf-8")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# ---- what the operator sees -------------------------------------------------------------------

def _in_scope(request: web.Request, who: Who, code: str) -> bool:
    return who.actor.may_write(request.app[CONTEXT].catalogue, code)


def _threat_text(alert: Alert, lang: str) -> str:
    return ", ".join(f"{word(THREATS, th.type.value, lang)} ({word(LEVELS, th.level.value, lang)})"
                     for th in alert.threats) or "—"


def _alert_row(request: web.Request, who: Who, alert: Alert) -> str:
    lang = who.lang
    status = alert.status.value
    threat_boxes = _threat_fields(lang, {th.type.value: th.level.value for th in alert.threats},
                                  f"a{alert.id}")
    return (
        f'<li class="alert-item status-{status}" id="alert-{alert.id}">'
        f'<p><strong>{h(_region_label(request, alert.region, lang))}</strong>: '
        f'{h(word(TYPES, alert.type.value, lang))} {_status_badge(status, lang)} '
        f'<span class="since">{h(t(lang, "since", time=kyiv(alert.started_at, lang)))}</span>'
        f'<br>{h(t(lang, "threats"))}: {h(_threat_text(alert, lang))}</p>'
        '<div class="actions">'
        + _form(who, f"/console/alerts/{alert.id}/end",
                '<input type="hidden" name="how" value="end">', t(lang, "end"), key=True,
                button_cls="end")
        + _form(who, f"/console/alerts/{alert.id}/end",
                '<input type="hidden" name="how" value="withdraw">', t(lang, "withdraw"),
                key=True, button_cls="withdraw")
        + '</div><details><summary>' + h(t(lang, "change_threats")) + '</summary>'
        + _form(who, f"/console/alerts/{alert.id}/threats", threat_boxes,
                t(lang, "change_threats"), key=True)
        + '</details></li>')


def _threat_fields(lang: str, chosen: dict[str, str], prefix: str) -> str:
    rows = []
    for kind in THREATS:
        checked = " checked" if kind in chosen else ""
        level = chosen.get(kind, "red")
        options = "".join(
            f'<option value="{lv}"{" selected" if lv == level else ""}>'
            f'{h(word(LEVELS, lv, lang))}</option>' for lv in LEVELS)
        rows.append(
            f'<div class="threat"><input type="checkbox" id="{prefix}-{kind}" name="threat" '
            f'value="{kind}"{checked}><label for="{prefix}-{kind}">'
            f'{h(word(THREATS, kind, lang))}</label>'
            f'<select name="level_{kind}" aria-label="{h(word(THREATS, kind, lang))}: '
            f'{h(t(lang, "threats"))}">{options}</select></div>')
    return (f'<fieldset class="threats"><legend>{h(t(lang, "threats"))}</legend>'
            + "".join(rows) + "</fieldset>")


def _threats_of(values: dict[str, Any]) -> list[dict[str, str]]:
    return [{"type": kind, "level": str(values.get(f"level_{kind}", "red"))}
            for kind in _list(values, "threat")]


def _visible_approvals(request: web.Request, who: Who) -> list[ApprovalRecord]:
    console = request.app[CONSOLE]
    records = console.read(lambda r: r.approvals(limit=50))
    return [a for a in records if _may_see(request, who, a)]


def _may_see(request: web.Request, who: Who, record: ApprovalRecord) -> bool:
    if record.requester == who.operator.name:
        return True
    return who.approver and all(_in_scope(request, who, c) for c in record.body["regions"])


def _approval_state(record: ApprovalRecord) -> str:
    if record.state == "pending" and record.expires <= clock.time():
        return "lapsed"
    return record.state


@page
async def home(request: web.Request, who: Who) -> web.Response:
    lang = who.lang
    state = request.app[CONTEXT].follower.state
    alerts = [a for a in state.active_alerts() if _in_scope(request, who, a.region)]
    alerts.sort(key=lambda a: (a.status.value != "actual", a.region, a.id))
    items = "".join(_alert_row(request, who, a) for a in alerts)
    body = f'<section aria-labelledby="active-h"><h2 id="active-h">{h(t(lang, "active"))}</h2>'
    body += f'<ul class="alerts">{items}</ul>' if items else f'<p>{h(t(lang, "none_active"))}</p>'
    regions = sorted({a.region for a in alerts})
    if regions:
        body += '<div class="end-all">' + "".join(
            _form(who, f"/console/regions/{code}/end-all", "",
                  t(lang, "end_all", region=_region_name(request, code, lang)), key=True,
                  cls="inline", button_cls="end") for code in regions) + "</div>"
    body += "</section>"
    body += _approvals_section(request, who, pending_only=True)
    flash = ""
    if request.query.get("done"):
        flash = _flash(h(request.query["done"][:300]))
    return _page(request, who, t(lang, "home"), body, flash=flash)


def _approvals_section(request: web.Request, who: Who, *, pending_only: bool) -> str:
    lang = who.lang
    records = [a for a in _visible_approvals(request, who)
               if not pending_only or _approval_state(a) == "pending"]
    items = "".join(
        f'<li class="status-{h(a.body["status"])}"><a href="/console/approvals/{a.id}">'
        f'{h(t(lang, "approval", id=a.id))}</a>: {h(word(TYPES, a.body["type"], lang))} '
        f'{_status_badge(a.body["status"], lang)} — '
        f'{h(", ".join(_region_name(request, c, lang) for c in a.body["regions"]))} — '
        f'{h(a.requester)} — {h(t(lang, "state_" + _approval_state(a)))}</li>'
        for a in records)
    return (f'<section aria-labelledby="pending-h"><h2 id="pending-h">'
            f'{h(t(lang, "pending"))}</h2>'
            + (f'<ul class="approvals">{items}</ul>' if items
               else f'<p>{h(t(lang, "none_pending"))}</p>') + "</section>")


# ---- declare: choose, review, confirm -----------------------------------------------------------

@page
async def declare_page(request: web.Request, who: Who) -> web.Response:
    ctx = request.app[CONTEXT]
    lang = who.lang
    query = request.query.get("q", "").strip()[:200]
    selected = [c for c in dict.fromkeys(request.query.getall("sel", []))
                if c in ctx.catalogue and _in_scope(request, who, c)][:100]

    def link(codes: Sequence[str]) -> str:
        params = [("q", query)] + [("sel", c) for c in codes]
        return "/console/declare?" + urlencode(params)

    results = ""
    if query:
        found = [r for r in ctx.names.search(query, limit=40)
                 if _in_scope(request, who, r.code)][:15]
        if not found and query.upper() in (COUNTRY, "УКРАЇНА", "UKRAINE") \
                and _in_scope(request, who, COUNTRY):
            found = []
            results = (f'<ul class="found"><li>{h(_region_name(request, COUNTRY, lang))} '
                       f'<a class="add" href="{h(link([*selected, COUNTRY]))}">'
                       f'{h(t(lang, "add"))}</a></li></ul>')
        if found:
            results = '<ul class="found">' + "".join(
                f'<li>{h(_region_label(request, r.code, lang))} <span class="code">'
                f'{h(r.code)}</span> '
                + (f'<a class="add" href="{h(link([*selected, r.code]))}" '
                   f'aria-label="{h(t(lang, "add"))}: {h(_region_name(request, r.code, lang))}">'
                   f'{h(t(lang, "add"))}</a>' if r.code not in selected else "✓")
                + "</li>" for r in found) + "</ul>"
        elif not results:
            results = f'<p>{h(t(lang, "nothing_found"))}</p>'
    hidden_sel = "".join(f'<input type="hidden" name="sel" value="{h(c)}">' for c in selected)
    search = (
        '<form method="get" action="/console/declare" class="search" role="search">'
        f'{hidden_sel}<label for="q">{h(t(lang, "search"))}</label>'
        f'<div class="row"><input id="q" name="q" value="{h(query)}" maxlength="200" '
        f'autocomplete="off"><button type="submit">{h(t(lang, "find"))}</button></div></form>'
        + (f'<section aria-label="{h(t(lang, "found"))}">{results}</section>' if results else ""))
    chosen = ('<ul class="selected">' + "".join(
        f'<li>{h(_region_label(request, c, lang))} <a href="'
        f'{h(link([x for x in selected if x != c]))}" aria-label="{h(t(lang, "remove"))}: '
        f'{h(_region_name(request, c, lang))}">{h(t(lang, "remove"))}</a></li>'
        for c in selected) + "</ul>") if selected else f'<p>{h(t(lang, "none_selected"))}</p>'
    types = "".join(
        f'<option value="{k}">{h(word(TYPES, k, lang))}</option>' for k in TYPES)
    statuses = "".join(
        f'<div class="status-choice status-{k}"><input type="radio" name="status" id="st-{k}" '
        f'value="{k}"{" checked" if k == "exercise" else ""} required>'
        f'<label for="st-{k}">{h(word(STATUS_WORDS, k, lang))}</label></div>'
        for k in STATUS_WORDS)
    details = _form(
        who, "/console/declare/review",
        hidden_sel
        + f'<label for="type">{h(t(lang, "type"))}</label><select id="type" name="type">'
        f'{types}</select>'
        + _threat_fields(lang, {}, "new")
        + f'<fieldset class="statuses"><legend>{h(t(lang, "status"))}</legend>{statuses}'
        '</fieldset>'
        + f'<label for="source">{h(t(lang, "source"))}</label>'
        '<input id="source" name="source" maxlength="200">'
        + f'<label for="note">{h(t(lang, "note"))}</label>'
        '<textarea id="note" name="note" maxlength="2000" rows="2"></textarea>',
        t(lang, "review"), cls="card details", button_cls="primary")
    picker = console_map.svg(
        selected, lambda code: _in_scope(request, who, code),
        lambda code: link([x for x in selected if x != code] if code in selected
                          else [*selected, code]),
        lambda code: _region_name(request, code, lang), t(lang, "map_label"), t(lang, "toggle"))
    body = (search + f'<section aria-labelledby="sel-h"><h2 id="sel-h">'
            f'{h(t(lang, "selected"))}</h2>{chosen}</section>'
            + (details if selected else "")
            + f'<section aria-labelledby="map-h"><h2 id="map-h">{h(t(lang, "map_label"))}'
            f'</h2>{picker}</section>')
    return _page(request, who, t(lang, "declare"), body)


@dataclass(frozen=True, slots=True)
class Draft:
    regions: list[str]
    type: AlertType
    threats: list[dict[str, str]]
    status: AlertStatus
    source: str
    note: str

    def body(self) -> dict[str, Any]:
        return {"regions": self.regions, "type": self.type.value, "threats": self.threats,
                "status": self.status.value, "source": self.source, "note": self.note}

    def command(self) -> Declare:
        return Declare.of(**self.body())


def _draft(request: web.Request, who: Who, values: dict[str, Any]) -> Draft:
    ctx = request.app[CONTEXT]
    regions = list(dict.fromkeys(_list(values, "sel")))
    if not regions:
        raise BadRequest("choose at least one region", field="regions")
    for code in regions:
        if code not in ctx.catalogue:
            raise NotFound(f"unknown region {code!r}", code="region_not_found")
        if not _in_scope(request, who, code):
            raise Forbidden(f"{code} is outside your scope", code="out_of_scope")
    try:
        alert_type = AlertType(str(values.get("type", "")))
        status = AlertStatus(str(values.get("status", "")))
    except ValueError:
        raise BadRequest("choose the alert's type and status", field="type") from None
    threats = _threats_of(values)
    UpdateAlert.of(threats=threats)  # the command's own check of the threats
    return Draft(regions, alert_type, threats, status, str(values.get("source", ""))[:200],
                 str(values.get("note", ""))[:2000])


def _hromadas(request: web.Request, codes: Sequence[str]) -> int:
    """How many hromadas the regions cover (a place inside a hromada counts its hromada)."""
    catalogue = request.app[CONTEXT].catalogue
    found: set[str] = set()
    for code in codes:
        if code != COUNTRY and catalogue[code].level is Level.HROMADA:
            found.add(code)
            continue
        below = [c for c in catalogue.descendants(code) if catalogue[c].level is Level.HROMADA]
        above = [c for c in catalogue.ancestors(code)
                 if c != COUNTRY and catalogue[c].level is Level.HROMADA]
        if below or above:
            found.update(below or above)
        elif catalogue[code].level is Level.SPECIAL_CITY:  # Kyiv, Sevastopol: one community
            found.add(code)
    return len(found)


def _webhooks_reached(request: web.Request, codes: Sequence[str]) -> int:
    ctx = request.app[CONTEXT]
    catalogue = ctx.catalogue
    with ctx.storage.writer() as tx:
        hooks = tx.webhooks_active()
    count = 0
    for hook in hooks:
        if not hook.regions or any(catalogue.is_within(c, r) or catalogue.is_within(r, c)
                                   for c in codes for r in hook.regions if r in catalogue):
            count += 1
    return count


def _summary(request: web.Request, lang: str, draft: Draft | dict[str, Any],
             hooks: int) -> str:
    body = draft.body() if isinstance(draft, Draft) else draft
    status = body["status"]
    regions = body["regions"]
    streams = len(context_of(request).node.hub)
    threat_text = ", ".join(f'{word(THREATS, x["type"], lang)} ({word(LEVELS, x["level"], lang)})'
                            for x in body["threats"]) or "—"
    return (
        f'<div class="banner status-{h(status)}" role="note"><strong>'
        f'{h(word(STATUS_WORDS, status, lang))}</strong></div>'
        f'<dl class="summary"><dt>{h(t(lang, "type"))}</dt>'
        f'<dd>{h(word(TYPES, body["type"], lang))}</dd>'
        f'<dt>{h(t(lang, "status"))}</dt><dd>{h(word(STATUS_WORDS, status, lang))}</dd>'
        f'<dt>{h(t(lang, "threats"))}</dt><dd>{h(threat_text)}</dd>'
        f'<dt>{h(t(lang, "selected"))}</dt><dd>'
        f'{h(t(lang, "regions_cover", n=len(regions), h=_hromadas(request, regions)))}'
        '<ul>' + "".join(f"<li>{h(_region_label(request, c, lang))}</li>" for c in regions)
        + '</ul></dd>'
        + (f'<dt>{h(t(lang, "source"))}</dt><dd>{h(body["source"])}</dd>' if body["source"]
           else "")
        + (f'<dt>{h(t(lang, "note"))}</dt><dd>{h(body["note"])}</dd>' if body["note"] else "")
        + f'<dt>{h(t(lang, "reach"))}</dt><dd><ul class="reach">'
        f'<li>{h(t(lang, "reach_public"))}</li>'
        f'<li>{h(t(lang, "reach_streams", n=streams))}</li>'
        f'<li>{h(t(lang, "reach_webhooks", n=hooks))}</li>'
        f'<li>{h(t(lang, "reach_cap"))}</li></ul></dd></dl>')


def _draft_fields(draft: Draft) -> str:
    fields = "".join(f'<input type="hidden" name="sel" value="{h(c)}">' for c in draft.regions)
    fields += (f'<input type="hidden" name="type" value="{h(draft.type.value)}">'
               f'<input type="hidden" name="status" value="{h(draft.status.value)}">'
               f'<input type="hidden" name="source" value="{h(draft.source)}">'
               f'<input type="hidden" name="note" value="{h(draft.note)}">')
    for threat in draft.threats:
        fields += (f'<input type="hidden" name="threat" value="{h(threat["type"])}">'
                   f'<input type="hidden" name="level_{h(threat["type"])}" '
                   f'value="{h(threat["level"])}">')
    return fields


@page
async def review(request: web.Request, who: Who) -> web.Response:
    lang = who.lang
    values = await _post(request, who)
    draft = _draft(request, who, values)
    console = request.app[CONSOLE]
    ctx = request.app[CONTEXT]
    reasons = approval.covers(console.policy, ctx.catalogue, draft.regions, draft.type,
                              draft.status)
    hooks = await console.write(_webhooks_reached, request, draft.regions)
    body = _summary(request, lang, draft, hooks)
    if reasons:
        why = "; ".join(t(lang, f"why_{r}") for r in reasons)
        body += f'<p class="needs-approval" role="note">{h(t(lang, "needs_approval", why=why))}</p>'
        button = t(lang, "request_approval")
    else:
        button = word(SEND_WORDS, draft.status.value, lang)
    body += '<div class="actions">' + _form(
        who, "/console/declare/confirm", _draft_fields(draft), button, key=True,
        button_cls=f"primary send status-{draft.status.value}")
    back = [("sel", c) for c in draft.regions]
    body += (f'<a class="button" href="/console/declare?{h(urlencode(back))}">'
             f'{h(t(lang, "back"))}</a></div>')
    return _page(request, who, t(lang, "confirm_title"), body,
                 body_class=f"confirming status-{draft.status.value}")


def _form_key(values: dict[str, Any]) -> str:
    key = values.get("form_key")
    if not isinstance(key, str) or not 8 <= len(key) <= 100:
        raise BadRequest("the form has no key; open it again", field="form_key")
    return key


@page
async def confirm(request: web.Request, who: Who) -> web.Response:
    values = await _post(request, who)
    draft = _draft(request, who, values)
    key = _form_key(values)
    console = request.app[CONSOLE]
    ctx = request.app[CONTEXT]
    reasons = approval.covers(console.policy, ctx.catalogue, draft.regions, draft.type,
                              draft.status)
    if reasons:
        record = await console.write(_request_approval, console, who, key, draft, reasons)
        raise Redirect(f"/console/approvals/{record.id}")
    result = await ctx.command(ctx.service.handle, who.actor, draft.command(),
                               idempotency_key=f"console:{key}",
                               store=_audited(who, "console.declared", **draft.body()))
    return _declared_page(request, who, result)


def _declared_page(request: web.Request, who: Who, result: Result) -> web.Response:
    lang = who.lang
    alerts = result.body.get("alerts", [])
    message = (t(lang, "declared_replayed") if result.replayed
               else t(lang, "declared", n=sum(1 for a in alerts if a.get("created"))))
    status = alerts[0]["status"] if alerts else "actual"
    items = "".join(
        f'<li id="declared-{a["id"]}">{h(_region_label(request, a["region"], lang))}: '
        f'{h(word(TYPES, a["type"], lang))} {_status_badge(a["status"], lang)}</li>'
        for a in alerts)
    body = (f'<div class="banner status-{h(status)}"><strong>'
            f'{h(word(STATUS_WORDS, status, lang))}</strong></div><ul>{items}</ul>'
            f'<p><a href="/">{h(t(lang, "see_public"))}</a> · '
            f'<a href="/api/v1/status">/api/v1/status</a> · '
            f'<a href="/console">{h(t(lang, "home"))}</a></p>')
    return _page(request, who, t(lang, "declare"), body, status=200,
                 flash=_flash(h(message)))


def _request_approval(console: Console, who: Who, key: str, draft: Draft,
                      reasons: list[str]) -> ApprovalRecord:
    time = now_utc()
    with console.ctx.storage.writer() as tx:
        tables = tx.operators()
        existing = tables.approval_by_form(who.operator.name, key)
        if existing is not None:  # the same form sent again
            return existing
        approval_id = tables.approval_add(who.operator.name, who.session, key, time,
                                          clock.time() + console.policy.seconds, draft.body(),
                                          reasons)
        tx.audit(time, who.actor.name, "approval.requested",
                 {"approval": approval_id, **draft.body(), "reasons": reasons,
                  "session": who.session[:12]})
        record = tables.approval(approval_id)
    assert record is not None
    return record


# ---- approvals ------------------------------------------------------------------------------

def _approval_of(request: web.Request, who: Who) -> ApprovalRecord:
    raw = request.match_info["id"]
    record = None
    if raw.isascii() and raw.isdigit() and len(raw) < 12:  # not "²"
        record = request.app[CONSOLE].read(lambda r: r.approval(int(raw)))
    if record is None or not _may_see(request, who, record):
        raise NotFound(f"no approval request {raw}", code="approval_not_found")
    return record


@page
async def approval_page(request: web.Request, who: Who) -> web.Response:
    lang = who.lang
    record = _approval_of(request, who)
    state = _approval_state(record)
    hooks = await request.app[CONSOLE].write(_webhooks_reached, request,
                                             record.body["regions"])
    why = "; ".join(t(lang, f"why_{r}") for r in record.reasons)
    requested = t(lang, "requested_by", name=record.requester,
                  time=kyiv(record.created, lang), until=kyiv_epoch(record.expires))
    body = (f'<p class="state state-{state}" role="status"><strong>'
            f'{h(t(lang, "state_" + state))}</strong></p><p>{h(requested)}</p>'
            + _summary(request, lang, record.body, hooks)
            + f'<p class="needs-approval">{h(t(lang, "needs_approval", why=why))}</p>')
    if state == "pending":
        actions = []
        if record.requester == who.operator.name:
            body += f'<p class="own" role="note">{h(t(lang, "own_request"))}</p>'
            actions.append(_form(who, f"/console/approvals/{record.id}/cancel", "",
                                 t(lang, "cancel")))
        elif who.approver:
            send = f'{t(lang, "approve")}: {word(SEND_WORDS, record.body["status"], lang)}'
            actions.append(_form(who, f"/console/approvals/{record.id}/approve", "", send,
                                 button_cls=f"primary send status-{record.body['status']}"))
            actions.append(_form(
                who, f"/console/approvals/{record.id}/reject",
                f'<label for="reason">{h(t(lang, "reason"))}</label>'
                '<input id="reason" name="reason" maxlength="500" required>',
                t(lang, "reject")))
        else:
            body += f'<p role="note">{h(t(lang, "not_approver"))}</p>'
        body += '<div class="actions">' + "".join(actions) + "</div>"
    elif record.reason:
        body += f'<p>{h(t(lang, "reason"))}: {h(record.reason)}</p>'
    return _page(request, who, t(lang, "approval", id=record.id), body,
                 body_class=f"status-{record.body['status']}")


@page
async def approve(request: web.Request, who: Who) -> web.Response:
    await _post(request, who)
    record = _approval_of(request, who)
    console = request.app[CONSOLE]
    ctx = request.app[CONTEXT]
    if record.requester == who.operator.name:
        raise Forbidden("you cannot approve your own request: a second operator must",
                        code="approval_own_request")
    if not who.approver:
        raise Forbidden("only operators with the approver role may approve",
                        code="approval_not_approver")
    for code in record.body["regions"]:
        if not _in_scope(request, who, code):
            raise Forbidden(f"{code} is outside your scope", code="out_of_scope")
    state = _approval_state(record)
    if state != "pending":
        raise Conflict(f"request {record.id} is {state}", code="approval_not_pending")
    requester = console.read(lambda r: r.operator(record.requester))
    if requester is None or requester.disabled is not None:
        raise Conflict("the requester has been disabled", code="approval_not_pending")
    actor = Actor(f"operator:{requester.name}", requester.scopes, True, bound=True,
                  approval=record.id)
    approver = who.actor.name

    def mark(tx: WriteTransaction, events: Sequence[Event]) -> None:
        time = now_utc()
        if not tx.operators().approval_decide(record.id, "approved", who.operator.name, time,
                                              "", [e.seq for e in events], clock.time()):
            raise Conflict(f"request {record.id} is no longer pending (decided or lapsed)",
                           code="approval_not_pending")
        tx.audit(time, approver, "approval.approved",
                 {"approval": record.id, "requester": record.requester,
                  "events": [e.seq for e in events], "session": who.session[:12]})

    result = await ctx.command(ctx.service.handle, actor, Declare.of(**record.body),
                               idempotency_key=f"approval:{record.id}", store=mark)
    return _declared_page(request, who, result)


async def _close_approval(request: web.Request, who: Who, state: str) -> None:
    values = await _post(request, who)
    record = _approval_of(request, who)
    console = request.app[CONSOLE]
    reason = str(values.get("reason", "")).strip()[:500]
    if state == "cancelled" and record.requester != who.operator.name:
        raise Forbidden("only the requester may cancel a request", code="forbidden")
    if state == "rejected":
        if record.requester == who.operator.name or not who.approver:
            raise Forbidden("a second operator with the approver role rejects a request",
                            code="approval_not_approver")
        if not reason:
            raise BadRequest("give a reason", field="reason")

    def close() -> None:
        time = now_utc()
        with console.ctx.storage.writer() as tx:
            if not tx.operators().approval_decide(record.id, state, who.operator.name, time,
                                                  reason, (), clock.time()):
                raise Conflict(f"request {record.id} is no longer pending",
                               code="approval_not_pending")
            tx.audit(time, who.actor.name, f"approval.{state}",
                     {"approval": record.id, "reason": reason, "session": who.session[:12]})

    await console.write(close)
    raise Redirect(f"/console/approvals/{record.id}")


@page
async def reject_approval(request: web.Request, who: Who) -> web.Response:
    await _close_approval(request, who, "rejected")
    raise AssertionError("unreachable")


@page
async def cancel_approval(request: web.Request, who: Who) -> web.Response:
    await _close_approval(request, who, "cancelled")
    raise AssertionError("unreachable")


# ---- alerts: end, withdraw, threats -----------------------------------------------------------

@page
async def end_alert(request: web.Request, who: Who) -> web.Response:
    values = await _post(request, who)
    key = _form_key(values)
    ctx = request.app[CONTEXT]
    withdraw = values.get("how") == "withdraw"
    command = EndAlert.of(withdraw=withdraw,
                          reason="withdrawn in the console" if withdraw else "")
    result = await ctx.command(ctx.service.handle, who.actor, command,
                               request.match_info["id"], idempotency_key=f"console:{key}",
                               store=_audited(who, "console.withdrawn" if withdraw
                                              else "console.ended",
                                              alert=request.match_info["id"]))
    raise Redirect("/console?" + urlencode({"done": t(who.lang, "ended_n", n=len(
        result.events) if not result.replayed else 0)}))


@page
async def end_all(request: web.Request, who: Who) -> web.Response:
    values = await _post(request, who)
    key = _form_key(values)
    ctx = request.app[CONTEXT]
    code = request.match_info["code"]
    if code not in ctx.catalogue or not _in_scope(request, who, code):
        raise Forbidden(f"{code} is outside your scope", code="out_of_scope")
    targets = [a.id for a in ctx.follower.state.active_alerts()
               if ctx.catalogue.is_within(a.region, code) and _in_scope(request, who, a.region)]
    ended = 0
    for alert_id in targets:
        try:
            result = await ctx.command(ctx.service.handle, who.actor, EndAlert(), alert_id,
                                       idempotency_key=f"console:{key}:{alert_id}",
                                       store=_audited(who, "console.ended", alert=alert_id,
                                                      all_in=code))
        except Conflict:  # ended meanwhile by someone else
            continue
        ended += len(result.events)
    raise Redirect("/console?" + urlencode({"done": t(who.lang, "ended_n", n=ended)}))


@page
async def change_threats(request: web.Request, who: Who) -> web.Response:
    values = await _post(request, who)
    key = _form_key(values)
    ctx = request.app[CONTEXT]
    threats = _threats_of(values)
    result = await ctx.command(ctx.service.handle, who.actor, UpdateAlert.of(threats=threats),
                               request.match_info["id"], idempotency_key=f"console:{key}")
    await _audit_after(request, who, "console.threats_changed", result,
                       alert=request.match_info["id"], threats=threats)
    raise Redirect("/console?" + urlencode({"done": t(who.lang, "done")}))


# ---- incidents ------------------------------------------------------------------------------

def _kyiv_input(value: str) -> str | None:
    """A datetime-local field's value, read as Kyiv time."""
    value = value.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest("embargo: expected a date and time", field="embargo_until") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KYIV)
    return format_time(moment)


def _resolve(request: web.Request, who: Who, text: str) -> str:
    ctx = request.app[CONTEXT]
    code = text.strip().upper()
    if code in ctx.catalogue:
        return code
    matches = [r for r in ctx.names.find(text).matches if _in_scope(request, who, r.code)]
    if len(matches) == 1:
        return matches[0].code
    if not matches:
        raise NotFound(f"no region in your scope matches {text!r}", code="region_not_found",
                       field="region")
    names = "; ".join(f"{r.name_en} ({r.code})" for r in matches[:6])
    raise BadRequest(f"{text!r} fits several regions: {names}; give the code", field="region")


@page
async def incidents_page(request: web.Request, who: Who) -> web.Response:
    lang = who.lang
    state = request.app[CONTEXT].follower.state
    records = sorted((i for i in state.incidents.values()
                      if _in_scope(request, who, i.region)), key=lambda i: -i.id)[:100]
    kinds = "".join(f'<option value="{k}">{h(word(INCIDENT_KINDS, k, lang))}</option>'
                    for k in INCIDENT_KINDS)
    statuses = "".join(f'<option value="{k}">{h(word(INCIDENT_STATUSES, k, lang))}</option>'
                       for k in INCIDENT_STATUSES if k != "retracted")
    report = _form(
        who, "/console/incidents",
        f'<label for="i-kind">{h(t(lang, "kind"))}</label><select id="i-kind" name="kind">'
        f'{kinds}</select>'
        f'<label for="i-region">{h(t(lang, "region"))}</label>'
        '<input id="i-region" name="region" required maxlength="200">'
        f'<label for="i-status">{h(t(lang, "status"))}</label>'
        f'<select id="i-status" name="status">{statuses}</select>'
        f'<label for="i-source">{h(t(lang, "source"))}</label>'
        '<input id="i-source" name="source" required maxlength="200">'
        f'<label for="i-desc">{h(t(lang, "description"))}</label>'
        '<textarea id="i-desc" name="description" maxlength="2000" rows="2"></textarea>'
        f'<label for="i-embargo">{h(t(lang, "embargo"))}</label>'
        '<input id="i-embargo" name="embargo_until" type="datetime-local">',
        t(lang, "report"), key=True, cls="card", button_cls="primary")
    rows = []
    for incident in records:
        options = "".join(
            f'<option value="{k}"{" selected" if k == incident.status.value else ""}>'
            f'{h(word(INCIDENT_STATUSES, k, lang))}</option>' for k in INCIDENT_STATUSES)
        embargo = ""
        if incident.embargo_until:
            embargo = parse_local(incident.embargo_until)
        rows.append(
            f'<li><p><strong>#{incident.id} {h(word(INCIDENT_KINDS, incident.kind.value, lang))}'
            f'</strong> — {h(_region_label(request, incident.region, lang))} — '
            f'{h(incident.source)}<br>{h(incident.description)}</p>'
            + _form(who, f"/console/incidents/{incident.id}",
                    f'<label for="st-{incident.id}">{h(t(lang, "status"))}</label>'
                    f'<select id="st-{incident.id}" name="status">{options}</select>'
                    f'<label for="em-{incident.id}">{h(t(lang, "embargo"))}</label>'
                    f'<input id="em-{incident.id}" name="embargo_until" type="datetime-local" '
                    f'value="{h(embargo)}">', t(lang, "update"), key=True, cls="inline")
            + "</li>")
    listing = (f'<ul class="incidents">{"".join(rows)}</ul>' if rows
               else f'<p>{h(t(lang, "none_incidents"))}</p>')
    body = (f'<section><h2>{h(t(lang, "incident_report"))}</h2>{report}</section>'
            f'<section><h2>{h(t(lang, "incidents"))}</h2>{listing}</section>')
    flash = _flash(h(request.query["done"][:300])) if request.query.get("done") else ""
    return _page(request, who, t(lang, "incidents"), body, flash=flash)


def parse_local(time: str) -> str:
    """A log time as a datetime-local field's value, in Kyiv time."""
    return parse_time(time).astimezone(KYIV).strftime("%Y-%m-%dT%H:%M")


@page
async def report_incident(request: web.Request, who: Who) -> web.Response:
    values = await _post(request, who)
    key = _form_key(values)
    ctx = request.app[CONTEXT]
    kind = str(values.get("kind", ""))
    status = str(values.get("status", "preliminary"))
    command = ReportIncident.of(
        kind=kind, region=_resolve(request, who, str(values.get("region", ""))), status=status,
        source=values.get("source", ""), description=values.get("description", ""),
        embargo_until=_kyiv_input(str(values.get("embargo_until", ""))))
    await ctx.command(ctx.service.handle, who.actor, command, idempotency_key=f"console:{key}",
                      store=_audited(who, "console.incident_reported"))
    raise Redirect("/console/incidents?" + urlencode({"done": t(who.lang, "done")}))


@page
async def update_incident(request: web.Request, who: Who) -> web.Response:
    values = await _post(request, who)
    key = _form_key(values)
    ctx = request.app[CONTEXT]
    changes: dict[str, Any] = {}
    if values.get("status") in IncidentStatus._value2member_map_:
        changes["status"] = values["status"]
    changes["embargo_until"] = _kyiv_input(str(values.get("embargo_until", "")))
    result = await ctx.command(ctx.service.handle, who.actor, UpdateIncident.of(**changes),
                               request.match_info["id"], idempotency_key=f"console:{key}")
    await _audit_after(request, who, "console.incident_updated", result,
                       incident=request.match_info["id"], **changes)
    raise Redirect("/console/incidents?" + urlencode({"done": t(who.lang, "done")}))


# ---- statement proposals ----------------------------------------------------------------------

@page
async def proposals_page(request: web.Request, who: Who) -> web.Response:
    lang = who.lang
    ctx = request.app[CONTEXT]
    desk = ctx.node.proposals
    records = await ctx.read(desk.list, who.actor, "pending", 200)
    rows = []
    for record in records:
        region = record.body.get("region")
        if not isinstance(region, str) or not _in_scope(request, who, region):
            continue
        what = record.body.get("alert_type") or record.body.get("incident_kind") or ""
        rows.append(
            f'<li><p><strong>#{record.id}</strong> {h(record.kind)} {h(what)} — '
            f'{h(_region_label(request, region, lang))}<br>'
            f'<q>{h(str(record.body.get("evidence", ""))[:300])}</q></p>'
            '<div class="actions">'
            + _form(who, f"/console/proposals/{record.id}/accept", "", t(lang, "accept"),
                    button_cls="primary")
            + _form(who, f"/console/proposals/{record.id}/reject",
                    f'<label for="r-{record.id}">{h(t(lang, "reason"))}</label>'
                    f'<input id="r-{record.id}" name="reason" required maxlength="500">',
                    t(lang, "reject"))
            + "</div></li>")
    body = (f'<ul class="proposals">{"".join(rows)}</ul>' if rows
            else f'<p>{h(t(lang, "none_proposals"))}</p>')
    flash = _flash(h(request.query["done"][:300])) if request.query.get("done") else ""
    return _page(request, who, t(lang, "proposals"), body, flash=flash)


@page
async def decide_proposal(request: web.Request, who: Who) -> web.Response:
    values = await _post(request, who)
    ctx = request.app[CONTEXT]
    desk = ctx.node.proposals
    proposal_id = request.match_info["id"]
    if request.match_info["verb"] == "accept":
        await ctx.command(desk.accept, who.actor, proposal_id)
    else:
        reason = str(values.get("reason", "")).strip()
        if not reason:
            raise BadRequest("give a reason", field="reason")
        await ctx.command(desk.reject, who.actor, proposal_id, reason)
    raise Redirect("/console/proposals?" + urlencode({"done": t(who.lang, "done")}))


# ---- the audit trail --------------------------------------------------------------------------

@page
async def audit_page(request: web.Request, who: Who) -> web.Response:
    lang = who.lang
    ctx = request.app[CONTEXT]
    actor = request.query.get("actor", "").strip()[:100]
    action = request.query.get("action", "").strip()[:100]
    text = request.query.get("q", "").strip()[:100]
    everything = COUNTRY in who.operator.scopes
    records = await ctx.read(ctx.storage.audit_records)
    mine = who.actor.name
    shown = []
    for record in reversed(records):
        if not everything and record.actor != mine:
            continue
        if actor and actor.lower() not in record.actor.lower():
            continue
        if action and not record.action.startswith(action):
            continue
        if text and text.lower() not in str(record.detail).lower():
            continue
        shown.append(record)
        if len(shown) >= 300:
            break
    filters = (
        '<form method="get" action="/console/audit" class="filters card">'
        f'<div><label for="f-actor">{h(t(lang, "actor"))}</label>'
        f'<input id="f-actor" name="actor" value="{h(actor)}"></div>'
        f'<div><label for="f-action">{h(t(lang, "action"))}</label>'
        f'<input id="f-action" name="action" value="{h(action)}"></div>'
        f'<div><label for="f-q">{h(t(lang, "detail"))}</label>'
        f'<input id="f-q" name="q" value="{h(text)}"></div>'
        f'<div><button type="submit">{h(t(lang, "filter"))}</button></div></form>')
    rows = "".join(
        f'<tr><td>{r.seq}</td><td>{h(kyiv(r.time, lang))}</td><td>{h(r.actor)}</td>'
        f'<td>{h(r.action)}</td><td class="detail">{h(_detail(r.detail))}</td></tr>'
        for r in shown)
    table = (f'<div class="table-wrap"><table class="audit"><thead><tr><th scope="col">#</th>'
             f'<th scope="col">{h(t(lang, "when"))}</th><th scope="col">{h(t(lang, "actor"))}'
             f'</th><th scope="col">{h(t(lang, "action"))}</th><th scope="col">'
             f'{h(t(lang, "detail"))}</th></tr></thead><tbody>{rows}</tbody></table></div>')
    note = "" if everything else f'<p>{h(t(lang, "audit_own"))}</p>'
    return _page(request, who, t(lang, "audit"), filters + note + table)


def _detail(detail: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in detail.items())


# ---- routes -----------------------------------------------------------------------------------

def add_routes(app: web.Application) -> None:
    app[CONSOLE] = Console(app[CONTEXT])
    r = app.router
    r.add_get("/console", home)
    r.add_get("/console/login", login_page)
    r.add_post("/console/login", login)
    r.add_post("/console/logout", logout)
    r.add_get("/console/lang/{lang}", set_lang)
    r.add_get("/console/static/{name}", static_file)
    r.add_get("/console/declare", declare_page)
    r.add_post("/console/declare/review", review)
    r.add_post("/console/declare/confirm", confirm)
    r.add_get("/console/approvals/{id}", approval_page)
    r.add_post("/console/approvals/{id}/approve", approve)
    r.add_post("/console/approvals/{id}/reject", reject_approval)
    r.add_post("/console/approvals/{id}/cancel", cancel_approval)
    r.add_post("/console/alerts/{id}/end", end_alert)
    r.add_post("/console/alerts/{id}/threats", change_threats)
    r.add_post("/console/regions/{code}/end-all", end_all)
    r.add_get("/console/incidents", incidents_page)
    r.add_post("/console/incidents", report_incident)
    r.add_post("/console/incidents/{id}", update_incident)
    r.add_get("/console/proposals", proposals_page)
    r.add_post("/console/proposals/{id}/{verb:accept|reject}", decide_proposal)
    r.add_get("/console/audit", audit_page)


__all__ = ["CONSOLE", "Console", "add_routes"]
