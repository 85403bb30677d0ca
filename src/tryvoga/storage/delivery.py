"""The delivery side's own session on the database (moved here from ``delivery/store.py``).

The event writer fills the outbox inside its transactions (``delivery/outbox.py``); everything
else that touches the webhook tables (managing subscriptions, claiming and recording
deliveries) goes through a ``DeliveryStore``: one session of its own (``storage/engine.py``),
short write transactions, and audit records written in the same transaction as the change they
describe. Claims run without the engine's write lock on PostgreSQL (``FOR UPDATE SKIP
LOCKED``, so workers on several nodes never take the same row); SQLite has one writer anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tryvoga.storage import webhooks as sql
from tryvoga.storage.base import IdempotencyRecord, WebhookRecord
from tryvoga.storage.engine import (
    Conn,
    Database,
    PostgresDatabase,
    is_postgres_url,
    own_database,
)
from tryvoga.storage.sqlite import SQLiteStorage, SQLiteTransaction

T = TypeVar("T")


class DeliveryStore:
    def __init__(self, source: str | Path | Database, *, migrate: bool = True) -> None:
        """``source``: an SQLite file (created or upgraded unless ``migrate`` is false), a
        PostgreSQL URL (its schema checked), or the database a server already has open,
        whose schema it checked."""
        if isinstance(source, str | Path) and not is_postgres_url(str(source)) and migrate:
            SQLiteStorage(source).close()  # creates or upgrades the schema, or refuses
        self.database, self._owned = own_database(source)
        if self._owned and isinstance(self.database, PostgresDatabase):
            from tryvoga.storage.postgres import check_schema

            try:
                check_schema(self.database)
            except BaseException:
                self.database.close()
                raise
        self.path = self.database.name
        self._session = self.database.session()
        self._data_version: int | None = None

    def close(self) -> None:
        self._session.close()
        if self._owned:
            self.database.close()

    @contextmanager
    def transaction(self, *, exclusive: bool = True) -> Iterator[Conn]:
        with self._session.write(exclusive=exclusive) as conn:
            yield conn

    def read(self, call: Callable[[Conn], T]) -> T:
        with self._session.read() as conn:
            return call(conn)

    def changed(self) -> bool:
        """Whether another connection committed since the last call (cheap on SQLite; always
        yes on PostgreSQL)."""
        with self._session.read() as conn:
            version = getattr(conn, "data_version", None)
        if version is None:
            return True
        previous, self._data_version = self._data_version, version
        return previous is None or version != previous

    # ---- subscriptions ------------------------------------------------------------------

    def get(self, webhook_id: str) -> WebhookRecord | None:
        return self.read(lambda c: sql.get(c, webhook_id))

    def listed(self) -> list[WebhookRecord]:
        return self.read(sql.listed)

    def insert(self, record: WebhookRecord, secret: str, actor: str,
               audit_detail: dict[str, Any],
               idempotency: tuple[str, IdempotencyRecord] | None = None
               ) -> IdempotencyRecord | None:
        """Insert and audit in one transaction; with an idempotency key already used, insert
        nothing and return the stored answer."""
        with self.transaction() as conn:
            tx = SQLiteTransaction(conn)
            if idempotency is not None:
                found = tx.idempotency_get(idempotency[0])
                if found is not None:
                    return found
            sql.insert(conn, record, secret)
            tx.audit(record.created, actor, "webhook.created", audit_detail)
            if idempotency is not None:
                tx.idempotency_put(idempotency[0], idempotency[1], tx.head()[0],
                                   record.created)
        return None

    def set_status(self, webhook_id: str, status: str, reason: str | None, time: str,
                   actor: str, action: str, *, only_from: str | None = None) -> bool:
        with self.transaction() as conn:
            changed = sql.set_status(conn, webhook_id, status, reason, time,
                                     only_from=only_from)
            if changed:
                detail: dict[str, Any] = {"id": webhook_id}
                if reason:
                    detail["reason"] = reason
                SQLiteTransaction(conn).audit(time, actor, action, detail)
        return changed

    def attempts(self, webhook_id: str, limit: int,
                 before: int | None = None) -> list[dict[str, Any]]:
        return self.read(lambda c: sql.attempts(c, webhook_id, limit, before))

    def counts(self, webhook_id: str) -> dict[str, int]:
        return self.read(lambda c: sql.counts(c, webhook_id))

    # ---- the worker's bookkeeping -------------------------------------------------------

    def claim(self, owner: str, now: float, lease_until: float,
              limit: int) -> list[sql.Claimed]:
        with self.transaction(exclusive=False) as conn:
            return sql.claim(conn, owner, now, lease_until, limit)

    def version(self) -> int:
        return self.read(sql.version)

    def active_secrets(self, ids: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        return self.read(lambda c: sql.secrets_of(c, ids))

    def payloads(self, keys: Sequence[tuple[int, str]]
                 ) -> dict[tuple[int, str], tuple[str, bytes]]:
        return self.read(lambda c: sql.payloads(c, keys))

    def next_due(self) -> float | None:
        return self.read(sql.next_due)

    def record(self, outcomes: Sequence[sql.Outcome], now: float, window: float,
               time: str, actor: str,
               returned: Sequence[tuple[int, str, float]] = ()) -> list[str]:
        """Write back a batch of attempts, and give back claimed rows not attempted (id,
        claim token, due); disable subscriptions that failed for the whole window (with an
        audit record each). Returns the ids disabled."""
        with self.transaction() as conn:
            sql.record(conn, outcomes, now)
            sql.release_rows(conn, returned)
            gave_up = {o.webhook for o in outcomes if o.give_up and not o.delivered}
            disabled = sql.failed_for_window(conn, sorted(gave_up), now - window)
            for webhook_id in disabled:
                last = next(o.error for o in outcomes
                            if o.webhook == webhook_id and o.give_up)
                reason = f"every delivery failed for {window:g} s; last error: {last}"
                sql.set_status(conn, webhook_id, "disabled", reason[:500], time)
                SQLiteTransaction(conn).audit(time, actor, "webhook.disabled",
                                              {"id": webhook_id, "reason": reason[:500]})
        return disabled

    def cancel(self, ids: Sequence[int], owner: str, reason: str, now: float) -> None:
        with self.transaction() as conn:
            sql.cancel_orphans(conn, ids, owner, reason, now)

    def release(self, owners: Sequence[str], now: float) -> int:
        if not owners:
            return 0
        with self.transaction() as conn:
            return sql.release(conn, owners, now)

    def lease_owners(self, now: float) -> list[str]:
        return self.read(lambda c: sql.lease_owners(c, now))

    def prune(self, before: float) -> int:
        with self.transaction() as conn:
            return sql.prune(conn, before)
