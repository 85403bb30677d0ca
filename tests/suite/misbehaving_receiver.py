"""Webhook receivers that misbehave until told to recover, run as their own process by
``test_webhook_receivers.py``.

    python misbehaving_receiver.py PORT DOWN_PORT OUT SECRETS

On PORT: ``/error`` answers 500, ``/hang`` reads the request and never answers, ``/slow``
answers 200 after 0.3 s (under the server's 1 s answer timeout) throughout; ``POST /recover``
makes ``/error`` and ``/hang`` answer 200 from then on and starts listening on DOWN_PORT,
closed until then, where ``/down`` answers 200. Every request to a hook is one JSON line in
OUT (appended before it is answered): path, ``X-Tryvoga-Event-Id``, webhook id, whether the
signature held for the secret ``SECRETS`` (a JSON file, re-read every time) gives that
webhook, what it was answered (``hung`` for never), and the body. Prints ``ready``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path

from aiohttp import web


def main() -> None:
    port, down_port, out_path, secrets_path = (int(sys.argv[1]), int(sys.argv[2]),
                                               Path(sys.argv[3]), Path(sys.argv[4]))
    out = out_path.open("a", encoding="utf-8")
    recovered = False
    runner: web.AppRunner | None = None

    def record(request: web.Request, body: bytes, answer: str) -> None:
        secrets = json.loads(secrets_path.read_text("utf-8"))
        webhook_id = request.headers.get("X-Tryvoga-Webhook-Id", "")
        timestamp = request.headers.get("X-Tryvoga-Timestamp", "")
        secret = secrets.get(webhook_id, "")
        expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        out.write(json.dumps({
            "path": request.path, "event_id": int(request.headers["X-Tryvoga-Event-Id"]),
            "webhook_id": webhook_id, "answer": answer,
            "signature_ok": bool(secret) and hmac.compare_digest(
                expected, request.headers.get("X-Tryvoga-Signature", "")),
            "body": json.loads(body)}) + "\n")
        out.flush()
        os.fsync(out.fileno())

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        path = request.path
        if path == "/slow":
            await asyncio.sleep(0.3)
        elif path == "/hang" and not recovered:
            record(request, body, "hung")
            await asyncio.sleep(3600)
        elif path == "/error" and not recovered:
            record(request, body, "500")
            return web.Response(status=500, text="not now")
        record(request, body, "200")
        return web.Response(text="ok")

    async def recover(request: web.Request) -> web.Response:
        nonlocal recovered
        recovered = True
        assert runner is not None
        await web.TCPSite(runner, "127.0.0.1", down_port).start()
        return web.Response(text="recovered")

    async def serve() -> None:
        nonlocal runner
        app = web.Application()
        app.router.add_post("/recover", recover)
        app.router.add_post("/{name}", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
