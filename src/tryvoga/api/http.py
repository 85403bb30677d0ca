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
