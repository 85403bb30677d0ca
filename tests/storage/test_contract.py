"""The storage contract, the same tests on both engines (``backend`` is SQLite, then
PostgreSQL in a database of its own): the event log and its chain, idempotency, tokens, audit,
the webhook outbox and claims, imported history, proposals, ukrainealarm registrations, and
several writers on one database."""

from __future__ import annotations

import contextlib
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tryvoga.api.formats import outbox
from tryvoga.commands import Declare, EndAlert, EndByRegion
from tryvoga.delivery.safety import Policy
from tryvoga.delivery.subscriptions import Webhooks
from tryvoga.domain.events import first_broken_link
from tryvoga.domain.regions import Catalogue
from tryvoga.errors import Conflict, StorageError, Unauthorized
from tryvoga.service import Actor, Service
from tryvoga.storage.compat_webhooks import Delivery
from tryvoga.storage.delivery import DeliveryStore
from tryvoga.storage.history import HistoryBatch, HistoryFilter, HistoryReader, HistoryRow
from tryvoga.storage.proposals import ProposalReader
from tryvoga.storage.transfer import check_chains

from ..regions import KYIV
from .conftest import Backend

LVIV = "UA46000000000026241"
ADMIN = Actor("admin")
OBLASTS = ["UA05000000000010236", "UA07000000000024379", "UA12000000000090473",
           "UA14000000000091971"]


def test_appends_are_gap_free_and_chained(backend: Backend, catalogue: Catalogue) -> None:
    storage = backend.open()
    service = Service(storage, catalogue, outbox=outbox(catalogue))
    for _ in range(3):
        alert_id = service.handle(
            ADMIN,
            Declare.of(regions=[KYIV], type="air_raid"),
        ).body["alerts"][0]["id"]
        service.handle(ADMIN, EndAlert.of(), alert_id)
    events = storage.read_events()
    assert [e.seq for e in events] == list(range(1, 7))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert first_broken_link(events) is None
    assert storage.head() == (6, events[-1].hash) == storage.recorded_head()
    assert [e.seq for e in storage.read_events(2, 3)] == [3, 4, 5]
    assert [e.seq for e in storage.iter_events(1, batch=2)] == [2, 3, 4, 5, 6]
    # What was read back is what was written, payload and all.
    assert [e.to_json() for e in backend.open().read_events()] == [e.to_json() for e in events]


def test_a_tampered_event_breaks_the_chain(backend: Backend, catalogue: Catalogue) -> None:
    service = Service(backend.open(), catalogue, outbox=outbox(catalogue))
    for _ in range(3):
        service.handle(ADMIN, Declare.of(regions=[KYIV], type="air_raid"))
        service.handle(ADMIN, EndByRegion.of(region=KYIV, type="air_raid"))
    backend.execute("UPDATE events SET actor = ? WHERE seq = 4", ("mallory",))
    report = check_chains(backend.open())
    assert report.broken is not None and "sequence 4" in report.broken


def test_events_cut_from_the_end_are_noticed(backend: Backend, catalogue: Catalogue) -> None:
    service = Service(backend.open(), catalogue, outbox=outbox(catalogue))
    service.handle(ADMIN, Declare.of(regions=[KYIV], type="air_raid"))
    service.handle(ADMIN, EndByRegion.of(region=KYIV, type="air_raid"))
    backend.execute("DELETE FROM events WHERE seq = 2")
    report = check_chains(backend.open())
    assert report.broken is not None and "removed from its end" in report.broken


def test_idempotency_applies_once_across_writers(backend: Backend,
                                                 catalogue: Catalogue) -> None:
    a = Service(backend.open(), catalogue, outbox=outbox(catalogue))
    # another node: it has not seen a's command
    b = Service(backend.open(), catalogue, outbox=outbox(catalogue))
    first = a.handle(ADMIN, Declare.of(regions=[KYIV], type="air_raid"), idempotency_key="k1")
    again = b.handle(ADMIN, Declare.of(regions=[KYIV], type="air_raid"), idempotency_key="k1")
    assert first.created and again.replayed and again.body == first.body
    with pytest.raises(Conflict) as info:
        b.handle(ADMIN, Declare.of(regions=[LVIV], type="air_raid"), idempotency_key="k1")
    assert info.value.code == "idempotency_key_reused"
    assert backend.open().head()[0] == 1


