"""Which events a subscriber wants: region subtrees, alert types, event kinds.

A region filter selects events placed in the region or anywhere below it. Alerts (and region
settings, which children inherit) declared *above* a subscribed region are selected too: a
subscriber to a raion hears the alert declared on its oblast or on the whole country, and the
frame's ``payload.region`` says where it was declared. An alert-type filter narrows alert events
only; event-kind filters name kinds exactly (``alert.declared``) or by family (``alert.*``).

Filters are values: subscribers with equal filters share one match per event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tryvoga.domain.events import Event, Kind
from tryvoga.domain.model import AlertType
from tryvoga.domain.regions import Catalogue
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, NotFound

# Kinds whose effect reaches down to the regions below the one they name.
INHERITED_FAMILIES = ("alert.",)
INHERITED_KINDS = frozenset({Kind.REGION_CONFIGURED.value})
_KINDS = frozenset(k.value for k in Kind)  # built once, not at every stream's handshake


@dataclass(frozen=True, slots=True)
class Route:
    """Where an event lands: its region with every ancestor, and its alert type if any."""

    kind: str
    region: str | None
    chain: frozenset[str]
    alert_type: str | None

    @property
    def inherited(self) -> bool:
        return self.kind in INHERITED_KINDS or self.kind.startswith(INHERITED_FAMILIES)


@dataclass(frozen=True, slots=True)
class StreamFilter:
    regions: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    families: frozenset[str] = frozenset()
    # The subscribed regions and all their ancestors: alerts declared on these reach down.
    covering: frozenset[str] = field(default=frozenset(), compare=False)

    @classmethod
    def build(cls, catalogue: Catalogue, regions: Iterable[str] = (),
              types: Iterable[str] = (), kinds: Iterable[str] = ()) -> StreamFilter:
        """Check and normalise the parts; a bad part raises a 4xx naming it."""
        codes: set[str] = set()
        for raw in regions:
            code = raw.strip().upper()
            if code not in catalogue:
                raise NotFound(f"region: unknown region {raw!r}", code="region_not_found",
                               field="region")
            codes.add(code)
        type_values: set[str] = set()
        for raw in types:
            try:
                type_values.add(AlertType(raw.strip()).value)
            except ValueError:
                choices = ", ".join(t.value for t in AlertType)
                raise BadRequest(f"type: {raw!r} is not one of {choices}", field="type",
                                 status=400) from None
        exact: set[str] = set()
        families: set[str] = set()
        known = _KINDS
        for raw in kinds:
            name = raw.strip()
            if name.endswith(".*") and any(k.startswith(name[:-1]) for k in known):
                families.add(name[:-1])
            elif name in known:
                exact.add(name)
            else:
                choices = ", ".join(sorted(known | {k.split(".")[0] + ".*" for k in known}))
                raise BadRequest(f"kind: {raw!r} is not one of {choices}", field="kind",
                                 status=400)
        covering = set(codes)
        for code in codes:
            covering.update(catalogue.ancestors(code))
        return cls(frozenset(codes), frozenset(type_values), frozenset(exact),
                   frozenset(families), frozenset(covering))

    def matches(self, route: Route) -> bool:
        if (self.kinds or self.families) and route.kind not in self.kinds and not any(
                route.kind.startswith(f) for f in self.families):
            return False
        if self.types and route.alert_type is not None and route.alert_type not in self.types:
            return False
        if self.regions:
            if route.region is None:
                return False
            if self.regions.isdisjoint(route.chain) and not (
                    route.inherited and route.region in self.covering):
                return False
        return True

    def describe(self) -> dict[str, Any]:
        return {"regions": sorted(self.regions), "types": sorted(self.types),
                "kinds": sorted(self.kinds | {f + "*" for f in self.families})}


EVERYTHING = StreamFilter()


class Router:
    """Finds each event's route; region chains are cached (the catalogue never changes)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._chains: dict[str, frozenset[str]] = {}

    def chain(self, region: str) -> frozenset[str]:
        found = self._chains.get(region)
        if found is None:
            ancestors = self.catalogue.ancestors(region) if region in self.catalogue else []
            found = self._chains[region] = frozenset((region, *ancestors))
        return found

    def route(self, event: Event, state: State) -> Route:
        payload = event.payload
        region = payload.get("region")
        alert_type = payload.get("type") if event.kind.startswith("alert.") else None
        if not isinstance(region, str):
            region = None
            alert_id = payload.get("alert_id")
            incident_id = payload.get("incident_id")
            if isinstance(incident_id, int) and incident_id in state.incidents:
                region = _incident_region_at(state, incident_id, event.seq)
            elif isinstance(alert_id, int) and alert_id in state.alerts:
                alert = state.alerts[alert_id]
                region = alert.region
                if event.kind.startswith("alert."):
                    alert_type = alert.type.value
        chain = self.chain(region) if region is not None else frozenset()
        return Route(event.kind, region, chain,
                     alert_type if isinstance(alert_type, str) else None)


def _incident_region_at(state: State, incident_id: int, seq: int) -> str:
    """The incident's region as of event ``seq`` (an update may have moved it since)."""
    incident = state.incidents[incident_id]
    moves = [entry for entry in incident.history if "region" in entry]
    for entry in reversed(moves):
        if entry["seq"] <= seq:
            return str(entry["region"])
    return incident.region


__all__ = ["EVERYTHING", "Route", "Router", "StreamFilter"]
