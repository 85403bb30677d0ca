"""Every part of aiohttp that Tryvoga relies on and aiohttp does not document, in one list.

aiohttp is bounded below its next minor release in ``pyproject.toml``; before raising the
bound, run ``tests/api/test_aiohttp_internals.py``: it checks each item below against the
installed aiohttp and names what changed.

The read front (``api/front.py``):
  - ``web.SockSite``'s ``_runner``, ``_server``, ``_sock`` and ``_backlog``, and calling
    ``web.BaseSite.start`` directly: the front's site listens on its own protocol factory;
  - ``web_server.Server`` called to make a ``RequestHandler``, and that handler's
    ``connection_made``, ``data_received`` and ``pause_writing``: a connection is handed to
    aiohttp with the bytes not yet answered;
  - ``aiohttp.http.SERVER_SOFTWARE``: the ``Server`` header aiohttp sends, which the front's
    answers repeat to the byte.

The streams (``api/streams.py``, ``live/hub.py``): once a stream's response head is written,
its connection is taken from aiohttp (``transport.set_protocol``: the subscriber is its
protocol) and aiohttp is told to forget it:
  - ``RequestHandler.transport`` set to None, then ``RequestHandler.connection_lost(None)``:
    aiohttp neither writes to nor closes the connection, drops it from its server's
    connections, and its request, parser and tasks end when the stream's handler returns;
  - ``RequestHandler._message_tail``: what a WebSocket client sent after its handshake, before
    the hand-over; ``RequestHandler.writing_paused``: whether the socket's buffer is full then.

The parser's refusals (``api/protocol_errors.py``; every route's errors and the request ids
go through two ordinary middlewares, ``api/app.py`` ``errors`` and ``api/ops.py``
``instrumented``, since bench/middleware.py measured them against wrapping each route's
handler, see ``docs/architecture.md``):
  - ``RequestHandler.handle_error(request, status=500, exc=None, message=None)``, replaced
    for Tryvoga's servers (told apart by ``RequestHandler.logger``), and the handler's
    ``max_line_size`` and ``max_field_size``; ``request.writer.output_size``; the
    ``LineTooLong`` exception's ``args`` (the refused bytes first, then the limit).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from aiohttp import http, web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

HANDLE_ERROR_PARAMETERS = ["self", "request", "status", "exc", "message"]
HANDLER_METHODS = ("connection_made", "connection_lost", "data_received", "pause_writing",
                   "handle_error")
HANDLER_ATTRIBUTES = ("logger", "max_line_size", "max_field_size", "writing_paused",
                      "transport", "_message_tail")
SITE_ATTRIBUTES = ("_runner", "_server", "_sock", "_backlog")


def _missing(obj: Any, names: tuple[str, ...], what: str) -> list[str]:
    return [f"{what}.{name} is gone" for name in names if not hasattr(obj, name)]


async def changes() -> list[str]:
    """What of the list above the installed aiohttp no longer has (empty: all there)."""
    found: list[str] = []
    if not isinstance(getattr(http, "SERVER_SOFTWARE", None), str):
        found.append("aiohttp.http.SERVER_SOFTWARE is gone")
    found += _missing(RequestHandler, HANDLER_METHODS, "RequestHandler")
    parameters = list(inspect.signature(RequestHandler.handle_error).parameters)
    if parameters != HANDLE_ERROR_PARAMETERS:
        found.append(f"RequestHandler.handle_error takes {parameters}, not "
                     f"{HANDLE_ERROR_PARAMETERS}")
    if not callable(getattr(web.BaseSite, "start", None)):
        found.append("web.BaseSite.start is gone")

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application(handler_args={"max_line_size": 1000, "max_field_size": 900,
                                        "logger": logging.getLogger(__name__)})
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        server = runner.server
        assert server is not None
        handler = server()
        found += _missing(handler, HANDLER_ATTRIBUTES, "RequestHandler()")
        if (getattr(handler, "max_line_size", None), getattr(handler, "max_field_size", None)
                ) != (1000, 900):
            found.append("RequestHandler no longer keeps max_line_size and max_field_size "
                         "from the application's handler_args")
        site = web.SockSite(runner, _unbound_socket())
        try:
            found += _missing(site, SITE_ATTRIBUTES, "web.SockSite")
        finally:
            site._sock.close()
        loop = asyncio.get_running_loop()
        writer = http.StreamWriter(handler, loop)
        if not isinstance(getattr(writer, "output_size", None), int):
            found.append("StreamWriter.output_size is gone")
    finally:
        await runner.cleanup()
    error = LineTooLong(b"/" + b"x" * 20, "1000")
    if error.args[:2] != (b"/" + b"x" * 20, "1000"):
        found.append(f"LineTooLong.args no longer starts with the line and the limit: "
                     f"{error.args!r}")
    return found


def _unbound_socket() -> Any:
    import socket

    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)


__all__ = ["changes"]