def test_the_same_key_at_once_on_several_writers_applies_once(backend: Backend,
                                                             catalogue: Catalogue) -> None:
    services = [Service(backend.open(), catalogue, outbox=outbox(catalogue)) for _ in range(4)]
    start = threading.Barrier(len(services))

    def send(service: Service) -> bool:
        start.wait()
        return service.handle(
            ADMIN,
            Declare.of(regions=[KYIV], type="air_raid"),
            idempotency_key="same",
        ).created

    with ThreadPoolExecutor(len(services)) as pool:
        statuses = list(pool.map(send, services))
    assert statuses == [True] * 4  # the one answer, replayed to the rest
    assert backend.open().head()[0] == 1


def test_concurrent_writers_never_fork_the_log(backend: Backend,
                                               catalogue: Catalogue) -> None:
    services = [Service(backend.open(), catalogue, outbox=outbox(catalogue)) for _ in range(4)]
    codes = [KYIV, LVIV, *OBLASTS]

    def work(index: int) -> None:
        service = services[index % len(services)]
        for round_ in range(6):
            code = codes[(index + round_) % len(codes)]
            result = service.handle(ADMIN, Declare.of(regions=[code], type="air_raid"))
            alert_id = result.body["alerts"][0]["id"]
            with contextlib.suppress(Conflict):  # another writer ended it first
                service.handle(ADMIN, EndAlert.of(), alert_id)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    storage = backend.open()
    report = check_chains(storage)
    assert report.broken is None and report.events == storage.head()[0] > 0
    # Every writer's state is the same projection of the one log.
    for service in services:
        service.catch_up()
    states = {tuple(sorted((a.id, a.active) for a in s.state.alerts.values()))
              for s in services}
    assert len(states) == 1


def test_tokens_and_their_audit(backend: Backend, catalogue: Catalogue) -> None:
    service = Service(backend.open(), catalogue, outbox=outbox(catalogue))
    record, secret = service.create_token("ops", [KYIV], True)
    other_storage = backend.open()
    other = Service(other_storage, catalogue, outbox=outbox(catalogue))
    actor = other.authenticate(secret)
    assert actor.name == "ops" and actor.scopes == (KYIV,) and actor.write
    assert [t.name for t in other.storage.tokens()] == ["ops"]
    service.revoke_token(record.id)
    with pytest.raises(Unauthorized):
        other.authenticate(secret)
    audit = other.storage.audit_records()
    assert [a.seq for a in audit] == list(range(1, len(audit) + 1)) and len(audit) >= 2
    assert check_chains(other_storage).broken is None


def test_webhook_outbox_and_claims_never_twice(backend: Backend,
                                               catalogue: Catalogue) -> None:
    """Four claimers at once: no row is taken twice, and what they take of a subscription
    is the start of its queue (at most ``RUN`` rows), by one claim (deliveries go in sequence
    order: a leased run holds the rest of its queue back until it is written back, here
    never)."""
    from tryvoga.storage.webhooks import RUN

    service = Service(backend.open(), catalogue, outbox=outbox(catalogue))
    hooks = Webhooks(DeliveryStore(backend.database()), catalogue, Policy(["127.0.0.0/8"]))
    webhook_ids = []
    for _ in range(5):
        created = hooks.create(ADMIN, {"url": "http://127.0.0.1:9/hook"})
        assert created.created
        webhook_ids.append(created.body["webhook"]["id"])
    for _ in range(10):
        service.handle(ADMIN, Declare.of(regions=[KYIV], type="air_raid"))
        service.handle(ADMIN, EndByRegion.of(region=KYIV, type="air_raid"))
    stores = [DeliveryStore(backend.database()) for _ in range(4)]
    assert stores[0].counts(webhook_ids[0])["pending"] == 20
    start = threading.Barrier(len(stores))

    def claim(index: int) -> list[tuple[int, str, int]]:
        start.wait()
        taken: list[tuple[int, str, int]] = []
        while True:
            got = stores[index].claim(f"w{index}", 1e12, 2e12, 3)
            if not got:
                return taken
            taken.extend((c.id, c.webhook, c.event_seq) for c in got)

    with ThreadPoolExecutor(len(stores)) as pool:
        claimed = list(pool.map(claim, range(len(stores))))
    every = [row[0] for part in claimed for row in part]
    assert len(every) == len(set(every))
    for webhook_id in webhook_ids:
        takers = [i for i, part in enumerate(claimed) if any(r[1] == webhook_id for r in part)]
        assert len(takers) == 1, takers
        seqs = [r[2] for r in claimed[takers[0]] if r[1] == webhook_id]
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) <= RUN, seqs
    # A claim with room for the whole start of every queue takes it.
    wide = stores[0].claim("wide", 3e12, 4e12, 1000)
    assert len(wide) == 5 * RUN
    payloads = stores[0].payloads([(seq, "native") for seq in range(1, 21)])
    assert len(payloads) == 20 and all(body for _, body in payloads.values())


