"""Applying posts through the Service, each once (keyed by channel and id), and reporting
each outcome."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tryvoga.domain.events import Event
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import COUNTRY, Catalogue
from tryvoga.domain.state import State
from tryvoga.errors import TryvogaError
from tryvoga.ingest.channel.decide import Working
from tryvoga.ingest.channel.export import Post
from tryvoga.ingest.channel.parse import AMBIGUOUS, Action, ChannelParser, NotApplied, Parsed
from tryvoga.service import Actor, Decision, Result, Service
from tryvoga.service import Outcome as Done
from tryvoga.storage.base import WriteTransaction


@dataclass(frozen=True)
class Outcome:
    """What became of one post."""

    post: Post
    outcome: str  # applied | skipped | failed
    reason: str | None
    action: str | None = None
    stated: str | None = None
    effects: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    places: tuple[dict[str, Any], ...] = ()
    events: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.post.channel, "id": self.post.id, "time": self.post.time,
                "outcome": self.outcome, "reason": self.reason, "action": self.action,
                "stated_time": self.stated, "effects": list(self.effects),
                "notes": list(self.notes), "places": list(self.places),
                "events": list(self.events)}


def _outcome_from(post: Post, body: dict[str, Any], events: tuple[int, ...],
                  replayed: bool) -> Outcome:
    reason = body.get("reason")
    outcome = body.get("outcome", "applied")
    if replayed:
        # Stored answer of the first time: report the repeat, keep a failure a failure.
        return Outcome(post, "failed" if outcome == "failed" else "skipped",
                       "duplicate", body.get("action"), body.get("stated_time"),
                       (), (f"applied before: {outcome}"
                            f"{' (' + reason + ')' if reason else ''}",),
                       tuple(body.get("places", ())), ())
    return Outcome(post, outcome, reason, body.get("action"), body.get("stated_time"),
                   tuple(body.get("effects", ())), tuple(body.get("notes", ())),
                   tuple(body.get("places", ())), events)


class ChannelIngest:
    """Prepare (parse, resolve) and apply posts; one command per post."""

    def __init__(self, catalogue: Catalogue, names: NameIndex | None = None) -> None:
        self.parser = ChannelParser(catalogue, names)

    def prepare(self, post: Post) -> Parsed | Outcome:
        parsed = self.parser.parse(post.text)
        if isinstance(parsed, NotApplied):
            return Outcome(post, "failed" if parsed.failed else "skipped", parsed.reason,
                           notes=(parsed.detail,))
        if len(parsed.unresolved) == len(parsed.places) + len(parsed.remaining) and not any(
                p.reason == AMBIGUOUS for p in parsed.unresolved):
            return Outcome(post, "failed", "unresolved_place", parsed.action.value,
                           parsed.stated, notes=("no place in the post names one region",),
                           places=tuple(p.to_json() for p in
                                        (*parsed.places, *parsed.remaining)))
        return parsed

    def apply(self, service: Service, submitter: Actor, post: Post, parsed: Parsed) -> Result:
        """The post as one command, keyed by channel and message id."""
        actor = Actor(f"channel:{post.channel}", submitter.scopes, submitter.write,
                      bound=submitter.bound)  # a person's token stays bound (approval.py)
        request = {"op": "channel.post", "channel": post.channel, "id": post.id,
                   "time": post.time, "text": post.text}

        def decide(state: State, now: str) -> Decision:
            work = Working(state, actor, post, min(post.time, now))
            parsed_now = replace(parsed, places=tuple(work.settle(p) for p in parsed.places),
                                 remaining=tuple(work.settle(p) for p in parsed.remaining))
            return decided(work, parsed_now, state)

        def decided(work: Working, parsed: Parsed, state: State) -> Decision:
            usable = [p for p in parsed.places if p.code is not None]
            if parsed.action is Action.START:
                for place in usable:
                    work.start(place, parsed.alert_type)
            elif parsed.action in (Action.END, Action.PARTIAL_END):
                ended = work.end(usable, parsed.alert_type)
                for place in parsed.remaining:
                    if place.code is not None:
                        work.keep(place, next((e for e in ended if state.catalogue.is_within(
                            place.code, e.region)), None))
            else:
                assert parsed.threat is not None
                for place in usable:
                    work.threat(place, parsed.threat, parsed.action is Action.THREAT)
            failed = [*parsed.unresolved, *work.refused]
            places = [p.to_json() for p in (*parsed.places, *parsed.remaining)]
            places += [p.to_json() for p in work.refused]
            if failed:
                outcome, reason = "failed", ("out_of_scope" if work.refused and not
                                             parsed.unresolved else "unresolved_place")
            elif work.events:
                outcome, reason = "applied", None
            else:
                outcome, reason = "skipped", _skip_reason(parsed, work.notes)
            body = {"outcome": outcome, "reason": reason, "action": parsed.action.value,
                    "stated_time": parsed.stated, "effects": work.effects,
                    "notes": work.notes, "places": places}
            return work.events, lambda after: (Done.DONE, body)

        # Once per post and scope: a post that a narrower token could apply only in part is
        # still applied in full when a token that covers the rest sends it (starts and ends
        # already applied change nothing the second time).
        key = f"post:{post.id}"
        if set(actor.scopes) != {COUNTRY}:
            key += ":scope:" + ",".join(sorted(actor.scopes))
        def sent_by(tx: WriteTransaction, events: Sequence[Event]) -> None:
            # The events' actor is the channel; which token sent the post is in the audit
            # log, in the same commit (issue 15).
            if events:
                tx.audit(events[-1].time, submitter.name, "channel.post", {
                    "channel": post.channel, "post": post.id,
                    "token": submitter.token, "events": [e.seq for e in events]})

        return service.run(actor, request, decide, idempotency_key=key, store=sent_by)

    def outcome(self, post: Post, result: Result) -> Outcome:
        return _outcome_from(post, result.body, tuple(e.seq for e in result.events),
                             result.replayed)

    def ingest(self, service: Service, submitter: Actor, posts: Iterable[Post],
               progress: Any = None) -> list[Outcome]:
        """Apply posts in order (their time, then message id); one outcome per post."""
        outcomes: list[Outcome] = []
        for post in sorted(posts, key=Post.sort_key):
            prepared = self.prepare(post)
            if isinstance(prepared, Outcome):
                outcomes.append(prepared)
            else:
                try:
                    outcomes.append(self.outcome(post, self.apply(service, submitter, post,
                                                                  prepared)))
                except TryvogaError as exc:
                    if exc.status >= 500:
                        raise
                    outcomes.append(refused(post, exc))
            if progress is not None:
                progress(1)
        return outcomes


def refused(post: Post, exc: TryvogaError) -> Outcome:
    """A post the write path refused, told in the channel's terms: the same message id seen
    again with another text or time is an edit, which is not applied again (the command's
    idempotency key is the post's id, an internal detail that a channel's reader never set)."""
    if exc.code == "idempotency_key_reused":
        return Outcome(post, "failed", "changed_after_applied", notes=(
            f"message {post.id} of {post.channel} was applied before with another text or "
            "time; an edited post is not applied again",))
    return Outcome(post, "failed", exc.code, notes=(exc.message,))


def _skip_reason(parsed: Parsed, notes: Sequence[str]) -> str:
    if parsed.action in (Action.THREAT, Action.THREAT_END):
        return ("threat_notice" if any(n.startswith("threat notice") for n in notes)
                else "no_change")
    if any(n.startswith("superseded") or n.startswith("stale") for n in notes):
        return "out_of_order"
    if parsed.action is Action.START:
        return "already_active"
    return "not_active"


def summarize(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    applied = 0
    skipped: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for item in outcomes:
        if item.outcome == "applied":
            applied += 1
        elif item.outcome == "skipped":
            skipped[item.reason or "other"] += 1
        else:
            failed[item.reason or "other"] += 1
    return {"applied": applied, "skipped": dict(sorted(skipped.items())),
            "failed": dict(sorted(failed.items()))}
