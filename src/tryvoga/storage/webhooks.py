"""Webhook subscriptions, the delivery outbox and the attempt log, on either engine.

These tables hold secrets, so they are not public-log events; creating, deleting and disabling a
subscription goes to the audit log instead. The tables come from migration 2 in ``sqlite.py``.

Every function here runs on a connection the caller already holds inside a transaction (the
event writer's, for ``outbox_add``; the delivery store's own for the rest), so a change and its
audit record commit together.

A delivery row is ``pending`` until it is ``delivered``, ``failed`` (given up after the retry
window) or ``cancelled`` (its subscription was deleted or disabled). A worker claims a pending
row by moving its ``due`` time forward by the lease and writing its claim token into
``lease_owner`` in one conditional UPDATE; a crashed worker's rows fall due again when the
lease runs out, and a slow worker's late answer is ignored if someone else claimed the row
since (every write back is conditional on the claim token).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tryvoga.storage.base import WebhookRecord
from tryvoga.storage.engine import Conn

MIGRATION: list[str] = [
    """CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        regions TEXT NOT NULL,
        types TEXT NOT NULL,
        kinds TEXT NOT NULL,
        format TEXT NOT NULL,
        description TEXT NOT NULL,
        owner TEXT NOT NULL,
        status TEXT NOT NULL,
        status_reason TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        failing_since REAL,
        last_success REAL)""",
    """CREATE TABLE webhook_payloads (
        event_seq INTEGER NOT NULL,
        format TEXT NOT NULL,
        content_type TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (event_seq, format))""",
    """CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY,
        webhook TEXT NOT NULL,
        event_seq INTEGER NOT NULL,
        format TEXT NOT NULL,
        state TEXT NOT NULL,
        created REAL NOT NULL,
        due REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        last_status INTEGER,
        last_error TEXT,
        finished REAL,
        UNIQUE (webhook, event_seq))""",
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (due) WHERE state = 'pending'",
    """CREATE TABLE webhook_attempts (
        id INTEGER PRIMARY KEY,
        delivery INTEGER NOT NULL,
        webhook TEXT NOT NULL,
        event_seq INTEGER NOT NULL,
        time TEXT NOT NULL,
        status INTEGER,
        latency_ms REAL NOT NULL,
        error TEXT,
        worker TEXT NOT NULL)""",
    "CREATE INDEX webhook_attempts_by_webhook ON webhook_attempts (webhook, id)",
    "CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery)",
    # Bumped by every change to a subscription, so that each process's cached filters are
    # reloaded inside the next event transaction that could need them.
    "INSERT OR REPLACE INTO meta (key, value) VALUES ('webhooks_version', '0')",
]

# Migration 7: the retry each attempt scheduled, so that an attempt shows when the next one was
# due after it (NULL after a success, or after the last try), not the delivery's due time of the
# moment, which moves on and during an attempt is the lease's end.
ATTEMPT_SCHEDULE: list[str] = [
    "ALTER TABLE webhook_attempts ADD COLUMN next_attempt REAL",
]

# Migration 10 (issue 15): subscriptions that share one body per event (the ukrainealarm
# façade's: the format alone says which events they hear and what they are sent) get one
# fan-out row per event and format inside the event's transaction, whatever their number; the
# worker turns it into delivery rows later, in bounded transactions of its own (``fan_out``).
# ``upto`` is the last subscription row that existed when the event was written (a
# subscription made later does not get it); ``after`` is how far the fan-out has come.
# Subscriptions are ordered by ``rowid``: SQLite's own, a bigserial column on PostgreSQL.
SHARED_PREFIX = "ukrainealarm:"
FANOUT: list[str] = [
    """CREATE TABLE webhook_fanout (
        id INTEGER PRIMARY KEY,
        event_seq INTEGER NOT NULL,
        format TEXT NOT NULL,
        due REAL NOT NULL,
        upto INTEGER NOT NULL,
        after INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX webhooks_by_format ON webhooks (format, status)",
]
FANOUT_POSTGRES: list[str] = [
    "ALTER TABLE webhooks ADD COLUMN rowid BIGSERIAL",
    """CREATE TABLE webhook_fanout (
        id BIGSERIAL PRIMARY KEY,
        event_seq BIGINT NOT NULL,
        format ctext NOT NULL,
        due DOUBLE PRECISION NOT NULL,
        upto BIGINT NOT NULL,
        after BIGINT NOT NULL DEFAULT 0)""",
    "CREATE INDEX webhooks_by_format ON webhooks (format, status)",
]
FANOUT_BATCH = 500  # delivery rows written per fan-out transaction

