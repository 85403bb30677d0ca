"""Posts of the official alert channel ("Повітряна тривога") become alert events.

The formats are those in ``data/messages/README.md`` of the shared data:

* ``🔴 HH:MM Повітряна тривога в {place}``: an air-raid alert starts;
* ``🟢 HH:MM Відбій тривоги в {place}.``: it ends;
* ``🟡 HH:MM Відбій тривоги в {place}.`` + ``Зверніть увагу, тривога ще триває у:`` and a
  ``- {place}`` list: it ends there, but continues in the places listed;
* ``Загроза артобстрілу в {place}`` / ``Відбій загрози артобстрілу в {place}`` (and the older
  ``Загроза артобстрілу!`` + ``Зараз у {place}``): artillery shelling; by analogy urban fights
  (``Загроза вуличних боїв``), chemical (``Хімічна загроза``) and nuclear
  (``Радіаційна загроза``), each with its ``Відбій ...``;
* ``{place} - повітряна тривога!`` / ``{place} - відбій повітряної тривоги!`` (regional
  administrations);
* threat notices: ``Загроза ударних БпЛА``, ``Ракетна загроза``, ``Загроза керованих
  авіабомб``, ballistic threats and their ``Відбій ...`` (``Відбій по КАБах``). They never start
  or end an air-raid alert: the threat is added to (or taken from) the active air-raid alerts
  that cover the place, contain it or lie inside it; with none, the post is recorded as a
  threat notice and nothing changes.

``в {place}`` may instead be followed by lines ``• {place}``; a post's hashtags
(``#м_Київ``) name its places where the text does not, and help to tell apart places with the
same name. Places are resolved through the catalogue's name index. Posts that name
``Тестовий Регіон`` are tests and are ignored.

Time: the HH:MM in the text is Kyiv local time as the channel wrote it; the post's own
timestamp is authoritative and becomes the alert's start or end.

Applying a post
---------------
Each post is one command on the write path, keyed by channel and message id (the idempotency
key ``post:<id>`` of the actor ``channel:<channel>``; a token limited to some regions has keys
of its own), so it is applied once whatever the input it arrives by (an export, a text file, the
live feed) and re-sending it changes nothing. Within the post everything is decided against the
current state and applied in one transaction:

* a start on a place that already has its own active alert of that type changes nothing; a
  start older than the place's last all-clear of that type (a post arriving out of order) is
  skipped as superseded;
* an end closes the place's own active alert at the post's time. If the place has none but a
  region containing it has (an oblast-wide alert ended for one raion), that alert is split: it
  ends, and the other parts of it (raions, hromadas, districts) get alerts of their own from its
  start, so no place that the post did not name loses its alert. Alerts declared inside the
  place keep running: only their own all-clear ends them;
* a partial end is an end, and the places listed as still on alert keep (or get) an alert.

Every post is reported as applied, skipped (with the reason) or failed (with the reason: not
recognized, no place, a place that names no region or several).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tryvoga.domain.events import Event, Kind, NewEvent, format_time, parse_time
from tryvoga.domain.model import (
    AlertStatus,
    AlertType,
    Threat,
    ThreatLevel,
    ThreatType,
)
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import COUNTRY, PARTITIONING_LEVELS, Catalogue, Level
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, TryvogaError
from tryvoga.ingest.files import read_text
from tryvoga.service import Actor, Decision, Result, Service
from tryvoga.storage.base import WriteTransaction

KYIV = ZoneInfo("Europe/Kyiv")
DEFAULT_CHANNEL = "air_alert_ua"
MAX_TEXT = 10_000


class Action(StrEnum):
    START = "start"
    END = "end"
    PARTIAL_END = "partial_end"
    THREAT = "threat"
    THREAT_END = "threat_end"


# ---- input ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Post:
    """One channel post: its channel, message id, own timestamp (UTC, log format) and text."""

    channel: str
    id: str
    time: str
    text: str

    def sort_key(self) -> tuple[str, str, int, str]:
        return (self.time, self.channel, int(self.id) if self.id.isdigit() else 0, self.id)


def entity_text(value: Any) -> str:
    """Telegram's ``text``: a string, or a list of strings and ``{"type", "text"}`` entities."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", ""))
                       if isinstance(part, dict) else "" for part in value)
    raise BadRequest("text must be a string or a list of Telegram text entities", field="text")


