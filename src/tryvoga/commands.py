"""Commands: what a write request says, parsed at the edge into one typed model each.

A request body is decoded straight into its command (msgspec: the JSON is read and checked in
one pass, about a microsecond for a declaration, see ``docs/architecture.md``), so a body of the
wrong shape (an unknown field, a string where a number belongs, an integer of 5,000 digits, a
list nested 100,000 deep) is refused in the one error shape before anything else runs. The
same models give the OpenAPI description its request schemas (``api/openapi.py``), so the
description and the validation cannot drift apart: the bounds below are the service's bounds.

What a model cannot know (whether a region exists, whether the token may write there, whether
the alert is active) the service checks against the state, inside the write transaction.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

import msgspec
import msgspec.json
from msgspec import UNSET, Meta, UnsetType

from tryvoga.domain.model import (
    AlertStatus,
    AlertType,
    IncidentKind,
    IncidentStatus,
    ThreatLevel,
    ThreatType,
)
from tryvoga.errors import BadRequest
from tryvoga.parsing import depth_ok, integral

MAX_TEXT = 2000
MAX_REGIONS_PER_COMMAND = 500
MAX_COUNT = 1_000_000
MAX_SHELTER_SECONDS = 3600
# Ids are positive and fit the database's signed 64-bit integers (and JSON's exact range).
MAX_ID = 2**53 - 1

RegionCode = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^\s*[A-Za-z0-9]+\s*$",
                                 description="KATOTTG code, or UA for the whole country",
                                 examples=["UA80000000000093317"])]
Text = Annotated[str, Meta(max_length=MAX_TEXT)]
# Non-empty once spaces are trimmed.
RequiredText = Annotated[str, Meta(max_length=MAX_TEXT, pattern=r"\S")]
Time = Annotated[str, Meta(
    # Years 1000-8999: a time the server can hold in UTC and compare as text.
    max_length=64, pattern=r"^(1\d|[2-8]\d)\d\d-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d{1,6})?)?"
                           r"([Zz]|[+-]\d\d:?\d\d)$",
    description="ISO-8601 time with a UTC offset, e.g. 2023-05-20T00:41:31+03:00",
    extra_json_schema={"format": "date-time"})]
Id = Annotated[int, Meta(ge=1, le=MAX_ID)]
Count = Annotated[int, Meta(ge=0, le=MAX_COUNT)]
Latitude = Annotated[float, Meta(ge=-90, le=90)]
Longitude = Annotated[float, Meta(ge=-180, le=180)]
ShelterSeconds = Annotated[int, Meta(ge=0, le=MAX_SHELTER_SECONDS)]
Neighbours = Annotated[list[RegionCode], Meta(max_length=MAX_REGIONS_PER_COMMAND)]
Regions = Annotated[list[RegionCode], Meta(min_length=1, max_length=MAX_REGIONS_PER_COMMAND)]


class Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A request body; an unknown field is refused."""

    @classmethod
    def of(cls: type[C], **fields: Any) -> C:
        """The command built in Python (the CLI, the console, the ingesters), checked exactly
        as a body is (types, enums, bounds): a ``BadRequest`` naming the field otherwise.
        Enum members and their values, lists and tuples are all taken."""
        try:
            return msgspec.convert(fields, cls)
        except msgspec.ValidationError as error:
            raise _invalid(str(error)) from None


class ThreatIn(Command, frozen=True, kw_only=True):
    type: ThreatType
    level: ThreatLevel = ThreatLevel.RED


class CapRef(Command, frozen=True, kw_only=True):
    sender: Annotated[str, Meta(min_length=1, max_length=500)]
    identifier: Annotated[str, Meta(min_length=1, max_length=500)]
    sent: Annotated[str, Meta(min_length=1, max_length=500)]


Threats = Annotated[list[ThreatIn], Meta(max_length=len(ThreatType) * len(ThreatLevel))]


