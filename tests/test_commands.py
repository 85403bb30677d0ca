"""Commands parsed at the edge: one model per write, errors in the one shape naming the field."""

from __future__ import annotations

import pytest

from tryvoga.commands import Declare, ReportIncident, UpdateIncident, parse
from tryvoga.domain.model import AlertType, IncidentStatus
from tryvoga.errors import BadRequest

KYIV = "UA80000000000093317"


def refused(raw: bytes, cls: type = Declare) -> BadRequest:
    with pytest.raises(BadRequest) as info:
        parse(raw, cls)
    return info.value


def test_a_good_body_becomes_its_model() -> None:
    command = parse(b'{"regions": ["UA80000000000093317"], "type": "air_raid", '
                    b'"threats": [{"type": "drones"}]}', Declare)
    assert command.type is AlertType.AIR_RAID and command.codes == [KYIV]
    assert command.threats is not None and command.threats[0].level.value == "red"
    assert parse(b'{"region": "UA", "type": "nuclear"}', Declare).codes == ["UA"]
    update = parse(b'{"status": "confirmed", "address": null}', UpdateIncident)
    assert update.changes() == {"status": IncidentStatus.CONFIRMED, "address": None}


@pytest.mark.parametrize(("raw", "status", "code", "field"), [
    (b"", 400, "body_missing", None),
    (b"{bad", 400, "malformed_json", None),
    (b"[1]", 400, "malformed_json", None),
    (b"[" * 100_000 + b"]" * 100_000, 400, "malformed_json", None),
    (b'{"regions": ["UA"]}', 422, "invalid_input", "type"),
    (b'{"regions": ["UA"], "type": "storm"}', 422, "invalid_input", "type"),
    (b'{"regions": ["UA"], "type": "air_raid", "colour": 1}', 422, "invalid_input", "colour"),
    (b'{"regions": [], "type": "air_raid"}', 422, "invalid_input", "regions"),
    (b'{"regions": ["UA", 7], "type": "air_raid"}', 422, "invalid_input", "regions"),
    (b'{"region": "UA", "regions": ["UA"], "type": "air_raid"}', 422, "invalid_input",
     "region"),
    (b'{"type": "air_raid"}', 422, "invalid_input", "regions"),
    (b'{"region": "UA", "type": "air_raid", "threats": [{"type": "drones", "level": "x"}]}',
     422, "invalid_input", "threats[0].level"),
    (b'{"region": "UA", "type": "air_raid", "note": "' + b"n" * 2001 + b'"}', 422,
     "invalid_input", "note"),
    (b'{"region": "UA", "type": "air_raid", "started_at": "0001-01-01T00:00:00+03:00"}', 422,
     "invalid_input", "started_at"),
    (b'{"region": "' + b"9" * 5000 + b'", "type": "air_raid"}', 422, "invalid_input",
     "region"),
])
def test_bad_bodies_are_refused_naming_the_field(raw: bytes, status: int, code: str,
                                                  field: str | None) -> None:
    error = refused(raw)
    assert (error.status, error.code) == (status, code), error.message
    if field is not None:
        assert error.field is not None and error.field.startswith(field), error.field
        assert error.field.split("[")[0].split(".")[0] in error.message


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"kind": "fire", "region": "UA", "source": "  "}', "source"),
    (b'{"kind": "fire", "region": "UA", "source": "x", "killed": -1}', "killed"),
    (b'{"kind": "fire", "region": "UA", "source": "x", "killed": ' + b"9" * 5000 + b"}",
     "killed"),
    (b'{"kind": "fire", "region": "UA", "source": "x", "latitude": 91}', "latitude"),
    (b'{"kind": "fire", "region": "UA", "source": "x", "alert_id": 0}', "alert_id"),
])
def test_incident_bounds_are_the_services(raw: bytes, field: str) -> None:
    error = refused(raw, ReportIncident)
    assert error.status == 422 and error.field == field, error.message