def test_imported_history(backend: Backend, catalogue: Catalogue) -> None:
    storage = backend.open()
    rows = [HistoryRow(row=i + 2, region=KYIV if i % 2 else LVIV, type="air_raid",
                       started_at=f"2023-05-{10 + i:02d}T00:00:00.000Z",
                       ended_at=f"2023-05-{10 + i:02d}T01:00:00.000Z", source="official",
                       place="place") for i in range(6)]
    batch = HistoryBatch("official", "f.csv", "ab" * 32, 7, rows, [], rows[0].started_at,
                         rows[-1].ended_at)
    with storage.writer() as tx:
        assert tx.history_import(batch.sha256) is None
        event = tx.append("2026-01-01T00:00:00.000Z", "t", "history.imported", {"n": 6})
        assert tx.history_add(event.seq, event.time, batch) == 6
    with storage.writer() as tx:  # the same rows again add nothing
        event = tx.append("2026-01-01T00:00:01.000Z", "t", "history.imported", {"n": 0})
        again = HistoryBatch("official", "g.csv", "cd" * 32, 7, rows, [], None, None)
        assert tx.history_add(event.seq, event.time, again) == 0
    reader = HistoryReader(backend.database())
    assert reader.count() == 6
    assert reader.count(HistoryFilter(regions=frozenset({KYIV}))) == 3
    page = reader.page(HistoryFilter(), None, 4)
    assert [a.started_at for a in page] == sorted((r.started_at for r in rows), reverse=True)[:4]
    assert [i.sha256 for i in reader.imports()] == ["ab" * 32, "cd" * 32]
    reader.close()


def test_statements_and_proposals(backend: Backend) -> None:
    storage = backend.open()
    with storage.writer() as tx:
        statement = tx.statement_add("ef" * 32, "2026-01-01T00:00:00.000Z", "t", "channel",
                                     "text", [], [{"kind": "declare", "region": KYIV},
                                                  {"kind": "end", "region": KYIV}])
        found = tx.statement_by_sha("ef" * 32)
        assert found is not None and found.id == statement
        proposals = tx.proposals_of(statement)
        assert [p.kind for p in proposals] == ["declare", "end"]
        assert tx.proposal_decide(proposals[0].id, "accepted", "2026-01-01T00:00:01.000Z",
                                  "op", "", [1])
        assert not tx.proposal_decide(proposals[0].id, "rejected", "2026-01-01T00:00:02.000Z",
                                      "op", "", [])
    reader = ProposalReader(backend.database())
    assert [p.state for p in reader.list()] == ["pending", "accepted"]
    assert [p.id for p in reader.list("pending")] == [proposals[1].id]
    reader.close()


def test_ukrainealarm_registrations(backend: Backend) -> None:
    storage = backend.open()
    with storage.writer() as tx:
        registrations = tx.ukrainealarm_registrations()
        change = registrations.put("owner", "http://127.0.0.1:9/a", ("31",),
                                   "2026-01-01T00:00:00.000Z", "http://127.0.0.1:9/a",
                                   [Delivery(KYIV, "ukrainealarm:31")], "whsec_x")
        assert change.new_secret == "whsec_x" and len(change.subscriptions) == 1
        again = registrations.put("owner", "http://127.0.0.1:9/a", None,
                                  "2026-01-01T00:00:01.000Z", "http://127.0.0.1:9/a",
                                  [Delivery(KYIV, "ukrainealarm:31")], "whsec_y")
        assert again.new_secret is None and again.record.region_ids is None
        assert [r.url for r in registrations.listing("owner")] == ["http://127.0.0.1:9/a"]
        gone = registrations.delete("owner", "http://127.0.0.1:9/a", "2026-01-01T00:00:02Z")
        assert gone is not None and len(gone[1]) == 1
        assert registrations.listing() == []