class Declare(Command, frozen=True, kw_only=True):
    """Declare an alert on one or more regions (``regions``, or ``region`` for one)."""

    type: AlertType
    regions: Regions | RegionCode | UnsetType = UNSET
    region: RegionCode | UnsetType = UNSET
    threats: Threats | None = None
    status: AlertStatus | None = None
    source: Text | None = None
    note: Text | None = None
    started_at: Time | None = None

    def __post_init__(self) -> None:
        if self.regions is not UNSET and self.region is not UNSET:
            raise ValueError("region: give regions or region, not both")
        if self.regions is UNSET and self.region is UNSET:
            raise ValueError("regions: regions (or region) is required")

    @property
    def codes(self) -> list[str]:
        given = self.region if self.regions is UNSET else self.regions
        assert not isinstance(given, UnsetType)
        return [given] if isinstance(given, str) else list(given)


class EndAlert(Command, frozen=True, kw_only=True):
    """End (or withdraw) the alert named by the path."""

    reason: Text | None = None
    withdraw: bool = False
    ended_at: Time | None = None


class EndByRegion(EndAlert, frozen=True, kw_only=True):
    """End (or withdraw) the active alert of a type on a region."""

    region: RegionCode
    type: AlertType
    status: AlertStatus | None = None


class UpdateAlert(Command, frozen=True, kw_only=True):
    """Change an active alert's threats and/or note (at least one)."""

    threats: Threats | None = None
    note: Text | None = None


class ReportIncident(Command, frozen=True, kw_only=True):
    kind: IncidentKind
    region: RegionCode
    source: RequiredText
    status: IncidentStatus | None = None
    description: Text | None = None
    address: Text | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    killed: Count | None = None
    injured: Count | None = None
    embargo_until: Time | None = None
    alert_id: Id | None = None


class UpdateIncident(Command, frozen=True, kw_only=True):
    """The fields to change; ``null`` clears an optional one."""

    kind: IncidentKind | UnsetType = UNSET
    region: RegionCode | UnsetType = UNSET
    status: IncidentStatus | UnsetType = UNSET
    source: RequiredText | UnsetType = UNSET
    description: Text | UnsetType | None = UNSET
    address: Text | UnsetType | None = UNSET
    latitude: Latitude | UnsetType | None = UNSET
    longitude: Longitude | UnsetType | None = UNSET
    killed: Count | UnsetType | None = UNSET
    injured: Count | UnsetType | None = UNSET
    embargo_until: Time | UnsetType | None = UNSET
    alert_id: Id | UnsetType | None = UNSET

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__struct_fields__
                if getattr(self, name) is not UNSET}


class ConfigureRegion(Command, frozen=True, kw_only=True):
    """A region's seconds to reach shelter and/or its neighbours (null: from geometry)."""

    shelter_seconds: ShelterSeconds | UnsetType | None = UNSET
    neighbours: Neighbours | UnsetType | None = UNSET


COMMANDS: tuple[type[Command], ...] = (Declare, EndAlert, EndByRegion, UpdateAlert,
                                       ReportIncident, UpdateIncident, ConfigureRegion)

C = TypeVar("C", bound=Command)
S = TypeVar("S", bound=msgspec.Struct)

_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_OWN = re.compile(r"^(?P<field>[a-z_]+): (?P<message>.+)$", re.S)
_NAMED = re.compile(r"(?:required|unknown) field `(?P<name>[^`]+)`")
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def parse(raw: bytes, cls: type[S]) -> S:
    """The command a JSON body says, or BadRequest in the one error shape: 400 for a body that
    is not a JSON object, 422 naming the field for one that does not fit the command."""
    if not raw.strip():
        raise BadRequest("the request needs a JSON object body", code="body_missing",
                         status=400)
    decoder = _decoders.get(cls)
    if decoder is None:
        decoder = _decoders[cls] = msgspec.json.Decoder(cls)
    try:
        command: S = decoder.decode(raw)
    except msgspec.ValidationError as error:
        if "got `float`" not in str(error) or not depth_ok(raw):
            raise _invalid(str(error)) from None
        # A whole number written with a fraction (46.0) is an integer to JSON Schema, and
        # so here: read again, on this error path only, with such floats made ints.
        try:
            command = msgspec.convert(integral(msgspec.json.decode(raw)), cls)
        except msgspec.ValidationError as again:
            raise _invalid(str(again)) from None
    except msgspec.DecodeError as error:
        raise BadRequest(f"the body is not valid JSON: {error}", code="malformed_json",
                         status=400) from None
    return command