# Migration 15 (issue 15): deliveries go out in sequence order per subscription. A claim takes
# a row only when every pending row of its subscription with a lower sequence is due as well
# (none is leased to a worker or waiting for a retry) and fewer than ``RUN`` of them are; the
# worker sends a subscription's rows one after the other. Both questions are asked of the
# pending rows of one subscription below a sequence: this index answers them without reading
# the delivered rows that are kept for a week.
ORDERED: list[str] = [
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_pending "
    "ON webhook_deliveries (webhook, event_seq) WHERE state = 'pending'",
    # Claims walk the pending rows oldest event first and stop at their limit; the due time
    # in the index lets them pass rows not due (a queue held behind a retry) without reading
    # the rows themselves.
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_pending_seq "
    "ON webhook_deliveries (event_seq, due) WHERE state = 'pending'",
]
RUN = 8  # rows of one subscription claimed at once (sent one after the other)
# pg_advisory_xact_lock key that orders claims on PostgreSQL: "claims" in ASCII.
CLAIM_LOCK = 0x636C61696D73

COLUMNS = _COLUMNS = ("id, url, regions, types, kinds, format, description, owner, status, "
            "status_reason, created, updated, failing_since")


def record_of(row: Sequence[Any]) -> WebhookRecord:
    """A subscription from a row of ``COLUMNS``."""
    return _record(row)


def _record(row: Sequence[Any]) -> WebhookRecord:
    return WebhookRecord(
        id=row[0], url=row[1], regions=tuple(json.loads(row[2])),
        types=tuple(json.loads(row[3])), kinds=tuple(json.loads(row[4])), format=row[5],
        description=row[6], owner=row[7], status=row[8], status_reason=row[9], created=row[10],
        updated=row[11], failing_since=row[12])


# ---- subscriptions -----------------------------------------------------------------------------

def version(conn: Conn) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'webhooks_version'").fetchone()
    return 0 if row is None else int(row[0])


def bump_version(conn: Conn) -> None:
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                 "WHERE key = 'webhooks_version'")


def insert(conn: Conn, record: WebhookRecord, secret: str) -> None:
    conn.execute(
        f"INSERT INTO webhooks ({_COLUMNS}, secret) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?)",
        (record.id, record.url, json.dumps(list(record.regions)),
         json.dumps(list(record.types)), json.dumps(list(record.kinds)), record.format,
         record.description, record.owner, record.status, record.status_reason, record.created,
         record.updated, record.failing_since, secret))
    bump_version(conn)


def get(conn: Conn, webhook_id: str) -> WebhookRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM webhooks WHERE id = ?",
                       (webhook_id,)).fetchone()
    return None if row is None else _record(row)


def listed(conn: Conn, *, include_deleted: bool = False) -> list[WebhookRecord]:
    where = "" if include_deleted else " WHERE status != 'deleted'"
    rows = conn.execute(f"SELECT {_COLUMNS} FROM webhooks{where} ORDER BY created, id")
    return [_record(r) for r in rows.fetchall()]


