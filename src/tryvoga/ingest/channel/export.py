"""Reading the channel: a Telegram Desktop export, text posts or the live feed's JSON become
:class:`Post` s (channel, id, time, text). Nothing is understood here yet."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tryvoga.domain.events import format_time, parse_time
from tryvoga.errors import BadRequest
from tryvoga.ingest.files import read_text

KYIV = ZoneInfo("Europe/Kyiv")
DEFAULT_CHANNEL = "air_alert_ua"
MAX_TEXT = 10_000



@dataclass(frozen=True, slots=True)
class Post:
    """One channel post: its channel, message id, own timestamp (UTC, log format) and text."""

    channel: str
    id: str
    time: str
    text: str

    def sort_key(self) -> tuple[str, str, int, str]:
        # ASCII digits only: "²".isdigit() is true and int("²") fails (found by
        # tests/suite/test_parser_fuzz.py: a post with that id was a 500).
        number = int(self.id) if self.id.isascii() and self.id.isdigit() else 0
        return (self.time, self.channel, number, self.id)


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


def clean_text(text: str) -> str:
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
        text = clean_text(entity_text(item.get("text")))
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
        body = clean_text("\n".join(lines[1:]))
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
