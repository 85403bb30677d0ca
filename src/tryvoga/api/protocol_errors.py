"""Requests that aiohttp refuses before any route sees them, answered in the API's JSON shapes.

aiohttp's HTTP parser refuses an over-long request target, an over-long header, a malformed
request line and the like with a text/plain 400 of its own (``RequestHandler.handle_error``),
before routing: neither the ``errors`` wrapper of every route nor a façade's error wrapper ever
sees them. So:

* The parser reads request targets (path and query) of up to ``PARSE_LIMIT`` bytes, and
  :func:`target_too_long`, asked first by ``errors``, refuses one over
  ``MAX_TARGET`` (8190, aiohttp's own limit) with 414, in the shape of the API its path
  belongs to: ``{"message": ...}`` under the façades' prefixes, ``{"error": {...}}`` elsewhere.
  A token in the query (``?token=aaaa…``) is where a client is most likely to overdo it.
* :func:`install` gives what the parser still refuses (a target over ``PARSE_LIMIT``, a header
  over 8190 bytes, a malformed request), and any error that escapes the application, the same
  JSON shapes. A request that could not be parsed has no path; the start of an over-long target
  travels with the parser's error and decides the shape, and without it the answer has the
  native shape.

Only servers made by ``create_app`` are concerned: they pass ``HANDLER_ARGS``, whose logger
marks their connections; any other aiohttp server in the process keeps aiohttp's answers.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from tryvoga.api.http import error_response, json_response
from tryvoga.errors import TryvogaError

log = logging.getLogger(__name__)

MAX_TARGET = 8190  # bytes of a request target (path and query) that are accepted
MAX_FIELD = 8190  # bytes of a header line, refused by the parser itself
# What the parser reads of a target before it gives up, so that one a little over MAX_TARGET
# is refused with its path known. Bounded: each connection may buffer this much.
PARSE_LIMIT = 65536
FACADE_PREFIXES = ("/v1/", "/v2/", "/api/v3/")  # the alerts.in.ua and ukrainealarm APIs

# RequestHandler keyword arguments of every Tryvoga server (``web.Application(handler_args=)``).
HANDLER_ARGS = {"max_line_size": PARSE_LIMIT, "max_field_size": MAX_FIELD, "logger": log}


def is_facade(target: str) -> bool:
    """Whether a request target (absolute or origin form) is under a façade's prefix."""
    path = target if target.startswith("/") else urlsplit(target).path
    return path.startswith(FACADE_PREFIXES)


def answer(target: str | None, error: TryvogaError) -> web.Response:
    """``error`` in the shape of the API that ``target`` belongs to (native if unknown)."""
    if target is not None and is_facade(target):
        return json_response({"message": error.message}, status=error.status)
    return error_response(error)


def _too_long(target: str) -> TryvogaError:
    hint = "; a token belongs in the Authorization header" if "token=" in target else ""
    return TryvogaError(f"the request target (path and query) is longer than {MAX_TARGET} "
                        f"bytes{hint}", code="request_target_too_long", status=414)


def target_too_long(request: web.Request) -> web.Response | None:
    """The 414 answer for a target over ``MAX_TARGET``, or None for one within it."""
    target = request.raw_path
    if len(target) <= MAX_TARGET:
        return None
    return answer(target, _too_long(target))


def _refused_target(protocol: RequestHandler, exc: BaseException) -> str | None:
    """The start of the request target that the parser refused as too long, if it was that.

    The parser's ``LineTooLong`` carries the first 100 bytes of what it refused and the limit
    it exceeded, which tells a target (``max_line_size``) from a header (``max_field_size``).
    aiohttp's C parser gives the target alone, its Python parser the request line.
    """
    if not isinstance(exc, LineTooLong) or len(exc.args) < 2:
        return None
    line, limit = exc.args[0], exc.args[1]
    if limit != protocol.max_line_size or not isinstance(line, bytes | bytearray | str):
        return None
    text = (line.decode("latin-1") if isinstance(line, bytes | bytearray) else line).strip()
    if not text.startswith("/") and "://" not in text.split(" ", 1)[0]:
        text = text.partition(" ")[2]  # the method first
    return text or None


def _protocol_error(protocol: RequestHandler, request: BaseRequest, status: int,
                    exc: BaseException | None) -> tuple[str | None, TryvogaError]:
    """The target (when known) and the error to answer for a ``handle_error`` call."""
    if isinstance(exc, HttpProcessingError):
        # The parser refused the request: ``request`` is aiohttp's placeholder, with no path.
        # The client is told why; the log gets no part of the request, which may hold a token.
        log.debug("refused a request from %s that could not be parsed (%s)", request.remote,
                  type(exc).__name__)
        target = _refused_target(protocol, exc)
        if target is not None:
            return target, _too_long(target)
        if isinstance(exc, LineTooLong):
            return None, TryvogaError(
                f"a request header is longer than {protocol.max_field_size} bytes",
                code="header_too_long", status=431)
        # Its first line says what is wrong ("Invalid method encountered:"); the rest quotes
        # the request back.
        lines = str(exc.message).strip().splitlines() or ["not HTTP/1.1"]
        return None, TryvogaError(f"malformed HTTP request: {lines[0].rstrip(': ')}",
                                  code="malformed_request", status=status)
    if status >= 500:
        log.error("error handling %s %s", request.method, request.path, exc_info=exc)
        message = ("the request took too long" if status == 504
                   else "internal error; it has been logged")
        return request.raw_path, TryvogaError(message, status=status)
    return request.raw_path, TryvogaError(f"HTTP {status}", code="http_error", status=status)


_aiohttp_handle_error = RequestHandler.handle_error


def _handle_error(self: RequestHandler, request: BaseRequest, status: int = 500,
                  exc: BaseException | None = None,
                  message: str | None = None) -> web.StreamResponse:
    if self.logger is not log:  # not a Tryvoga server
        return _aiohttp_handle_error(self, request, status, exc, message)
    if request.writer.output_size > 0:  # as aiohttp: nothing more can be said on it
        raise ConnectionError("Response is sent already, cannot send another response "
                              "with the error message")
    target, error = _protocol_error(self, request, status, exc)
    response = answer(target, error)
    response.force_close()
    return response


def install() -> None:
    """Answer the parser's refusals of Tryvoga's connections in JSON (idempotent)."""
    if RequestHandler.handle_error is not _handle_error:
        RequestHandler.handle_error = _handle_error  # type: ignore[method-assign]


__all__ = ["FACADE_PREFIXES", "HANDLER_ARGS", "MAX_TARGET", "PARSE_LIMIT", "answer", "install",
           "is_facade", "target_too_long"]