def active(conn: Conn) -> list[WebhookRecord]:
    """The active subscriptions matched one by one (not those of a shared format)."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM webhooks WHERE status = 'active' "
                        "AND substr(format, 1, ?) != ?", (len(SHARED_PREFIX), SHARED_PREFIX))
    return [_record(r) for r in rows.fetchall()]


def shared_formats(conn: Conn) -> list[str]:
    """The shared formats (``SHARED_PREFIX``) that at least one active subscription has."""
    rows = conn.execute("SELECT DISTINCT format FROM webhooks WHERE format >= ? AND format < ? "
                        "AND status = 'active'", (SHARED_PREFIX, SHARED_PREFIX[:-1] + ";"))
    return sorted(r[0] for r in rows.fetchall())


def secrets_of(conn: Conn, ids: Iterable[str]) -> dict[str, tuple[str, str, str]]:
    """id -> (url, secret, status) for the given subscriptions."""
    out: dict[str, tuple[str, str, str]] = {}
    wanted = list(ids)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT id, url, secret, status FROM webhooks "
                                f"WHERE id IN ({marks})", chunk).fetchall():
            out[row[0]] = (row[1], row[2], row[3])
    return out


def set_status(conn: Conn, webhook_id: str, status: str, reason: str | None,
               time: str, *, only_from: str | None = None) -> bool:
    """Move a subscription to ``status``; pending deliveries are cancelled. False if no row
    changed (unknown id, or not in ``only_from``)."""
    sql = "UPDATE webhooks SET status = ?, status_reason = ?, updated = ?"
    params: list[Any] = [status, reason, time]
    if status == "deleted":
        sql += ", secret = ''"  # a deleted subscription's secret is of no further use
    sql += " WHERE id = ? AND status != 'deleted'"
    params.append(webhook_id)
    if only_from is not None:
        sql += " AND status = ?"
        params.append(only_from)
    if conn.execute(sql, params).rowcount == 0:
        return False
    if status != "active":
        conn.execute("UPDATE webhook_deliveries SET state = 'cancelled', lease_owner = NULL, "
                     "last_error = COALESCE(last_error, ?) "
                     "WHERE webhook = ? AND state = 'pending'",
                     (f"subscription {status}", webhook_id))
    bump_version(conn)
    return True


# ---- the outbox --------------------------------------------------------------------------------

def outbox_add(conn: Conn, event_seq: int, format_name: str, content_type: str,
               body: bytes, webhook_ids: Sequence[str], due: float) -> None:
    conn.execute("INSERT INTO webhook_payloads (event_seq, format, content_type, body) "
                 "VALUES (?, ?, ?, ?) ON CONFLICT (event_seq, format) DO UPDATE SET "
                 "content_type = excluded.content_type, body = excluded.body",
                 (event_seq, format_name, content_type, body))
    conn.executemany(
        "INSERT INTO webhook_deliveries (webhook, event_seq, format, state, created, "
        "due) VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
        [(webhook_id, event_seq, format_name, due, due) for webhook_id in webhook_ids])


def outbox_fanout(conn: Conn, event_seq: int, format_name: str, content_type: str,
                  body: bytes, due: float) -> None:
    """One row for every subscription of a shared format, whatever their number."""
    conn.execute("INSERT INTO webhook_payloads (event_seq, format, content_type, body) "
                 "VALUES (?, ?, ?, ?) ON CONFLICT (event_seq, format) DO UPDATE SET "
                 "content_type = excluded.content_type, body = excluded.body",
                 (event_seq, format_name, content_type, body))
    conn.execute("INSERT INTO webhook_fanout (event_seq, format, due, upto) "
                 "VALUES (?, ?, ?, (SELECT COALESCE(MAX(rowid), 0) FROM webhooks))",
                 (event_seq, format_name, due))


def fan_out(conn: Conn, budget: int = FANOUT_BATCH) -> int:
    """Turn fan-out rows into delivery rows, oldest first, at most ``budget`` of them (and a
    row's leftovers wait for the next call). Returns how many were written. On PostgreSQL a
    row another worker is fanning out is skipped (``FOR UPDATE SKIP LOCKED``)."""
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgres" else ""
    written = 0
    while written < budget:
        row = conn.execute("SELECT id, event_seq, format, due, upto, after FROM webhook_fanout "
                           "ORDER BY id LIMIT 1" + lock).fetchone()
        if row is None:
            break
        fan_id, seq, format_name, due, upto, after = row
        room = budget - written
        subs = conn.execute("SELECT rowid, id FROM webhooks WHERE format = ? AND "
                            "status = 'active' AND rowid > ? AND rowid <= ? ORDER BY rowid "
                            "LIMIT ?", (format_name, after, upto, room)).fetchall()
        conn.executemany(
            "INSERT INTO webhook_deliveries (webhook, event_seq, format, state, created, "
            "due) VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
            [(sub[1], seq, format_name, due, due) for sub in subs])
        written += len(subs)
        if len(subs) < room:
            conn.execute("DELETE FROM webhook_fanout WHERE id = ?", (fan_id,))
        else:
            conn.execute("UPDATE webhook_fanout SET after = ? WHERE id = ?",
                         (subs[-1][0], fan_id))
    return written


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    webhook: str
    event_seq: int
    format: str
    attempts: int
    created: float


def claim(conn: Conn, owner: str, now: float, lease_until: float,
          limit: int) -> list[Claimed]:
    """Claim up to ``limit`` due rows for ``owner`` until ``lease_until``, after fanning
    out a bounded number of shared rows (``fan_out``).

    Order per subscription: a row is taken only if every pending row of its subscription
    with a lower sequence is due too, and fewer than ``RUN`` of them are; rows are taken
    oldest event first, so what one claim takes of a subscription is always the start of its
    queue, and nobody else can take a later row while any of it is leased (the leased rows
    are not due) or waiting for a retry (not due either). The worker sends them in sequence
    and gives back the rest of a run when one fails (``release_rows``).

    The UPDATE repeats the row's own conditions, so a row written back or released between
    the SELECT and the write is not taken. On PostgreSQL, where claims do not take the write
    lock, claims take an advisory lock of their own (for one short transaction) so that two
    never decide on the same queue from the same snapshot, and the SELECT skips rows a
    write-back holds (``FOR UPDATE SKIP LOCKED``).
    """
    fan_out(conn)
    lock = ""
    if conn.dialect == "postgres":
        conn.execute("SELECT pg_advisory_xact_lock(?)", (CLAIM_LOCK,))
        lock = " FOR UPDATE SKIP LOCKED"
    # Two statements: PostgreSQL may run a LIMIT subquery of an UPDATE again for each row
    # it updates (a claim of 1 took 6 rows), so the rows are chosen first, then leased.
    chosen = [row[0] for row in conn.execute(
        "SELECT d.id FROM webhook_deliveries d WHERE d.state = 'pending' AND d.due <= ? "
        "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.webhook = d.webhook "
        "AND p.state = 'pending' AND p.event_seq < d.event_seq AND p.due > ?) "
        "AND (SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries q "
        "WHERE q.webhook = d.webhook AND q.state = 'pending' AND q.event_seq < d.event_seq "
        f"LIMIT {RUN}) AS earlier) < {RUN} ORDER BY d.event_seq LIMIT ?{lock}",
        (now, now, limit)).fetchall()][:limit]
    rows: list[Any] = []
    for start in range(0, len(chosen), 500):
        part = chosen[start:start + 500]
        rows.extend(conn.execute(
            "UPDATE webhook_deliveries SET lease_owner = ?, due = ? WHERE id IN "
            f"({', '.join('?' * len(part))}) AND state = 'pending' AND due <= ? "
            "RETURNING id, webhook, event_seq, format, attempts, created",
            (owner, lease_until, *part, now)).fetchall())
    return sorted((Claimed(*row) for row in rows), key=lambda c: (c.webhook, c.event_seq))


def release_rows(conn: Conn, rows: Sequence[tuple[int, str, float]]) -> None:
    """Give back claimed rows that were not attempted (id, claim token, due): the rest of a
    subscription's run after a failed attempt, due with that attempt's retry."""
    conn.executemany("UPDATE webhook_deliveries SET due = ?, lease_owner = NULL "
                     "WHERE id = ? AND lease_owner = ? AND state = 'pending'",
                     [(due, row_id, owner) for row_id, owner, due in rows])


def payloads(conn: Conn,
             keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], tuple[str, bytes]]:
    out: dict[tuple[int, str], tuple[str, bytes]] = {}
    for seq, format_name in set(keys):
        row = conn.execute("SELECT content_type, body FROM webhook_payloads "
                           "WHERE event_seq = ? AND format = ?", (seq, format_name)).fetchone()
        if row is not None:
            out[(seq, format_name)] = (row[0], bytes(row[1]))
    return out


def next_due(conn: Conn) -> float | None:
    row = conn.execute("SELECT MIN(due) FROM (SELECT MIN(due) AS due FROM webhook_deliveries "
                       "WHERE state = 'pending' UNION ALL SELECT MIN(due) AS due FROM "
                       "webhook_fanout) AS dues").fetchone()
    return None if row is None or row[0] is None else float(row[0])


def release(conn: Conn, owners: Iterable[str], now: float) -> int:
    """Make rows claimed by ``owners`` due now (their worker is gone or let them go)."""
    count = 0
    for owner in owners:
        count += conn.execute("UPDATE webhook_deliveries SET due = ?, lease_owner = NULL "
                              "WHERE state = 'pending' AND lease_owner = ?",
                              (now, owner)).rowcount
    return count


def lease_owners(conn: Conn, now: float) -> list[str]:
    rows = conn.execute("SELECT DISTINCT lease_owner FROM webhook_deliveries "
                        "WHERE state = 'pending' AND due > ? AND lease_owner IS NOT NULL",
                        (now,)).fetchall()
    return [r[0] for r in rows]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to, ready to be written back."""

    delivery: int
    webhook: str
    event_seq: int
    owner: str
    time: str
    status: int | None
    latency_ms: float
    error: str | None
    delivered: bool
    give_up: bool
    next_due: float
    worker: str


def record(conn: Conn, outcomes: Sequence[Outcome], now: float) -> None:
    """Write back attempts; every update is conditional on the claim still being ours."""
    conn.executemany(
        "INSERT INTO webhook_attempts (delivery, webhook, event_seq, time, status, latency_ms, "
        "error, worker, next_attempt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(o.delivery, o.webhook, o.event_seq, o.time, o.status, round(o.latency_ms, 3),
          o.error, o.worker, None if o.delivered or o.give_up else o.next_due)
         for o in outcomes])
    conn.executemany(
        "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, "
        "last_status = ?, last_error = NULL, finished = ?, lease_owner = NULL "
        "WHERE id = ? AND lease_owner = ? AND state = 'pending'",
        [(o.status, now, o.delivery, o.owner) for o in outcomes if o.delivered])
    conn.executemany(
        "UPDATE webhook_deliveries SET state = 'failed', attempts = attempts + 1, "
        "last_status = ?, last_error = ?, finished = ?, lease_owner = NULL "
        "WHERE id = ? AND lease_owner = ? AND state = 'pending'",
        [(o.status, o.error, now, o.delivery, o.owner) for o in outcomes
         if not o.delivered and o.give_up])
    conn.executemany(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?, "
        "last_error = ?, due = ?, lease_owner = NULL "
        "WHERE id = ? AND lease_owner = ? AND state = 'pending'",
        [(o.status, o.error, o.next_due, o.delivery, o.owner) for o in outcomes
         if not o.delivered and not o.give_up])
    # The rest of a failed delivery's queue waits for its retry (it could not be taken before
    # anyway): moving it out of the due range keeps claims from reading a long queue behind a
    # receiver that is down, at every claim (once per failed attempt instead).
    conn.executemany(
        "UPDATE webhook_deliveries SET due = ? WHERE webhook = ? AND state = 'pending' "
        "AND event_seq > ? AND lease_owner IS NULL AND due < ?",
        [(o.next_due, o.webhook, o.event_seq, o.next_due) for o in outcomes
         if not o.delivered and not o.give_up])
    succeeded = {o.webhook for o in outcomes if o.delivered}
    failed = {o.webhook for o in outcomes if not o.delivered} - succeeded
    conn.executemany("UPDATE webhooks SET failing_since = NULL, last_success = ? "
                     "WHERE id = ?", [(now, w) for w in succeeded])
    conn.executemany("UPDATE webhooks SET failing_since = ? "
                     "WHERE id = ? AND failing_since IS NULL",
                     [(now, w) for w in failed])


