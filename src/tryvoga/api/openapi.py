"""The OpenAPI description of /api/v1 and a self-contained docs page (no CDN, no scripts)."""

from __future__ import annotations

import html
from typing import Any

from aiohttp import web

from tryvoga import __version__
from tryvoga.api.http import Rendered, cached_response, dumps
from tryvoga.domain.model import (
    AlertStatus,
    AlertType,
    IncidentKind,
    IncidentStatus,
    ThreatLevel,
    ThreatType,
)

ERROR = {"$ref": "#/components/schemas/Error"}


def _param(name: str, where: str, description: str, schema: dict[str, Any] | None = None,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema or {"type": "string"}}


REGION = _param("region", "query", "KATOTTG code of a region subtree; UA = the whole country")
TYPE = _param("type", "query", "alert type", {"type": "string", "enum": [t.value for t in
                                                                         AlertType]})
LIMIT = _param("limit", "query", "page size, up to 5000", {"type": "integer", "maximum": 5000})
IDEMPOTENCY = _param("Idempotency-Key", "header",
                     "a retry with the same key returns the first answer and changes nothing")
ID = _param("id", "path", "numeric id", {"type": "integer"})
CODE = _param("code", "path", "KATOTTG code, or UA")

THREAT = {"type": "object", "required": ["type"], "properties": {
    "type": {"type": "string", "enum": [t.value for t in ThreatType]},
    "level": {"type": "string", "enum": [v.value for v in ThreatLevel], "default": "red"}}}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "status"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "status": {"type": "integer"}, "field": {"type": "string"}}}}},
    "Declaration": {"type": "object", "required": ["regions", "type"], "properties": {
        "regions": {"type": "array", "items": {"type": "string"}},
        "type": {"type": "string", "enum": [t.value for t in AlertType]},
        "threats": {"type": "array", "items": THREAT},
        "status": {"type": "string", "enum": [s.value for s in AlertStatus]},
        "source": {"type": "string"}, "note": {"type": "string"},
        "started_at": {"type": "string", "format": "date-time"}}},
    "Incident": {"type": "object", "required": ["kind", "region", "source"], "properties": {
        "kind": {"type": "string", "enum": [k.value for k in IncidentKind]},
        "region": {"type": "string"},
        "status": {"type": "string", "enum": [s.value for s in IncidentStatus]},
        "source": {"type": "string"}, "description": {"type": "string"},
        "address": {"type": "string"}, "latitude": {"type": "number"},
        "longitude": {"type": "number"}, "killed": {"type": "integer"},
        "injured": {"type": "integer"}, "embargo_until": {"type": "string"},
        "alert_id": {"type": "integer"}}},
}


def _op(summary: str, params: list[dict[str, Any]] | None = None, body: str | None = None,
        write: bool = False, ok: str = "200") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "parameters": params or [],
                          "responses": {ok: {"description": "success"},
                                        "4XX": {"description": "error",
                                                "content": {"application/json": {
                                                    "schema": ERROR}}}}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{body}"}
            if body in SCHEMAS else {"type": "object"}}}}
    if write:
        op["security"] = [{"bearer": []}]
        op["parameters"] = [*op["parameters"], IDEMPOTENCY]
    return op


PATHS: dict[str, dict[str, Any]] = {
    "/regions": {"get": _op("Find regions by name (q=) or list them by level", [
        _param("q", "query", "a name in any common spelling: Київ, Kyiv, Kiev, #м_Київ"),
        _param("level", "query", "comma-separated levels"),
        _param("within", "query", "only regions inside this code"),
        _param("api_id", "query", "the numeric id of alerts.in.ua / ukrainealarm"), LIMIT])},
    "/regions/{code}": {"get": _op("A region with its children and current status", [CODE])},
    "/regions/{code}/settings": {"put": _op(
        "Set seconds to reach shelter and/or neighbours", [CODE], "object", write=True)},
    "/alerts/active": {"get": _op("Active alerts (cached; ETag and Last-Modified)", [
        REGION, TYPE, _param("neighbours", "query",
                             "true: also alerts touching the region's neighbours")])},
    "/alerts": {"post": _op("Declare an alert on one or more regions", None, "Declaration",
                            write=True, ok="201")},
    "/alerts/end": {"post": _op("End the active alert of a type on a region", None, "object",
                                write=True)},
    "/alerts/{id}": {"get": _op("One alert", [ID]),
                     "patch": _op("Change threats and/or note", [ID], "object", write=True)},
    "/alerts/{id}/end": {"post": _op("End (or withdraw) an alert", [ID], "object",
                                     write=True)},
    "/head": {"get": _op("The log's head (seq, hash), for anchoring it outside this server")},
    "/status": {"get": _op("A/P/N per region and type (cached)", [
        _param("level", "query", "levels to list; default oblast,special_city")])},
    "/history": {"get": _op("Alerts with start, end and duration, newest first", [
        REGION, TYPE, _param("status", "query", "actual, exercise or test"),
        _param("from", "query", "ISO-8601 time with an offset, or a date (midnight at its "
               "start, Kyiv time)"),
        _param("to", "query", "ISO-8601 time with an offset, or a date (midnight at its start, "
               "Kyiv time)"),
        _param("imported", "query", "imported history (\"imported\": true, ids h<n>) is "
               "included; true: only it; false: without it"),
        _param("cursor", "query", "from the previous page's next"), LIMIT])},
    "/incidents": {"get": _op("Incident reports", [REGION, LIMIT]),
                   "post": _op("Report an incident", None, "Incident", write=True, ok="201")},
    "/incidents/{id}": {"get": _op("One incident", [ID]),
                        "patch": _op("Update an incident (status, counts, ...)", [ID],
                                     "object", write=True)},
    "/events": {"get": _op("The raw event log", [
        _param("since", "query", "sequence number to start after", {"type": "integer"}),
        LIMIT])},
    # Statements become proposals; nothing is applied until an operator accepts one.
    "/ingest/statement": {"post": _op(
        "Read a statement (JSON {text, source, within} or text/plain) into proposals",
        None, "object", write=True, ok="201")},
    "/proposals": {"get": {**_op("Proposals from statements, newest first", [
        _param("state", "query", "pending, accepted, rejected, or all (the default)"),
        LIMIT]), "security": [{"bearer": []}]}},
    "/proposals/{id}": {"get": {**_op("One proposal", [ID]), "security": [{"bearer": []}]}},
    "/proposals/{id}/accept": {"post": _op(
        "Apply a proposal (declare, end or report) within the token's scope", [ID],
        write=True, ok="201")},
    "/proposals/{id}/reject": {"post": _op("Reject a proposal: nothing is applied", [ID],
                                           "object", write=True)},
}