def _clean(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n"))


def _check_channel(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[\w@.:-]{1,100}", value.strip()):
        raise BadRequest("channel must be a name such as air_alert_ua (letters, digits, "
                         "_ . : @ -)", field="channel")
    return value.strip()


def _message_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadRequest("id must be the message id, a whole number or a short text",
                         field="id")
    text = str(value).strip()
    if not text or len(text) > 100 or any(c.isspace() for c in text):
        raise BadRequest("id must be the message id, a whole number or a short text",
                         field="id")
    return text


def post_from_json(item: Any, default_channel: str = DEFAULT_CHANNEL, *,
                   where: str = "") -> Post:
    """A post of the live feed or of an export: ``id``, ``date`` (ISO-8601 with offset) or
    ``date_unixtime``, ``text``, optionally ``channel``."""
    prefix = f"{where}." if where else ""
    if not isinstance(item, dict):
        raise BadRequest(f"{where or 'post'} must be an object with id, date and text",
                         field=where or None)
    unknown = set(item) - {"channel", "id", "date", "date_unixtime", "text", "type",
                           "text_entities", "from", "from_id", "edited", "edited_unixtime"}
    if unknown:
        name = sorted(unknown)[0]
        raise BadRequest(f"{prefix}{name}: unknown field", field=prefix + name)
    try:
        channel = _check_channel(item.get("channel", default_channel))
        ident = _message_id(item.get("id"))
        text = _clean(entity_text(item.get("text")))
    except BadRequest as exc:
        raise BadRequest(f"{prefix}{exc.message}", field=prefix + (exc.field or "")) from None
    if len(text) > MAX_TEXT:
        raise BadRequest(f"{prefix}text is longer than {MAX_TEXT} characters",
                         field=prefix + "text")
    return Post(channel, ident, _post_time(item, prefix), text)


def _post_time(item: dict[str, Any], prefix: str) -> str:
    unix = item.get("date_unixtime")
    if unix is not None:
        try:
            return format_time(datetime.fromtimestamp(int(unix), UTC))
        except (TypeError, ValueError, OverflowError, OSError):
            raise BadRequest(f"{prefix}date_unixtime must be seconds since 1970",
                             field=prefix + "date_unixtime") from None
    date = item.get("date")
    if not isinstance(date, str):
        raise BadRequest(f"{prefix}date is required: the post's own time, ISO-8601 with an "
                         "offset", field=prefix + "date")
    try:
        return format_time(parse_time(date))
    except ValueError:
        raise BadRequest(f"{prefix}date: {date!r} is not an ISO-8601 time with an offset, "
                         "e.g. 2024-08-22T08:40:01+03:00", field=prefix + "date") from None


@dataclass
class Reading:
    """Posts read from a file, and what in it is not a post (each with the reason)."""

    posts: list[Post] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (id, reason, detail)
    failed: list[tuple[str, str, str]] = field(default_factory=list)


def read_telegram_export(data: Any, channel: str | None = None) -> Reading:
    """A Telegram Desktop export (``result.json``) of one chat, or of several (``chats``)."""
    if not isinstance(data, dict):
        raise BadRequest("not a Telegram export: expected a JSON object with messages",
                         code="export_format")
    chats = ([data] if "messages" in data else
             data.get("chats", {}).get("list", []) if isinstance(data.get("chats"), dict)
             else [])
    if not chats:
        raise BadRequest("not a Telegram export: no messages in it", code="export_format")
    reading = Reading()
    for chat in chats:
        name = _check_channel(channel or DEFAULT_CHANNEL)
        for index, message in enumerate(chat.get("messages") or []):
            ident = str(message.get("id", f"#{index}")) if isinstance(message, dict) else ""
            if not isinstance(message, dict) or message.get("type", "message") != "message":
                reading.skipped.append((ident, "service_message", "not a post"))
                continue
            item = {k: message[k] for k in ("id", "date", "date_unixtime", "text")
                    if k in message}
            if "date_unixtime" not in item and isinstance(item.get("date"), str):
                # Telegram writes `date` in the exporting computer's time zone, without an
                # offset; `date_unixtime` is exact. Without it, take Kyiv time.
                item["date"] = _kyiv_iso(item["date"])
            try:
                reading.posts.append(post_from_json(item, name))
            except BadRequest as exc:
                reading.failed.append((ident, "bad_post", exc.message))
    return reading


def _kyiv_iso(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KYIV)
    return moment.isoformat()


_HEADER = re.compile(
    r"^\[?(?P<time>\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:\s*(?:Z|[+-]\d{2}:?\d{2}))?)\]?(?:\s+(?:id\s*[=:]\s*|#)?(?P<id>[\w.:-]+))?\s*$",
    re.IGNORECASE)


def read_text_posts(text: str, channel: str | None = None) -> Reading:
    """Plain-text posts, separated by lines of ``---``. Each starts with its timestamp
    (``2024-08-22 08:40:01``, Kyiv time unless it has an offset) and optionally the message
    id (``2024-08-22T08:40:01+03:00 id=1234``); lines before it that begin with ``# `` are
    comments. A post without an id gets one from its time and text."""
    name = _check_channel(channel or DEFAULT_CHANNEL)
    reading = Reading()
    blocks = re.split(r"(?m)^\s*-{3,}\s*$", text)
    for number, block in enumerate(blocks, start=1):
        lines = block.strip("\n").split("\n")
        while lines and (not lines[0].strip() or lines[0].startswith("# ")
                         or lines[0].strip() == "#"):
            lines.pop(0)
        if not lines:
            continue
        header = _HEADER.match(lines[0].strip())
        if header is None:
            reading.failed.append((f"block {number}", "no_timestamp",
                                   f"a post must start with its time, e.g. "
                                   f"'2024-08-22 08:40:01'; found {lines[0].strip()[:60]!r}"))
            continue
        body = _clean("\n".join(lines[1:]))
        try:
            moment = datetime.fromisoformat(header["time"].replace(" ", "T", 1)
                                            .replace("z", "Z"))
        except ValueError:
            reading.failed.append((f"block {number}", "no_timestamp",
                                   f"not a time: {header['time']!r}"))
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=KYIV)
        time = format_time(moment)
        ident = header["id"] or "t" + hashlib.sha256(
            f"{time}\n{body}".encode()).hexdigest()[:16]
        reading.posts.append(Post(name, ident, time, body))
    return reading


def read_file(path: Path, channel: str | None = None) -> Reading:
    """A Telegram export (JSON) or plain-text posts, told apart by the content."""
    _, text = read_text(path, "export_format")
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"{path.name}: not valid JSON: {exc}",
                             code="export_format") from None
        return read_telegram_export(data, channel)
    return read_text_posts(text, channel)


