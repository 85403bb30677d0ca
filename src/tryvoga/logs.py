"""The server's log lines: text or JSON (``--log-format``), each with the request id of the
request it was written for, and nothing secret in any of them.

The request id is set by ``api/ops.py`` for each request aiohttp answers (the incoming
``X-Request-Id`` when it is sane, else a new one) and returned in the ``X-Request-Id`` header; a
line logged while that request's handler runs carries it.

Secrets: the code never logs a token, password, webhook secret or Authorization header on
purpose, and every line still goes through :class:`Redactor` before it is written, which
replaces anything shaped like one (``Bearer ...``, ``tv_...`` tokens, ``whsec_...`` webhook
secrets, ``token=``/``secret=``/``password=``-style pairs, PEM blocks) with ``[redacted]``; an
exception's traceback is redacted with the message. ``tests/test_ops.py`` greps a real
server's log for every secret it was given.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

REDACTED = "[redacted]"
_SECRETS = re.compile(
    r"-----BEGIN [A-Z ]+-----.*?(?:-----END [A-Z ]+-----|$)"
    r"|\b(?:tv|whsec)_[A-Za-z0-9_\-]{8,}"
    r"|(?<=[Bb]earer )\s*[^\s\"',;]+"
    r"|(?<=[Bb]asic )\s*[^\s\"',;]+"
    r"|(?i:(?<=token=)|(?<=secret=)|(?<=password=)|(?<=passwd=)|(?<=api_key=)"
    r"|(?<=apikey=)|(?<=signature=))[^\s\"'&,;]+"
    r"|(?i:(?<=\"token\": \")|(?<=\"secret\": \")|(?<=\"password\": \")"
    r"|(?<='token': ')|(?<='secret': ')|(?<='password': '))[^\"']+"
    r"|(?i:(?<=authorization: )|(?<=authorization=))[^\r\n]+"
    r"|(?<=:)[^/\s:@\[\]]+(?=@[^/\s@]+(?:[/:?#]|$))",  # a URL's password
    re.DOTALL)


def redact(text: str) -> str:
    return _SECRETS.sub(REDACTED, text)


class Redactor(logging.Filter):
    """Rewrites each record's message (and traceback) with every secret-shaped part
    replaced; attached to the handler, so it sees every logger's records."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record.request_id = REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(process)d %(levelname)s %(name)s%(rid)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", "")
        record.rid = f" [{rid}]" if rid else ""
        return super().format(record)


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, pid, and
    request_id and exception where there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        rid = getattr(record, "request_id", "")
        if rid:
            line["request_id"] = rid
        for key in ("method", "route", "path", "status", "duration_ms", "remote"):
            value = record.__dict__.get(key)
            if value is not None:
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def configure(level: str, fmt: str, stream: TextIO | None = None) -> logging.Handler:
    """Send every log record of this process to ``stream`` (stderr) in ``fmt``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(Redactor())
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


__all__ = ["REQUEST_ID", "JSONFormatter", "Redactor", "TextFormatter", "configure", "redact"]