def failed_for_window(conn: Conn, ids: Iterable[str], since: float) -> list[str]:
    """Active subscriptions among ``ids`` (each just gave up a delivery retried for a whole
    window) that have not had one success since ``since`` either."""
    out = []
    for webhook_id in ids:
        row = conn.execute("SELECT 1 FROM webhooks WHERE id = ? AND status = 'active' AND "
                           "(last_success IS NULL OR last_success <= ?)",
                           (webhook_id, since)).fetchone()
        if row is not None:
            out.append(webhook_id)
    return out


def cancel_orphans(conn: Conn, ids: Sequence[int], owner: str, reason: str,
                   now: float) -> None:
    """Rows whose subscription or payload is gone: nothing to send, ever."""
    conn.executemany("UPDATE webhook_deliveries SET state = 'cancelled', last_error = ?, "
                     "finished = ?, lease_owner = NULL WHERE id = ? AND lease_owner = ?",
                     [(reason, now, i, owner) for i in ids])


# ---- reading back ------------------------------------------------------------------------------

def attempts(conn: Conn, webhook_id: str, limit: int,
             before: int | None = None) -> list[dict[str, Any]]:
    sql = ("SELECT a.id, a.delivery, a.event_seq, a.time, a.status, a.latency_ms, a.error, "
           "d.state, a.next_attempt FROM webhook_attempts a JOIN webhook_deliveries d "
           "ON d.id = a.delivery WHERE a.webhook = ?")
    params: list[Any] = [webhook_id]
    if before is not None:
        sql += " AND a.id < ?"
        params.append(before)
    sql += " ORDER BY a.id DESC LIMIT ?"
    params.append(limit)
    return [{"id": r[0], "delivery": r[1], "event_seq": r[2], "time": r[3], "status": r[4],
             "latency_ms": r[5], "error": r[6], "delivery_state": r[7], "next_attempt": r[8]}
            for r in conn.execute(sql, params).fetchall()]