# ---- parsing ----------------------------------------------------------------------------------


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


# The levels the channel names; a name that fits none of them is tried at every level.
CHANNEL_LEVELS = (Level.OBLAST, Level.SPECIAL_CITY, Level.RAION, Level.HROMADA)


class ChannelParser:
    """Text of one post -> :class:`Parsed` or :class:`NotApplied`; places resolved."""

    def __init__(self, catalogue: Catalogue, names: NameIndex | None = None) -> None:
        self.catalogue = catalogue
        self.names = names or NameIndex(catalogue)

    def parse(self, text: str) -> Parsed | NotApplied:
        text = _clean(text)
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
        found = self.names.find(text, levels=CHANNEL_LEVELS)
        matches = list(found.matches) or list(self.names.find(text).matches)
        if len(matches) == 1:
            return Place(text, matches[0].code)
        if not matches:
            return Place(text, None, "no region has this name")
        if context:
            near = [r for r in matches if self.catalogue.top_of(r.code) in context]
            if len(near) == 1:
                return Place(text, near[0].code)
            matches = near or matches
        # The alert system names places it has ids for: of several, prefer the one with an id.
        with_id = [r for r in matches if r.api_id is not None]
        if len(with_id) == 1:
            return Place(text, with_id[0].code)
        return Place(text, None, "several regions have this name",
                     tuple(r.code for r in matches[:10]))


