"""Managing webhook subscriptions: validation, scope, idempotency, audit. Used by the API and
the CLI alike.

A subscription is scoped like any other write: a token may subscribe only to regions inside its
own scope (no regions given: its whole scope), and sees and deletes only subscriptions whose
regions all lie inside its scope. The secret is returned once, by ``create``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from tryvoga.delivery.filters import check_kinds, check_regions, check_types
from tryvoga.delivery.formats import FORMATS
from tryvoga.delivery.safety import Policy
from tryvoga.delivery.signing import new_secret
from tryvoga.delivery.store import DeliveryStore
from tryvoga.domain.events import canonical_json, format_time, now_utc
from tryvoga.domain.regions import Catalogue
from tryvoga.errors import BadRequest, Conflict, Forbidden, NotFound
from tryvoga.service import Actor, Outcome, Result
from tryvoga.storage.base import IdempotencyRecord, WebhookRecord

FIELDS = {"url", "regions", "types", "kinds", "format", "description"}
MAX_DESCRIPTION = 200


def iso(moment: float | None) -> str | None:
    return None if moment is None else format_time(datetime.fromtimestamp(moment, UTC))


def webhook_json(record: WebhookRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "url": record.url,
        "regions": list(record.regions),
        "types": list(record.types),
        "kinds": list(record.kinds),
        "format": record.format,
        "description": record.description,
        "status": record.status,
        "status_reason": record.status_reason,
        "owner": record.owner,
        "created": record.created,
        "updated": record.updated,
        "failing_since": iso(record.failing_since),
    }


class Webhooks:
    def __init__(self, store: DeliveryStore, catalogue: Catalogue, policy: Policy) -> None:
        self.store = store
        self.catalogue = catalogue
        self.policy = policy

    def _writer(self, actor: Actor) -> None:
        if not actor.write:
            raise Forbidden(f"token {actor.name!r} is read-only; webhooks need a write token",
                            code="token_read_only")

    def _visible(self, actor: Actor, record: WebhookRecord) -> bool:
        """A subscription is its owner's (the token that made it): another token, whatever
        its scope, neither sees nor deletes it (issue 15). The operator at the command line
        (no token) sees every one within its scope."""
        if actor.token is None:
            return all(actor.may_write(self.catalogue, r) for r in record.regions)
        return record.owner == actor.principal

    def _find(self, actor: Actor, webhook_id: str) -> WebhookRecord:
        self._writer(actor)
        record = self.store.get(webhook_id.strip()) if isinstance(webhook_id, str) else None
        if record is None or record.status == "deleted" or not self._visible(actor, record):
            raise NotFound(f"no webhook with id {webhook_id!r}", code="webhook_not_found")
        return record

    def create(self, actor: Actor, body: dict[str, Any],
               idempotency_key: str | None = None) -> Result:
        """A new subscription (``Outcome.CREATED``; the answer holds the secret, shown this
        once), or the stored answer of an earlier request with the same idempotency key."""
        self._writer(actor)
        for key in body:
            if key not in FIELDS:
                raise BadRequest(f"unknown field {key!r}; expected some of "
                                 f"{', '.join(sorted(FIELDS))}", field=key)
        url = self.policy.check_url(body.get("url"))
        regions = check_regions(self.catalogue, body.get("regions")) or actor.scopes
        for index, code in enumerate(regions):
            if not actor.may_write(self.catalogue, code):
                region = self.catalogue[code]
                raise Forbidden(f"token {actor.name!r} may not subscribe to {region.name_en} "
                                f"({code}); its scope is {', '.join(actor.scopes)}",
                                code="out_of_scope", field=f"regions[{index}]")
        types = check_types(body.get("types"))
        kinds = check_kinds(body.get("kinds"))
        format_name = body.get("format", "native")
        if format_name not in FORMATS:
            raise BadRequest(f"format: {format_name!r} is not one of "
                             f"{', '.join(sorted(FORMATS))}", field="format")
        description = body.get("description", "")
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
            raise BadRequest(f"description must be a string of at most {MAX_DESCRIPTION} "
                             "characters", field="description")
        request = {"op": "webhook.create", "url": url, "regions": list(regions),
                   "types": list(types), "kinds": list(kinds), "format": format_name,
                   "description": description.strip()}
        request_hash = hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()
        time = now_utc()
        record = WebhookRecord(
            id="wh_" + secrets.token_hex(8), url=url, regions=tuple(regions), types=types,
            kinds=kinds, format=format_name, description=description.strip(),
            owner=actor.principal, status="active", status_reason=None, created=time, updated=time)
        secret = new_secret()
        answer = {"webhook": webhook_json(record), "secret": secret}
        idempotency = None
        if idempotency_key is not None:
            key_text = idempotency_key.strip()  # its length is checked at the edge
            if not key_text:
                raise BadRequest("Idempotency-Key is required", field="Idempotency-Key")
            idempotency = (f"{actor.principal}\x1f{key_text}",
                           IdempotencyRecord(request_hash, 201, answer))
        audit = {key: value for key, value in request.items() if key != "op"}
        stored = self.store.insert(record, secret, actor.name, {"id": record.id, **audit},
                                   idempotency)
        if stored is not None:
            if stored.request_hash != request_hash:
                raise Conflict("this Idempotency-Key was already used for a different request",
                               code="idempotency_key_reused", field="Idempotency-Key")
            outcome = Outcome.CREATED if stored.status == 201 else Outcome.DONE
            return Result(outcome, stored.response, replayed=True)
        return Result(Outcome.CREATED, answer)

    def list(self, actor: Actor) -> list[dict[str, Any]]:
        self._writer(actor)
        return [webhook_json(r) for r in self.store.listed() if self._visible(actor, r)]

    def get(self, actor: Actor, webhook_id: str) -> dict[str, Any]:
        record = self._find(actor, webhook_id)
        return dict(webhook_json(record), deliveries=self.store.counts(record.id))

    def delete(self, actor: Actor, webhook_id: str) -> dict[str, Any]:
        record = self._find(actor, webhook_id)
        time = now_utc()
        if not self.store.set_status(record.id, "deleted", f"deleted by {actor.name}", time,
                                     actor.name, "webhook.deleted"):
            raise NotFound(f"no webhook with id {webhook_id!r}", code="webhook_not_found")
        found = self.store.get(record.id)
        assert found is not None
        return webhook_json(found)

    def attempts(self, actor: Actor, webhook_id: str, limit: int = 100,
                 before: int | None = None) -> dict[str, Any]:
        record = self._find(actor, webhook_id)
        rows = self.store.attempts(record.id, limit, before)
        items = [{
            "id": row["id"],
            "event_seq": row["event_seq"],
            "time": row["time"],
            "status": row["status"],
            "latency_ms": row["latency_ms"],
            "error": row["error"],
            "delivered": row["status"] is not None and 200 <= row["status"] < 300,
            "delivery": row["delivery"],
            "delivery_state": row["delivery_state"],
            # The retry this attempt scheduled; null after a success or the last try.
            "next_attempt_at": iso(row["next_attempt"]),
        } for row in rows]
        return {"webhook": webhook_json(record), "attempts": items,
                "next": items[-1]["id"] if len(items) == limit else None}
