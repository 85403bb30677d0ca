"""The record: live alerts (the state) and imported ones (the history store) read together.

Used by ``GET /api/v1/history``, ``GET /api/v1/history/stats``, ``tryvoga history``,
``tryvoga stats`` and ``tryvoga replay``. An imported alert is shown in the shape of a live
one, with ``"imported": true``, its ``source`` (official or volunteer), the record's own words
for the place, and a string id ``"h<number>"`` that never collides with a live alert's number.

History pages run newest first through both kinds by (start, rank, id), rank 1 for live
alerts and 0 for imported ones, and a cursor names the last item shown.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tryvoga.domain.events import parse_time
from tryvoga.domain.model import Alert, AlertStatus, AlertType
from tryvoga.domain.regions import Catalogue
from tryvoga.domain.render import alert_json, duration_seconds
from tryvoga.domain.state import State
from tryvoga.domain.stats import Span
from tryvoga.errors import BadRequest
from tryvoga.parsing import whole_number
from tryvoga.storage.history import HistoryFilter, HistoryReader, ImportedAlert

Cursor = tuple[str, int, int]
LIVE, IMPORTED = 1, 0


def imported_json(alert: ImportedAlert, catalogue: Catalogue) -> dict[str, Any]:
    region = catalogue[alert.region]
    return {
        "id": f"h{alert.id}",
        "region": alert.region,
        "region_name_uk": region.name_uk,
        "region_name_en": region.name_en,
        "region_level": region.level.value,
        "type": alert.type,
        "status": AlertStatus.ACTUAL.value,
        "actual": True,
        "active": False,
        "threats": [],
        "level": None,
        "source": alert.source,
        "note": "",
        "shelter_seconds": None,
        "started_at": alert.started_at,
        "updated_at": alert.ended_at,
        "ended_at": alert.ended_at,
        "duration_seconds": duration_seconds(alert.started_at, alert.ended_at),
        "withdrawn": False,
        "end_reason": None,
        "imported": True,
        "import": alert.import_seq,
        "place": alert.place,
        "end_estimated": alert.naive,
    }


def encode_cursor(key: Cursor) -> str:
    started, rank, ident = key
    text = f"{started}|{'h' if rank == IMPORTED else ''}{ident}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_cursor(raw: str) -> Cursor:
    try:
        started, ident = base64.urlsafe_b64decode(raw.encode()).decode().split("|")
        rank = IMPORTED if ident.startswith("h") else LIVE
        number = whole_number(ident[1:] if rank == IMPORTED else ident)
        if number is None:  # a number SQLite cannot hold, or not one at all
            raise ValueError(ident)
        return started, rank, number
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor is not one this server gave out", field="cursor",
                         status=400) from None


def history_page(state: State, live: Iterable[Alert], imported: Iterable[ImportedAlert],
                 after: Cursor | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """One page, newest first, of the live and imported alerts given (the imported ones from
    :meth:`HistoryReader.page` with the same cursor and ``limit + 1``); returns the items and
    the cursor of the next page."""
    keyed: list[tuple[Cursor, Alert | ImportedAlert]] = [
        ((a.started_at, LIVE, a.id), a) for a in live]
    keyed += [((a.started_at, IMPORTED, a.id), a) for a in imported]
    keyed = [item for item in keyed if after is None or item[0] < after]
    keyed.sort(key=lambda item: item[0], reverse=True)
    page = keyed[:limit]
    items = [alert_json(a, state) | {"imported": False} if isinstance(a, Alert)
             else imported_json(a, state.catalogue) for _, a in page]
    next_cursor = encode_cursor(page[-1][0]) if len(keyed) > limit else None
    return items, next_cursor


def imported_filter(catalogue: Catalogue, region: str | None, type_: AlertType | None,
                    status: AlertStatus | None, start: str | None, end: str | None,
                    source: str | None = None) -> HistoryFilter | None:
    """The imported alerts that match a history query; None if none can (drills)."""
    if status is not None and status is not AlertStatus.ACTUAL:
        return None
    regions = None if region is None else frozenset({region, *catalogue.descendants(region)})
    return HistoryFilter(regions, None if type_ is None else type_.value, start, end, source)


def _epoch(text: str) -> float:
    return parse_time(text).timestamp()


def spans(state: State, reader: HistoryReader | None, type_: AlertType, *, now: datetime,
          live: bool = True, imported: bool = True, source: str | None = None
          ) -> list[Span]:
    """Every actual, not withdrawn alert of a type as a span; active ones run until ``now``."""
    out: list[Span] = []
    if live:
        stop = now.timestamp()
        for alert in state.alerts.values():
            if (alert.type is not type_ or alert.status is not AlertStatus.ACTUAL
                    or alert.withdrawn):
                continue
            end = stop if alert.ended_at is None else _epoch(alert.ended_at)
            out.append(Span(alert.region, _epoch(alert.started_at), end))
    if imported and reader is not None:
        for item in reader.alerts(HistoryFilter(type=type_.value, source=source)):
            out.append(Span(item.region, _epoch(item.started_at), _epoch(item.ended_at)))
    return out


__all__ = ["Cursor", "decode_cursor", "encode_cursor", "history_page", "imported_filter",
           "imported_json", "spans"]