def test_a_newer_schema_is_refused(backend: Backend) -> None:
    backend.open().close()
    backend.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", ("999",))
    with pytest.raises(StorageError) as info:
        backend.open()
    assert info.value.code == "schema_too_new"


def test_delivery_bookkeeping(backend: Backend, catalogue: Catalogue) -> None:
    from tryvoga.storage.webhooks import Outcome

    service = Service(backend.open(), catalogue, outbox=outbox(catalogue))
    store = DeliveryStore(backend.database())
    hooks = Webhooks(store, catalogue, Policy(["127.0.0.0/8"]))
    webhook_id = hooks.create(ADMIN, {"url": "http://127.0.0.1:9/hook"}).body["webhook"]["id"]
    for _ in range(2):
        service.handle(ADMIN, Declare.of(regions=[KYIV], type="air_raid"))
        service.handle(ADMIN, EndByRegion.of(region=KYIV, type="air_raid"))
    now = 1_000.0
    claimed = store.claim("w1", 1e12, 1e12 + 60, 10)
    assert len(claimed) == 4 and store.lease_owners(1e12) == ["w1"]

    def outcome(index: int, delivered: bool, give_up: bool = False) -> Outcome:
        c = claimed[index]
        return Outcome(delivery=c.id, webhook=c.webhook, event_seq=c.event_seq, owner="w1",
                       time="2026-01-01T00:00:00.000Z", status=200 if delivered else 500,
                       latency_ms=1.5, error=None if delivered else "HTTP 500",
                       delivered=delivered, give_up=give_up, next_due=now + 10, worker="w1")

    disabled = store.record([outcome(0, True), outcome(1, False)], now, 86400.0,
                            "2026-01-01T00:00:00.000Z", "worker")
    assert disabled == []
    counts = store.counts(webhook_id)
    assert counts["delivered"] == 1 and counts["pending"] == 3
    attempts = store.attempts(webhook_id, 10)
    assert [a["status"] for a in attempts] == [500, 200]
    assert attempts[0]["next_attempt"] == now + 10 and attempts[1]["next_attempt"] is None
    assert store.next_due() == now + 10
    assert store.release(["w1"], now) == 2  # the two still leased to w1 fall due now
    assert store.prune(now + 1) == 1  # the delivered one, finished before then
    assert store.counts(webhook_id)["delivered"] == 0
    assert store.set_status(webhook_id, "deleted", "gone", "2026-01-01T00:00:01.000Z",
                            "admin", "webhook.deleted")
    assert store.counts(webhook_id)["cancelled"] == 3
    store.close()


def test_a_failed_delivery_holds_its_queue_until_its_retry(backend: Backend,
                                                           catalogue: Catalogue) -> None:
    """In sequence order: nothing after a failed delivery of a subscription is taken before
    the failed one is retried, and then it comes first; the rest of its queue is moved out of
    the due range meanwhile (claims do not read it)."""
    from tryvoga.storage.webhooks import Outcome

    service = Service(backend.open(), catalogue, outbox=outbox(catalogue))
    store = DeliveryStore(backend.database())
    hooks = Webhooks(store, catalogue, Policy(["127.0.0.0/8"]))
    hooks.create(ADMIN, {"url": "http://127.0.0.1:9/hook"})
    for _ in range(3):
        service.handle(ADMIN, Declare.of(regions=[KYIV], type="air_raid"))
        service.handle(ADMIN, EndByRegion.of(region=KYIV, type="air_raid"))
    now = 1e12
    first = store.claim("w1", now, now + 60, 1)
    assert [c.event_seq for c in first] == [1]
    store.record([Outcome(delivery=first[0].id, webhook=first[0].webhook, event_seq=1,
                          owner="w1", time="2026-01-01T00:00:00.000Z", status=500,
                          latency_ms=1.0, error="HTTP 500", delivered=False, give_up=False,
                          next_due=now + 100, worker="w1")], now, 86400.0,
                 "2026-01-01T00:00:00.000Z", "worker")
    assert store.claim("w2", now + 99, now + 160, 10) == []
    assert store.next_due() == now + 100  # the queue behind it was moved to the retry
    again = store.claim("w2", now + 100, now + 160, 10)
    assert [c.event_seq for c in again] == [1, 2, 3, 4, 5, 6]
