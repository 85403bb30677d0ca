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

The streams and the WebSocket writer (``api/streams.py``, ``live/hub.py``):
  - ``RequestHandler.set_parser``: after the handshake aiohttp feeds what the client sends to
    the subscriber (``feed_data(data) -> (bool, bytes)``, ``feed_eof()``);
  - ``RequestHandler.writing_paused``, ``.transport`` and the coroutine
    ``RequestHandler._drain_helper``: a replay waits for a slow client's socket to drain.

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
HANDLER_METHODS = ("set_parser", "_drain_helper", "connection_made", "data_received",
                   "pause_writing", "handle_error")
HANDLER_ATTRIBUTES = ("logger", "max_line_size", "max_field_size", "writing_paused",
                      "transport")
SITE_ATTRIBUTES = ("_runner", "_server", "_sock", "_backlog")


def _missing(obj: Any, names: tuple[str, ...], what: str) -> list[str]:
    return [f"{what}.{name} is gone" for name in names if not hasattr(obj, name)]


async def changes() -> list[str]:
    """What of the list above the installed aiohttp no longer has (empty: all there)."""
    found: list[str] = []
    if not isinstance(getattr(http, "SERVER_SOFTWARE", None), str):
        found.append("aiohttp.http.SERVER_SOFTWARE is gone")
    found += _missing(RequestHandler, HANDLER_METHODS, "RequestHandler")
    if not inspect.iscoroutinefunction(getattr(RequestHandler, "_drain_helper", None)):
        found.append("RequestHandler._drain_helper is no longer a coroutine function")
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
