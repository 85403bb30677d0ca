"""Webhook registrations made through the ukrainealarm façade (``/api/v3/webhook``).

A registration is a callback URL and the ukrainealarm region ids it wants (``None``: every
region), owned by the token that made it. It is not a public-log event (the URL may carry a
secret); every change is written to the audit log in the same transaction. The table comes from
migration 5 in ``sqlite.py``. Delivery (an ``AlertRegionModel`` body per change, see
``api/compat_ukrainealarm.py``) is the webhook machinery's job; this table is what it reads.

Every function runs on a connection the caller already holds inside a write transaction.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

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


_COLUMNS = "id, owner, url, region_ids, created, updated"


def _record(row: tuple[Any, ...]) -> CompatWebhook:
    ids = None if row[3] is None else tuple(json.loads(row[3]))
    return CompatWebhook(row[0], row[1], row[2], ids, row[4], row[5])


def get(conn: sqlite3.Connection, owner: str, url: str) -> CompatWebhook | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM compat_webhooks WHERE owner = ? AND url = ?",
                       (owner, url)).fetchone()
    return None if row is None else _record(row)


def put(conn: sqlite3.Connection, owner: str, url: str, region_ids: tuple[str, ...] | None,
        time: str) -> CompatWebhook:
    """Create the registration, or set its region ids if it exists."""
    ids = None if region_ids is None else json.dumps(list(region_ids))
    conn.execute(
        "INSERT INTO compat_webhooks (owner, url, region_ids, created, updated) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner, url) DO UPDATE SET "
        "region_ids = excluded.region_ids, updated = excluded.updated",
        (owner, url, ids, time, time))
    found = get(conn, owner, url)
    assert found is not None
    return found


def delete(conn: sqlite3.Connection, owner: str, url: str) -> bool:
    cursor = conn.execute("DELETE FROM compat_webhooks WHERE owner = ? AND url = ?",
                          (owner, url))
    return cursor.rowcount > 0


def listing(conn: sqlite3.Connection, owner: str | None = None) -> list[CompatWebhook]:
    if owner is None:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM compat_webhooks ORDER BY id").fetchall()
    else:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM compat_webhooks WHERE owner = ? "
                            "ORDER BY id", (owner,)).fetchall()
    return [_record(r) for r in rows]