def counts(conn: Conn, webhook_id: str) -> dict[str, int]:
    rows = conn.execute("SELECT state, COUNT(*) FROM webhook_deliveries WHERE webhook = ? "
                        "GROUP BY state", (webhook_id,)).fetchall()
    found = {r[0]: int(r[1]) for r in rows}
    return {s: found.get(s, 0) for s in ("pending", "delivered", "failed", "cancelled")}


def prune(conn: Conn, before: float) -> int:
    """Forget finished deliveries (and their attempts and bodies) that finished long ago."""
    conn.execute("DELETE FROM webhook_attempts WHERE delivery IN (SELECT id FROM "
                 "webhook_deliveries WHERE state != 'pending' AND finished < ?)", (before,))
    gone = conn.execute("DELETE FROM webhook_deliveries WHERE state != 'pending' AND "
                        "finished < ?", (before,)).rowcount
    # Only pending deliveries need a body; the oldest of them bounds what must stay.
    row = conn.execute("SELECT MIN(seq) FROM (SELECT MIN(event_seq) AS seq FROM "
                       "webhook_deliveries WHERE state = 'pending' UNION ALL "
                       "SELECT MIN(event_seq) AS seq FROM webhook_fanout) AS seqs").fetchone()
    keep_from = row[0] if row and row[0] is not None else None
    if keep_from is None:
        conn.execute("DELETE FROM webhook_payloads WHERE event_seq <= (SELECT COALESCE("
                     "MAX(seq), 0) FROM events)")
    else:
        conn.execute("DELETE FROM webhook_payloads WHERE event_seq < ?", (keep_from,))
    return gone
