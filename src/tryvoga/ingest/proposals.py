"""Statements in, proposals out; an operator accepts or rejects each one.

``ingest`` reads a statement (:mod:`tryvoga.ingest.statements`) and stores what it proposes;
nothing reaches the public log. ``accept`` applies one proposal through the Service (declare,
end or report_incident) with the operator's own actor, so the token's scope is checked as for
any write; the proposal is marked accepted and the audit log records it in the same transaction
as the events (the Service's ``store`` hook), so a proposal is applied once or not at all, and a
second accept is refused. ``reject`` marks it rejected, also audited. A refused accept (out of
scope, read-only) is audited as well.

The same statement sent again (same text, default source and context) gives back the proposals
it gave the first time, in their current state, and stores nothing new.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tryvoga.commands import Command, Declare, EndByRegion, ReportIncident
from tryvoga.domain.events import Event, canonical_json, now_utc
from tryvoga.domain.model import AlertStatus
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import COUNTRY
from tryvoga.errors import BadRequest, Conflict, Forbidden, NotFound
from tryvoga.ingest.statements import Reading, read_statement
from tryvoga.parsing import MAX_ID_DIGITS, whole_number
from tryvoga.service import Actor, Outcome, Result, Service
from tryvoga.storage.base import WriteTransaction
from tryvoga.storage.proposals import STATES, ProposalReader, ProposalRecord

__all__ = ["MAX_STATEMENT", "Checked", "Prepared", "ProposalDesk", "proposal_json"]

MAX_STATEMENT = 50_000  # characters: a long report is 10,000; reading 50,000 takes about 2 s
MAX_SOURCE = 200
UNATTRIBUTED = "unattributed statement"  # an incident needs a source; the text named none
# The keys of a proposal in the ingest answer, in order.
_KEYS = ("kind", "region", "region_name", "alert_type", "threats", "incident_kind", "status",
         "source", "description", "evidence", "why", "killed", "injured")


def proposal_json(record: ProposalRecord, *, full: bool = True) -> dict[str, Any]:
    """A proposal as the API shows it; ``full`` adds who decided what and when."""
    body: dict[str, Any] = {"id": record.id}
    body.update({key: record.body.get(key) for key in _KEYS})
    body["state"] = record.state
    if full:
        body.update({"statement": record.statement, "received_at": record.received,
                     "decided_at": record.decided_at, "decided_by": record.decided_by,
                     "reason": record.reason, "events": list(record.events)})
    return body


@dataclass(frozen=True, slots=True)
class Checked:
    """A statement's inputs, checked, before it is read."""

    text: str
    source: str
    within: str | None
    sha256: str

    def read(self, reading: Reading) -> Prepared:
        return Prepared(self.text, self.source, self.within, self.sha256, reading)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement read and checked, ready to be stored (reading is slow; storing is not)."""

    text: str
    source: str
    within: str | None
    sha256: str
    reading: Reading


class ProposalDesk:
    def __init__(self, service: Service, names: NameIndex, reader: ProposalReader) -> None:
        self.service = service
        self.names = names
        self.reader = reader

    # ---- ingest ------------------------------------------------------------------------

    def prepare(self, actor: Actor, text: Any, source: Any = None,
                within: Any = None) -> Prepared:
        """Check and read a statement here (the command line; the server reads it in a
        process of its own: :meth:`check`, then ``StatementPool.read``)."""
        checked = self.check(actor, text, source, within)
        return checked.read(read_statement(checked.text, self.names, source=checked.source,
                                           within=checked.within))

    def check(self, actor: Actor, text: Any, source: Any = None,
              within: Any = None) -> Checked:
        """The statement's inputs, checked (cheap: the reading is not done here)."""
        self._check_writer(actor)
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("text must be the statement, as a non-empty string", field="text",
                             code="statement_empty")
        if len(text) > MAX_STATEMENT:
            raise BadRequest(f"text is longer than {MAX_STATEMENT} characters", field="text",
                             code="statement_too_long", status=413)
        if source is not None and not isinstance(source, str):
            raise BadRequest("source must be a string", field="source")
        source_text = (source or "").strip()
        if len(source_text) > MAX_SOURCE:
            raise BadRequest(f"source is longer than {MAX_SOURCE} characters", field="source")
        within_code = None
        if within is not None:
            if not isinstance(within, str) or within.strip().upper() not in self.names.catalogue:
                raise NotFound(f"within: unknown region {within!r}", code="region_not_found",
                               field="within")
            within_code = within.strip().upper()
        text = text.strip()
        key = canonical_json({"text": text, "source": source_text, "within": within_code})
        return Checked(text, source_text, within_code,
                       hashlib.sha256(key.encode("utf-8")).hexdigest())

    def save(self, actor: Actor, prepared: Prepared) -> Result:
        """Store the proposals (201), or give back those of the same statement sent before
        (200)."""
        self._check_writer(actor)
        time = now_utc()
        with self.service.storage.writer() as tx:
            existing = tx.statement_by_sha(prepared.sha256)
            if existing is not None:
                records = tx.proposals_of(existing.id)
                unresolved = existing.unresolved
                outcome = Outcome.DONE
            else:
                unresolved = [u.to_json() for u in prepared.reading.unresolved]
                statement = tx.statement_add(
                    prepared.sha256, time, actor.name, prepared.source, prepared.text,
                    unresolved, [p.to_json() for p in prepared.reading.proposals])
                records = tx.proposals_of(statement)
                tx.audit(time, actor.name, "statement.ingested", {
                    "statement": statement, "sha256": prepared.sha256,
                    "proposals": [r.id for r in records], "unresolved": len(unresolved)})
                outcome = Outcome.CREATED
        return Result(outcome, {"proposals": [proposal_json(r, full=False) for r in records],
                               "unresolved": unresolved})

    def ingest(self, actor: Actor, text: Any, source: Any = None, within: Any = None) -> Result:
        return self.save(actor, self.prepare(actor, text, source, within))

    # ---- read --------------------------------------------------------------------------

    def _in_scope(self, actor: Actor, record: ProposalRecord) -> bool:
        """A proposal is for the tokens that may write where it applies (issue 15)."""
        region = record.body.get("region")
        catalogue = self.names.catalogue
        if not isinstance(region, str) or region not in catalogue:
            return COUNTRY in actor.scopes
        return actor.may_write(catalogue, region)

    def get(self, actor: Actor, proposal_id: Any) -> ProposalRecord:
        self._check_writer(actor)
        record = self._record(proposal_id)
        if not self._in_scope(actor, record):
            raise NotFound(f"no proposal with id {record.id}", code="proposal_not_found")
        return record

    def list(self, actor: Actor, state: str | None = None,
             limit: int = 100) -> list[ProposalRecord]:
        """Newest first; ``state`` one of pending, accepted, rejected, or all (None)."""
        self._check_writer(actor)
        if state == "all":
            state = None
        if state is not None and state not in STATES:
            raise BadRequest(f"state: {state!r} is not one of {', '.join(STATES)} or all",
                             field="state", status=400)
        # Filtered after the read: a narrow token may get fewer than ``limit`` of them.
        return [r for r in self.reader.list(state, limit) if self._in_scope(actor, r)]

    # ---- decide ------------------------------------------------------------------------

    def accept(self, actor: Actor, proposal_id: Any) -> Result:
        """Apply the proposal through the Service; the answer holds the Service's answer."""
        record = self._record(proposal_id)
        self._check_pending(record)
        body = record.body

        def store(tx: WriteTransaction, events: Sequence[Event]) -> None:
            time = now_utc()
            seqs = [e.seq for e in events]
            if not tx.proposal_decide(record.id, "accepted", time, actor.name, "", seqs):
                # Someone decided it since we looked: this rolls back the events too.
                raise self._decided(tx.proposal_get(record.id) or record)
            tx.audit(time, actor.name, "proposal.accepted", {
                "proposal": record.id, "kind": record.kind, "region": body["region"],
                "events": seqs})

        try:
            if record.kind == "alert":
                command: Command = Declare.of(
                    regions=[body["region"]], type=body["alert_type"],
                    threats=body["threats"], status=AlertStatus.ACTUAL,
                    source=body["source"])
            elif record.kind == "all_clear":
                command = EndByRegion.of(region=body["region"], type=body["alert_type"],
                                         reason="all clear")
            else:
                command = ReportIncident.of(
                    kind=body["incident_kind"], region=body["region"], status=body["status"],
                    source=body["source"] or UNATTRIBUTED, description=body["description"])
            result = self.service.handle(actor, command, store=store)
        except Forbidden as refused:
            self._audit_refusal(actor, record, refused)
            raise
        decided = self.reader.get(record.id) or record
        return Result(result.outcome, {"proposal": proposal_json(decided),
                                      "result": result.body}, result.events)

    def reject(self, actor: Actor, proposal_id: Any, reason: Any = "") -> Result:
        record = self._record(proposal_id)
        if reason is not None and not isinstance(reason, str):
            raise BadRequest("reason must be a string", field="reason")
        reason_text = (reason or "").strip()[:500]
        try:
            self._check_writer(actor)
            region = record.body["region"]
            if not actor.may_write(self.service.catalogue, region):
                raise Forbidden(f"token {actor.name!r} may not decide for "
                                f"{record.body['region_name']} ({region}); its scope is "
                                f"{', '.join(actor.scopes)}", code="out_of_scope")
        except Forbidden as refused:
            self._audit_refusal(actor, record, refused)
            raise
        self._check_pending(record)
        time = now_utc()
        with self.service.storage.writer() as tx:
            if not tx.proposal_decide(record.id, "rejected", time, actor.name, reason_text, ()):
                raise self._decided(tx.proposal_get(record.id) or record)
            tx.audit(time, actor.name, "proposal.rejected", {
                "proposal": record.id, "kind": record.kind, "region": region,
                "reason": reason_text})
        decided = self.reader.get(record.id) or record
        return Result(Outcome.DONE, {"proposal": proposal_json(decided)})

    # ---- checks ------------------------------------------------------------------------

    def _record(self, proposal_id: Any) -> ProposalRecord:
        if isinstance(proposal_id, str):
            text = proposal_id.strip()
            if text.isascii() and text.isdigit() and whole_number(text) is None:
                raise NotFound(f"no proposal with id {text[:40]}", code="proposal_not_found")
            proposal_id = whole_number(text)
        if isinstance(proposal_id, int) and not 0 <= proposal_id < 10**MAX_ID_DIGITS:
            raise NotFound(f"no proposal with id {proposal_id}", code="proposal_not_found")
        if isinstance(proposal_id, bool) or not isinstance(proposal_id, int):
            raise BadRequest("proposal id must be a whole number", field="id")
        record = self.reader.get(proposal_id)
        if record is None:
            raise NotFound(f"no proposal with id {proposal_id}", code="proposal_not_found")
        return record

    @staticmethod
    def _decided(record: ProposalRecord) -> Conflict:
        return Conflict(f"proposal {record.id} was already {record.state} by "
                        f"{record.decided_by} at {record.decided_at}", code="proposal_decided")

    def _check_pending(self, record: ProposalRecord) -> None:
        if record.state != "pending":
            raise self._decided(record)

    @staticmethod
    def _check_writer(actor: Actor) -> None:
        if not actor.write:
            raise Forbidden(f"token {actor.name!r} is read-only; statements and proposals "
                            "need a write token", code="token_read_only")

    def _audit_refusal(self, actor: Actor, record: ProposalRecord,
                       refused: Forbidden) -> None:
        with self.service.storage.writer() as tx:
            tx.audit(now_utc(), actor.name, "proposal.refused", {
                "proposal": record.id, "region": record.body["region"], "code": refused.code})
