"""HTTP plumbing shared by every endpoint: JSON bodies, errors, cached renderings, 304s."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from tryvoga.domain.events import format_time, parse_time
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, TryvogaError
from tryvoga.service import Result

JSON = "application/json"


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(body: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type=JSON, charset="utf-8",
                        headers=headers)


def error_response(error: TryvogaError) -> web.Response:
    retry_after = getattr(error, "retry_after", None)
    if retry_after is None and error.status in (429, 503):
        retry_after = 1  # every 503 and 429 says when to try again
    headers = None if retry_after is None else {"Retry-After": str(retry_after)}
    return json_response(error.to_json(), status=error.status, headers=headers)


MAX_JSON_DEPTH = 64  # arrays and objects inside each other; no command needs a tenth of it


def _depth_ok(raw: bytes) -> bool:
    """Whether ``raw`` nests arrays and objects at most MAX_JSON_DEPTH deep (brackets inside
    strings are skipped), checked before parsing: Python's parser recurses, and a body of
    100,000 ``[`` ends in RecursionError deep inside it."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def parse_json(raw: bytes) -> Any:
    """A request body's JSON value, or a 400 ``malformed_json`` saying what is wrong: not
    JSON, nested deeper than MAX_JSON_DEPTH, or a number too long to be one (Python refuses
    integers of more than 4,300 digits)."""
    if not _depth_ok(raw):
        raise BadRequest(f"the body nests arrays and objects more than {MAX_JSON_DEPTH} deep",
                         code="malformed_json", status=400)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="malformed_json",
                         status=400) from None
    except (ValueError, RecursionError):
        raise BadRequest("the body holds a number too long to be one", code="malformed_json",
                         status=400) from None


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 4xx that says what is wrong with it."""
    raw = await request.read()
    if not raw.strip():
        raise BadRequest("the request needs a JSON object body", code="body_missing",
                         status=400)
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object", code="malformed_json", status=400)
    try:
        # JSON may spell an unpaired surrogate (\ud800), which is no character at all.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("the body holds an unpaired surrogate escape, which is not text",
                         code="malformed_json", status=400) from None
    return value


MAX_IDEMPOTENCY_KEY = 200  # characters; a longer key is refused, never cut short


def idempotency_key(request: web.Request) -> str | None:
    """The request's ``Idempotency-Key``, or a 400 when it is longer than the limit (cut
    short, two different keys would be one command)."""
    raw = request.headers.get("Idempotency-Key")
    if raw is not None and len(raw.strip()) > MAX_IDEMPOTENCY_KEY:
        raise BadRequest(f"Idempotency-Key is longer than {MAX_IDEMPOTENCY_KEY} characters; "
                         "use a shorter one (a UUID is 36)", field="Idempotency-Key",
                         code="idempotency_key_too_long", status=400)
    return raw


def result_response(result: Result) -> web.Response:
    """A command's answer: the service says what it did, this says it in HTTP."""
    return json_response(result.body, status=201 if result.created else 200)


def check_fields(body: dict[str, Any], allowed: set[str]) -> None:
    for key in body:
        if key not in allowed:
            raise BadRequest(f"unknown field {key!r}; expected some of "
                             f"{', '.join(sorted(allowed))}", field=key)


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number", field=name, status=400) from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}", field=name, status=400)
    return value


def query_time(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        moment = parse_time(raw)
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not an ISO-8601 time with an offset, e.g. "
                         "2023-05-20T00:41:31+03:00", field=name, status=400) from None
    return format_time(moment)


# Last-Modified of a representation whose log is still empty.
EPOCH = int(datetime(2022, 1, 1, tzinfo=UTC).timestamp())


def second_of(log_time: str | None) -> int:
    """The Unix second in which a log time falls (EPOCH for none)."""
    return int(parse_time(log_time).timestamp()) if log_time else EPOCH


def http_date(log_time: str | None) -> str:
    return _date(second_of(log_time))


def _date(second: int) -> str:
    return format_datetime(datetime.fromtimestamp(second, UTC), usegmt=True)


