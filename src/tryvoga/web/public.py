"""The public pages: the live map, region pages, and the geometry they draw.

Stable URLs (the operator console may reuse the geometry to pick regions):

* ``GET /``: the live map of Ukraine; the current state is rendered into the page, so it is
  readable before any script runs; ``static/map.js`` then follows ``/api/v1/stream``.
* ``GET /regions/{code}``: a region's state, alerts, time to shelter, neighbours and history.
* ``GET /map/state.json``: what the page's script needs after each event: ``seq``, ``marks``
  (region code → state letter, see :func:`marks`), ``panel`` (the list beside the map as HTML),
  ``labels`` (the words drawn on exercises and tests, as SVG), ``alerts`` (id → sentence, for
  the screen-reader announcements) and ``hromadas`` (whether a hromada is marked).
* ``GET /regions/{code}/status``: the live part of a region page, as HTML.
* ``GET /geo/{layer}.json`` for ``layer`` in ``oblasts``, ``raions``, ``hromadas``, ``kyiv``:
  ``{"layer", "viewBox", "attribution", "features": [{"code", "d", "c"}], "borders"?}``: SVG
  path data already projected (Albers, whole pixels; ``scripts/build_web_geo.py``), ``code``
  the KATOTTG code, ``c`` a label point. ``oblasts``/``raions``/``hromadas`` share one viewBox;
  ``kyiv`` (the 10 city districts) has its own. Strong ETag, gzip, cacheable.
* ``GET /static/{name}``: a stylesheet, script or image in ``web/static`` by its plain name
  (``map.css``, ``map.js``; the console's files too), strong ETag, gzip.

``?lang=uk|en`` chooses the language (remembered in a cookie); times are Kyiv time.
Nothing on these pages is fetched from another host.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.resources import files
from typing import Any

from aiohttp import web

from tryvoga.api.context import Context, context_of
from tryvoga.domain.events import format_time, parse_time
from tryvoga.domain.model import Alert, AlertStatus, AlertType, ThreatLevel, alert_level
from tryvoga.domain.regions import COUNTRY, Level
from tryvoga.domain.state import State
from tryvoga.domain.stats import KYIV, Span, compute, group_spans, relevant_codes
from tryvoga.errors import NotFound
from tryvoga.query.records import spans
from tryvoga.storage.history import HistoryFilter
from tryvoga.web.i18n import (
    ALERT_TYPES,
    INCIDENT_STATUS,
    INCIDENTS,
    TEXT,
    THREATS,
    Lang,
    duration,
    kyiv_time,
    lang_of,
)

LAYERS = ("oblasts", "raions", "hromadas", "kyiv")
KYIV_CITY = "UA80000000000093317"
SPECIAL_CITIES = (KYIV_CITY, "UA85000000000065278")
INCIDENTS_SHOWN = 10
e = html.escape


# ---- cached assets ------------------------------------------------------------------------

@dataclass(frozen=True)
class Asset:
    body: bytes
    gz: bytes
    etag: str
    content_type: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> Asset:
        tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return cls(body, gzip.compress(body, 9, mtime=0), tag, content_type)

    def response(self, request: web.Request, cache_control: str) -> web.Response:
        headers = {"ETag": self.etag, "Cache-Control": cache_control,
                   "Vary": "Accept-Encoding"}
        if self.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        body = self.body
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            body = self.gz
            headers["Content-Encoding"] = "gzip"
        binary = self.content_type == "image/png"
        return web.Response(body=body, content_type=self.content_type,
                            charset=None if binary else "utf-8", headers=headers)


def _static(name: str) -> bytes:
    return files("tryvoga.web").joinpath("static", name).read_bytes()


@cache
def layer(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_static(f"map-{name}.json"))
    return data


@cache
def layer_asset(name: str) -> Asset:
    return Asset.of(_static(f"map-{name}.json"), "application/json")


@cache
def static_asset(name: str) -> Asset:
    return Asset.of(_static(name), _TYPES[name.rsplit(".", 1)[1]])


@cache
def centres() -> dict[str, tuple[int, int]]:
    """Label points of every shape on the country map, by region code."""
    out: dict[str, tuple[int, int]] = {}
    for name in ("hromadas", "raions", "oblasts"):
        for feature in layer(name)["features"]:
            out[feature["code"]] = (feature["c"][0], feature["c"][1])
    return out


@cache
def geo_neighbours() -> dict[str, list[str]]:
    """Raions and hromadas sharing a border in the map's topology (the catalogue's own
    neighbours, and a region's configured ones, come first)."""
    data: dict[str, list[str]] = json.loads(_static("map-neighbours.json"))
    return data


