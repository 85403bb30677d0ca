"""Parsing a post: what it says (start, all-clear, partial all-clear, threat, shelling, test)
and the places it names, resolved in the catalogue."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tryvoga.domain.model import (
    AlertType,
    ThreatType,
)
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import Catalogue, Level, Region
from tryvoga.ingest.channel.export import clean_text
from tryvoga.ingest.former_names import current_name


class Action(StrEnum):
    START = "start"
    END = "end"
    PARTIAL_END = "partial_end"
    THREAT = "threat"
    THREAT_END = "threat_end"



@dataclass(frozen=True, slots=True)
class Place:
    text: str
    code: str | None
    reason: str = ""
    candidates: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"text": self.text, "region": self.code}
        if self.code is None:
            body["reason"] = self.reason
            body["candidates"] = list(self.candidates)
        return body


@dataclass(frozen=True, slots=True)
class Parsed:
    action: Action
    alert_type: AlertType
    threat: ThreatType | None
    places: tuple[Place, ...]
    remaining: tuple[Place, ...] = ()
    stated: str | None = None  # the HH:MM written in the post

    @property
    def unresolved(self) -> list[Place]:
        return [p for p in (*self.places, *self.remaining) if p.code is None]


@dataclass(frozen=True, slots=True)
class NotApplied:
    """A post that changes nothing: skipped (a test, not an alert post) or failed to parse."""

    failed: bool
    reason: str
    detail: str


_MARKS = re.compile(r"^[\s🔴🟢🟡🟠🔵⚪⚫❗❕‼⚠️\ufe0f\u200d]*")
_STATED = re.compile(r"^(\d{1,2}):(\d{2})\b\s*")
_TAGS = re.compile(r"#[^\s#]+")
_BULLET = re.compile(r"^\s*[•\-–—▪·*]\s*(.+?)\s*$")
_FOLLOW = re.compile(r"^слідкуйте за подальшими повідомленнями", re.IGNORECASE)
_STILL = re.compile(r"тривога\s+(?:ще\s+)?триває\s+(?:у|в)\b", re.IGNORECASE)
_NOW_IN = re.compile(r"^зараз\s+(?:у|в)\s+(.+?)[.!]*$", re.IGNORECASE)
_TEST = re.compile(r"тестов\w*\s+регіон", re.IGNORECASE)

_IN = r"(?:\s+(?:в|у|на)(?:\s+(?P<place>.+?))?)?\s*[.!]*"
_DRONES = r"(?:ударних\s+)?(?:бпла|безпілотник\w*|дрон\w*|шахед\w*)"
_BOMBS = r"(?:керован\w+\s+авіа(?:ційн\w+\s+)?бомб\w*|каб\w*)"
_BALLISTIC = r"(?:балістик\w*|балістичн\w+(?:\s+(?:ракет|озброєнн)\w*)?)"

# Checked in order: every all-clear before the start it mentions.
_PATTERNS: tuple[tuple[re.Pattern[str], Action, AlertType, ThreatType | None], ...] = tuple(
    (re.compile(rx, re.IGNORECASE), action, type_, threat) for rx, action, type_, threat in (
        (rf"^відбій\s+загрози\s+артобстрілу{_IN}$", Action.END,
         AlertType.ARTILLERY_SHELLING, None),
        (rf"^відбій\s+загрози\s+вуличних\s+боїв{_IN}$", Action.END,
         AlertType.URBAN_FIGHTS, None),
        (rf"^відбій\s+хімічної\s+загрози{_IN}$", Action.END, AlertType.CHEMICAL, None),
        (rf"^відбій\s+радіаційної\s+загрози{_IN}$", Action.END, AlertType.NUCLEAR, None),
        (rf"^відбій\s+(?:загрози\s+)?(?:застосування\s+)?{_DRONES}{_IN}$", Action.THREAT_END,
         AlertType.AIR_RAID, ThreatType.DRONES),
        (rf"^відбій\s+ракетної\s+загрози{_IN}$", Action.THREAT_END, AlertType.AIR_RAID,
         ThreatType.MISSILES),
        (rf"^відбій\s+(?:загрози\s+)?(?:застосування\s+)?(?:по\s+)?{_BOMBS}{_IN}$",
         Action.THREAT_END, AlertType.AIR_RAID, ThreatType.GUIDED_BOMBS),
        (rf"^відбій\s+(?:загрози\s+)?(?:застосування\s+)?{_BALLISTIC}{_IN}$",
         Action.THREAT_END, AlertType.AIR_RAID, ThreatType.BALLISTIC),
        (rf"^відбій\s+(?:повітряної\s+)?тривоги{_IN}$", Action.END, AlertType.AIR_RAID, None),
        (rf"^повітряна\s+тривога{_IN}$", Action.START, AlertType.AIR_RAID, None),
        (rf"^загроза\s+артобстрілу{_IN}$", Action.START, AlertType.ARTILLERY_SHELLING, None),
        (rf"^загроза\s+вуличних\s+боїв{_IN}$", Action.START, AlertType.URBAN_FIGHTS, None),
        (rf"^хімічна\s+загроза{_IN}$", Action.START, AlertType.CHEMICAL, None),
        (rf"^радіаційна\s+загроза{_IN}$", Action.START, AlertType.NUCLEAR, None),
        (rf"^загроза\s+(?:застосування\s+)?{_DRONES}{_IN}$", Action.THREAT,
         AlertType.AIR_RAID, ThreatType.DRONES),
        (rf"^ракетна\s+(?:загроза|небезпека){_IN}$", Action.THREAT, AlertType.AIR_RAID,
         ThreatType.MISSILES),
        (rf"^загроза\s+(?:застосування\s+)?{_BOMBS}{_IN}$", Action.THREAT,
         AlertType.AIR_RAID, ThreatType.GUIDED_BOMBS),
        (rf"^(?:загроза\s+(?:застосування\s+)?)?{_BALLISTIC}(?:\s+загроза)?{_IN}$",
         Action.THREAT, AlertType.AIR_RAID, ThreatType.BALLISTIC),
        # Regional administrations: "{place} - повітряна тривога!"
        (r"^(?P<place>.+?)\s+[-–—]\s+відбій\s+повітряної\s+тривоги\s*[.!]*$", Action.END,
         AlertType.AIR_RAID, None),
        (r"^(?P<place>.+?)\s+[-–—]\s+повітряна\s+тривога\s*[.!]*$", Action.START,
         AlertType.AIR_RAID, None),
    ))


def _recognize(head: str) -> tuple[re.Match[str], Action, AlertType, ThreatType | None] | None:
    for pattern, action, alert_type, threat in _PATTERNS:
        match = pattern.match(head)
        if match is not None:
            return match, action, alert_type, threat
    return None


AMBIGUOUS = "several regions have this name"

# The levels the channel names; a name that fits none of them is tried at every level.
CHANNEL_LEVELS = (Level.OBLAST, Level.SPECIAL_CITY, Level.RAION, Level.HROMADA)


class ChannelParser:
    """Text of one post -> :class:`Parsed` or :class:`NotApplied`; places resolved."""

    def __init__(self, catalogue: Catalogue, names: NameIndex | None = None) -> None:
        self.catalogue = catalogue
        self.names = names or NameIndex(catalogue)

    def parse(self, text: str) -> Parsed | NotApplied:
        text = clean_text(text)
        if not text:
            return NotApplied(False, "empty", "the post has no text")
        if _TEST.search(text):
            return NotApplied(False, "test", "a test post (Тестовий Регіон)")
        tags = _TAGS.findall(text)
        lines = [line.strip() for line in text.split("\n")]
        lines = [line for line in lines
                 if line and not _FOLLOW.match(line) and _TAGS.sub("", line).strip()]
        if not lines:
            return NotApplied(True, "unrecognized", "no message besides hashtags")
        head = _MARKS.sub("", lines[0])
        marks = lines[0][:len(lines[0]) - len(head)]
        stated_match = _STATED.match(head)
        stated = None
        if stated_match is not None:
            stated = f"{int(stated_match[1]):02d}:{stated_match[2]}"
            head = head[stated_match.end():]
        head = head.strip()
        found = _recognize(head)
        if found is None:
            return NotApplied(True, "unrecognized",
                              f"not a known alert-channel message: {lines[0][:80]!r}")
        match, action, alert_type, threat = found
        if action is Action.END and "🟡" in marks and alert_type is AlertType.AIR_RAID:
            action = Action.PARTIAL_END
        named: list[str] = []
        remaining: list[str] = []
        if match.groupdict().get("place"):
            named.append(match["place"])
        target = named
        for line in lines[1:]:
            if _STILL.search(line):
                target = remaining
                continue
            bullet = _BULLET.match(line)
            now_in = _NOW_IN.match(line)
            if bullet is not None:
                target.append(bullet[1])
            elif now_in is not None and not named:
                named.append(now_in[1])
        from_tags = False
        if not named:
            if not tags:
                return NotApplied(True, "no_place", "the post names no place")
            named = [t for t in tags if not _TEST.search(t)]
            from_tags = True
        context = self._context(tags, named if not from_tags else [])
        places = tuple(self.resolve(p, context) for p in dict.fromkeys(_place_text(n)
                                                                       for n in named))
        rest = tuple(self.resolve(p, context) for p in dict.fromkeys(_place_text(n)
                                                                     for n in remaining))
        return Parsed(action, alert_type, threat, places, rest, stated)

    def _context(self, tags: Iterable[str], named: Iterable[str]) -> set[str]:
        """Top-level regions the post's hashtags and unambiguous places lie in."""
        tops: set[str] = set()
        for text in (*tags, *named):
            found = self.names.find(_place_text(text), levels=CHANNEL_LEVELS)
            if found.region is not None:
                top = self.catalogue.top_of(found.region.code)
                if top is not None:
                    tops.add(top)
        return tops

    def resolve(self, text: str, context: set[str] | None = None) -> Place:
        matches = self._matches(text)
        if not matches:
            # A place renamed since ("Першотравенськ" is Шахтарське): the one table of
            # former names that the historical record uses too.
            renamed = current_name(text)
            if renamed is not None:
                matches = self._matches(renamed)
        if len(matches) == 1:
            return Place(text, matches[0].code)
        if not matches:
            return Place(text, None, "no region has this name")
        # Several places have this name: what the post says (its hashtags, the oblast it
        # names) decides; if it does not, the alerts in force do (Working.settle).
        if context:
            near = [r for r in matches if self.catalogue.top_of(r.code) in context]
            if len(near) == 1:
                return Place(text, near[0].code)
            matches = near or matches
        return Place(text, None, AMBIGUOUS, tuple(r.code for r in matches[:10]))

    def _matches(self, text: str) -> list[Region]:
        found = self.names.find(text, levels=CHANNEL_LEVELS)
        return list(found.matches) or list(self.names.find(text).matches)


def _place_text(text: str) -> str:
    """A place as written, without the sentence's end (a hashtag stays: the index reads it)."""
    return text.strip().rstrip(".!;,:").strip()