# Webhook subscriptions (api/webhooks.py); every one needs a write token.
PATHS.update({
    "/webhooks": {
        "get": {**_op("Webhook subscriptions inside the token's scope"),
                "security": [{"bearer": []}]},
        "post": _op("Subscribe a URL to events: {url, regions, types, kinds}; the answer "
                    "holds the signing secret, shown once", None, "object", write=True,
                    ok="201")},
    "/webhooks/{id}": {
        "get": {**_op("One subscription with its delivery counts", [ID]),
                "security": [{"bearer": []}]},
        "delete": {**_op("Delete a subscription; pending deliveries are cancelled", [ID]),
                   "security": [{"bearer": []}]}},
    "/webhooks/{id}/attempts": {"get": {**_op(
        "Delivery attempts, newest first: time, status, latency, error, next try",
        [ID, LIMIT, _param("before", "query", "attempt id from the previous page's next",
                           {"type": "integer"})]), "security": [{"bearer": []}]}},
})

# The alert channel's live feed, and history statistics and imports (api/channel.py,
# api/history.py).
PATHS.update({
    "/ingest/channel": {"post": _op(
        "Apply official channel posts, once each: {id, date|date_unixtime, text, channel} or "
        "{channel, posts: [...]} (up to 500); answers each post's outcome", None, "object",
        write=True)},
    "/history/stats": {"get": _op(
        "Per region: alerts, total and longest time under alert, by hour of day and month "
        "(Kyiv time); JSON or CSV", [
            _param("region", "query", "comma-separated KATOTTG codes; default: the 27 "
                   "top-level regions (24 oblasts, Crimea, Kyiv, Sevastopol)"),
            _param("within", "query", "with level=: every region at those levels inside this"),
            _param("level", "query", "comma-separated levels"), TYPE,
            _param("from", "query", "ISO-8601 time with an offset, or a date (midnight at "
                   "its start, Kyiv time); default: all"),
            _param("to", "query", "ISO-8601 time with an offset, or a date (midnight at its "
                   "start, Kyiv time: the period ends before that day); default: now"),
            _param("imported", "query", "true: only imported history; false: only live"),
            _param("source", "query", "official or volunteer (imported records)"),
            _param("format", "query", "json (default) or csv")])},
    "/history/imports": {"get": _op(
        "Imports of historical records, with the rows that could not be resolved")},
})


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Tryvoga", "version": __version__,
                 "description": "Public warning service: alerts, incidents, history."},
        "servers": [{"url": "/api/v1"}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }


def docs_page() -> str:
    rows = []
    for path, methods in PATHS.items():
        for method, op in methods.items():
            params = ", ".join(p["name"] for p in op["parameters"])
            lock = " (token)" if "security" in op else ""
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>/api/v1"
                        f"{html.escape(path)}</code></td><td>{html.escape(op['summary'])}"
                        f"{lock}</td><td>{html.escape(params)}</td></tr>")
    return ("<!doctype html><html lang=en><meta charset=utf-8><title>Tryvoga API</title>"
            "<style>body{font:15px system-ui;margin:2em;max-width:70em}td{padding:.3em .8em;"
            "border-bottom:1px solid #ddd;vertical-align:top}</style>"
            "<h1>Tryvoga API v1</h1><p>Machine-readable: <a href=/api/v1/openapi.json>"
            "openapi.json</a>. Errors always look like <code>{\"error\": {\"code\", "
            "\"message\", \"status\"}}</code>.</p><table><tr><th>method<th>path<th>what"
            "<th>parameters</tr>" + "".join(rows) + "</table></html>")


_SPEC = Rendered.of(dumps(spec()), None)
_DOCS = Rendered.of(docs_page().encode("utf-8"), None, "text/html")


async def openapi_json(request: web.Request) -> web.Response:
    return cached_response(request, _SPEC)


async def docs(request: web.Request) -> web.Response:
    return cached_response(request, _DOCS)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi_json)
    app.router.add_get("/api/v1/docs", docs)
