"""Webhook body formats: one renderer per format, run once per event for all its subscribers.

A subscription's ``format`` names its renderer. The renderer runs inside the event's write
transaction, right after the event was applied, so it sees the state as of that event (the
alert's region and type when the event only names the alert id, say). Its bytes are stored
once per event and format and signed per subscriber at delivery.

This package imports no renderer of another room: the renderers are handed to the ``Outbox``
as a ``Formats`` by whoever assembles the service (``tryvoga.api.formats.webhook_formats``,
used by the node and by every command that writes). To add a format (another façade's):

1. write ``def render(event: Event, state: State) -> Payload | None`` in your module; return
   None for events that have nothing to say in your format (no delivery is queued for them);
   it must be deterministic and must not do I/O;
2. add it to ``webhook_formats`` in ``tryvoga/api/formats.py`` (a plain format, or a family
   whose renderer is made from a parameter, as ``ukrainealarm:22``);
3. create subscriptions with ``format="yourformat"`` through ``DeliveryStore.create`` (keep
   your own registration table pointing at the subscription id if you need one).

Every delivery, whatever its format, carries the same signature headers (``signing.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
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

Family = Callable[[str], Renderer]


class Formats:
    """The renderers an outbox may use, by format name: the plain ones of ``FORMATS`` (which
    ``/api/v1/webhooks`` offers), and families named ``"family:parameter"`` whose renderer is
    made from the parameter, once per name. The ukrainealarm façade's bodies depend on the
    subscriber's region, so each of its subscriptions names one (``"ukrainealarm:22"``), and
    the body is still rendered once per event for every subscriber of that region."""

    def __init__(self, families: Mapping[str, Family]) -> None:
        self.families = dict(families)
        self._loaded: dict[str, Renderer] = {}

    def renderer(self, name: str) -> Renderer:
        """The renderer of format ``name``; KeyError for a format nobody gave."""
        found = self._loaded.get(name)
        if found is None:
            family, colon, parameter = name.partition(":")
            if name in FORMATS:
                found = FORMATS[name]
            elif colon and family in self.families:
                found = self.families[family](parameter)
            else:
                raise KeyError(name)
            self._loaded[name] = found
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


# The formats of this package, offered to every subscription made through /api/v1/webhooks.
FORMATS: dict[str, Renderer] = {"native": render_native}
