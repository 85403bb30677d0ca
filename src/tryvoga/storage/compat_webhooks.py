"""Webhook registrations made through the ukrainealarm façade (``/api/v3/webhook``).

A registration is a callback URL and the ukrainealarm region ids it wants (``None``: every
region), owned by the token that made it. It is not a public-log event (the URL may carry a
secret); every change is written to the audit log in the same transaction. The table comes from
migration 5 in ``sqlite.py``.

A registration is delivered by the webhook machinery (``delivery/``): it owns one delivery
subscription (a row of ``webhooks``, ``storage/webhooks.py``) per body it needs, each with a
format of the ``ukrainealarm:`` family (``api/ukrainealarm_webhooks.py`` says which), and they
are created, changed and deleted here, in the registration's own transaction. A subscription
names its registration in its description; its secret is the registration's signing secret.

Every function runs on a connection the caller already holds inside a write transaction.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tryvoga.storage import webhooks
from tryvoga.storage.base import WebhookRecord
from tryvoga.storage.engine import Conn

MIGRATION: list[str] = [
    """CREATE TABLE compat_webhooks (
        id INTEGER PRIMARY KEY,
        owner TEXT NOT NULL,
        url TEXT NOT NULL,
        region_ids TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        UNIQUE (owner, url))""",
]

# Migration 11 (issue 15): what a token makes is owned by the token's id ("token:<id>", see
# ``Actor.principal``), not its name, which a new token may reuse once the old one is revoked.
# Existing rows go to the token of that name made last before them.
OWNER_BY_TOKEN: list[str] = [
    f"""UPDATE {table} SET owner = 'token:' || (
            SELECT t.id FROM tokens t WHERE t.name = {table}.owner
            AND t.created <= {table}.created ORDER BY t.created DESC LIMIT 1)
        WHERE EXISTS (SELECT 1 FROM tokens t WHERE t.name = {table}.owner
                      AND t.created <= {table}.created)"""
    for table in ("compat_webhooks", "webhooks")
]

# Migration 15 (issue 15, defect 1): a registration finds its subscriptions by their
# description, inside the write transaction, twice per registration. Without an index that
# was a scan of every subscription (27 per registration): 769 registrations made each new one
# cost tens of milliseconds on the one writer, and a declaration queued behind 16 of them took
# 565 ms instead of 3 (bench/abuse.py ``webhook_registrations``). With it the cost no longer
# grows with the number of registrations.
BY_REGISTRATION: list[str] = [
    "CREATE INDEX IF NOT EXISTS webhooks_by_description ON webhooks (description)",
]

FAMILY = "ukrainealarm:"  # the formats of the registrations' subscriptions
KINDS = ("alert.*",)  # a registration hears of alerts only
# A registration's subscriptions that are not deleted: (description, FAMILY, the end of the
# FAMILY range). ``description`` equality and a range on ``format`` (not LIKE, which SQLite
# matches without regard to case, row by row): ``webhooks_by_description`` answers it from the
# registration's own rows, however many others there are.
SUBSCRIPTIONS = (f"SELECT {webhooks.COLUMNS} FROM webhooks WHERE description = ? "
                 "AND format >= ? AND format < ? AND status != 'deleted' ORDER BY format, id")


@dataclass(frozen=True, slots=True)
class CompatWebhook:
    id: int
    owner: str
    url: str
    region_ids: tuple[str, ...] | None  # ukrainealarm ids; None: every region
    created: str
    updated: str

    def to_json(self) -> dict[str, Any]:
        return {"webHookUrl": self.url,
                "regionIds": None if self.region_ids is None else list(self.region_ids),
                "createdAt": self.created, "updatedAt": self.updated}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery subscription a registration needs."""

    region: str  # KATOTTG code: the subscription's region filter
    format: str  # e.g. "ukrainealarm:22": what its bodies are


@dataclass(frozen=True, slots=True)
class Change:
    """A registration after a change, with its live subscriptions."""

    record: CompatWebhook
    subscriptions: tuple[WebhookRecord, ...]
    new_secret: str | None  # the signing secret, when this change made it


_COLUMNS = "id, owner, url, region_ids, created, updated"


def _record(row: tuple[Any, ...]) -> CompatWebhook:
    ids = None if row[3] is None else tuple(json.loads(row[3]))
    return CompatWebhook(row[0], row[1], row[2], ids, row[4], row[5])


def _ids_text(region_ids: tuple[str, ...] | None) -> str | None:
    return None if region_ids is None else json.dumps(list(region_ids))


def description(registration_id: int) -> str:
    """What ties a subscription to its registration (and says so in ``tryvoga webhook list``)."""
    return f"ukrainealarm registration {registration_id}"


