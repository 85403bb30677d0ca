"""The OpenAPI description of /api/v1 and a self-contained docs page (no CDN, no scripts)."""

from __future__ import annotations

import html
from typing import Any

import msgspec
import msgspec.json
from aiohttp import web

from tryvoga import __version__
from tryvoga.api.bodies import BODIES, MAX_POSTS, MAX_SOURCE, MAX_STATEMENT
from tryvoga.api.http import Rendered, cached_response, dumps
from tryvoga.api.schemas import VIEWS
from tryvoga.commands import COMMANDS, MAX_ID, RegionCode
from tryvoga.domain.events import Kind
from tryvoga.domain.model import AlertStatus, AlertType, IncidentKind, IncidentStatus
from tryvoga.domain.regions import Level

REF = "#/components/schemas/{name}"
# Request and response schemas, generated from the models the server parses and answers with
# (commands.py, api/bodies.py, api/schemas.py).
_, SCHEMAS = msgspec.json.schema_components((*VIEWS, *COMMANDS, *BODIES), ref_template=REF)
# What msgspec cannot say of a model: one of two fields, fields that go together, at least one.
SCHEMAS["Declare"]["oneOf"] = [{"required": ["regions"], "not": {"required": ["region"]}},
                               {"required": ["region"], "not": {"required": ["regions"]}}]
SCHEMAS["ReportIncident"]["dependentRequired"] = {"latitude": ["longitude"],
                                                  "longitude": ["latitude"]}
SCHEMAS["ReportIncident"]["properties"]["status"] = {"anyOf": [
    {"type": "string", "enum": [IncidentStatus.PRELIMINARY.value,
                                IncidentStatus.CONFIRMED.value]}, {"type": "null"}]}
for _name in ("latitude", "longitude"):  # null and absent are the same, but not one of each
    SCHEMAS["ReportIncident"]["properties"][_name] = SCHEMAS["ReportIncident"]["properties"][
        _name]["anyOf"][0]
SCHEMAS["UpdateAlert"]["anyOf"] = [
    {"required": ["threats"], "properties": {"threats": {"type": "array"}}},
    {"required": ["note"], "properties": {"note": {"type": "string"}}}]
SCHEMAS["UpdateIncident"]["minProperties"] = 1
SCHEMAS["ConfigureRegion"]["minProperties"] = 1
SCHEMAS["HistoryPage"]["properties"]["alerts"]["items"] = {"anyOf": [
    {"$ref": REF.format(name="LiveHistoryAlert")},
    {"$ref": REF.format(name="ImportedHistoryAlert")}]}
# The bodies that are not commands (api/bodies.py): what their endpoints require beyond types.
SCHEMAS["Statement"]["required"] = ["text"]  # without it (or null): 422 statement_empty
SCHEMAS["Statement"]["properties"]["text"] = SCHEMAS["Statement"]["properties"]["text"][
    "anyOf"][0]
_POST_FIELDS = sorted(set(SCHEMAS["ChannelPost"]["properties"]))
_DATED = [{"required": ["date"]}, {"required": ["date_unixtime"]}]
SCHEMAS["ChannelPost"]["required"] = ["id"]
SCHEMAS["ChannelPost"]["anyOf"] = _DATED
SCHEMAS["ChannelBody"]["oneOf"] = [
    {"required": ["posts"], "propertyNames": {"enum": ["posts", "channel"]}},
    {"required": ["id"], "not": {"required": ["posts"]}, "anyOf": _DATED}]
SCHEMAS["ChannelBody"]["description"] = (
    f"One post, or {{\"channel\", \"posts\": [...]}} with up to {MAX_POSTS} of them.")
SCHEMAS["FacadeError"] = {"type": "object", "required": ["message"],
                          "properties": {"message": {"type": "string"}}}

ERROR = {"$ref": REF.format(name="Error")}
CODE_SCHEMA = msgspec.json.schema(RegionCode)
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
LIMIT_SCHEMA = {"type": "integer", "minimum": 1, "maximum": 5000}
_YEARS = "^(1[0-9]|[2-8][0-9])"  # 1000-8999: what converts to and from Kyiv time
TIME_OR_DATE = {"anyOf": [{"type": "string", "format": "date", "pattern": _YEARS},
                          {"type": "string", "format": "date-time", "pattern": _YEARS},
                          {"type": "string", "maxLength": 0}]}  # empty: as if absent
