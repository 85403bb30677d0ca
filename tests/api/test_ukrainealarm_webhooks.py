"""ukrainealarm registrations and their delivery subscriptions, on a real SQLite file with the
real write path (the end-to-end delivery is ``tests/compat/test_ukrainealarm_webhooks.py``)."""

from __future__ import annotations

import json

import pytest

from tryvoga.api.compat_common import CompatIds
from tryvoga.api.compat_ukrainealarm import webhook_payloads
from tryvoga.api.formats import webhook_formats
from tryvoga.api.ukrainealarm_webhooks import deliveries
from tryvoga.commands import Declare, EndAlert
from tryvoga.delivery.formats import FORMATS
from tryvoga.domain.regions import COUNTRY, Catalogue, load_catalogue
from tryvoga.service import Actor, Service
from tryvoga.storage import webhooks
from tryvoga.storage.compat_webhooks import Change
from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import by_api_id

ADMIN = Actor("admin")
URL = "https://hooks.example.org/a"


def put(storage: SQLiteStorage, region_ids: tuple[str, ...] | None, url: str = URL,
        owner: str = "app") -> Change:
    ids = CompatIds.of(load_catalogue())
    with storage.writer() as tx:
        return tx.ukrainealarm_registrations().put(owner, url, region_ids, "2024-01-01T00:00:00Z",
                                                   url, deliveries(ids, region_ids), "whsec_x")


def delivery_states(storage: SQLiteStorage) -> list[tuple[str, int, str]]:
    """The delivery rows, once the worker's fan-out (``storage/webhooks.py``) has made them."""
    with storage.writer() as tx:
        webhooks.fan_out(tx.conn, 1_000_000)
    rows = storage.query("SELECT webhook, event_seq, state FROM webhook_deliveries "
                         "ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows]


def test_an_alert_is_shown_on_one_region_at_most_in_each_state(catalogue: Catalogue) -> None:
    """What a registration for every region rests on: one subscription per State gets one
    body per event, so no alert may be shown on two regions inside one State."""
    ids = CompatIds(catalogue)
    states = ids.targets(COUNTRY)
    assert len(states) == 27
    for region in catalogue:
        shown = ids.targets(region.code)
        for state in states:
            assert sum(catalogue.is_within(r.code, state.code) for r in shown) <= 1, region


def test_formats_render_the_region_models(service: Service, catalogue: Catalogue) -> None:
    ids = CompatIds.of(catalogue)
    oblast = by_api_id(catalogue, 22)
    raion = next(catalogue[c] for c in catalogue.children[oblast.code]
                 if catalogue[c].api_id is not None)
    event = service.handle(
        ADMIN,
        Declare.of(
            regions=[oblast.code],
            threats=[{"type": "drones", "level": "yellow"}],
            type="air_raid",
        ),
    ).events[0]
    state = service.state
    renderer = webhook_formats().renderer

    def body(name: str) -> bytes | None:
        payload = renderer(name)(event, state)
        return None if payload is None else payload.body

    [(_, oblast_body)] = webhook_payloads(event, state, ids, ("22",))
    assert body("ukrainealarm:22") == oblast_body
    assert body("ukrainealarm:within:22") == oblast_body
    # A raion inside hears of its oblast's alert, as its own model.
    [(_, raion_body)] = webhook_payloads(event, state, ids, (str(raion.api_id),))
    assert body(f"ukrainealarm:{raion.api_id}") == raion_body != oblast_body
    # Elsewhere: nothing to send.
    assert body("ukrainealarm:31") is None and body("ukrainealarm:within:31") is None
    assert body("ukrainealarm:123456") is None  # an id this catalogue does not know
    exercise = service.handle(
        ADMIN,
        Declare.of(regions=[oblast.code], status="exercise", type="air_raid"),
    ).events[0]
    assert renderer("ukrainealarm:22")(exercise, service.state) is None
    # Withdrawn (declared in error): sent, as the region without it.
    withdrawn = service.handle(
        ADMIN,
        EndAlert.of(withdraw=True),
        event.payload["alert_id"],
    ).events[0]
    payload = renderer("ukrainealarm:22")(withdrawn, service.state)
    assert payload is not None and json.loads(payload.body)["activeAlerts"] == []
    with pytest.raises(KeyError):
        renderer("nothing:22")
    # /api/v1/webhooks offers only the plain formats; these are the façade's.
    assert "ukrainealarm:22" not in FORMATS


def test_subscriptions_follow_their_registration(service: Service, storage: SQLiteStorage,
                                                 catalogue: Catalogue) -> None:
    kyiv = by_api_id(catalogue, 31)
    every = put(storage, None)
    assert every.new_secret == "whsec_x" and len(every.subscriptions) == 27
    assert {s.regions for s in every.subscriptions} == {(r.code,) for r in catalogue.top_level()}
    named = put(storage, ("31", "22"))
    assert named.new_secret is None  # the registration keeps its secret
    assert sorted(s.format for s in named.subscriptions) == ["ukrainealarm:22",
                                                             "ukrainealarm:31"]
    [for_kyiv] = [s for s in named.subscriptions if s.format == "ukrainealarm:31"]
    assert for_kyiv.kinds == ("alert.*",) and for_kyiv.owner == "app"

    # No worker runs: the declaration's delivery stays pending.
    service.handle(ADMIN, Declare.of(regions=[kyiv.code], type="air_raid"))
    seq = service.state.seq
    assert delivery_states(storage) == [(for_kyiv.id, seq, "pending")]
    # Posted again, as apps do on every start: the same subscriptions, nothing lost.
    again = put(storage, ("31", "22"))
    assert [s.id for s in again.subscriptions] == [s.id for s in named.subscriptions]
    assert delivery_states(storage) == [(for_kyiv.id, seq, "pending")]
    # Moved to a new URL: the same subscription, its pending delivery going there now.
    with storage.writer() as tx:
        registrations = tx.ukrainealarm_registrations()
        current = registrations.get("app", URL)
        assert current is not None
        moved = registrations.move(current, URL + "/new", ("31",), "2024-01-01T00:00:01Z",
                                   URL + "/new", deliveries(CompatIds.of(catalogue), ("31",)),
                                   "whsec_y")
    assert [(s.id, s.url) for s in moved.subscriptions] == [(for_kyiv.id, URL + "/new")]
    assert moved.new_secret is None
    assert delivery_states(storage) == [(for_kyiv.id, seq, "pending")]
    # Deleted: the pending delivery is cancelled, and nothing more is queued.
    with storage.writer() as tx:
        gone = tx.ukrainealarm_registrations().delete("app", URL + "/new", "2024-01-01T00:00:02Z")
    assert gone is not None and gone[1] == (for_kyiv.id,)
    assert delivery_states(storage) == [(for_kyiv.id, seq, "cancelled")]
    service.handle(ADMIN, Declare.of(regions=[kyiv.code], type="artillery_shelling"))
    assert len(delivery_states(storage)) == 1
