"""The storage interface: the event log, idempotency records, tokens and the audit log.

A backend offers one write transaction at a time (``writer()``); inside it the caller first
catches up with events that other processes appended, decides, appends, and commits. An event
is acknowledged only after its transaction is committed to disk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from tryvoga.domain.events import Event
from tryvoga.storage.history import HistoryBatch, ImportRecord
from tryvoga.storage.operators import OperatorTables
from tryvoga.storage.proposals import ProposalRecord, StatementRecord


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    request_hash: str
    status: int
    response: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    name: str
    scopes: tuple[str, ...]
    write: bool
    created: str
    revoked: str | None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    time: str
    actor: str
    action: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """A webhook subscription as everyone but its delivery worker sees it: no secret."""

    id: str
    url: str
    regions: tuple[str, ...]
    types: tuple[str, ...]
    kinds: tuple[str, ...]
    format: str
    description: str
    owner: str
    status: str  # active | disabled | deleted
    status_reason: str | None
    created: str
    updated: str
    failing_since: float | None = None


class WriteTransaction(Protocol):
    def events_since(self, seq: int) -> list[Event]: ...

    def head(self) -> tuple[int, str]: ...

    def append(self, time: str, actor: str, kind: str, payload: dict[str, Any]) -> Event: ...

    def idempotency_get(self, key: str) -> IdempotencyRecord | None: ...

    def idempotency_put(self, key: str, record: IdempotencyRecord, seq: int,
                        time: str) -> None: ...

    def audit(self, time: str, actor: str, action: str, detail: dict[str, Any]) -> None: ...

    def token_insert(self, record: TokenRecord, token_hash: str) -> None: ...

    def token_revoke(self, token_id: str, time: str) -> bool: ...

    # Webhooks (delivery/): the outbox is filled in the same transaction as the events.
    def webhooks_version(self) -> int: ...

    def webhooks_active(self) -> list[WebhookRecord]: ...

    def outbox_add(self, event_seq: int, format_name: str, content_type: str, body: bytes,
                   webhook_ids: Sequence[str], due: float) -> None: ...

    # Shared formats (storage/webhooks.py SHARED_PREFIX): one row per event and format, fanned
    # out to the subscriptions later by the delivery worker.
    def webhooks_shared_formats(self) -> list[str]: ...

    def outbox_fanout(self, event_seq: int, format_name: str, content_type: str, body: bytes,
                      due: float) -> None: ...

    # Imported history (storage/history.py): rows written beside their history.imported event.
    def history_add(self, seq: int, time: str, batch: HistoryBatch) -> int: ...

    def history_import(self, sha256: str) -> ImportRecord | None: ...

    # Statements and their proposals (storage/proposals.py): decided beside the events applied.
    def statement_by_sha(self, sha256: str) -> StatementRecord | None: ...

    def statement_add(self, sha256: str, time: str, actor: str, source: str, text: str,
                      unresolved: list[dict[str, Any]],
                      bodies: Sequence[dict[str, Any]]) -> int: ...

    def proposals_of(self, statement: int) -> list[ProposalRecord]: ...

    def proposal_get(self, proposal_id: int) -> ProposalRecord | None: ...

    def proposal_decide(self, proposal_id: int, state: str, time: str, actor: str, reason: str,
                        events: Sequence[int]) -> bool: ...

    # Operators, console sessions and approvals (storage/operators.py).
    def operators(self) -> OperatorTables: ...


class Storage(Protocol):
    def writer(self) -> AbstractContextManager[WriteTransaction]: ...

    def read_events(self, since: int = 0, limit: int | None = None) -> list[Event]: ...

    def iter_events(self, since: int = 0, batch: int = 5000) -> Iterator[Event]: ...

    def head(self) -> tuple[int, str]: ...

    def changed(self) -> bool:
        """Cheap check whether another connection committed since the last call."""
        ...

    def token_by_hash(self, token_hash: str) -> TokenRecord | None: ...

    def token_automated(self, token_id: str) -> bool: ...

    def tokens(self) -> list[TokenRecord]: ...

    def audit_records(self) -> list[AuditRecord]: ...

    def close(self) -> None: ...
