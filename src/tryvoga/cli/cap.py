"""``tryvoga ingest cap FILE|URL...``: take CAP messages (or Atom/RSS feeds of them) into the log.

Prints one line per message: ingested (with what it did), ignored (seen before, expired,
nothing to do) or rejected (with the reason; nothing of it was appended). Exits 1 if any
message was rejected or could not be read. URLs are fetched only from loopback addresses.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tryvoga.cap.ingest import Ingester, Outcome
from tryvoga.cap.parse import CapRejected, is_cap, parse_xml
from tryvoga.cap.sources import (
    Feed,
    fetch,
    is_url,
    items,
    next_page,
    read_pages,
    require_loopback,
)
from tryvoga.cli.kit import new_service
from tryvoga.errors import TryvogaError
from tryvoga.settings import Settings
from tryvoga.storage.migrations import open_storage


def _get(url: str) -> bytes:
    require_loopback(url)
    body = fetch(url).body
    assert body is not None  # asked without validators: never "not modified"
    return body


def _read(source: str) -> bytes:
    if is_url(source):
        return _get(source)
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise CapRejected(f"cannot read: {exc.strerror}", code="cap_source_unreadable") from None


def _messages(source: str) -> list[tuple[str, bytes | CapRejected]]:
    """(where, message bytes or why it could not be had) for every message in a source, and
    for every page of a paged feed that could not be read."""
    data = _read(source)
    root = parse_xml(data)
    if is_cap(root):
        return [(source, data)]
    if is_url(source):
        feed = read_pages(root, source, _get, loopback_only=True)
    else:
        # A saved page of a feed: its own entries. Its next page has no origin to be checked
        # against, so it is not followed; the user is told, since the feed is incomplete.
        base = Path(source).resolve().as_uri()
        feed = Feed(items(root, base))
        try:
            paged = next_page(root, base) is not None
        except CapRejected:
            paged = True
        if paged:
            feed.problems.append((source, "a saved page of a paged feed: its later pages are "
                                          "not read from a file; give the feed's URL"))
    out: list[tuple[str, bytes | CapRejected]] = []
    for item in feed.items:
        if item.inline is not None:
            out.append((source, item.inline))
            continue
        if item.problem is not None:
            out.append((item.where, CapRejected(item.problem)))
            continue
        assert item.url is not None
        try:
            out.append((item.url, _get(item.url)))
        except TryvogaError as exc:
            out.append((item.url, CapRejected(exc.message)))
    for where, why in feed.problems:
        out.append((where, CapRejected(why)))
    return out


@click.command("cap")
@click.argument("sources", nargs=-1, required=True, metavar="FILE|URL...")
@click.option("--db", envvar="TRYVOGA_DB", default=None,
              help="SQLite database file [env TRYVOGA_DB; default tryvoga.db]")
def ingest_cap(sources: tuple[str, ...], db: str | None) -> None:
    """Ingest CAP 1.2 messages, or Atom/RSS feeds of them, from files or loopback URLs."""
    failed = False
    try:
        settings = Settings.load(db=db)
        storage = open_storage(settings.db, settings.database_url)
    except TryvogaError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    try:
        ingester = Ingester(new_service(storage))
        for source in sources:
            try:
                found = _messages(source)
            except TryvogaError as exc:
                click.echo(f"rejected: {source}: {exc.message}")
                failed = True
                continue
            for where, data in found:
                outcome = (Outcome("", "rejected", data.message) if isinstance(data, CapRejected)
                           else ingester.ingest_bytes(data))
                if not outcome.identifier:
                    outcome.identifier = where
                click.echo(outcome.line())
                failed = failed or outcome.verdict == "rejected"
    finally:
        storage.close()
    if failed:
        sys.exit(1)
