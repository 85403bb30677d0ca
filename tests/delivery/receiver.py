"""A webhook receiver as a subscriber would write one, run as its own process in tests.

    python receiver.py PORT OUT SECRETS [--fail-first N] [--status CODE] [--delay SECONDS]

It checks each request's signature against the secret for its ``X-Tryvoga-Webhook-Id``
(``SECRETS`` is a JSON file ``{"wh_...": "whsec_..."}``, re-read on every request), and appends
one JSON line per request to ``OUT``: the event id, the webhook id, whether the signature held,
the status it answered and the body. It answers ``--status`` (default 200), or 500 to the first
``--fail-first`` requests. It prints ``ready`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
from pathlib import Path

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("secrets", type=Path)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    seen = 0
    out = args.out.open("a", encoding="utf-8")

    async def hook(request: web.Request) -> web.Response:
        nonlocal seen
        body = await request.read()
        secrets = json.loads(args.secrets.read_text("utf-8"))
        webhook_id = request.headers.get("X-Tryvoga-Webhook-Id", "")
        timestamp = request.headers.get("X-Tryvoga-Timestamp", "")
        signature = request.headers.get("X-Tryvoga-Signature", "")
        secret = secrets.get(webhook_id, "")
        expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        seen += 1
        status = 500 if seen <= args.fail_first else args.status
        if args.delay:
            await asyncio.sleep(args.delay)
        out.write(json.dumps({
            "event_id": request.headers.get("X-Tryvoga-Event-Id"),
            "webhook_id": webhook_id,
            "signature_ok": bool(secret) and hmac.compare_digest(expected, signature),
            "status": status,
            "path": request.path,
            "body": json.loads(body),
        }) + "\n")
        out.flush()
        os.fsync(out.fileno())
        return web.Response(status=status, text="ok" if status < 300 else "try again")

    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)

    async def ready(app: web.Application) -> None:
        print("ready", flush=True)

    app.on_startup.append(ready)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