def _place_text(text: str) -> str:
    """A place as written, without the sentence's end (a hashtag stays: the index reads it)."""
    return text.strip().rstrip(".!;,:").strip()


# ---- applying ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Open:
    """An active alert as this post sees it, including the changes the post made so far."""

    id: int
    region: str
    type: AlertType
    started_at: str
    threats: tuple[Threat, ...]


class _Working:
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

    # -- looking at alerts --

    def active(self, region: str, type_: AlertType) -> _Open | None:
        opened = self.opened.get((region, type_))
        if opened is not None:
            return opened
        alert = self.state.find_active(region, type_, AlertStatus.ACTUAL)
        if alert is None or alert.id in self.closed:
            return None
        return _Open(alert.id, alert.region, alert.type, alert.started_at, alert.threats)

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
        payload: dict[str, Any] = {
            "alert_id": alert_id, "region": region, "type": type_.value,
            "status": AlertStatus.ACTUAL.value, "threats": [t.to_json() for t in threats],
            "source": f"channel {self.post.channel}",
            "note": note or f"post {self.post.id}",
            "shelter_seconds": self.state.shelter_seconds(region),
            "started_at": started_at,
        }
        self.events.append(NewEvent(Kind.ALERT_DECLARED, payload))
        self.opened[(region, type_)] = _Open(alert_id, region, type_, started_at, threats)
        self.effects.append(f"{type_.value} declared in {self.name(region)}")

    def close(self, alert: _Open, reason: str) -> None:
        self.events.append(NewEvent(Kind.ALERT_ENDED, {
            "alert_id": alert.id, "region": alert.region, "type": alert.type.value,
            "reason": reason, "ended_at": max(self.at, alert.started_at)}))
        self.closed.add(alert.id)
        self.opened.pop((alert.region, alert.type), None)
        self.effects.append(f"{alert.type.value} ended in {self.name(alert.region)}")

    def set_threats(self, alert: _Open, threats: tuple[Threat, ...]) -> None:
        self.events.append(NewEvent(Kind.ALERT_UPDATED, {
            "alert_id": alert.id, "region": alert.region, "type": alert.type.value,
            "threats": [t.to_json() for t in threats]}))
        # The overlay holds alerts changed by this post as well as the ones it opened.
        self.opened[(alert.region, alert.type)] = _Open(alert.id, alert.region, alert.type,
                                                        alert.started_at, threats)

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
            if target is None:
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
                    self.declare(kid, type_, cover.started_at, cover.threats,
                                 f"continues the alert for {self.name(cover.region)} "
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
        self.declare(region, AlertType.AIR_RAID,
                     ended.started_at if ended is not None and inside else self.at,
                     ended.threats if ended is not None and inside else (),
                     f"still on alert after the partial all-clear (post {self.post.id})")

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
        if len(parsed.unresolved) == len(parsed.places) + len(parsed.remaining):
            return Outcome(post, "failed", "unresolved_place", parsed.action.value,
                           parsed.stated, notes=("no place in the post names one region",),
                           places=tuple(p.to_json() for p in
                                        (*parsed.places, *parsed.remaining)))
        return parsed

    def apply(self, service: Service, submitter: Actor, post: Post, parsed: Parsed) -> Result:
        """The post as one command, keyed by channel and message id."""
        actor = Actor(f"channel:{post.channel}", submitter.scopes, submitter.write)
        request = {"op": "channel.post", "channel": post.channel, "id": post.id,
                   "time": post.time, "text": post.text}

        def decide(state: State, now: str) -> Decision:
            work = _Working(state, actor, post, min(post.time, now))
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
            return work.events, lambda after: (200, body)

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


__all__ = ["DEFAULT_CHANNEL", "Action", "ChannelIngest", "ChannelParser", "NotApplied",
           "Outcome", "Parsed", "Place", "Post", "Reading", "entity_text", "post_from_json",
           "read_file", "read_telegram_export", "read_text_posts", "refused", "summarize"]
