"""Webhook signatures: HMAC-SHA256 over ``"<timestamp>.<body>"`` with the subscription's secret.

A receiver recomputes the signature from the raw body and the ``X-Tryvoga-Timestamp`` header,
compares it in constant time with ``X-Tryvoga-Signature`` (``sha256=<hex>``), and should refuse
a timestamp far from its own clock (a replayed old request). ``X-Tryvoga-Event-Id`` is the
same on every retry of one event, so a receiver drops duplicates by it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE = "X-Tryvoga-Signature"
TIMESTAMP = "X-Tryvoga-Timestamp"
EVENT_ID = "X-Tryvoga-Event-Id"
WEBHOOK_ID = "X-Tryvoga-Webhook-Id"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    # hmac.digest: the one-shot HMAC of the C library, no HMAC object per delivery.
    digest = hmac.digest(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                         hashlib.sha256)
    return "sha256=" + digest.hex()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
