"""Which events a subscription wants: the streams' filters, checked as a request body.

The rules are the streams' own (``domain/filters.py``: region subtrees with alerts and region
settings inherited from ancestors, alert types narrowing alert events only, kinds exact or by
family such as ``alert.*``); this module reuses them so a webhook and a stream with the same
filters get the same events. Here they are validated as body fields (``regions``, ``types``,
``kinds``), and a subscription to ``UA`` has no region filter at all, so country-wide events
that name no region reach it too.

Subscriptions with equal filters share one match per event, so thousands of subscriptions
made by a few kinds of client cost a handful of checks on the write path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tryvoga.domain.events import Event, Kind
from tryvoga.domain.filters import Router, StreamFilter
from tryvoga.domain.model import AlertType
from tryvoga.domain.regions import COUNTRY, Catalogue
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, NotFound, TryvogaError
from tryvoga.storage.base import WebhookRecord

MAX_FILTER_ITEMS = 500


def _strings(value: Any, field_name: str, default: str) -> list[str]:
    """The items of a list-of-strings field; [] when it is left out (or null).

    Nothing is guessed: a string where the list belongs, an empty list or a blank item is
    refused rather than read as a one-item list or as the default, since a subscription that
    hears more or less than its maker meant loses alerts without anyone noticing.
    """
    if value is None:
        return []
    if isinstance(value, str):
        raise BadRequest(f"{field_name} must be a list of strings, not a string: write "
                         f"{json.dumps([value], ensure_ascii=False)}", field=field_name)
    if not isinstance(value, list):
        raise BadRequest(f"{field_name} must be a list of strings", field=field_name)
    if not value:
        raise BadRequest(f"{field_name} is an empty list: give at least one, or leave "
                         f"{field_name} out for {default}", field=field_name)
    if len(value) > MAX_FILTER_ITEMS:
        raise BadRequest(f"at most {MAX_FILTER_ITEMS} {field_name}", field=field_name)
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            what = ("an empty string" if isinstance(item, str)
                    else f"not a string: {json.dumps(item)}")
            raise BadRequest(f"{field_name}[{index}] is {what}", field=f"{field_name}[{index}]")
    return [v.strip() for v in value]


def check_regions(catalogue: Catalogue, value: Any) -> tuple[str, ...]:
    codes = []
    for index, raw in enumerate(_strings(value, "regions", "the token's scope")):
        code = raw.upper()
        if code not in catalogue:
            raise NotFound(f"regions[{index}]: unknown region {raw!r}", code="region_not_found",
                           field=f"regions[{index}]")
        codes.append(code)
    return tuple(dict.fromkeys(codes))


def check_types(value: Any) -> tuple[str, ...]:
    out = []
    for raw in _strings(value, "types", "every alert type"):
        try:
            out.append(AlertType(raw).value)
        except ValueError:
            choices = ", ".join(t.value for t in AlertType)
            raise BadRequest(f"types: {raw!r} is not one of {choices}",
                             field="types") from None
    return tuple(dict.fromkeys(out))


def check_kinds(value: Any) -> tuple[str, ...]:
    known = {k.value for k in Kind}
    families = {k.split(".")[0] + ".*" for k in known}
    out = []
    for raw in _strings(value, "kinds", "every event kind"):
        if raw not in known and raw not in families:
            choices = ", ".join(sorted(known | families))
            raise BadRequest(f"kinds: {raw!r} is not one of {choices}", field="kinds")
        out.append(raw)
    return tuple(dict.fromkeys(out))


class Matcher:
    """The active subscriptions grouped by filter, built once per change of the
    subscriptions."""

    def __init__(self, catalogue: Catalogue, records: Iterable[WebhookRecord]) -> None:
        self.router = Router(catalogue)
        self.records = {r.id: r for r in records}
        groups: dict[StreamFilter, list[WebhookRecord]] = {}
        for record in self.records.values():
            regions = [] if COUNTRY in record.regions else list(record.regions)
            try:
                key = StreamFilter.build(catalogue, regions, record.types, record.kinds)
            except TryvogaError:
                # Written by a newer version (a kind this one does not know): match broadly
                # rather than drop the subscription.
                key = StreamFilter.build(catalogue, [r for r in regions if r in catalogue])
            groups.setdefault(key, []).append(record)
        self.groups = list(groups.items())

    def __len__(self) -> int:
        return len(self.records)

    def match(self, event: Event, state: State) -> list[WebhookRecord]:
        if not self.records:
            return []
        route = self.router.route(event, state)
        return [record for key, members in self.groups if key.matches(route)
                for record in members]