# A query parameter naming a region: empty is the same as absent.
QUERY_CODE = {"type": "string", "maxLength": 64, "pattern": r"^\s*[A-Za-z0-9]*\s*$"}
PUBLIC_LEVELS = [lv.value for lv in Level if lv is not Level.COUNTRY]
LEVELS_SCHEMA = {"type": "string", "pattern": "^((" + "|".join(PUBLIC_LEVELS) + ")(,("
                 + "|".join(PUBLIC_LEVELS) + "))*)?$"}


def _enum(values: list[str]) -> dict[str, Any]:
    return {"type": "string", "enum": values}


def _param(name: str, where: str, description: str, schema: dict[str, Any] | None = None,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema or {"type": "string",
                                                              "maxLength": 200}}


REGION = _param("region", "query", "KATOTTG code of a region subtree; UA = the whole country",
                QUERY_CODE)
TYPE = _param("type", "query", "alert type", _enum([t.value for t in AlertType]))
LIMIT = _param("limit", "query", "page size, up to 5000", LIMIT_SCHEMA)
IDEMPOTENCY = _param("Idempotency-Key", "header",
                     "a retry with the same key returns the first answer and changes nothing",
                     {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"})
ID = _param("id", "path", "numeric id", ID_SCHEMA)
CODE = _param("code", "path", "KATOTTG code, or UA", CODE_SCHEMA)
TOKEN_QUERY = _param("token", "query", "the façade's token, as its clients send it (with "
                     "public reads, none is needed and one that is not ours is not looked at)",
                     {"type": "string"})


def _json(schema: dict[str, Any] | str) -> dict[str, Any]:
    ref = {"$ref": REF.format(name=schema)} if isinstance(schema, str) else schema
    return {"application/json": {"schema": ref}}


def _op(summary: str, params: list[dict[str, Any]] | None = None, body: str | None = None,
        write: bool = False, ok: str = "200", answer: dict[str, Any] | str | None = None,
        content: dict[str, Any] | None = None, tag: str = "native",
        error: dict[str, Any] = ERROR, token: bool = False,
        body_required: bool = True, idempotent: bool = True,
        public: bool = False) -> dict[str, Any]:
    """One operation. ``answer`` is the success schema (a component name or a schema);
    ``content`` replaces the whole success content for what is not JSON."""
    success = content if content is not None else _json(answer or {"type": "object"})
    responses: dict[str, Any] = {ok: {"description": "success", "content": success}}
    if ok == "201":  # a repeated command (nothing new) answers 200 with the same shape
        responses["200"] = {"description": "nothing new was created", "content": success}
    if tag in ("native", "streams", "cap"):
        responses["304"] = {"description": "not modified (If-None-Match, If-Modified-Since)"}
    responses["4XX"] = {"description": "error", "content": _json(error)}
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "parameters": params or [],
                          "responses": responses}
    if body:
        op["requestBody"] = {"required": body_required, "content": _json(body)}
    if write or token:
        # public: a token is taken but not needed (the façades' reads, with public reads on).
        op["security"] = [{"bearer": []}, {}] if public else [{"bearer": []}]
    if write and idempotent:
        op["parameters"] = [*op["parameters"], IDEMPOTENCY]
    return op


def _array(name: str) -> dict[str, Any]:
    return {"type": "array", "items": {"$ref": REF.format(name=name)}}


V1 = "/api/v1"
PATHS: dict[str, dict[str, Any]] = {
    f"{V1}/regions": {"get": _op("Find regions by name (q=) or list them by level", [
        _param("q", "query", "a name in any common spelling: Київ, Kyiv, Kiev, #м_Київ",
               {"type": "string", "maxLength": 200}),
        _param("level", "query", "comma-separated levels", LEVELS_SCHEMA),
        _param("within", "query", "only regions inside this code", QUERY_CODE),
        _param("api_id", "query", "the numeric id of alerts.in.ua / ukrainealarm",
               {"type": "string", "pattern": r"^\s*[0-9]{0,16}\s*$"}), LIMIT],
        answer="RegionList")},
    f"{V1}/regions/{{code}}": {"get": _op("A region with its children and current status",
                                          [CODE], answer="RegionDetail")},
    f"{V1}/regions/{{code}}/settings": {"put": _op(
        "Set seconds to reach shelter and/or neighbours", [CODE], "ConfigureRegion",
        write=True, answer="RegionSettings")},
    f"{V1}/alerts/active": {"get": _op("Active alerts (cached; ETag and Last-Modified)", [
        REGION, TYPE, _param("neighbours", "query",
                             "true: also alerts touching the region's neighbours",
                             _enum(["true", "false", "1", "0", "yes", "no"]))],
        answer="ActiveAlerts")},
    f"{V1}/alerts": {"post": _op("Declare an alert on one or more regions", None, "Declare",
                                 write=True, ok="201", answer="Declared")},
    f"{V1}/alerts/end": {"post": _op("End the active alert of a type on a region", None,
                                     "EndByRegion", write=True, answer="OneAlert")},
    f"{V1}/alerts/{{id}}": {
        "get": _op("One alert", [ID], answer="OneAlert"),
        "patch": _op("Change threats and/or note", [ID], "UpdateAlert", write=True,
                     answer="OneAlert")},
    f"{V1}/alerts/{{id}}/end": {"post": {**_op(
        "End (or withdraw) an alert; the body may be empty", [ID], "EndAlert", write=True,
        answer="OneAlert", body_required=False)}},
    f"{V1}/status": {"get": _op("A/P/N per region and type (cached)", [
        _param("level", "query", "levels to list; default oblast,special_city",
               LEVELS_SCHEMA)], answer="Status")},
    f"{V1}/history": {"get": _op("Alerts with start, end and duration, newest first", [
        REGION, TYPE, _param("status", "query", "actual, exercise or test",
                             _enum([s.value for s in AlertStatus])),
        _param("from", "query", "ISO-8601 time with an offset, or a date (midnight at its "
               "start, Kyiv time)", TIME_OR_DATE),
        _param("to", "query", "ISO-8601 time with an offset, or a date (midnight at its start, "
               "Kyiv time)", TIME_OR_DATE),
        _param("imported", "query", "imported history (\"imported\": true, ids h<n>) is "
               "included; true: only it; false: without it", _enum(["true", "false"])),
        _param("cursor", "query", "from the previous page's next",
               {"type": "string", "maxLength": 200, "pattern": "^[A-Za-z0-9_=-]*$"}), LIMIT],
        answer="HistoryPage")},
    f"{V1}/incidents": {
        "get": _op("Incident reports", [
            REGION, LIMIT, _param("kind", "query", "incident kind",
                                  _enum([k.value for k in IncidentKind])),
            _param("status", "query", "incident status",
                   _enum([s.value for s in IncidentStatus]))], answer="Incidents"),
        "post": _op("Report an incident", None, "ReportIncident", write=True, ok="201",
                    answer="OneIncident")},
    f"{V1}/incidents/{{id}}": {
        "get": _op("One incident", [ID], answer="OneIncident"),
        "patch": _op("Update an incident (status, counts, ...)", [ID], "UpdateIncident",
                     write=True, answer="OneIncident")},
    f"{V1}/events": {"get": _op("The raw event log", [
        _param("since", "query", "sequence number to start after",
               {"type": "integer", "minimum": 0, "maximum": 2**62}), LIMIT],
        answer="Events")},
    f"{V1}/openapi.json": {"get": _op("This description", content={"application/json": {
        "schema": {"type": "object", "required": ["openapi", "paths"]}}})},
    f"{V1}/docs": {"get": _op("This description as a page", content={"text/html": {
        "schema": {"type": "string"}}})},
}

# Statements become proposals; nothing is applied until an operator accepts one
# (api/proposals.py); described by their top-level fields.
_PROPOSALS = {"type": "object", "required": ["proposals"],
              "properties": {"proposals": {"type": "array", "items": {"type": "object"}}}}
_PROPOSAL = {"type": "object", "required": ["proposal"],
             "properties": {"proposal": {"type": "object"}}}
PATHS.update({
    f"{V1}/ingest/statement": {"post": _op(
        "Read a statement (JSON {text, source, within} or text/plain) into proposals",
        [_param("source", "query", "with a text/plain body: who made the statement",
                {"type": "string", "maxLength": MAX_SOURCE}),
         _param("within", "query", "with a text/plain body: the region it is about",
                QUERY_CODE)],
        "Statement", write=True, ok="201", answer=_PROPOSALS, tag="statements",
        idempotent=False)},
    f"{V1}/proposals": {"get": _op("Proposals from statements, newest first", [
        _param("state", "query", "pending, accepted, rejected, or all (the default)",
               _enum(["pending", "accepted", "rejected", "all"])), LIMIT],
        answer=_PROPOSALS, tag="statements", token=True)},
    f"{V1}/proposals/{{id}}": {"get": _op("One proposal", [ID], answer=_PROPOSAL,
                                          tag="statements", token=True)},
    f"{V1}/proposals/{{id}}/accept": {"post": _op(
        "Apply a proposal (declare, end or report) within the token's scope", [ID],
        "AcceptProposal", write=True, ok="201", answer=_PROPOSAL, tag="statements",
        body_required=False, idempotent=False)},
    f"{V1}/proposals/{{id}}/reject": {"post": _op(
        "Reject a proposal: nothing is applied; body {reason} optional", [ID],
        "RejectProposal", write=True, answer=_PROPOSAL, tag="statements",
        body_required=False, idempotent=False)},
})

PATHS[f"{V1}/ingest/statement"]["post"]["requestBody"]["content"]["text/plain"] = {
    "schema": {"type": "string", "maxLength": MAX_STATEMENT, "pattern": r"\S"}}

# The log's head, for anchoring it outside this server (api/anchor.py, storage/integrity.py).
PATHS[f"{V1}/head"] = {"get": _op(
    "The log's head (seq, hash): keep it elsewhere to detect a rewritten chain",
    answer={"type": "object", "required": ["seq", "hash", "time"], "properties": {
        "seq": {"type": "integer", "minimum": 0}, "hash": {"type": "string"},
        "time": {"type": "string"}}})}

# Webhook subscriptions (api/webhooks.py); every one needs a write token.
_WEBHOOK = {"type": "object", "required": ["webhook"],
            "properties": {"webhook": {"type": "object"}}}
PATHS.update({
    f"{V1}/webhooks": {
        "get": _op("Webhook subscriptions inside the token's scope",
                   answer={"type": "object", "required": ["webhooks"], "properties": {
                       "webhooks": {"type": "array", "items": {"type": "object"}}}},
                   tag="webhooks", token=True),
        "post": _op("Subscribe a URL to events: {url, regions, types, kinds}; the answer "
                    "holds the signing secret, shown once", None, "CreateWebhook", write=True,
                    ok="201", answer=_WEBHOOK, tag="webhooks")},
    f"{V1}/webhooks/{{id}}": {
        "get": _op("One subscription with its delivery counts", [ID], answer=_WEBHOOK,
                   tag="webhooks", token=True),
        "delete": _op("Delete a subscription; pending deliveries are cancelled", [ID],
                      tag="webhooks", token=True)},
    f"{V1}/webhooks/{{id}}/attempts": {"get": _op(
        "Delivery attempts, newest first: time, status, latency, error, next try",
        [ID, _param("limit", "query", "page size, up to 1000",
                    {"type": "integer", "minimum": 1, "maximum": 1000}),
         _param("before", "query", "attempt id from the previous page's next",
                           ID_SCHEMA)], tag="webhooks", token=True)},
})

# The alert channel's live feed, and history statistics and imports (api/channel.py,
# api/history.py).
PATHS.update({
    f"{V1}/ingest/channel": {"post": _op(
        "Apply official channel posts, once each: {id, date|date_unixtime, text, channel} or "
        "{channel, posts: [...]} (up to 500); answers each post's outcome", None,
        "ChannelBody", write=True, tag="channel", idempotent=False)},
    f"{V1}/history/stats": {"get": _op(
        "Per region: alerts, total and longest time under alert, by hour of day and month "
        "(Kyiv time); JSON or CSV", [
            _param("region", "query", "comma-separated KATOTTG codes; default: the 27 "
                   "top-level regions (24 oblasts, Crimea, Kyiv, Sevastopol)"),
            _param("within", "query", "with level=: every region at those levels inside this",
                   QUERY_CODE),
            _param("level", "query", "comma-separated levels", LEVELS_SCHEMA), TYPE,
            _param("from", "query", "ISO-8601 time with an offset, or a date (midnight at "
                   "its start, Kyiv time); default: all", TIME_OR_DATE),
            _param("to", "query", "ISO-8601 time with an offset, or a date (midnight at its "
                   "start, Kyiv time: the period ends before that day); default: now",
                   TIME_OR_DATE),
            _param("imported", "query", "true: only imported history; false: only live",
                   _enum(["true", "false"])),
            _param("source", "query", "official or volunteer (imported records)",
                   _enum(["official", "volunteer"])),
            _param("format", "query", "json (default) or csv", _enum(["json", "csv"]))],
        content={"application/json": {"schema": {"type": "object"}},
                 "text/csv": {"schema": {"type": "string"}}}, tag="history")},
    f"{V1}/history/imports": {"get": _op(
        "Imports of historical records, with the rows that could not be resolved",
        tag="history")},
})

# Live streams (api/streams.py): they do not end; a client reads them as they come.
_STREAM_PARAMS = [
    _param("region", "query", "comma-separated KATOTTG codes (subtrees)"),
    _param("type", "query", "comma-separated alert types"),
    _param("kind", "query", "comma-separated event kinds: " + ", ".join(k.value for k in Kind)),
    _param("since", "query", "replay from after this sequence number",
           {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}),
    _param("Last-Event-ID", "header", "resume after this sequence number (SSE)",
           {"type": "string", "pattern": "^[0-9]{1,18}$"})]
PATHS.update({
    f"{V1}/stream": {"get": {**_op("Server-sent events: one event per log event (id = its "
                                   "sequence number), heartbeats as comments", _STREAM_PARAMS,
                                   content={"text/event-stream": {"schema": {
                                       "type": "string"}}}, tag="streams"),
                             "x-stream": True}},
    f"{V1}/stream.ndjson": {"get": {**_op("The same events as JSON lines", _STREAM_PARAMS,
                                          content={"application/x-ndjson": {"schema": {
                                              "type": "string"}}}, tag="streams"),
                                    "x-stream": True}},
    f"{V1}/ws": {"get": {**_op("The same events over a WebSocket (Upgrade: websocket); "
                               "answers 101", _STREAM_PARAMS, ok="101",
                               content={}, tag="streams"), "x-stream": True}},
})

# CAP 1.2 (api/cap.py): every change as a CAP message, and the feeds of the current ones.
_BEFORE = _param("before", "query", "the page cursor: entries before this sequence number",
                 {"type": "integer", "minimum": 1, "maximum": 10**18 - 1})
PATHS.update({
    "/cap/feed.atom": {"get": _op("Atom feed of the current CAP messages, newest first",
                                  [_BEFORE], content={"application/atom+xml": {"schema": {
                                      "type": "string"}}}, tag="cap")},
    "/cap/feed.rss": {"get": _op("RSS 2.0 feed of the same", [_BEFORE],
                                 content={"application/rss+xml": {"schema": {
                                     "type": "string"}}}, tag="cap")},
    "/cap/{identifier}.xml": {"get": _op(
        "One CAP 1.2 message (signed when the server has a key)",
        [_param("identifier", "path", "the message's identifier, urn:tryvoga:<sender>:<seq>",
                {"type": "string", "pattern": "^urn:tryvoga:[A-Za-z0-9.@:_-]{1,200}$"})],
        content={"application/cap+xml": {"schema": {"type": "string"}}}, tag="cap")},
})

# The façades (api/compat_*.py): the paths and bodies of two public alert APIs, so their
# clients work unchanged; errors in their own shape, {"message": ...}.
_FACADE_ERROR = {"$ref": REF.format(name="FacadeError")}
_UID = _param("uid", "path", "the location uid of alerts.in.ua",
              {"type": "string", "pattern": "^[0-9]{1,9}$"})
_AIU = "alerts.in.ua"


def _facade(summary: str, params: list[dict[str, Any]], tag: str,
            answer: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    return _op(summary, params, tag=tag, error=_FACADE_ERROR,
               answer=answer or {"type": "object"}, **kwargs)


_IOT = {"application/json": {"schema": {"type": "string", "pattern": "^[ANPRY ]*$",
                                         "description": "A, P or N per place; v2: R or Y "
                                         "(red or yellow) for A; a space for no place"}}}
PATHS.update({
    "/v1/alerts/active.json": {"get": _facade(
        "alerts.in.ua: active alerts", [TOKEN_QUERY], _AIU,
        {"type": "object", "required": ["alerts"], "properties": {
            "alerts": {"type": "array", "items": {"type": "object"}}}})},
    "/v1/regions/{uid}/alerts/{period}.json": {"get": _facade(
        "alerts.in.ua: a location's alert history", [
            _UID, _param("period", "path", "the period", _enum(["week_ago", "month_ago"])),
            TOKEN_QUERY], _AIU)},
})
for _version in ("v1", "v2"):
    PATHS.update({
        f"/{_version}/iot/active_air_raid_alerts_by_oblast.json": {"get": _facade(
            "alerts.in.ua IoT: one status letter per oblast", [TOKEN_QUERY], _AIU,
            content=_IOT)},
        f"/{_version}/iot/active_air_raid_alerts.json": {"get": _facade(
            "alerts.in.ua IoT: one status letter per location uid", [TOKEN_QUERY], _AIU,
            content=_IOT)},
        f"/{_version}/iot/active_air_raid_alerts/{{uid}}.json": {"get": _facade(
            "alerts.in.ua IoT: one location's status letter", [_UID, TOKEN_QUERY], _AIU,
            content=_IOT)},
    })
_UA = "ukrainealarm"
_V3 = "/api/v3"
_REGION_ID = _param("regionId", "query", "the ukrainealarm region id",
                    {"type": "string", "pattern": "^[0-9]{1,9}$"}, required=True)
_LIST = {"type": "array", "items": {"type": "object"}}
PATHS.update({
    f"{_V3}/alerts": {"get": _facade("ukrainealarm: regions with active alerts", [], _UA,
                                     _LIST, token=True, public=True)},
    f"{_V3}/alerts/status": {"get": _facade("ukrainealarm: the state's version", [], _UA,
                                            token=True, public=True)},
    f"{_V3}/alerts/regionHistory": {"get": _facade(
        "ukrainealarm: a region's recent alerts", [_REGION_ID], _UA,
        {"type": "object", "required": ["regionId", "regionName", "alarms"],
         "properties": {"alarms": _LIST}}, token=True, public=True)},
    f"{_V3}/alerts/{{regionId}}": {"get": _facade(
        "ukrainealarm: one region's active alerts", [{**_REGION_ID, "in": "path"}], _UA,
        _LIST, token=True, public=True)},
    f"{_V3}/regions": {"get": _facade("ukrainealarm: the regions tree", [], _UA, token=True,
                                      public=True)},
    f"{_V3}/webhook": {
        "get": _facade("ukrainealarm: this token's webhook registration", [], _UA,
                       token=True),  # needs a token: whose registration
        "post": _facade("ukrainealarm: register a webhook {webHookUrl, regionIds}", [], _UA,
                        body="UkraineAlarmWebhook", token=True),
        "patch": _facade("ukrainealarm: change the registration", [], _UA,
                         body="UkraineAlarmWebhook", token=True),
        "delete": _facade("ukrainealarm: remove the registration {webHookUrl}", [], _UA,
                          body="UkraineAlarmWebhook", token=True)},
})

TAGS = [
    {"name": "native", "description": "The native API: regions, alerts, incidents, the log."},
    {"name": "streams", "description": "Live events: SSE, JSON lines, WebSocket."},
    {"name": "cap", "description": "CAP 1.2 messages and their Atom and RSS feeds."},
    {"name": _AIU, "description": "Façade: the alerts.in.ua API's paths and bodies."},
    {"name": _UA, "description": "Façade: the ukrainealarm API (v3) paths and bodies."},
    {"name": "webhooks", "description": "Webhook subscriptions and their deliveries."},
    {"name": "statements", "description": "Statements read into proposals; proposals."},
    {"name": "channel", "description": "The official channel's posts."},
    {"name": "history", "description": "Statistics and imports of historical records."},
]


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tryvoga", "version": __version__,
                 "description": "Public warning service: alerts, incidents, history."},
        "servers": [{"url": "/"}],
        "tags": TAGS,
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
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>"
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