@cache
def inset_origin() -> tuple[int, int]:
    """Where the Kyiv inset sits on the country map (its lower left corner)."""
    _, _, _, kh = (int(v) for v in layer("kyiv")["viewBox"].split())
    _, _, _, height = (int(v) for v in layer("raions")["viewBox"].split())
    return 8, height - kh - 8


def inset_centre() -> tuple[int, int]:
    _, _, kw, kh = (int(v) for v in layer("kyiv")["viewBox"].split())
    x, y = inset_origin()
    return x + kw // 2, y + kh // 2


@cache
def drawn_codes() -> frozenset[str]:
    return frozenset(f["code"] for name in LAYERS for f in layer(name)["features"])


# ---- the state as the map draws it -----------------------------------------------------------

def marks(state: State, codes: frozenset[str]) -> dict[str, str]:
    """Per drawn region, the letter the map styles it by (absent: nothing to show):

    ``a`` under an actual alert (red level, or no level given), ``y`` under actual air-raid
    alerts that are all of yellow level, ``p`` part of it under an actual alert, ``x``/``t``
    under an exercise / a test, ``q``/``u`` part of it under an exercise / a test.
    Actual alerts always win over exercises and tests.
    """
    out: dict[str, str] = {}
    other_types_full: set[str] = set()
    for type_ in AlertType:
        for code, value in state.effective(type_).items():
            if code not in codes:
                continue
            if value == "A":
                out[code] = "a"
                if type_ is not AlertType.AIR_RAID:
                    other_types_full.add(code)
            elif code not in out:
                out[code] = "p"
    catalogue = state.catalogue
    # Yellow where every actual air-raid alert on the region, above it or inside it is of
    # yellow level (State.effective_level's rule, for all regions at once: that method
    # looks at every alert for one region, too slow for a thousand of each).
    red: set[str] = set()
    seen: set[str] = set()
    for alert in state.active_alerts():
        if alert.type is not AlertType.AIR_RAID or alert.status is not AlertStatus.ACTUAL \
                or alert_level(alert.threats) is ThreatLevel.YELLOW or alert.region in seen:
            continue
        seen.add(alert.region)
        red.add(alert.region)
        red.update(catalogue.ancestors(alert.region))
        red.update(catalogue.descendants(alert.region))
    for code, letter in out.items():
        if letter == "a" and code not in other_types_full and code not in red:
            out[code] = "y"
    for alert in state.active_alerts():
        if alert.status is AlertStatus.ACTUAL:
            continue
        full, part = ("x", "q") if alert.status is AlertStatus.EXERCISE else ("t", "u")
        for code in (alert.region, *catalogue.descendants(alert.region)):
            if code in codes and out.get(code) in (None, "q", "u"):
                out[code] = full
        for code in catalogue.ancestors(alert.region):
            if code in codes and code not in out:
                out[code] = part
    return out


def drill_labels(state: State, lang: Lang) -> str:
    """The words EXERCISE / TEST on the map: at an exercise's or test's region, or at the
    oblast's centre where several lie in one oblast (so that a drill over many hromadas is
    one word, not hundreds on top of each other)."""
    t = TEXT[lang]
    points = centres()
    catalogue = state.catalogue
    by_top: dict[tuple[str, str], set[str]] = {}
    for alert in state.active_alerts():
        if alert.status is AlertStatus.ACTUAL:
            continue
        word = t["exercise"] if alert.status is AlertStatus.EXERCISE else t["test"]
        top = catalogue.top_of(alert.region) or COUNTRY
        by_top.setdefault((top, word), set()).add(alert.region)
    placed: dict[tuple[int, int], str] = {}
    for (top, word), regions in by_top.items():
        code: str | None = top if len(regions) > 1 else next(iter(regions))
        while code is not None and code not in points and code != COUNTRY:
            code = catalogue.parent_of(code)
        if code == KYIV_CITY or (code is not None and catalogue.is_within(code, KYIV_CITY)):
            point = inset_centre()
        else:
            point = points.get(code or "", (500, 330))
        placed.setdefault(point, word)
    return "".join(f'<text x="{x}" y="{y}" class="drill">{e(word)}</text>'
                   for (x, y), word in placed.items())