class Registrations:
    """The registrations on a connection the caller holds inside a write transaction."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def get(self, owner: str, url: str) -> CompatWebhook | None:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM compat_webhooks "
                                "WHERE owner = ? AND url = ?", (owner, url)).fetchone()
        return None if row is None else _record(row)

    def listing(self, owner: str | None = None) -> list[CompatWebhook]:
        if owner is None:
            rows = self.conn.execute(f"SELECT {_COLUMNS} FROM compat_webhooks "
                                     "ORDER BY id").fetchall()
        else:
            rows = self.conn.execute(f"SELECT {_COLUMNS} FROM compat_webhooks "
                                     "WHERE owner = ? ORDER BY id", (owner,)).fetchall()
        return [_record(r) for r in rows]

    def count(self, owner: str | None = None) -> int:
        """How many registrations ``owner`` has (None: everyone)."""
        if owner is None:
            row = self.conn.execute("SELECT COUNT(*) FROM compat_webhooks").fetchone()
        else:
            row = self.conn.execute("SELECT COUNT(*) FROM compat_webhooks WHERE owner = ?",
                                    (owner,)).fetchone()
        return int(row[0])

    def subscriptions(self, registration_id: int) -> list[WebhookRecord]:
        """The registration's subscriptions that are not deleted (active or disabled)."""
        rows = self.conn.execute(SUBSCRIPTIONS, (description(registration_id), FAMILY,
                                                 FAMILY[:-1] + ";")).fetchall()
        return [webhooks.record_of(row) for row in rows]

    def put(self, owner: str, url: str, region_ids: tuple[str, ...] | None, time: str,
            target: str, deliveries: Sequence[Delivery], secret: str) -> Change:
        """Create the registration, or set its region ids if it exists; its subscriptions
        follow.

        ``target`` is the checked URL the subscriptions post to; ``secret`` signs them if the
        registration has no secret yet.
        """
        self.conn.execute(
            "INSERT INTO compat_webhooks (owner, url, region_ids, created, updated) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner, url) DO UPDATE SET "
            "region_ids = excluded.region_ids, updated = excluded.updated",
            (owner, url, _ids_text(region_ids), time, time))
        found = self.get(owner, url)
        assert found is not None
        return self._follow(found, time, target, deliveries, secret)

    def move(self, current: CompatWebhook, url: str, region_ids: tuple[str, ...] | None,
             time: str, target: str, deliveries: Sequence[Delivery], secret: str) -> Change:
        """Give the registration a new URL (and region ids). Its subscriptions keep their ids
        and pending deliveries, which go to the new URL from now on."""
        self.conn.execute("UPDATE compat_webhooks SET url = ?, region_ids = ?, updated = ? "
                          "WHERE id = ?", (url, _ids_text(region_ids), time, current.id))
        found = self.get(current.owner, url)
        assert found is not None
        return self._follow(found, time, target, deliveries, secret)

    def _follow(self, record: CompatWebhook, time: str, target: str,
                deliveries: Sequence[Delivery], new_secret: str) -> Change:
        """Bring the registration's subscriptions in line with ``deliveries``.

        A subscription still wanted is kept, so its pending deliveries are not lost when a
        client posts its registration again (as apps do on every start); one that was disabled
        after a day of failures is enabled again, as the client has just asked for it. One no
        longer wanted is deleted, which cancels its pending deliveries.
        """
        conn = self.conn
        live = self.subscriptions(record.id)
        wanted = {d.format: d for d in deliveries}
        secret = ""
        if live:
            row = conn.execute("SELECT secret FROM webhooks WHERE id = ?",
                               (live[0].id,)).fetchone()
            secret = row[0] if row is not None else ""
        made = None
        if not secret:
            secret = made = new_secret
        kept: set[str] = set()
        for sub in live:
            if sub.format not in wanted or sub.format in kept:
                webhooks.set_status(conn, sub.id, "deleted",
                                    "no longer asked for by its ukrainealarm registration", time)
                continue
            kept.add(sub.format)
            if sub.url != target:
                conn.execute("UPDATE webhooks SET url = ?, updated = ? WHERE id = ?",
                             (target, time, sub.id))
                webhooks.bump_version(conn)
            if sub.status == "disabled":
                webhooks.set_status(conn, sub.id, "active", None, time)
        for name, delivery in wanted.items():
            if name in kept:
                continue
            webhooks.insert(conn, WebhookRecord(
                id="wh_" + secrets.token_hex(8), url=target, regions=(delivery.region,),
                types=(), kinds=KINDS, format=name, description=description(record.id),
                owner=record.owner, status="active", status_reason=None, created=time,
                updated=time), secret)
        return Change(record, tuple(self.subscriptions(record.id)), made)

    def delete(self, owner: str, url: str,
               time: str) -> tuple[CompatWebhook, tuple[str, ...]] | None:
        """Delete the registration and its subscriptions (their pending deliveries are
        cancelled); returns it and the ids of the subscriptions deleted, or None if there was
        none."""
        found = self.get(owner, url)
        if found is None:
            return None
        gone = []
        for sub in self.subscriptions(found.id):
            webhooks.set_status(self.conn, sub.id, "deleted",
                                "its ukrainealarm registration was deleted", time)
            gone.append(sub.id)
        self.conn.execute("DELETE FROM compat_webhooks WHERE id = ?", (found.id,))
        return found, tuple(gone)
