"""The two-person rule: which declarations need a second operator, and who may make one alone.

Covered (``covers``): chemical and nuclear alerts; a declaration over more than one oblast or
over the whole country; and, when ``approval_all_actual`` is set, every actual alert.

Who is bound (``Actor.bound``): people. Every console operator, and every API token except
those created as automated sources (``tryvoga token create --automated``), is bound: a bound
actor's covered declaration is refused with ``approval_required`` (403) unless it carries an
approval (``Actor.approval``), which only the console gives, after a second operator with the
approver role, within scope, who is not the requester, approved it in time
(``web/console.py``, ``approve``). Commands composed outside the Service (the channel
ingester's, through ``Service.run``) are checked the same way on the declarations they make
(``guarded``). In-process actors (the CLI on the database file, the replay,
the CAP poller) are not bound: whoever runs them already holds the database.

What went out under the rule says so in the public log: the ``alert.declared`` payload of a
covered declaration carries ``authorised``: ``"automated"`` (an automated token or an
in-process source) or ``"two-person"`` with the ``approval`` request's number. Names stay in
the audit log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tryvoga.domain.events import AlertDeclared, NewEvent
from tryvoga.domain.model import AlertStatus, AlertType
from tryvoga.domain.regions import COUNTRY, Catalogue
from tryvoga.domain.state import State
from tryvoga.errors import Forbidden


class Principal(Protocol):
    """Who declares, as the rule sees it (``service.Actor``)."""

    @property
    def name(self) -> str: ...

    @property
    def bound(self) -> bool: ...

    @property
    def approval(self) -> int | None: ...

# A command's decision, as ``service.Service.run`` takes it: its events and what builds the
# answer (passed through untouched).
R = TypeVar("R")
Decision = tuple[list[NewEvent], R]

# Reasons, as stable codes the console translates.
CHEMICAL_OR_NUCLEAR = "chemical_or_nuclear"
SEVERAL_OBLASTS = "several_oblasts"
WHOLE_COUNTRY = "whole_country"
ACTUAL = "actual"


@dataclass(frozen=True, slots=True)
class Policy:
    all_actual: bool = False  # every actual alert needs approval (setting approval_all_actual)
    seconds: int = 900  # how long a request waits for its approver (setting approval_seconds)


def oblasts_of(catalogue: Catalogue, codes: Sequence[str]) -> set[str]:
    return {catalogue.top_of(code) or COUNTRY for code in codes}


def covers(policy: Policy, catalogue: Catalogue, codes: Sequence[str], alert_type: AlertType,
           status: AlertStatus) -> list[str]:
    """Why this declaration needs a second operator (empty: it does not)."""
    reasons = []
    if alert_type in (AlertType.CHEMICAL, AlertType.NUCLEAR):
        reasons.append(CHEMICAL_OR_NUCLEAR)
    if COUNTRY in codes:
        reasons.append(WHOLE_COUNTRY)
    elif len(oblasts_of(catalogue, codes)) > 1:
        reasons.append(SEVERAL_OBLASTS)
    if policy.all_actual and status is AlertStatus.ACTUAL:
        reasons.append(ACTUAL)
    return reasons


def authorise(policy: Policy, catalogue: Catalogue, actor: Principal, codes: Sequence[str],
              alert_type: AlertType, status: AlertStatus) -> dict[str, Any]:
    """Refuse a bound actor's covered declaration without an approval; else the stamp that
    the declaration's events carry (empty when the rule does not cover it)."""
    reasons = covers(policy, catalogue, codes, alert_type, status)
    if not reasons:
        return {}
    if actor.approval is not None:
        return {"authorised": "two-person", "approval": actor.approval}
    if actor.bound:
        raise Forbidden(
            f"{actor.name!r} may not declare this alone ({', '.join(reasons)}): the two-person "
            "rule needs a second operator's approval in the console (/console), or a token "
            "created as an automated source (tryvoga token create --automated)",
            code="approval_required", field="regions")
    return {"authorised": "automated"}


def guarded(policy: Policy, catalogue: Catalogue, actor: Principal,
            decide: Callable[[State, str], Decision[R]]
            ) -> Callable[[State, str], Decision[R]]:
    """``decide`` of a command composed outside the Service (``Service.run``: the channel
    ingester behind ``POST /api/v1/ingest/channel``), refused like ``authorise`` when the
    declarations it makes are covered and the actor is a person. Runs inside the write
    transaction, before anything is appended."""
    if not actor.bound or actor.approval is not None:
        return decide

    def checked(state: State, time: str) -> Decision[R]:
        events, respond = decide(state, time)
        declared = [e.payload for e in events if isinstance(e.payload, AlertDeclared)]
        codes = [p.region for p in declared]
        for payload in declared:
            authorise(policy, catalogue, actor, codes, payload.type, payload.status)
        return events, respond

    return checked


__all__ = ["Policy", "authorise", "covers", "guarded", "oblasts_of"]