def _name(ctx: Context, code: str, lang: Lang) -> str:
    region = ctx.catalogue[code]
    return region.name_en if lang == "en" else region.name_uk


def alert_sentence(ctx: Context, alert: Alert, lang: Lang, now: datetime) -> str:
    """One alert as a sentence a screen reader reads (HTML; the region is a link)."""
    t = TEXT[lang]
    parts = [f'<a href="/regions/{e(alert.region)}">{e(_name(ctx, alert.region, lang))}</a>: '
             f"{ALERT_TYPES[lang][alert.type.value]} {t['since']} "
             f"{kyiv_time(alert.started_at, now)} "
             f"(<span class=\"since\" data-since=\"{e(alert.started_at)}\">{t['lasting']} "
             f"{duration((now - parse_time(alert.started_at)).total_seconds(), lang)}</span>)"]
    if alert.threats:
        threats = ", ".join(
            f"{THREATS[lang][th.type.value]} ({t['level_' + th.level.value]})"
            for th in alert.threats)
        parts.append(f"; {t['threats']}: {threats}")
    if alert.status is AlertStatus.ACTUAL:
        return "".join(parts) + "."
    word, note = ((t["exercise"], t["exercise_note"]) if alert.status is AlertStatus.EXERCISE
                  else (t["test"], t["test_note"]))
    return (f'<strong class="tag tag-{alert.status.value}">{word}</strong> '
            f'{"".join(parts)}; {note}.')


def _alert_class(alert: Alert) -> str:
    if alert.status is AlertStatus.EXERCISE:
        return "x"
    if alert.status is AlertStatus.TEST:
        return "t"
    if alert.type is AlertType.AIR_RAID and alert_level(alert.threats) is ThreatLevel.YELLOW:
        return "y"
    return "a"


def _ordered(alerts: Iterable[Alert]) -> list[Alert]:
    return sorted(alerts, key=lambda a: (a.status is not AlertStatus.ACTUAL, a.started_at,
                                         a.id), reverse=False)


def alerts_list(ctx: Context, alerts: list[Alert], lang: Lang, now: datetime,
                empty: str) -> str:
    if not alerts:
        return f'<p class="empty">{e(empty)}</p>'
    items = "".join(
        f'<li class="alert" data-s="{_alert_class(a)}" data-id="{a.id}">'
        f'<span class="swatch" aria-hidden="true"></span>'
        f"<span>{alert_sentence(ctx, a, lang, now)}</span></li>"
        for a in _ordered(alerts))
    return f'<ul class="alerts">{items}</ul>'


def panel(ctx: Context, lang: Lang, now: datetime) -> str:
    """The list beside the map: the map's text alternative."""
    t = TEXT[lang]
    state = ctx.follower.state
    active = state.active_alerts()
    stamp = format_time(now)
    incidents = [i for i in sorted(state.incidents.values(), key=lambda i: i.reported_at,
                                   reverse=True) if i.public_at(stamp)][:INCIDENTS_SHOWN]
    rows = []
    for incident in incidents:
        what = INCIDENTS[lang][incident.kind.value]
        status = INCIDENT_STATUS[lang][incident.status.value]
        desc = f" {e(incident.description)}" if incident.description else ""
        rows.append(f'<li><time datetime="{e(incident.reported_at)}">'
                    f"{kyiv_time(incident.reported_at, now)}</time> "
                    f'<a href="/regions/{e(incident.region)}">'
                    f"{e(_name(ctx, incident.region, lang))}</a>: {what} ({status}).{desc}</li>")
    incident_html = (f'<ul class="incidents">{"".join(rows)}</ul>' if rows
                     else f'<p class="empty">{t["no_incidents"]}</p>')
    return (f'<h2 id="h-alerts">{t["active_alerts"]} ({len(active)})</h2>'
            f"{alerts_list(ctx, active, lang, now, t['no_alerts'])}"
            f'<h2 id="h-incidents">{t["incidents"]}</h2>{incident_html}')


def state_json(ctx: Context, lang: Lang, now: datetime) -> dict[str, Any]:
    state = ctx.follower.state
    codes = drawn_codes()
    found = marks(state, codes)
    plain = {a.id: _plain(alert_sentence(ctx, a, lang, now)) for a in state.active_alerts()}
    return {"seq": state.seq, "marks": found, "panel": panel(ctx, lang, now),
            "labels": drill_labels(state, lang), "alerts": plain,
            "hromadas": bool(hromadas_apart(state, found)), "time": format_time(now)}


