"""Where incoming CAP comes from: a file, a URL, or a feed (Atom or RSS) that links to messages.

Fetching follows no redirects, ignores proxy variables, caps the size, and times out; the CLI
fetches only from loopback addresses. A feed's entries are returned oldest first, so that an
Alert is taken before the Updates that reference it.
"""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from tryvoga import __version__
from tryvoga.cap.parse import MAX_BYTES, CapRejected, is_cap
from tryvoga.cap.render import CAP_TYPE
from tryvoga.errors import BadRequest

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_MAX_BYTES = 8 * MAX_BYTES
TIMEOUT = 10.0


class FetchFailed(CapRejected):
    default_code = "cap_fetch_failed"


def is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https")


def require_loopback(url: str) -> None:
    """Only 127.0.0.0/8, ::1 and ``localhost``: names are not looked up, so a name cannot be
    pointed elsewhere between the check and the fetch."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise BadRequest(f"{url}: the CLI fetches CAP only from loopback addresses "
                         "(127.0.0.1, ::1, localhost); save the file and give its path",
                         code="cap_url_not_loopback")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


@dataclass(frozen=True, slots=True)
class Fetched:
    body: bytes | None  # None: not modified since the validators given
    etag: str | None
    last_modified: str | None


def fetch(url: str, *, etag: str | None = None, last_modified: str | None = None,
          limit: int = FEED_MAX_BYTES) -> Fetched:
    request = urllib.request.Request(url, headers={
        "User-Agent": f"Tryvoga/{__version__} (CAP ingest)",
        "Accept": f"{CAP_TYPE}, application/atom+xml, application/rss+xml, application/xml"})
    if etag:
        request.add_header("If-None-Match", etag)
    if last_modified:
        request.add_header("If-Modified-Since", last_modified)
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            body = response.read(limit + 1)
            headers = response.headers
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(None, etag, last_modified)
        raise FetchFailed(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchFailed(f"{url}: cannot fetch: {reason}") from None
    if len(body) > limit:
        raise FetchFailed(f"{url}: larger than {limit} bytes")
    return Fetched(body, headers.get("ETag"), headers.get("Last-Modified"))


@dataclass(frozen=True, slots=True)
class Item:
    """One message a feed points at: its link, or its XML when the feed carries it inline."""

    key: str  # what changes when the entry changes: id and updated time, or the link
    url: str | None
    inline: bytes | None


def items(root: etree._Element, base: str) -> list[Item]:
    """The messages of an Atom or RSS feed, oldest first; CapRejected for anything else."""
    found: list[Item] = []
    if root.tag == f"{{{ATOM_NS}}}feed":
        a = f"{{{ATOM_NS}}}"
        for entry in root.findall(a + "entry"):
            entry_id = (entry.findtext(a + "id") or "").strip()
            updated = (entry.findtext(a + "updated") or "").strip()
            inline = next((child for content in entry.findall(a + "content")
                           for child in content if is_cap(child)), None)
            link = _atom_link(entry)
            if inline is not None:
                found.append(Item(f"{entry_id}|{updated}", None, etree.tostring(inline)))
            elif link is not None:
                href = urljoin(base, link)
                found.append(Item(f"{entry_id or href}|{updated}", href, None))
    elif root.tag == "rss":
        for item in root.iter("item"):
            guid = (item.findtext("guid") or "").strip()
            date = (item.findtext("pubDate") or "").strip()
            enclosure = item.find("enclosure")
            link = (enclosure.get("url") if enclosure is not None
                    and enclosure.get("type") == CAP_TYPE else None) or item.findtext("link")
            if link:
                href = urljoin(base, link.strip())
                found.append(Item(f"{guid or href}|{date}", href, None))
    else:
        raise CapRejected(f"neither a CAP message nor an Atom or RSS feed: the root element is "
                          f"{root.tag!r}")
    found.reverse()  # feeds list the newest first
    return found


def _atom_link(entry: etree._Element) -> str | None:
    links = entry.findall(f"{{{ATOM_NS}}}link")
    for link in links:
        if link.get("type") == CAP_TYPE and link.get("href"):
            return link.get("href")
    for link in links:
        href = link.get("href") or ""
        if link.get("rel", "alternate") == "alternate" and href.endswith(".xml"):
            return href
    return None
