"""History statistics: how often and how long a region was under alert (pure, no I/O).

For a region R, the alerts that count are those declared on R, on a region that contains R, or
on a region inside R: each of them put R wholly or partly under alert. Alerts on one region that
overlap in time are one alert, from the first start to the last end (:func:`group_spans`): the
official and the volunteer record, and a live alert and its imported copy, describe the same
alert, and a region is never under two alerts of one type at once. Over a period:

* ``alerts``: how many of them started within the period;
* ``total_seconds``: how long R was under alert, the union of their intervals clipped to the
  period (overlapping alerts count once);
* ``longest_seconds``: the longest unbroken stretch under alert within the period;
* ``by_hour``: per hour of the day, Kyiv time, the alerts that started in it and the seconds
  under alert that fell in it; ``by_month`` the same per calendar month, Kyiv time.

Kyiv's offsets from UTC are whole hours, so a UTC hour is always one Kyiv hour; the intervals
are split at UTC hour boundaries and each piece is put in its Kyiv hour and month.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from tryvoga.domain.events import format_time, parse_time
from tryvoga.domain.regions import Catalogue

KYIV = ZoneInfo("Europe/Kyiv")


@dataclass(frozen=True, slots=True)
class Span:
    """One alert's interval, in epoch seconds."""

    region: str
    start: float
    end: float


@dataclass
class Bucket:
    alerts: int = 0
    seconds: float = 0.0


@dataclass
class RegionStats:
    region: str
    alerts: int = 0
    total_seconds: float = 0.0
    longest_seconds: float = 0.0
    longest: tuple[float, float] | None = None
    by_hour: list[Bucket] = field(default_factory=lambda: [Bucket() for _ in range(24)])
    by_month: dict[str, Bucket] = field(default_factory=dict)

    def to_json(self, catalogue: Catalogue) -> dict[str, Any]:
        region = catalogue[self.region]
        return {
            "region": self.region,
            "name_uk": region.name_uk,
            "name_en": region.name_en,
            "level": region.level.value,
            "alerts": self.alerts,
            "total_seconds": round(self.total_seconds),
            "longest_seconds": round(self.longest_seconds),
            "longest": None if self.longest is None else {
                "from": _time(self.longest[0]), "to": _time(self.longest[1])},
            "by_hour": [{"hour": h, "alerts": b.alerts, "seconds": round(b.seconds)}
                        for h, b in enumerate(self.by_hour)],
            "by_month": [{"month": m, "alerts": b.alerts, "seconds": round(b.seconds)}
                         for m, b in sorted(self.by_month.items())],
        }


def _time(epoch: float) -> str:
    return format_time(datetime.fromtimestamp(epoch, UTC))


class _Calendar:
    """Kyiv hour of day and month of each UTC hour, cached."""

    def __init__(self) -> None:
        self._hours: dict[int, tuple[int, str]] = {}

    def of(self, epoch: float) -> tuple[int, str]:
        hour_index = int(epoch // 3600)
        found = self._hours.get(hour_index)
        if found is None:
            local = datetime.fromtimestamp(hour_index * 3600, KYIV)
            found = self._hours[hour_index] = (local.hour, f"{local.year:04d}-{local.month:02d}")
        return found


def relevant_codes(catalogue: Catalogue, region: str) -> set[str]:
    """The regions whose alerts touch ``region``: itself, what contains it, what it contains."""
    return {region, *catalogue.ancestors(region), *catalogue.descendants(region)}


def region_stats(catalogue: Catalogue, spans: Mapping[str, Sequence[Span]], region: str,
                 start: float | None, end: float, calendar: _Calendar | None = None
                 ) -> RegionStats:
    """Statistics of ``region`` over [start, end) from the spans grouped by their region."""
    calendar = calendar or _Calendar()
    result = RegionStats(region)
    low = float("-inf") if start is None else start
    chosen: list[tuple[float, float]] = []
    for code in relevant_codes(catalogue, region):
        for span in spans.get(code, ()):
            if span.end < low or span.start >= end:
                continue
            chosen.append((span.start, span.end))
            if span.start >= low:
                result.alerts += 1
                hour, month = calendar.of(span.start)
                result.by_hour[hour].alerts += 1
                result.by_month.setdefault(month, Bucket()).alerts += 1
    for piece_start, piece_end in _union(chosen, low, end):
        length = piece_end - piece_start
        result.total_seconds += length
        if length > result.longest_seconds:
            result.longest_seconds = length
            result.longest = (piece_start, piece_end)
        cursor = piece_start
        while cursor < piece_end:
            boundary = min(piece_end, (cursor // 3600 + 1) * 3600)
            hour, month = calendar.of(cursor)
            result.by_hour[hour].seconds += boundary - cursor
            result.by_month.setdefault(month, Bucket()).seconds += boundary - cursor
            cursor = boundary
    return result


def _union(intervals: list[tuple[float, float]], low: float,
           high: float) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        start, end = max(start, low), min(end, high)
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def group_spans(spans: Iterable[Span]) -> dict[str, list[Span]]:
    """The spans per region, those of one region that overlap (or touch) merged into one."""
    grouped: dict[str, list[Span]] = {}
    for span in sorted(spans, key=lambda s: (s.region, s.start, s.end)):
        merged = grouped.setdefault(span.region, [])
        if merged and span.start <= merged[-1].end:
            if span.end > merged[-1].end:
                merged[-1] = Span(span.region, merged[-1].start, span.end)
        else:
            merged.append(span)
    return grouped


def period_bound(text: str) -> datetime:
    """A bound of a statistics or history period: a date (2023-05-20) is midnight at its start,
    Kyiv time; anything else an ISO-8601 time with an offset. ValueError otherwise."""
    text = text.strip()
    if len(text) == 10:
        midnight = datetime.combine(date.fromisoformat(text), clock_time(0, 0), KYIV)
        try:
            return midnight.astimezone(UTC)
        except OverflowError:
            raise ValueError("date is out of range") from None
    return parse_time(text)


def compute(catalogue: Catalogue, spans: Iterable[Span], regions: Sequence[str],
            start: float | None, end: float) -> list[RegionStats]:
    grouped = group_spans(spans)
    calendar = _Calendar()
    return [region_stats(catalogue, grouped, code, start, end, calendar) for code in regions]


CSV_COLUMNS = ("region", "name_en", "name_uk", "group", "bucket", "alerts", "seconds",
               "longest_seconds")


def to_csv(catalogue: Catalogue, results: Sequence[RegionStats]) -> str:
    """One row per region for the whole period, then per hour of day and per month."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in results:
        region = catalogue[item.region]
        head = (item.region, region.name_en, region.name_uk)
        writer.writerow((*head, "total", "", item.alerts, round(item.total_seconds),
                         round(item.longest_seconds)))
        for hour, bucket in enumerate(item.by_hour):
            writer.writerow((*head, "hour", f"{hour:02d}", bucket.alerts, round(bucket.seconds),
                             ""))
        for month, bucket in sorted(item.by_month.items()):
            writer.writerow((*head, "month", month, bucket.alerts, round(bucket.seconds), ""))
    return out.getvalue()


__all__ = ["CSV_COLUMNS", "KYIV", "RegionStats", "Span", "compute", "group_spans",
           "period_bound", "region_stats", "relevant_codes", "to_csv"]
