"""What a reading gives: proposals (drafts of events) and the places it could not resolve."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tryvoga.domain.regions import Catalogue, Level, Region


@dataclass(frozen=True, slots=True)
class Draft:
    """A proposed event, before the proposals store gives it an id."""

    kind: str  # alert | all_clear | incident
    region: str
    region_name: str
    alert_type: str | None
    threats: tuple[str, ...]
    incident_kind: str | None
    status: str | None
    source: str
    description: str
    evidence: str  # the sentence it was read from, as written
    why: str = ""  # what in the sentence gave it, and where its place came from
    killed: int | None = None  # casualties: the numbers the text gives, if it gives them
    injured: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "region": self.region, "region_name": self.region_name,
            "alert_type": self.alert_type,
            "threats": [{"type": t, "level": "red"} for t in self.threats],
            "incident_kind": self.incident_kind, "status": self.status, "source": self.source,
            "description": self.description, "evidence": self.evidence, "why": self.why,
            "killed": self.killed, "injured": self.injured,
        }


@dataclass(frozen=True, slots=True)
class Unresolved:
    text: str
    reason: str  # ambiguous | not_found | vague | no_place
    candidates: tuple[dict[str, Any], ...]  # code, name (with its city or oblast), level
    evidence: str

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "reason": self.reason,
                "candidates": [dict(c) for c in self.candidates], "evidence": self.evidence}


def candidates_json(catalogue: Catalogue, regions: Iterable[Region]) -> tuple[dict[str, Any], ...]:
    return tuple({"code": r.code, "name": region_name(catalogue, r.code), "name_uk": r.name_uk,
                  "level": r.level.value} for r in regions)


@dataclass(frozen=True, slots=True)
class Reading:
    proposals: tuple[Draft, ...]
    unresolved: tuple[Unresolved, ...]

    def to_json(self) -> dict[str, Any]:
        return {"proposals": [p.to_json() for p in self.proposals],
                "unresolved": [u.to_json() for u in self.unresolved]}


def region_name(catalogue: Catalogue, code: str) -> str:
    """The English name, with the city or oblast it lies in: "Dniprovskyi District, Kyiv"."""
    region = catalogue[code]
    if region.level is Level.CITY_DISTRICT and region.parent:
        return f"{region.name_en}, {catalogue[region.parent].name_en}"
    top = catalogue.top_of(code)
    if region.level not in (Level.OBLAST, Level.SPECIAL_CITY, Level.COUNTRY) and top:
        return f"{region.name_en}, {catalogue[top].name_en}"
    return region.name_en
