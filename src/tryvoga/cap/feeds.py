"""Atom and RSS 2.0 feeds of the active and recent CAP messages, for alert hubs.

One entry per chain: the newest message of every active alert (and of incidents linked to one),
and of every alert or incident that changed in the hour before the last change. Each entry's id
(RSS guid) is the CAP identifier, its updated time (pubDate) the message's sent, and its link
points at the CAP XML with ``type="application/cap+xml"``. Aggregators poll feeds often, so a
feed stops adding entries, oldest last, before it reaches ``BUDGET`` bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import format_datetime

from lxml import etree

from tryvoga.cap import texts
from tryvoga.cap.projection import Message
from tryvoga.cap.render import CAP_TYPE, Publisher, cap_time
from tryvoga.domain.regions import Catalogue

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"
RECENT_SECONDS = 3600
BUDGET = 90_000  # bytes; aggregators expect feeds well under 100 KB
EMPTY_TIME = "2022-01-01T00:00:00.000Z"  # the feed's time before anything happened


def _tag(parent: etree._Element, tag: str, text: str | None = None,
         **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _title(publisher: Publisher) -> str:
    return f"{publisher.sender_name}: CAP alerts"


def atom(messages: Sequence[Message], publisher: Publisher, catalogue: Catalogue,
         base: str, last_time: str | None) -> bytes:
    a = f"{{{ATOM_NS}}}"
    feed = etree.Element(a + "feed", nsmap={None: ATOM_NS})  # type: ignore[dict-item]
    _tag(feed, a + "id", f"urn:tryvoga:{publisher.sender}:feed")
    _tag(feed, a + "title", _title(publisher))
    _tag(feed, a + "updated", cap_time(last_time or EMPTY_TIME))
    author = _tag(feed, a + "author")
    _tag(author, a + "name", publisher.sender_name)
    _tag(feed, a + "link", rel="self", type=ATOM_TYPE, href=f"{base}/cap/feed.atom")
    _tag(feed, a + "link", rel="alternate", type=RSS_TYPE, href=f"{base}/cap/feed.rss")
    size = _size(feed)
    lang = publisher.languages[0]
    for message in messages:
        entry = etree.Element(a + "entry")
        _tag(entry, a + "id", publisher.identifier(message.seq))
        _tag(entry, a + "title", publisher.headline(message, catalogue, lang))
        _tag(entry, a + "updated", cap_time(message.time))
        _tag(entry, a + "link", rel="alternate", type=CAP_TYPE,
             href=base + publisher.path(message.seq))
        size += _size(entry)
        if size > BUDGET:
            break
        feed.append(entry)
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8")


def rss(messages: Sequence[Message], publisher: Publisher, catalogue: Catalogue,
        base: str, last_time: str | None) -> bytes:
    root = etree.Element("rss", version="2.0")
    channel = _tag(root, "channel")
    _tag(channel, "title", _title(publisher))
    _tag(channel, "link", f"{base}/cap/feed.rss")
    _tag(channel, "description", f"CAP 1.2 warning messages from {publisher.sender_name}")
    _tag(channel, "lastBuildDate", _rfc822(last_time or EMPTY_TIME))
    size = _size(root)
    lang = publisher.languages[0]
    for message in messages:
        item = etree.Element("item")
        _tag(item, "title", publisher.headline(message, catalogue, lang))
        _tag(item, "link", base + publisher.path(message.seq))
        _tag(item, "guid", publisher.identifier(message.seq), isPermaLink="false")
        _tag(item, "pubDate", _rfc822(message.time))
        size += _size(item)
        if size > BUDGET:
            break
        channel.append(item)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _size(element: etree._Element) -> int:
    """Bytes in UTF-8 (a little more for an entry alone: it repeats the namespace)."""
    return len(etree.tostring(element, encoding="unicode").encode("utf-8"))


def _rfc822(log_time: str) -> str:
    return format_datetime(texts.kyiv_time(log_time).replace(microsecond=0))