@dataclass(frozen=True, slots=True)
class Rendered:
    """Bytes rendered once for one state version, with their validators.

    HTTP dates have whole seconds, and a change can follow another within one second. So the
    Last-Modified of a representation whose last change fell in second S is S while S lasts,
    and S+1 once S is over (every change of S is in it by then); If-Modified-Since gets 304 only
    for a date of S+1 or later. A client can then never be told 304 for a state it has not
    seen, and Last-Modified is never later than the response's Date.
    """

    body: bytes
    etag: str
    modified: int  # the Unix second of the last change this representation reflects
    content_type: str
    last_modified_early: str = ""
    last_modified_settled: str = ""
    # The response headers, built once: 200 early, 200 settled, 304 early, 304 settled
    # (aiohttp copies them into each response).
    headers: tuple[CIMultiDict[str], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "last_modified_early", _date(self.modified))
        object.__setattr__(self, "last_modified_settled", _date(self.modified + 1))
        variants = []
        for with_body in (True, False):
            for modified in (self.last_modified_early, self.last_modified_settled):
                headers = CIMultiDict({"ETag": self.etag, "Last-Modified": modified,
                                       "Cache-Control": "no-cache"})
                if with_body:
                    # The full Content-Type as a header: cheaper than aiohttp's content_type
                    # and charset setters, which parse and rebuild it on every response.
                    headers["Content-Type"] = self.content_type + "; charset=utf-8"
                variants.append(headers)
        object.__setattr__(self, "headers", tuple(variants))

    @classmethod
    def of(cls, body: bytes, last_time: str | None, content_type: str = JSON) -> Rendered:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return cls(body, etag, second_of(last_time), content_type)

    def last_modified(self, now: float) -> str:
        return (self.last_modified_settled if now >= self.modified + 1
                else self.last_modified_early)


def rendered(body: bytes, state: State, content_type: str = JSON,
             modified: int | None = None) -> Rendered:
    """A representation of ``state``; ``modified`` (Unix second) instead of the last event's
    when the representation also depends on the clock."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    second = max(second_of(state.last_time), modified or 0)
    return Rendered(body, etag, second, content_type)


class RenderCache:
    """Per state version, one rendering per key; a new version empties it."""

    def __init__(self) -> None:
        self._version = -1
        self._items: dict[str, Rendered] = {}

    def get(self, version: int, key: str, render: Callable[[], Rendered]) -> Rendered:
        if version != self._version:
            self._items = {}
            self._version = version
        item = self._items.get(key)
        if item is None:
            if len(self._items) > 1000:  # many distinct filters: keep memory bounded
                self._items.clear()
            item = self._items[key] = render()
        return item


def not_modified(item: Rendered, inm: str | None, ims: str | None) -> bool:
    """Whether a request with these If-None-Match and If-Modified-Since values (None where
    absent) gets 304 for ``item``. If-None-Match, when present, decides alone (RFC 9110)."""
    if inm is not None:
        if inm == item.etag:  # what a polling client sends: decided without parsing
            return True
        tags = {t.strip() for t in inm.split(",")}
        return item.etag in tags or "*" in tags
    ims = (ims or "").strip()
    if ims:
        if ims == item.last_modified_settled:
            return True
        try:
            since = parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
        return since >= item.modified + 1
    return False


def cached_response(request: web.Request, item: Rendered) -> web.Response:
    """The cached bytes, or 304. Every polling client comes through here (or through the read
    front, ``api/front.py``, which answers the same): the headers are ready-made per rendering
    (``Rendered.headers``), and the If-None-Match a poller sends back is matched before
    anything is parsed."""
    settled = time.time() >= item.modified + 1  # as Rendered.last_modified
    headers = request.headers
    inm = headers.get("If-None-Match")
    if inm == item.etag or ((inm is not None or "If-Modified-Since" in headers)
                            and not_modified(item, inm, headers.get("If-Modified-Since"))):
        return web.Response(status=304, headers=item.headers[2 + settled])
    return web.Response(body=item.body, headers=item.headers[settled])
