"""Atom and RSS 2.0 feeds of the active and recent CAP messages, for alert hubs.

One entry per chain: the newest message of every active alert (and of incidents linked to one),
and of every alert or incident that changed in the hour before the last change. Each entry's id
(RSS guid) is the CAP identifier, its updated time (pubDate) the message's sent, and its link
points at the CAP XML with ``type="application/cap+xml"`` (in RSS an ``<enclosure>`` of that
type, with the message's length in bytes).

Aggregators poll feeds often and expect them small, yet a hub must see every alert in force.
So the feed is paged (RFC 5005 paged feeds): each document stays under ``BUDGET`` bytes and,
when entries remain, links to the next page with ``rel="next"`` (in RSS an ``atom:link``).
Entries run newest first in log order, and a page after the first is addressed by a cursor, the
sequence number its entries come before (``?before=N``), not by a page number: a change made
while a reader walks the pages puts the changed chain on the first page, and shifts nothing
else, so no entry that is still listed is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
BUDGET = 90_000  # bytes per page; aggregators expect feeds well under 100 KB
LINK_ROOM = 400  # bytes kept for the next-page link, added once the page is full
EMPTY_TIME = "2022-01-01T00:00:00.000Z"  # the feed's time before anything happened
ATOM_PATH = "/cap/feed.atom"
RSS_PATH = "/cap/feed.rss"


def _tag(parent: etree._Element, tag: str, text: str | None = None,
         **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _title(publisher: Publisher) -> str:
    return f"{publisher.sender_name}: CAP alerts"


def after(messages: Sequence[Message], before: int | None) -> list[Message]:
    """The listing from a cursor: the entries older (in log order) than message ``before``."""
    return list(messages) if before is None else [m for m in messages if m.seq < before]


def page_url(base: str, path: str, before: int | None) -> str:
    return base + path + ("" if before is None else f"?before={before}")


def _fill(container: etree._Element, messages: Sequence[Message], size: int,
          entry: Callable[[Message], etree._Element], repeated: int = 0) -> int | None:
    """Append entries while the document stays under the budget; the cursor of the next page,
    or None when every message fitted. ``repeated``: bytes an entry measured alone has that it
    does not have in the document (its namespace declaration)."""
    for index, message in enumerate(messages):
        element = entry(message)
        size += _size(element) - repeated
        if size > BUDGET - LINK_ROOM and index:  # a page holds at least one entry
            return messages[index - 1].seq
        container.append(element)
    return None


def atom(messages: Sequence[Message], publisher: Publisher, catalogue: Catalogue,
         base: str, updated: str | None, before: int | None = None) -> bytes:
    """One page of the Atom feed: ``messages`` is the whole listing, newest first."""
    a = f"{{{ATOM_NS}}}"
    feed = etree.Element(a + "feed", nsmap={None: ATOM_NS})  # type: ignore[dict-item]
    _tag(feed, a + "id", f"urn:tryvoga:{publisher.sender}:feed")
    _tag(feed, a + "title", _title(publisher))
    _tag(feed, a + "updated", cap_time(updated or EMPTY_TIME))
    author = _tag(feed, a + "author")
    _tag(author, a + "name", publisher.sender_name)
    _tag(feed, a + "link", rel="self", type=ATOM_TYPE, href=page_url(base, ATOM_PATH, before))
    _tag(feed, a + "link", rel="alternate", type=RSS_TYPE,
         href=page_url(base, RSS_PATH, before))
    if before is not None:
        _tag(feed, a + "link", rel="first", type=ATOM_TYPE, href=base + ATOM_PATH)
    lang = publisher.languages[0]

    def entry(message: Message) -> etree._Element:
        element = etree.Element(a + "entry", nsmap={None: ATOM_NS})  # type: ignore[dict-item]
        _tag(element, a + "id", publisher.identifier(message.seq))
        _tag(element, a + "title", publisher.headline(message, catalogue, lang))
        _tag(element, a + "updated", cap_time(message.time))
        _tag(element, a + "link", rel="alternate", type=CAP_TYPE,
             href=base + publisher.path(message.seq))
        return element

    metadata = len(feed)
    cursor = _fill(feed, after(messages, before), _size(feed), entry,
                   repeated=len(f' xmlns="{ATOM_NS}"'))
    if cursor is not None:
        feed.insert(metadata, etree.Element(a + "link", rel="next", type=ATOM_TYPE,
                                            href=page_url(base, ATOM_PATH, cursor)))
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8")


def rss(messages: Sequence[Message], publisher: Publisher, catalogue: Catalogue,
        base: str, updated: str | None, length: Callable[[Message], int],
        before: int | None = None) -> bytes:
    """One page of the RSS feed; ``length`` gives a message's size in bytes for its
    enclosure."""
    a = f"{{{ATOM_NS}}}"
    root = etree.Element("rss", version="2.0", nsmap={"atom": ATOM_NS})
    channel = _tag(root, "channel")
    _tag(channel, "title", _title(publisher))
    _tag(channel, "link", base + RSS_PATH)
    _tag(channel, "description", f"CAP 1.2 warning messages from {publisher.sender_name}")
    _tag(channel, "lastBuildDate", _rfc822(updated or EMPTY_TIME))
    _tag(channel, a + "link", rel="self", type=RSS_TYPE, href=page_url(base, RSS_PATH, before))
    if before is not None:
        _tag(channel, a + "link", rel="first", type=RSS_TYPE, href=base + RSS_PATH)
    lang = publisher.languages[0]

    def item(message: Message) -> etree._Element:
        element = etree.Element("item")
        href = base + publisher.path(message.seq)
        _tag(element, "title", publisher.headline(message, catalogue, lang))
        _tag(element, "link", href)
        _tag(element, "guid", publisher.identifier(message.seq), isPermaLink="false")
        _tag(element, "pubDate", _rfc822(message.time))
        _tag(element, "enclosure", url=href, type=CAP_TYPE, length=str(length(message)))
        return element

    metadata = len(channel)
    cursor = _fill(channel, after(messages, before), _size(root), item)
    if cursor is not None:
        channel.insert(metadata, etree.Element(a + "link", rel="next", type=RSS_TYPE,
                                               href=page_url(base, RSS_PATH, cursor)))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _size(element: etree._Element) -> int:
    """Bytes in UTF-8."""
    return len(etree.tostring(element, encoding="unicode").encode("utf-8"))


def _rfc822(log_time: str) -> str:
    return format_datetime(texts.kyiv_time(log_time).replace(microsecond=0))