def _invalid(text: str) -> BadRequest:
    found = _AT.search(text)
    path = found.group("path").lstrip(".") if found else ""
    message = text[:found.start()] if found else text
    if not path and message.startswith("Expected `object`"):
        return BadRequest("the body must be a JSON object", code="malformed_json", status=400)
    named = _NAMED.search(message)
    if named:
        path = f"{path}.{named.group('name')}" if path else named.group("name")
    own = _OWN.match(message)
    if not path and own:  # a check of the model's own (__post_init__) names its field
        return BadRequest(own.group("message"), field=own.group("field"))
    field = path or None
    message = _plain(message)
    if "matching regex" in message:  # the pattern itself says little to a person
        message = _FORMS.get(field.rsplit(".", 1)[-1].split("[")[0] if field else "",
                             "text of the wrong form (see /api/v1/openapi.json)")
    return BadRequest(f"{field}: {message}" if field else message, field=field)


_WORDS = {"array": "a list", "str": "a string", "int": "a whole number", "float": "a number",
          "object": "an object", "bool": "true or false", "null": "null"}
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]+)`(?:, got `(?P<got>[^`]+)`)?"
                       r"(?: of length (?P<op>[<>]=) (?P<n>\d+))?$")


def _plain(message: str) -> str:
    """msgspec's "Expected `array | null`, got `str`" in words: "must be a list or null, not
    a string" ("... of length >= 1": "must not be empty"; a missing field "is required")."""
    if message.startswith("Object missing required field"):
        return "is required"
    if message.startswith("Invalid enum value"):
        return f"{message[len('Invalid enum value '):]} is not one of its values (see " \
               "/api/v1/openapi.json)"
    found = _EXPECTED.match(message)
    if found is None:
        return message
    want = " or ".join(_WORDS.get(w, w) for w in found.group("want").split(" | "))
    if found.group("op") == ">=" and found.group("n") == "1":
        return "must not be empty"
    if found.group("op"):
        bound = "at least" if found.group("op") == ">=" else "at most"
        unit = "items" if "list" in want else "characters"
        return f"must be {want} of {bound} {found.group('n')} {unit}"
    got = found.group("got")
    return f"must be {want}, not {_WORDS.get(got, got)}" if got else f"must be {want}"


_TIME_FORM = ("not an ISO-8601 time with an offset in the years 1000-8999, e.g. "
              "2023-05-20T00:41:31+03:00")
_FORMS = {"started_at": _TIME_FORM, "ended_at": _TIME_FORM, "embargo_until": _TIME_FORM,
          "region": "not a KATOTTG code such as UA80000000000093317 (or UA)",
          "regions": "not a KATOTTG code such as UA80000000000093317 (or UA)",
          "neighbours": "not a KATOTTG code such as UA80000000000093317",
          "source": "empty: say who reports it",
          "kinds": "not an event kind such as alert.declared, or a family such as alert.*",
          "channel": "not a channel name such as air_alert_ua (letters, digits, _ . : @ -)"}


__all__ = ["COMMANDS", "MAX_COUNT", "MAX_ID", "MAX_REGIONS_PER_COMMAND", "MAX_SHELTER_SECONDS",
           "MAX_TEXT", "CapRef", "Command",
           "ConfigureRegion", "Declare", "EndAlert", "EndByRegion", "ReportIncident",
           "ThreatIn", "UpdateAlert", "UpdateIncident", "parse"]
