"""Webhook body formats: one renderer per format, run once per event for all its subscribers.

A subscription's ``format`` names its renderer. The renderer runs inside the event's write
transaction, right after the event was applied, so it sees the state as of that event (the
alert's region and type when the event only names the alert id, say). Its bytes are stored
once per event and format and signed per subscriber at delivery.

To add a format (the ukrainealarm façade's, for instance):

1. write ``def render(event: Event, state: State) -> Payload | None`` in your module; return
   None for events that have nothing to say in your format (no delivery is queued for them);
   it must be deterministic and must not do I/O;
2. add ``"yourformat": "tryvoga.yourpackage.module:render"`` to ``FORMATS`` below (a string,
   loaded on first use, so that this module imports nothing of yours);
3. create subscriptions with ``format="yourformat"`` through ``DeliveryStore.create`` (keep
   your own registration table pointing at the subscription id if you need one).

Every delivery, whatever its format, carries the same signature headers (``signing.py``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from tryvoga.domain.events import Event, IncidentReported, IncidentUpdated, parse_time
from tryvoga.domain.state import State

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Payload:
    body: bytes
    content_type: str = JSON
    # Unix time before which the body must not be sent (an incident under embargo).
    not_before: float | None = None


Renderer = Callable[[Event, State], "Payload | None"]

FORMATS: dict[str, str] = {
    "native": "tryvoga.delivery.formats:render_native",
}

# Formats with a parameter, named "family:parameter": the entry is a factory that makes the
# renderer from the parameter, once per name. The ukrainealarm façade's bodies depend on the
# subscriber's region, so each of its subscriptions names one ("ukrainealarm:22"), and the
# body is still rendered once per event for every subscriber of that region. Only their owning
# module makes such subscriptions: /api/v1/webhooks offers the FORMATS alone.
FAMILIES: dict[str, str] = {
    "ukrainealarm": "tryvoga.api.ukrainealarm_webhooks:renderer_for",
}

_loaded: dict[str, Renderer] = {}


def renderer(name: str) -> Renderer:
    found = _loaded.get(name)
    if found is None:
        family, colon, parameter = name.partition(":")
        if name in FORMATS:
            module_name, _, attribute = FORMATS[name].partition(":")
            found = getattr(importlib.import_module(module_name), attribute)
        elif colon and family in FAMILIES:
            module_name, _, attribute = FAMILIES[family].partition(":")
            found = getattr(importlib.import_module(module_name), attribute)(parameter)
        else:
            raise KeyError(name)
        _loaded[name] = found
    return found


def render_native(event: Event, state: State) -> Payload:
    """The event exactly as ``/api/v1/events`` gives it once public.

    An incident under embargo is held back until the embargo ends, and then sent whole,
    rather than sent at once with its content withheld.
    """
    body = json.dumps(event.to_json(), ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")
    not_before = None
    data = event.data
    if isinstance(data, IncidentReported | IncidentUpdated):
        incident = state.incidents.get(data.incident_id)
        if incident is not None and not incident.public_at(event.time):
            assert incident.embargo_until is not None
            not_before = parse_time(incident.embargo_until).timestamp()
    return Payload(body, JSON, not_before)
