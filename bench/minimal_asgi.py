"""The smallest ASGI app that serves fixed bytes with an ETag and answers 304: the floor of an
ASGI server (uvicorn, granian) that the real application's polled reads are compared with.

It serves the ``*.json`` files of the folder in ``TRYVOGA_BENCH_FILES`` as ``minimal_app.py``
does (``status.json`` at ``/api/v1/status``, ``alerts_active.json`` at
``/api/v1/alerts/active``)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

FILES = {f"/api/v1/{p.stem.replace('_', '/')}": p.read_bytes()
         for p in Path(os.environ["TRYVOGA_BENCH_FILES"]).glob("*.json")}
TAGS = {path: ('"' + hashlib.sha256(body).hexdigest()[:32] + '"').encode()
        for path, body in FILES.items()}
NOT_FOUND = {"type": "http.response.start", "status": 404, "headers": []}


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
              send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    if scope["type"] != "http":  # lifespan: nothing to set up
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"]
    body = FILES.get(path)
    if body is None:
        await send(NOT_FOUND)
        await send({"type": "http.response.body", "body": b""})
        return
    tag = TAGS[path]
    for name, value in scope["headers"]:
        if name == b"if-none-match" and value == tag:
            await send({"type": "http.response.start", "status": 304,
                        "headers": [(b"etag", tag)]})
            await send({"type": "http.response.body", "body": b""})
            return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"etag", tag),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