def _plain(fragment: str) -> str:
    """An HTML fragment's text (for aria-live announcements)."""
    out, inside = [], False
    for char in fragment:
        if char == "<":
            inside = True
        elif char == ">":
            inside = False
        elif not inside:
            out.append(char)
    return html.unescape("".join(out))


# ---- the SVG map -------------------------------------------------------------------------

PATTERNS = """<defs>
<pattern id="pat-p" width="6" height="6" patternUnits="userSpaceOnUse"
 patternTransform="rotate(45)"><rect width="6" height="6" fill="#f6d3bd"/>
<rect width="2.5" height="6" fill="#d55e00"/></pattern>
<pattern id="pat-x" width="6" height="6" patternUnits="userSpaceOnUse"
 patternTransform="rotate(-45)"><rect width="6" height="6" fill="#cfe4f3"/>
<rect width="2" height="6" fill="#0072b2"/></pattern>
<pattern id="pat-q" width="8" height="8" patternUnits="userSpaceOnUse"
 patternTransform="rotate(-45)"><rect width="8" height="8" fill="#e9f2f9"/>
<rect width="1.5" height="8" fill="#0072b2"/></pattern>
<pattern id="pat-t" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#f3dbe8"/><circle cx="3" cy="3" r="1.6" fill="#cc79a7"/>
</pattern>
<pattern id="pat-u" width="8" height="8" patternUnits="userSpaceOnUse">
<rect width="8" height="8" fill="#f8eef3"/><circle cx="4" cy="4" r="1.2" fill="#cc79a7"/>
</pattern>
</defs>"""


def _shape(feature: dict[str, Any], found: dict[str, str], names: dict[str, str],
           focus: str | None) -> str:
    code = feature["code"]
    mark = found.get(code)
    state = f' data-s="{mark}"' if mark else ""
    cls = ' class="focus"' if code == focus else ""
    return (f'<path d="{feature["d"]}" data-code="{code}"{state}{cls}>'
            f"<title>{e(names.get(code, code))}</title></path>")


def map_svg(ctx: Context, lang: Lang, found: dict[str, str], labels: str, *,
            focus: str | None = None, with_hromadas: bool = True) -> str:
    t = TEXT[lang]
    names = {r.code: (r.name_en if lang == "en" else r.name_uk) for r in ctx.catalogue}
    oblasts, raions, kyiv = layer("oblasts"), layer("raions"), layer("kyiv")
    cities = [f for f in oblasts["features"] if f["code"] in SPECIAL_CITIES]
    # Hromadas are drawn by the server only where they are marked; the script loads the
    # whole layer when it is needed.
    apart = hromadas_apart(ctx.follower.state, found)
    hromadas = ([f for f in layer("hromadas")["features"] if f["code"] in apart]
                if with_hromadas else [])
    if focus and focus not in {f["code"] for f in raions["features"]}:
        hromadas += [f for f in layer("hromadas")["features"]
                     if f["code"] == focus and f["code"] not in found]
    outline = "".join(f'<path class="outline" d="{f["d"]}"/>' for f in oblasts["features"]
                      if f["code"] == focus and focus not in SPECIAL_CITIES)
    _, _, kw, kh = (int(v) for v in kyiv["viewBox"].split())
    _, _, width, height = (int(v) for v in raions["viewBox"].split())
    ix, iy = inset_origin()
    inset = (f'<g id="inset" transform="translate({ix} {iy})">'
             f'<rect x="-4" y="-20" width="{kw + 8}" height="{kh + 26}" class="inset-box"/>'
             f'<text x="0" y="-6" class="inset-title">{e(t["kyiv"])}</text>'
             + "".join(_shape(f, found, names, focus) for f in kyiv["features"]) + "</g>")
    return (f'<svg id="map" viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="map-title" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="map-title">{e(t["map_label"])}</title>{PATTERNS}'
            f'<g id="cities">{"".join(_shape(f, found, names, focus) for f in cities)}</g>'
            f'<g id="raions">'
            f'{"".join(_shape(f, found, names, focus) for f in raions["features"])}</g>'
            f'<g id="hromadas">{"".join(_shape(f, found, names, focus) for f in hromadas)}</g>'
            f'<path id="inner" d="{raions["inner"]}"/>'
            f'<path id="borders" d="{raions["borders"]}"/>{outline}'
            f'{inset}<g id="labels">{labels}</g></svg>')


