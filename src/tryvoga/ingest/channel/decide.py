"""Deciding what a parsed post does against the alerts in force: which alerts start, end,
split or take a threat, all in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tryvoga.domain.events import AlertDeclared, AlertEnded, AlertUpdated, NewEvent
from tryvoga.domain.model import (
    AlertStatus,
    AlertType,
    Threat,
    ThreatLevel,
    ThreatType,
)
from tryvoga.domain.regions import PARTITIONING_LEVELS
from tryvoga.domain.state import State
from tryvoga.ingest.channel.export import Post
from tryvoga.ingest.channel.parse import AMBIGUOUS, Place
from tryvoga.service import Actor

# The notes of the alerts a partial all-clear creates: the parts of a region that stay under
# its alert. An all-clear for the region ends them too.
SPLIT_PART = "continues the alert for "
STILL_ON = "still on alert after the partial all-clear"


def is_split_part(note: str) -> bool:
    return note.startswith(SPLIT_PART) or note.startswith(STILL_ON)


@dataclass(frozen=True, slots=True)
class _Open:
    """An active alert as this post sees it, including the changes the post made so far."""

    id: int
    region: str
    type: AlertType
    started_at: str
    threats: tuple[Threat, ...]
    part: bool = False  # created by a partial all-clear (see SPLIT_PART)


class Working:
    """The state plus the events decided so far for one post (decide runs before apply)."""

    def __init__(self, state: State, actor: Actor, post: Post, at: str) -> None:
        self.state = state
        self.catalogue = state.catalogue
        self.actor = actor
        self.post = post
        self.at = at
        self.next_id = state.next_alert_id
        self.opened: dict[tuple[str, AlertType], _Open] = {}
        self.closed: set[int] = set()
        self.events: list[NewEvent] = []
        self.effects: list[str] = []
        self.notes: list[str] = []
        self.refused: list[Place] = []

    # -- places that several regions share --

    def settle(self, place: Place) -> Place:
        """A name several regions share that the post itself did not settle: the one the
        alerts in force point to (an alert on it, around it or inside it; else one in its
        oblast), if exactly one; else it stays ambiguous."""
        if place.code is not None or place.reason != AMBIGUOUS or not place.candidates:
            return place
        active = [a for a in self.state.active_alerts() if a.status is AlertStatus.ACTUAL]
        touching = [c for c in place.candidates if any(
            a.region == c or self.catalogue.is_within(c, a.region)
            or self.catalogue.is_within(a.region, c) for a in active)]
        if len(touching) != 1:
            pool = touching or list(place.candidates)
            tops = {c: self.catalogue.top_of(c) for c in pool}
            touching = [c for c in pool if tops[c] is not None and any(
                self.catalogue.is_within(a.region, tops[c] or "") for a in active)]
        if len(touching) != 1:
            return place
        self.notes.append(f"{place.text}: several regions have this name; the alerts in force "
                          f"point to {self.name(touching[0])} ({touching[0]})")
        return Place(place.text, touching[0])

    # -- looking at alerts --

    def active(self, region: str, type_: AlertType) -> _Open | None:
        opened = self.opened.get((region, type_))
        if opened is not None:
            return opened
        alert = self.state.find_active(region, type_, AlertStatus.ACTUAL)
        if alert is None or alert.id in self.closed:
            return None
        return _Open(alert.id, alert.region, alert.type, alert.started_at, alert.threats,
                     is_split_part(alert.note))

    def covering(self, region: str, type_: AlertType) -> _Open | None:
        """The alert on the nearest region that contains ``region``."""
        for code in self.catalogue.ancestors(region):
            found = self.active(code, type_)
            if found is not None:
                return found
        return None

    def touching(self, region: str) -> list[_Open]:
        """Active air-raid alerts on the region, on what contains it, or inside it."""
        found: dict[int, _Open] = {}
        for code in (region, *self.catalogue.ancestors(region)):
            item = self.active(code, AlertType.AIR_RAID)
            if item is not None:
                found[item.id] = item
        for alert in self.state.active_alerts():
            if (alert.type is AlertType.AIR_RAID and alert.status is AlertStatus.ACTUAL
                    and self.catalogue.is_within(alert.region, region)):
                item = self.active(alert.region, AlertType.AIR_RAID)
                if item is not None:
                    found[item.id] = item
        for (code, type_), item in self.opened.items():
            if type_ is AlertType.AIR_RAID and self.catalogue.is_within(code, region):
                found[item.id] = item
        return sorted(found.values(), key=lambda a: a.id)

    def last_end(self, region: str, type_: AlertType) -> str | None:
        for alert in reversed(self.state.alerts.values()):
            if (alert.region == region and alert.type is type_
                    and alert.status is AlertStatus.ACTUAL and alert.ended_at is not None
                    and not alert.withdrawn):
                return alert.ended_at
        return None

    def name(self, region: str) -> str:
        return self.catalogue[region].name_uk

    def allowed(self, place: Place, region: str) -> bool:
        if self.actor.may_write(self.catalogue, region):
            return True
        self.refused.append(Place(place.text, None, f"out of this token's scope: "
                                  f"{self.name(region)} ({region})"))
        return False

    # -- changing them --

    def declare(self, region: str, type_: AlertType, started_at: str,
                threats: tuple[Threat, ...] = (), note: str = "") -> None:
        alert_id = self.next_id
        self.next_id += 1
        note = note or f"post {self.post.id}"
        self.events.append(NewEvent.of(AlertDeclared(
            alert_id=alert_id, region=region, type=type_, status=AlertStatus.ACTUAL,
            threats=threats, source=f"channel {self.post.channel}", note=note,
            shelter_seconds=self.state.shelter_seconds(region), started_at=started_at)))
        self.opened[(region, type_)] = _Open(alert_id, region, type_, started_at, threats,
                                             is_split_part(note))
        self.effects.append(f"{type_.value} declared in {self.name(region)}")

    def close(self, alert: _Open, reason: str) -> None:
        self.events.append(NewEvent.of(AlertEnded(
            alert_id=alert.id, region=alert.region, type=alert.type, reason=reason,
            ended_at=max(self.at, alert.started_at))))
        self.closed.add(alert.id)
        self.opened.pop((alert.region, alert.type), None)
        self.effects.append(f"{alert.type.value} ended in {self.name(alert.region)}")

    def set_threats(self, alert: _Open, threats: tuple[Threat, ...]) -> None:
        self.events.append(NewEvent.of(AlertUpdated(
            alert_id=alert.id, region=alert.region, type=alert.type, threats=threats)))
        # The overlay holds alerts changed by this post as well as the ones it opened.
        self.opened[(alert.region, alert.type)] = _Open(alert.id, alert.region, alert.type,
                                                        alert.started_at, threats, alert.part)

    # -- the post's actions --

    def start(self, place: Place, type_: AlertType) -> None:
        region = place.code
        assert region is not None
        if self.active(region, type_) is not None:
            self.notes.append(f"{type_.value} already active in {self.name(region)}")
            return
        last = self.last_end(region, type_)
        if last is not None and last > self.at:
            self.notes.append(f"superseded: {self.name(region)} had an all-clear at {last}, "
                              "after this post")
            return
        if self.allowed(place, region):
            self.declare(region, type_, self.at)

    def end(self, places: Sequence[Place], type_: AlertType) -> list[_Open]:
        """End the places' alerts; one that covers a place is split. Returns what ended."""
        ended: list[_Open] = []
        covers: dict[int, tuple[_Open, list[str]]] = {}
        for place in places:
            region = place.code
            assert region is not None
            own = self.active(region, type_)
            target = own or self.covering(region, type_)
            # The parts an earlier partial all-clear left under the region's alert end with
            # the region's all-clear: nothing it split stays on alert for ever.
            split = [p for p in self.parts_inside(region, type_) if p.started_at <= self.at]
            if split and self.allowed(place, region):
                for part in split:
                    self.close(part, f"all clear for {self.name(region)} (channel "
                                     f"{self.post.channel}, post {self.post.id})")
                    ended.append(part)
            if target is None:
                if not split:
                    self.notes.append(f"no active {type_.value} alert in {self.name(region)}")
                continue
            if target.started_at > self.at:
                self.notes.append(f"stale: the {type_.value} alert in "
                                  f"{self.name(target.region)} started after this post")
                continue
            if not self.allowed(place, target.region):
                continue
            if own is not None:
                self.close(own, f"all clear (channel {self.post.channel}, post {self.post.id})")
                ended.append(own)
            elif self._carvable(region, target.region):
                covers.setdefault(target.id, (target, []))[1].append(region)
            else:
                self.notes.append(f"the alert for {self.name(target.region)} cannot be ended "
                                  f"for {self.name(region)} alone: it stays")
        for cover, parts in covers.values():
            if cover.id in self.closed:
                continue  # its own all-clear came in the same post
            names = ", ".join(self.name(p) for p in parts)
            self.close(cover, f"all clear for {names} only (channel {self.post.channel}, "
                              f"post {self.post.id}); the rest of {self.name(cover.region)} "
                              "stays on alert")
            self._keep_rest(cover, set(parts), type_)
            ended.append(cover)
        return ended

    def parts_inside(self, region: str, type_: AlertType) -> list[_Open]:
        """Active alerts strictly inside ``region`` that a partial all-clear created."""
        found: dict[int, _Open] = {}
        for alert in self.state.active_alerts():
            if (alert.type is type_ and alert.status is AlertStatus.ACTUAL
                    and alert.region != region and is_split_part(alert.note)
                    and self.catalogue.is_within(alert.region, region)):
                item = self.active(alert.region, type_)
                if item is not None and item.part:
                    found[item.id] = item
        for (code, kind), item in self.opened.items():
            if (kind is type_ and item.part and code != region
                    and self.catalogue.is_within(code, region)):
                found[item.id] = item
        return sorted(found.values(), key=lambda a: a.id)

    def since(self, region: str, type_: AlertType, started_at: str) -> str:
        """``started_at``, or the place's last all-clear if later: one place never has two
        alerts of one type at once, also in the history."""
        last = self.last_end(region, type_)
        return last if last is not None and last > started_at else started_at

    def _carvable(self, region: str, root: str) -> bool:
        """The region is reached from ``root`` through regions that divide their parent, so
        the rest of ``root`` can be put under alerts of its own."""
        node: str | None = region
        while node is not None and node != root:
            if self.catalogue[node].level not in PARTITIONING_LEVELS:
                return False
            node = self.catalogue.parent_of(node)
        return node == root

    def _keep_rest(self, cover: _Open, cleared: set[str], type_: AlertType) -> None:
        """Alerts for every part of the covering alert's region but the cleared ones."""
        stack = [cover.region]
        while stack:
            node = stack.pop()
            for kid in self.catalogue.children[node]:
                if kid in cleared or self.catalogue[kid].level not in PARTITIONING_LEVELS:
                    continue
                if any(self.catalogue.is_within(c, kid) for c in cleared):
                    stack.append(kid)
                elif self.active(kid, type_) is None:
                    self.declare(kid, type_, self.since(kid, type_, cover.started_at),
                                 cover.threats,
                                 f"{SPLIT_PART}{self.name(cover.region)} "
                                 f"(post {self.post.id})")

    def keep(self, place: Place, ended: _Open | None) -> None:
        """A place the post says is still on alert keeps an alert."""
        region = place.code
        assert region is not None
        if (self.active(region, AlertType.AIR_RAID) is not None
                or self.covering(region, AlertType.AIR_RAID) is not None):
            return
        if not self.allowed(place, region):
            return
        inside = ended is not None and self.catalogue.is_within(region, ended.region)
        started = (self.since(region, AlertType.AIR_RAID, ended.started_at)
                   if ended is not None and inside else self.at)
        self.declare(region, AlertType.AIR_RAID, started,
                     ended.threats if ended is not None and inside else (),
                     f"{STILL_ON} (post {self.post.id})")

    def threat(self, place: Place, threat: ThreatType, add: bool) -> None:
        region = place.code
        assert region is not None
        targets = self.touching(region)
        if not targets:
            self.notes.append(f"threat notice: {threat.value} "
                              f"{'for' if add else 'over for'} {self.name(region)}, "
                              "no active air-raid alert there")
            return
        for alert in targets:
            has = any(t.type is threat for t in alert.threats)
            if add == has or not self.allowed(place, alert.region):
                continue
            if add:
                new = (*alert.threats, Threat(threat, ThreatLevel.RED))
                new = tuple(sorted(new, key=lambda t: list(ThreatType).index(t.type)))
            else:
                new = tuple(t for t in alert.threats if t.type is not threat)
            self.set_threats(alert, new)
            self.effects.append(f"{threat.value} {'added to' if add else 'taken from'} the "
                                f"alert in {self.name(alert.region)}")
