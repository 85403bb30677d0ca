"""ukrainealarm webhooks (``/api/v3/webhook``), delivered by the webhook machinery.

A registration (``storage/compat_webhooks.py``) owns delivery subscriptions (``delivery/``),
created, changed and deleted in the registration's own transaction, so the outbox written with
each event, the workers and their leases, retries, attempts, disabling and the outbound-address
checks are those of every webhook. Each subscription renders its bodies in a format of the
``ukrainealarm`` family (``api/formats.py``), one ``AlertRegionModel`` per
alert change:

* ``ukrainealarm:<regionId>``, one per region a registration names: that region as
  ``/api/v3/alerts/{regionId}`` shows it, whenever an actual alert declared on it or above it
  changes (the subscription's filter is the region, which alerts on its ancestors reach);
* ``ukrainealarm:within:<stateId>``, for a registration for every region: the region an alert
  is shown on (``/api/v3/alerts``) inside that State. A subscription gets one delivery per
  event and an alert on the whole country is shown on all 27 States, so such a registration
  owns one subscription per State; inside one State an alert is shown on one region at most
  (``tests/api/test_compat_units.py`` checks the catalogue for it).

A body depends only on the event and the region, so it is rendered once per event for every
subscriber of that region. Deliveries carry the ``X-Tryvoga-*`` headers, signed with the
registration's secret, which the answer to the POST that made the registration holds as
``signingSecret`` (``docs/compat.md``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from msgspec import UNSET, UnsetType

from tryvoga.api import compat_ukrainealarm
from tryvoga.api.bodies import UkraineAlarmWebhook, parse_facade_body
from tryvoga.api.compat_common import CompatIds
from tryvoga.api.compat_ukrainealarm import Models, UkraineAlarm, changed_alert, shown_regions
from tryvoga.api.http import dumps, json_response
from tryvoga.delivery.formats import Payload, Renderer
from tryvoga.delivery.safety import Policy
from tryvoga.delivery.signing import new_secret
from tryvoga.domain.events import Event, now_utc
from tryvoga.domain.regions import COUNTRY
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, Conflict, Forbidden, NotFound
from tryvoga.service import Actor
from tryvoga.settings import Settings
from tryvoga.storage.compat_webhooks import (
    FAMILY,
    Change,
    CompatWebhook,
    Delivery,
    Registrations,
)

WITHIN = "within:"


def deliveries(ids: CompatIds, region_ids: tuple[str, ...] | None) -> tuple[Delivery, ...]:
    """The subscriptions a registration for ``region_ids`` (None: every region) needs."""
    if region_ids is None:
        return tuple(Delivery(r.code, f"{FAMILY}{WITHIN}{ids.ukrainealarm_id(r)}")
                     for r in ids.targets(COUNTRY))
    return tuple(Delivery(ids.by_ukrainealarm_id[r].code, f"{FAMILY}{r}")
                 for r in region_ids if r in ids.by_ukrainealarm_id)


# ---- rendering (on the write path, inside the event's transaction) ---------------------------

_models: tuple[tuple[int, int, str], Models] | None = None


def _models_of(state: State, ids: CompatIds) -> Models:
    """One ``Models`` per state, shared by the renders of its events' formats. Keyed by the
    head hash too: after a rolled-back command the writer's state reuses sequence numbers."""
    global _models
    key = (id(ids), state.seq, state.last_hash)
    cached = _models
    if cached is None or cached[0] != key:
        cached = _models = (key, Models(ids))
    return cached[1]


def renderer_for(parameter: str) -> Renderer:
    """The renderer of format ``ukrainealarm:<parameter>`` (see the module docstring)."""
    within = parameter.startswith(WITHIN)
    region_id = parameter[len(WITHIN):] if within else parameter

    def render(event: Event, state: State) -> Payload | None:
        ids = CompatIds.of(state.catalogue)
        region = ids.by_ukrainealarm_id.get(region_id)
        alert = changed_alert(event, state)
        if region is None or alert is None:
            return None
        if within:
            shown = [r for r in shown_regions(ids, alert, None)
                     if ids.catalogue.is_within(r.code, region.code)]
        else:
            shown = shown_regions(ids, alert, (region_id,))
        if not shown:
            return None
        return Payload(dumps(_models_of(state, ids).model_of(state, shown[0])))

    return render


# ---- the endpoints ---------------------------------------------------------------------------

def check_room(registrations: Registrations, owner: str, settings: Settings) -> None:
    """Refuse a new registration beyond the per-token or the total bound (issue 15: each one
    is up to 27 delivery subscriptions, so their number must not be up to anyone)."""
    per_token = settings.ukrainealarm_webhooks_per_token
    if registrations.count(owner) >= per_token:
        raise Conflict(f"this token has registered {per_token} webhooks, the most allowed "
                       "here; delete one first", code="webhook_limit")
    total = settings.ukrainealarm_webhooks_total
    if registrations.count() >= total:
        raise Conflict(f"this server holds {total} webhook registrations, the most it "
                       "allows", code="webhook_limit")


def check_may_register(actor: Actor, settings: Settings) -> None:
    if not actor.write and not settings.ukrainealarm_webhooks_read_only:
        raise Forbidden(f"token {actor.name!r} is read-only, and this server lets only write "
                        "tokens register webhooks", code="token_read_only")