# ---- pages -------------------------------------------------------------------------------

def _lang(request: web.Request) -> Lang:
    return lang_of(request.query.get("lang") or request.cookies.get("lang"))


_RENDERED: web.AppKey[OrderedDict[tuple[Any, ...], Asset]] = web.AppKey("web_rendered",
                                                                      OrderedDict)
RENDERED_KEPT = 64


async def rendered(request: web.Request, key: tuple[Any, ...],
                   build: Callable[[datetime], Awaitable[Asset]]) -> Asset:
    """A page or fragment rendered once per state version, key and minute (the counters of
    time since an alert started move with the clock), then served as the same bytes, gzipped
    once, to every reader."""
    now = datetime.now(UTC)
    cache = request.app[_RENDERED]
    full = (context_of(request).follower.state.seq, int(now.timestamp() // 60), *key)
    found = cache.get(full)
    if found is None:
        found = cache[full] = await build(now)
        while len(cache) > RENDERED_KEPT:
            cache.popitem(last=False)
    return found


# The pages load nothing from anywhere else; the browser is told so too.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; script-src 'self'; "
                               "connect-src 'self'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _html(request: web.Request, asset: Asset) -> web.Response:
    response = asset.response(request, "no-cache")
    response.headers["Vary"] = "Accept-Encoding, Cookie"
    response.headers.update(SECURITY_HEADERS)
    if request.query.get("lang") in ("uk", "en"):
        response.set_cookie("lang", request.query["lang"], max_age=365 * 86400,
                            samesite="Lax", httponly=True)
    return response


def _html_asset(body: str) -> Asset:
    return Asset.of(body.encode(), "text/html")


def _page(lang: Lang, title: str, main: str, boot: dict[str, Any], path: str) -> str:
    t = TEXT[lang]
    other = "en" if lang == "uk" else "uk"
    boot_json = json.dumps(boot, ensure_ascii=False).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{e(title)}</title>
<link rel="stylesheet" href="/static/map.css?v={static_asset('map.css').etag[1:9]}">
</head><body>
<a class="skip" href="#panel">{"До списку тривог" if lang == "uk" else "Skip to the alert list"}</a>
<header><a class="site" href="/">{t["site"]}</a>
<p id="conn" class="conn" role="status"><span class="dot" aria-hidden="true"></span>
<span id="conn-text">{t["updated"]} <time id="conn-time">{kyiv_time(boot["time"])}</time>
({t["kyiv_time"]})</span></p>
<nav class="lang" aria-label="Мова / Language"><a href="{path}?lang={other}" hreflang="{other}"
 lang="{other}">{t["lang_other"]}</a></nav></header>
{main}
<div id="announce" class="visually-hidden" aria-live="polite" aria-atomic="false"></div>
<footer><p>{t["attribution"]} · <a href="/api/v1/docs">{t["api"]}</a></p></footer>
<script type="application/json" id="boot">{boot_json}</script>
<script src="/static/map.js?v={static_asset('map.js').etag[1:9]}" defer></script>
</body></html>"""


def _legend(lang: Lang) -> str:
    t = TEXT[lang]
    items = [("a", t["l_alert"]), ("y", t["l_yellow"]), ("p", t["l_partial"]),
             ("x", t["l_exercise"]), ("t", t["l_test"]), ("n", t["l_none"])]
    entries = "".join(f'<li><span class="swatch" data-s="{k}" aria-hidden="true"></span>'
                      f"{e(v)}</li>" for k, v in items)
    return (f'<section class="legend" aria-label="{t["legend"]}"><ul>{entries}</ul></section>')


def _my_region(ctx: Context, lang: Lang) -> str:
    t = TEXT[lang]
    groups = []
    for top in sorted(ctx.catalogue.top_level(), key=lambda r: _name(ctx, r.code, lang)):
        options = [f'<option value="{top.code}">{e(_name(ctx, top.code, lang))}</option>']
        for child in sorted(ctx.catalogue.children.get(top.code, ()),
                            key=lambda c: _name(ctx, c, lang)):
            if ctx.catalogue[child].level in (Level.RAION, Level.CITY_DISTRICT):
                options.append(f'<option value="{child}">{e(_name(ctx, child, lang))}</option>')
        groups.append(f'<optgroup label="{e(_name(ctx, top.code, lang))}">'
                      f'{"".join(options)}</optgroup>')
    return (f'<section id="mine" class="mine" hidden aria-labelledby="h-mine">'
            f'<h2 id="h-mine">{t["my_region"]}</h2>'
            f'<label class="visually-hidden" for="my-region">{t["my_region"]}</label>'
            f'<select id="my-region"><option value="">{t["choose"]}</option>'
            f'{"".join(groups)}</select>'
            f'<p id="my-state" class="my-state"></p>'
            f'<p class="opts"><label><input type="checkbox" id="my-notify"> {t["notify"]}'
            f'</label> <label><input type="checkbox" id="my-sound"> {t["sound"]}</label></p>'
            f"</section>")


def _boot(ctx: Context, lang: Lang, now: datetime, **extra: Any) -> dict[str, Any]:
    t = TEXT[lang]
    keys = ("updated", "offline", "offline_tail", "my_alert", "my_clear", "my_calm",
            "d", "h", "min", "lasting", "kyiv_time", "declared", "cleared", "show_hromadas")
    return {"seq": ctx.follower.state.seq, "lang": lang, "time": format_time(now),
            "t": {k: t[k] for k in keys}, **extra}


async def map_page(request: web.Request) -> web.Response:
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    lang = _lang(request)
    t = TEXT[lang]

    async def build(now: datetime) -> Asset:
        state = ctx.follower.state
        found = marks(state, drawn_codes())
        svg = map_svg(ctx, lang, found, drill_labels(state, lang))
        main = f"""<main class="layout">
<h1 class="visually-hidden">{t["title"]}</h1>
<div class="map-wrap">{svg}
<p class="map-tools"><span id="zoom" hidden><button type="button" id="zoom-in"
 aria-label="{t["zoom_in"]}">+</button> <button type="button" id="zoom-out"
 aria-label="{t["zoom_out"]}">−</button> <button type="button" id="zoom-reset"
 >{t["zoom_reset"]}</button></span>
<button type="button" id="show-hromadas" hidden>{t["show_hromadas"]}</button></p>
{_legend(lang)}</div>
<aside id="panel" class="panel" aria-label="{t["active_alerts"]}">
{_my_region(ctx, lang)}<div id="list">{panel(ctx, lang, now)}</div></aside>
</main>"""
        boot = _boot(ctx, lang, now, page="map",
                     hromadas=bool(hromadas_apart(state, found)))
        return _html_asset(_page(lang, t["title"], main, boot, "/"))

    return _html(request, await rendered(request, ("map", lang), build))


@cache
def _hromada_codes() -> frozenset[str]:
    return frozenset(f["code"] for f in layer("hromadas")["features"])


def hromadas_apart(state: State, found: dict[str, str]) -> set[str]:
    """The drawn hromadas whose mark differs from their raion's: only these need the
    hromada layer (an alert on a whole raion or oblast shows on the raions)."""
    codes = _hromada_codes()
    return {code for code, letter in found.items()
            if code in codes and found.get(state.catalogue.parent_of(code) or "") != letter}


async def state_view(request: web.Request) -> web.Response:
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    lang = _lang(request)

    async def build(now: datetime) -> Asset:
        return Asset.of(json.dumps(state_json(ctx, lang, now), ensure_ascii=False,
                                   separators=(",", ":")).encode(), "application/json")

    asset = await rendered(request, ("state", lang), build)
    response = asset.response(request, "no-cache")
    response.headers["Vary"] = "Accept-Encoding, Cookie"
    return response


def _region_code(ctx: Context, request: web.Request) -> str:
    code = request.match_info["code"].strip().upper()
    if code not in ctx.catalogue or code == COUNTRY:
        raise NotFound(f"unknown region {code!r}", code="region_not_found")
    return code


def region_status(ctx: Context, code: str, lang: Lang, now: datetime) -> str:
    t = TEXT[lang]
    state = ctx.follower.state
    catalogue = ctx.catalogue
    words = []
    for type_ in AlertType:
        value = state.effective_of(code, type_)
        if value != "N":
            words.append(f'{ALERT_TYPES[lang][type_.value]}: {t["st_" + value]}')
    drills = [a for a in state.covering_alerts(code) if a.status is not AlertStatus.ACTUAL]
    mark = marks(state, frozenset({code})).get(code, "n")
    summary = "; ".join(words) if words else t["st_N"]
    if drills and not words:
        summary = f"{t['st_N']} ({t['exercise_note']})"
    own = _ordered(state.covering_alerts(code))
    rows = []
    for alert in own:
        inherited = ""
        if alert.region != code:
            inherited = (f' <span class="inherited">({t["inherited"]} '
                         f"{e(_name(ctx, alert.region, lang))})</span>")
        rows.append(f'<li class="alert" data-s="{_alert_class(alert)}">'
                    f'<span class="swatch" aria-hidden="true"></span>'
                    f"<span>{alert_sentence(ctx, alert, lang, now)}{inherited}</span></li>")
    own_html = (f'<ul class="alerts">{"".join(rows)}</ul>' if rows
                else f'<p class="empty">{t["no_alerts"]}</p>')
    inside = [a for a in state.active_alerts()
              if a.region != code and catalogue.is_within(a.region, code)]
    inside_html = ""
    if inside:
        inside_html = (f'<h3>{t["inside"]} ({len(inside)})</h3>'
                       + alerts_list(ctx, inside, lang, now, t["no_alerts"]))
    shelter = state.shelter_seconds(code)
    shelter_html = (f'<p><strong>{t["shelter"]}:</strong> {shelter} {t["seconds"]}</p>'
                    if shelter is not None else "")
    return (f'<p class="state-line" data-s="{mark}"><span class="swatch" aria-hidden="true">'
            f'</span><strong>{t["state"]}:</strong> {e(summary)}</p>{shelter_html}'
            f'<h2>{t["own_alerts"]}</h2>{own_html}{inside_html}')


async def region_status_view(request: web.Request) -> web.Response:
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    code = _region_code(ctx, request)
    response = web.Response(text=region_status(ctx, code, _lang(request), datetime.now(UTC)),
                            content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-cache", "Vary": "Cookie"})
    response.enable_compression()
    return response


def _bars(rows: list[tuple[str, float, str]], head: tuple[str, str], caption: str) -> str:
    top = max((v for _, v, _ in rows), default=0) or 1
    body = "".join(
        f'<tr><th scope="row">{e(label)}</th><td><span class="bar" '
        f'style="width:{round(100 * value / top)}%"></span>{e(shown)}</td></tr>'
        for label, value, shown in rows) or '<tr><td colspan="2">—</td></tr>'
    return (f'<table class="bars"><caption>{e(caption)}</caption><thead><tr>'
            f'<th scope="col">{e(head[0])}</th><th scope="col">{e(head[1])}</th></tr></thead>'
            f"<tbody>{body}</tbody></table>")


def live_spans(ctx: Context, code: str, now: datetime) -> list[Span]:
    """The live alerts that touch a region, as ``/api/v1/history/stats`` takes them."""
    touching = relevant_codes(ctx.catalogue, code)
    return [s for s in spans(ctx.follower.state, None, AlertType.AIR_RAID, now=now)
            if s.region in touching]


def history_html(ctx: Context, request: web.Request, code: str, lang: Lang,
                 now: datetime, live: list[Span]) -> str:
    """Alerts per day (30 days), hours per month, by hour of day; live and imported alerts.
    Runs on a thread: reads the imported record, never the state."""
    from tryvoga.api.history import history_reader

    t = TEXT[lang]
    touching = relevant_codes(ctx.catalogue, code)
    # The imported alerts are read for the regions that touch this one only (the whole
    # record is tens of thousands of rows).
    spans = list(live)
    spans += [Span(item.region, parse_time(item.started_at).timestamp(),
                   parse_time(item.ended_at).timestamp())
              for item in history_reader(request.app).alerts(
                  HistoryFilter(regions=frozenset(touching), type=AlertType.AIR_RAID.value))]
    result = compute(ctx.catalogue, spans, [code], None, now.timestamp())[0]
    grouped = group_spans(spans)
    days: dict[str, int] = {}
    today = now.astimezone(KYIV).date()
    for back in range(29, -1, -1):
        days[(today - timedelta(days=back)).isoformat()] = 0
    for region in touching:
        for span in grouped.get(region, ()):
            day = datetime.fromtimestamp(span.start, KYIV).date().isoformat()
            if day in days:
                days[day] += 1
    per_day = _bars([(d[8:10] + "." + d[5:7], n, str(n)) for d, n in days.items()],
                    (t["date"], t["count"]), t["per_day"])
    per_month = _bars([(b["month"], b["seconds"], f'{b["seconds"] / 3600:.1f} {t["hours"]}')
                       for b in result.to_json(ctx.catalogue)["by_month"]],
                      (t["month"], t["hours"]), t["per_month"])
    by_hour = _bars([(f"{h:02d}:00", b.alerts, str(b.alerts))
                     for h, b in enumerate(result.by_hour)], (t["hour"], t["count"]),
                    t["by_hour"])
    total = (f"<p>{result.alerts} {t['alerts_n']}, "
             f"{result.total_seconds / 3600:.1f} {t['hours']}.</p>")
    csv = f"/api/v1/history/stats?region={code}&format=csv"
    return (f'<section class="history" aria-labelledby="h-history">'
            f'<h2 id="h-history">{t["history"]}</h2>{total}<p class="note">{t["history_note"]}'
            f' <a href="{e(csv)}" download>{t["csv"]}</a></p>'
            f'<div class="charts">{per_day}{per_month}{by_hour}</div></section>')


async def region_page(request: web.Request) -> web.Response:
    ctx = context_of(request)
    await ctx.actor(request, required=False)
    code = _region_code(ctx, request)
    lang = _lang(request)
    t = TEXT[lang]

    async def build(now: datetime) -> Asset:
        state = ctx.follower.state
        region = ctx.catalogue[code]
        name = _name(ctx, code, lang)
        crumbs = " › ".join(f'<a href="/regions/{c}">{e(_name(ctx, c, lang))}</a>'
                            for c in reversed(ctx.catalogue.ancestors(code)) if c != COUNTRY)
        near = state.neighbours(code) or tuple(geo_neighbours().get(code, ()))
        neighbours = "".join(f'<li><a href="/regions/{c}">{e(_name(ctx, c, lang))}</a></li>'
                             for c in near if c in ctx.catalogue)
        # The live spans are taken here, on the loop, where the state does not move under us;
        # the imported record is read on a thread.
        live = live_spans(ctx, code, now)
        history = await ctx.read(history_html, ctx, request, code, lang, now, live)
        found = marks(state, drawn_codes())
        svg = map_svg(ctx, lang, found, "", focus=_focus(ctx, code))
        listed = (f'<ul class="neighbours">{neighbours}</ul>' if neighbours
                  else f"<p>{t['none']}</p>")
        main = f"""<main class="region">
<p class="crumbs"><a href="/">{t["back"]}</a>{" › " + crumbs if crumbs else ""}</p>
<h1>{e(name)}</h1>
<div class="region-grid"><div>
<section id="status" class="status" aria-live="polite">
{region_status(ctx, code, lang, now)}</section>
<section><h2>{t["neighbours"]}</h2>{listed}</section></div>
<div class="map-wrap small">{svg}</div></div>
{history}
</main>"""
        boot = _boot(ctx, lang, now, page="region", region=code, level=region.level.value)
        return _html_asset(_page(lang, f"{name}: {t['site']}", main, boot,
                                 f"/regions/{code}"))

    return _html(request, await rendered(request, ("region", code, lang), build))


def _focus(ctx: Context, code: str) -> str | None:
    """The drawn shape that stands for a region on the small map."""
    drawn = drawn_codes()
    for candidate in (code, *ctx.catalogue.ancestors(code)):
        if candidate in drawn:
            return candidate
    return None


async def geo(request: web.Request) -> web.Response:
    name = request.match_info["layer"]
    if name not in LAYERS:
        raise NotFound(f"no map layer {name!r}; layers: {', '.join(LAYERS)}",
                       code="not_found")
    return layer_asset(name).response(request, "public, max-age=86400")


_STATIC_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\.(?:css|js|svg|png)")
_TYPES = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml",
          "png": "image/png"}


async def static(request: web.Request) -> web.Response:
    """Any stylesheet, script or image in ``web/static`` (the console's too), by plain name."""
    name = request.match_info["name"]
    if not _STATIC_NAME.fullmatch(name) or not files("tryvoga.web").joinpath(
            "static", name).is_file():
        raise NotFound(f"no such file {name!r}", code="not_found")
    return static_asset(name).response(request, "public, max-age=3600")


def add_routes(app: web.Application) -> None:
    app[_RENDERED] = OrderedDict()
    r = app.router
    r.add_get("/", map_page)
    r.add_get("/map/state.json", state_view)
    r.add_get("/regions/{code}", region_page)
    r.add_get("/regions/{code}/status", region_status_view)
    r.add_get("/geo/{layer}.json", geo)
    r.add_get("/static/{name}", static)


__all__ = ["LAYERS", "add_routes", "drawn_codes", "layer", "marks", "state_json"]

