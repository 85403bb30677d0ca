"""The outbox hook: the write path queues a delivery per matching subscription, in the event's
own transaction, so an event is committed together with its deliveries or not at all.

``Service._execute`` calls ``Outbox.enqueue`` after appending a command's events; the
``Outbox`` is given to the ``Service`` by whoever assembles it, with the renderers
(``formats.py``), so that the write path imports nothing of this package. The
subscriptions are cached in memory as a ``Matcher``; the cache is checked against a version
number that every change to a subscription bumps, read inside the same transaction, so a
subscription created by any process is seen by the very next event written by any other.

Subscriptions of a shared format (the ukrainealarm façade's, ``storage/webhooks.py``
``SHARED_PREFIX``) are not matched one by one: their format alone says which events they hear
and what they are sent, so each event gets one body and one fan-out row per such format,
whatever the number of subscriptions, and the worker writes their delivery rows later in
bounded transactions of its own. What an event costs inside its transaction is bounded by the
catalogue (the formats there can be), not by how many registrations there are.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from tryvoga.delivery.filters import Matcher
from tryvoga.delivery.formats import Formats
from tryvoga.domain.events import Event
from tryvoga.domain.regions import Catalogue
from tryvoga.domain.state import State
from tryvoga.storage.base import WriteTransaction

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, catalogue: Catalogue, formats: Formats) -> None:
        self.catalogue = catalogue
        self.formats = formats
        self._version = -1
        self._matcher = Matcher(catalogue, ())
        self._shared: list[str] = []

    def enqueue(self, tx: WriteTransaction, state: State, events: Sequence[Event]) -> int:
        """Queue deliveries for ``events`` (already appended and applied); returns how many
        rows were written (a fan-out row counts one).

        Database errors propagate and roll the command back with its events. A bug in
        matching or rendering must not stop an alert from being declared, so it is logged
        and matching falls open (every subscription gets the event) rather than shut.
        """
        version = tx.webhooks_version()
        if version != self._version:
            self._matcher = Matcher(self.catalogue, tx.webhooks_active())
            self._shared = tx.webhooks_shared_formats()
            self._version = version
        if not len(self._matcher) and not self._shared:
            return 0
        now = time.time()
        queued = 0
        for event in events:
            try:
                matched = self._matcher.match(event, state)
            except Exception:
                log.exception("matching event %d against webhooks failed; sending it to every "
                              "subscription", event.seq)
                matched = list(self._matcher.records.values())
            by_format: dict[str, list[str]] = {}
            for record in matched:
                by_format.setdefault(record.format, []).append(record.id)
            for format_name, ids in by_format.items():
                try:
                    payload = self.formats.renderer(format_name)(event, state)
                except Exception:
                    log.exception("webhook format %r failed to render event %d; %d deliveries "
                                  "not queued", format_name, event.seq, len(ids))
                    continue
                if payload is None:
                    continue
                due = max(now, payload.not_before or now)
                tx.outbox_add(event.seq, format_name, payload.content_type, payload.body, ids,
                              due)
                queued += len(ids)
            for format_name in self._shared:
                try:
                    payload = self.formats.renderer(format_name)(event, state)
                except Exception:
                    log.exception("webhook format %r failed to render event %d; not queued",
                                  format_name, event.seq)
                    continue
                if payload is None:
                    continue
                tx.outbox_fanout(event.seq, format_name, payload.content_type, payload.body,
                                 max(now, payload.not_before or now))
                queued += 1
        return queued
