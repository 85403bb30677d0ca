"""Alerts, threats and incidents: the vocabulary of the domain, with no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class AlertType(StrEnum):
    AIR_RAID = "air_raid"
    ARTILLERY_SHELLING = "artillery_shelling"
    URBAN_FIGHTS = "urban_fights"
    CHEMICAL = "chemical"
    NUCLEAR = "nuclear"


class ThreatType(StrEnum):
    DRONES = "drones"
    MISSILES = "missiles"
    BALLISTIC = "ballistic"
    GUIDED_BOMBS = "guided_bombs"
    AVIATION = "aviation"


class ThreatLevel(StrEnum):
    RED = "red"
    YELLOW = "yellow"


class AlertStatus(StrEnum):
    """CAP's status: exercise and test alerts are flagged everywhere and never count as actual."""

    ACTUAL = "actual"
    EXERCISE = "exercise"
    TEST = "test"


class IncidentKind(StrEnum):
    FIRE = "fire"
    DEBRIS = "debris"
    EXPLOSION = "explosion"
    DAMAGE = "damage"
    CASUALTIES = "casualties"
    OTHER = "other"


class IncidentStatus(StrEnum):
    PRELIMINARY = "preliminary"
    CONFIRMED = "confirmed"
    RETRACTED = "retracted"


@dataclass(frozen=True, slots=True)
class Threat:
    type: ThreatType
    level: ThreatLevel

    def to_json(self) -> dict[str, str]:
        return {"type": self.type.value, "level": self.level.value}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Threat:
        return cls(ThreatType(data["type"]), ThreatLevel(data["level"]))


def threats_to_json(threats: tuple[Threat, ...]) -> list[dict[str, str]]:
    return [t.to_json() for t in threats]


def threats_from_json(items: list[dict[str, Any]]) -> tuple[Threat, ...]:
    return tuple(Threat.from_json(item) for item in items)


def alert_level(threats: tuple[Threat, ...]) -> ThreatLevel | None:
    """The alert's overall level: red if any threat is red."""
    if not threats:
        return None
    if any(t.level is ThreatLevel.RED for t in threats):
        return ThreatLevel.RED
    return ThreatLevel.YELLOW


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    region: str
    type: AlertType
    status: AlertStatus
    threats: tuple[Threat, ...]
    source: str
    note: str
    started_at: str
    updated_at: str
    ended_at: str | None = None
    withdrawn: bool = False
    end_reason: str | None = None
    shelter_seconds: int | None = None
    declared_seq: int = 0
    last_seq: int = 0

    @property
    def active(self) -> bool:
        return self.ended_at is None

    def with_changes(self, **changes: Any) -> Alert:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    kind: IncidentKind
    region: str
    status: IncidentStatus
    source: str
    description: str
    reported_at: str
    updated_at: str
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    killed: int | None = None
    injured: int | None = None
    embargo_until: str | None = None
    alert_id: int | None = None
    history: tuple[dict[str, Any], ...] = field(default=())
    last_seq: int = 0

    def with_changes(self, **changes: Any) -> Incident:
        return replace(self, **changes)

    def public_at(self, now: str) -> bool:
        return self.embargo_until is None or self.embargo_until <= now
