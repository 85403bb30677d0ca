"""The smallest aiohttp app that serves fixed bytes with an ETag and answers 304: the floor
that the real application's polled reads are compared with."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from aiohttp import web


def main() -> None:
    """``minimal_app.py PORT FOLDER [asyncio|uvloop]``: the event loop as Tryvoga's."""
    port = int(sys.argv[1])
    files = {f"/api/v1/{p.stem.replace('_', '/')}": p.read_bytes()
             for p in Path(sys.argv[2]).glob("*.json")}
    tags = {path: '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            for path, body in files.items()}

    async def handle(request: web.Request) -> web.Response:
        body = files[request.path]
        tag = tags[request.path]
        if request.headers.get("If-None-Match") == tag:
            return web.Response(status=304, headers={"ETag": tag})
        return web.Response(body=body, content_type="application/json",
                            headers={"ETag": tag})

    app = web.Application()
    for path in files:
        app.router.add_get(path, handle)
    loop = None
    if sys.argv[3:] == ["uvloop"]:
        import uvloop

        loop = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096,
                loop=loop)


if __name__ == "__main__":
    main()