class WebhookEndpoints:
    """``POST``, ``PATCH``, ``DELETE`` and ``GET /api/v3/webhook`` of the façade."""

    def __init__(self, facade: UkraineAlarm) -> None:
        self.facade = facade
        self.ids = facade.ids
        self.policy = Policy(facade.context.settings.webhook_allow_networks)

    async def _body(self, request: web.Request) -> tuple[str, tuple[str, ...] | None, bool]:
        """The URL, the region ids (None: every region) and whether ``regionIds`` was given."""
        # Types and bounds (api/bodies.py), every refusal a 400 in the façade's shape.
        body = parse_facade_body(await request.read(), UkraineAlarmWebhook)
        url = body.webHookUrl.strip()
        given = body.regionIds is not UNSET
        raw_ids = None if isinstance(body.regionIds, UnsetType) else body.regionIds
        if raw_ids is None:
            return url, None, given
        ids: list[str] = []
        for item in raw_ids:
            text = str(item).strip() if isinstance(item, str | int) and not isinstance(
                item, bool) else ""
            self.facade.region(text or repr(item), "regionIds item")
            ids.append(text)
        return url, tuple(dict.fromkeys(ids)), given

    def _target(self, url: str) -> str:
        """The URL deliveries go to, checked as every webhook's is: http(s), and no private,
        loopback or link-local address unless TRYVOGA_WEBHOOK_ALLOW_NETWORKS allows it."""
        try:
            return self.policy.check_url(url)
        except BadRequest as exc:
            message = exc.message
            if message.startswith("url"):
                message = "webHookUrl" + message[3:]
            raise BadRequest(message, status=400) from None

    @staticmethod
    def _audit(change: Change, **extra: Any) -> dict[str, Any]:
        record = change.record
        return {"id": record.id, "url": record.url,
                "regionIds": None if record.region_ids is None else list(record.region_ids),
                "subscriptions": [s.id for s in change.subscriptions], **extra}

    @staticmethod
    def _answer(change: Change) -> web.Response:
        answer = change.record.to_json()
        if change.new_secret is not None:
            answer["signingSecret"] = change.new_secret  # shown this once
        return json_response(answer)

    async def register(self, request: web.Request) -> web.Response:
        """Create a registration, or set the region ids of the token's one for that URL."""
        actor = await self.facade.admit(request, token_required=True)
        assert actor is not None
        settings = self.facade.context.settings
        check_may_register(actor, settings)
        url, region_ids, _ = await self._body(request)
        target = self._target(url)
        planned = deliveries(self.ids, region_ids)
        secret = new_secret()
        storage = self.facade.context.storage

        def write() -> Change:
            time = now_utc()
            with storage.writer() as tx:
                registrations = tx.ukrainealarm_registrations()
                if registrations.get(actor.principal, url) is None:
                    check_room(registrations, actor.principal, settings)
                change = registrations.put(actor.principal, url, region_ids, time, target, planned,
                                           secret)
                tx.audit(time, actor.name, "compat.webhook.registered", self._audit(change))
            return change

        return self._answer(await self.facade.write(write))

    async def update(self, request: web.Request) -> web.Response:
        """Change the region ids of the registration for that URL; or, for a URL not
        registered, move the token's only registration to it."""
        actor = await self.facade.admit(request, token_required=True)
        assert actor is not None
        check_may_register(actor, self.facade.context.settings)
        url, region_ids, given = await self._body(request)
        target = self._target(url)
        secret = new_secret()
        storage = self.facade.context.storage

        def write() -> Change:
            time = now_utc()
            with storage.writer() as tx:
                registrations = tx.ukrainealarm_registrations()
                current = registrations.get(actor.principal, url)
                moved_from: CompatWebhook | None = None
                if current is None:
                    mine = registrations.listing(actor.principal)
                    if len(mine) != 1:
                        several = (f"; this token has {len(mine)}, so name the one to change "
                                   "by its webHookUrl" if mine else "")
                        raise NotFound(f"no webhook registered for {url}{several}")
                    current = moved_from = mine[0]
                wanted = region_ids if given else current.region_ids
                planned = deliveries(self.ids, wanted)
                if moved_from is None:
                    change = registrations.put(actor.principal, url, wanted, time, target, planned,
                                               secret)
                    detail = self._audit(change)
                else:
                    change = registrations.move(moved_from, url, wanted, time, target, planned,
                                                secret)
                    detail = self._audit(change, previousUrl=moved_from.url)
                tx.audit(time, actor.name, "compat.webhook.updated", detail)
            return change

        return self._answer(await self.facade.write(write))

    async def delete(self, request: web.Request) -> web.Response:
        """Delete the registration for that URL; its pending deliveries are cancelled."""
        actor = await self.facade.admit(request, token_required=True)
        assert actor is not None
        url, _, _ = await self._body(request)
        storage = self.facade.context.storage

        def write() -> CompatWebhook:
            time = now_utc()
            with storage.writer() as tx:
                gone = tx.ukrainealarm_registrations().delete(actor.principal, url, time)
                if gone is None:
                    raise NotFound(f"no webhook registered for {url}")
                tx.audit(time, actor.name, "compat.webhook.deleted",
                         {"id": gone[0].id, "url": url, "subscriptions": list(gone[1])})
            return gone[0]

        # The registration as it was: the four fields of every answer (docs/compat.md).
        return json_response((await self.facade.write(write)).to_json())

    async def listing(self, request: web.Request) -> web.Response:
        actor = await self.facade.admit(request, token_required=True)
        assert actor is not None
        storage = self.facade.context.storage

        def read() -> list[CompatWebhook]:
            with storage.writer() as tx:
                return tx.ukrainealarm_registrations().listing(actor.principal)

        records = await self.facade.write(read)
        return json_response({"webHooks": [r.to_json() for r in records]})


def add_routes(app: web.Application) -> UkraineAlarm:
    """The ukrainealarm façade's routes, ``/api/v3/webhook`` included."""
    return compat_ukrainealarm.add_routes(app, WebhookEndpoints)


__all__ = ["WITHIN", "WebhookEndpoints", "add_routes", "deliveries", "renderer_for"]
