"""Where incoming CAP comes from: a file, a URL, or a feed (Atom or RSS) that links to messages.

Fetching follows no redirects, ignores proxy variables, caps the size, and times out; the CLI
fetches only from loopback addresses. A feed's entries are returned oldest first, so that an
Alert is taken before the Updates that reference it. A paged feed (RFC 5005: ``<link
rel="next">`` in Atom, ``<atom:link rel="next">`` in RSS) is read page by page, at most
``MAX_PAGES``, each page on the same server as the first.

Two kinds of trouble, kept apart because a poller treats them differently:

    CapRejected          the thing itself is wrong (not a URL, too large, not a feed): asking
                         again gives the same answer
    └── FetchFailed      it could not be had this time (HTTP error, connection refused,
                         time-out): tried again at the next poll

Messages name no URL: the caller puts the source in front of them, once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from lxml import etree

from tryvoga import __version__
from tryvoga.cap.parse import MAX_BYTES, CapRejected, is_cap, parse_xml
from tryvoga.cap.render import CAP_TYPE
from tryvoga.delivery.safety import DestinationRefused

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_MAX_BYTES = 8 * MAX_BYTES
MAX_PAGES = 100  # a busy night is a handful of 90 KB pages; a hundred is far beyond any
TIMEOUT = 10.0
_URL_RE = re.compile(r"^https?://", re.IGNORECASE)


class FetchFailed(CapRejected):
    default_code = "cap_fetch_failed"


def is_url(text: str) -> bool:
    """Meant as an http(s) URL (valid or not: ``check_url`` says which)."""
    return bool(_URL_RE.match(text))


def check_url(url: str) -> str:
    """An http(s) URL that can be fetched, or CapRejected saying plainly what is wrong."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number, or out of range, raises here
    except ValueError as exc:
        raise CapRejected(f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise CapRejected("not an http(s) URL")
    if not parts.hostname:
        raise CapRejected("not a valid URL (no host)")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise CapRejected("not a valid URL (it contains spaces or control characters)")
    return url


def require_loopback(url: str) -> None:
    """Only 127.0.0.0/8, ::1 and ``localhost``: names are not looked up, so a name cannot be
    pointed elsewhere between the check and the fetch."""
    host = urlsplit(check_url(url)).hostname or ""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise CapRejected("the CLI fetches CAP only from loopback addresses (127.0.0.1, ::1, "
                          "localhost); save the file and give its path",
                          code="cap_url_not_loopback")


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = 443 if parts.scheme.lower() == "https" else 80
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


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
    check_url(url)
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
        raise FetchFailed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise FetchFailed(f"cannot fetch: {exc.reason}") from None
    except ValueError as exc:  # http.client.InvalidURL and the like: the URL itself
        raise CapRejected(f"not a valid URL ({exc})") from None
    except OSError as exc:
        raise FetchFailed(f"cannot fetch: {exc}") from None
    if len(body) > limit:
        raise CapRejected(f"larger than {limit} bytes")
    return Fetched(body, headers.get("ETag"), headers.get("Last-Modified"))


@dataclass(frozen=True, slots=True)
class Item:
    """One message a feed points at: its link, or its XML when the feed carries it inline;
    or why the entry cannot be followed (``problem``: that entry's rejection)."""

    key: str  # what changes when the entry changes: id and updated time, or the link
    url: str | None
    inline: bytes | None
    problem: str | None = None

    @property
    def where(self) -> str:
        return self.url or self.key.partition("|")[0]


def _link(base: str, href: str, key: str) -> Item:
    try:
        url = check_url(urljoin(base, href.strip()))
    except ValueError as exc:  # urljoin refuses some malformed URLs itself
        return Item(key, href.strip(), None, f"not a valid URL ({exc})")
    except CapRejected as exc:
        return Item(key, href.strip(), None, exc.message)
    return Item(key, url, None)


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
                found.append(_link(base, link, f"{entry_id or link.strip()}|{updated}"))
    elif root.tag == "rss":
        for item in root.iter("item"):
            guid = (item.findtext("guid") or "").strip()
            date = (item.findtext("pubDate") or "").strip()
            enclosure = item.find("enclosure")
            link = (enclosure.get("url") if enclosure is not None
                    and enclosure.get("type") == CAP_TYPE else None) or item.findtext("link")
            if link and link.strip():
                found.append(_link(base, link, f"{guid or link.strip()}|{date}"))
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


def next_page(root: etree._Element, base: str) -> str | None:
    """The feed's ``rel="next"`` page (RFC 5005), absolute; None on the last page."""
    holder = root.find("channel") if root.tag == "rss" else root
    if holder is None:
        return None
    for link in holder.findall(f"{{{ATOM_NS}}}link"):
        if link.get("rel") == "next" and (link.get("href") or "").strip():
            try:
                return check_url(urljoin(base, (link.get("href") or "").strip()))
            except ValueError as exc:
                raise CapRejected(f"its next page is not a valid URL ({exc})") from None
            except CapRejected as exc:
                raise CapRejected(f"its next page: {exc.message}") from None
    return None


@dataclass
class Feed:
    """Every entry of a feed and of its later pages, oldest first, once each."""

    items: list[Item]
    pages: int = 1
    problems: list[tuple[str, str]] = field(default_factory=list)  # (page, why it was not read)

    @property
    def complete(self) -> bool:
        return not self.problems


# A feed's walk is a generator that yields the next page's URL and is sent its body (or thrown
# the CapRejected of fetching it), so the CLI's blocking fetches and the poller's awaited ones
# share it; it returns the Feed.
Walk = Generator[str, bytes, Feed]


def _walk(first: etree._Element, url: str, loopback_only: bool) -> Walk:
    chunks = [items(first, url)]
    problems: list[tuple[str, str]] = []
    seen = {url}
    root, at = first, url
    while True:
        try:
            link = next_page(root, at)
        except CapRejected as exc:
            problems.append((at, exc.message))
            break
        if link is None:
            break
        if link in seen:
            problems.append((at, f"its next page {link} was read before: the pages loop"))
            break
        if len(chunks) >= MAX_PAGES:
            problems.append((url, f"more than {MAX_PAGES} pages; the rest is left out"))
            break
        seen.add(link)
        try:
            if origin(link) != origin(url):
                raise CapRejected("a next page must be on the same server as the feed")
            if loopback_only:
                require_loopback(link)
            root = parse_xml((yield link), "feed page")
            if root.tag != first.tag:
                raise CapRejected(f"not a page of the same feed: the root element is "
                                  f"{root.tag!r}")
            chunks.append(items(root, link))
        except CapRejected as exc:
            problems.append((link, exc.message))
            break
        at = link
    found: list[Item] = []
    keys: set[str] = set()
    # Pages run newest to oldest, and each chunk is oldest first already.
    for chunk in reversed(chunks):
        for item in chunk:
            if item.key not in keys:
                keys.add(item.key)
                found.append(item)
    return Feed(found, len(chunks), problems)


def _step(walk: Walk, body: bytes | CapRejected | None) -> str | Feed:
    """The walk's next page to fetch, or its Feed when it is done."""
    try:
        if body is None:
            return next(walk)
        if isinstance(body, CapRejected):
            return walk.throw(body)
        return walk.send(body)
    except StopIteration as stop:
        feed: Feed = stop.value
        return feed


def read_pages(first: etree._Element, url: str, get: Callable[[str], bytes], *,
               loopback_only: bool = False) -> Feed:
    """The entries of a feed whose first page is ``first`` (fetched from ``url``), following
    ``rel="next"`` with ``get`` to at most ``MAX_PAGES`` pages, all on the first page's
    server. A page that cannot be had ends the walk and is named in ``problems``."""
    walk = _walk(first, url, loopback_only)
    step = _step(walk, None)
    while not isinstance(step, Feed):
        try:
            body: bytes | CapRejected = get(step)
        except CapRejected as exc:
            body = exc
        step = _step(walk, body)
    return step


async def read_pages_async(first: etree._Element, url: str,
                           get: Callable[[str], Awaitable[bytes]]) -> Feed:
    """``read_pages`` with an awaited ``get``; pages are parsed off the event loop."""
    loop = asyncio.get_running_loop()
    walk = _walk(first, url, False)
    step = await loop.run_in_executor(None, _step, walk, None)
    while not isinstance(step, Feed):
        try:
            body: bytes | CapRejected = await get(step)
        except CapRejected as exc:
            body = exc
        step = await loop.run_in_executor(None, _step, walk, body)
    return step


async def fetch_async(session: aiohttp.ClientSession, url: str, *, deadline: float,
                      etag: str | None = None, last_modified: str | None = None,
                      limit: int = FEED_MAX_BYTES) -> Fetched:
    """``fetch`` for the server's poller: the whole answer within ``deadline`` seconds (a
    peer that sends a byte now and then does not hold it longer), at most ``limit`` bytes,
    and cancelled at once when the server stops."""
    check_url(url)
    headers = {"User-Agent": f"Tryvoga/{__version__} (CAP ingest)",
               "Accept": f"{CAP_TYPE}, application/atom+xml, application/rss+xml, "
                         "application/xml"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(deadline), session.get(
                url, headers=headers, allow_redirects=False) as response:
            if response.status == 304:
                return Fetched(None, etag, last_modified)
            if not 200 <= response.status < 300:
                raise FetchFailed(f"HTTP {response.status} {response.reason}")
            body = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                body += chunk
                if len(body) > limit:
                    raise CapRejected(f"larger than {limit} bytes")
            return Fetched(bytes(body), response.headers.get("ETag"),
                           response.headers.get("Last-Modified"))
    except TimeoutError:
        raise FetchFailed(f"no complete answer within {deadline:g} s") from None
    except DestinationRefused as exc:
        raise CapRejected(f"cannot fetch: {exc}", code="cap_destination_refused") from None
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, DestinationRefused):
            raise CapRejected(f"cannot fetch: {exc.os_error}",
                              code="cap_destination_refused") from None
        raise FetchFailed(f"cannot fetch: {exc}") from None
    except aiohttp.InvalidURL as exc:
        raise CapRejected(f"not a valid URL ({exc})") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise FetchFailed(f"cannot fetch: {exc or type(exc).__name__}") from None
