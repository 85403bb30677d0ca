"""Commands parsed at the edge: one model per write, errors in the one shape naming the field."""

from __future__ import annotations

import pytest
from msgspec import UNSET

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


def test_a_whole_number_may_be_written_with_a_fraction() -> None:
    """JSON Schema counts 46.0 as an integer, so the parser does; 46.5 is still refused."""
    body = b'{"kind": "fire", "region": "UA", "source": "s", "killed": 46.0, "latitude": 50}'
    incident = parse(body, ReportIncident)
    assert incident.killed == 46 and isinstance(incident.killed, int)
    assert incident.latitude == 50.0
    assert refused(body.replace(b"46.0", b"46.5"), ReportIncident).field == "killed"
    assert refused(body.replace(b"46.0", b"1e300"), ReportIncident).field == "killed"


def test_commands_built_in_python_are_checked_as_bodies_are() -> None:
    """``Command.of``: what the CLI, the console and the ingesters build."""
    made = Declare.of(regions=(KYIV,), type=AlertType.AIR_RAID, threats=[{"type": "drones"}])
    assert made == parse(b'{"regions": ["UA80000000000093317"], "type": "air_raid", '
                         b'"threats": [{"type": "drones"}]}', Declare)
    with pytest.raises(BadRequest) as info:
        Declare.of(regions=[KYIV], type="storm")
    assert (info.value.status, info.value.field) == (422, "type")
    with pytest.raises(BadRequest) as info:
        ReportIncident.of(kind="fire", region=KYIV, source="s", killed=-1)
    assert info.value.field == "killed"


@pytest.mark.parametrize(("raw", "field", "says"), [
    (b'{"url": 5}', "url", "url: must be a string, not a whole number"),
    (b'{"url": "https://example.org/h", "regions": []}', "regions", "must not be empty"),
    (b'{"url": "https://example.org/h", "kinds": ["alert.nope"]}', "kinds[0]", "event kind"),
    (b'{}', "url", "url: is required"),
])
def test_webhook_bodies_say_what_is_wrong_in_words(raw: bytes, field: str, says: str) -> None:
    from tryvoga.api.bodies import CreateWebhook, parse_body

    with pytest.raises(BadRequest) as info:
        parse_body(raw, CreateWebhook)
    assert (info.value.code, info.value.field) == ("invalid_input", field)
    assert says in info.value.message, info.value.message


def test_channel_bodies_are_one_post_or_a_batch() -> None:
    from tryvoga.api.bodies import ChannelBody, parse_body

    one = parse_body(b'{"id": 7, "date_unixtime": "1692682801", "text": ["a", '
                     b'{"type": "bold", "text": "b", "href": "x"}]}', ChannelBody)
    assert one.raw() == {"id": 7, "date_unixtime": "1692682801",
                         "text": ["a", {"type": "bold", "text": "b"}]}
    batch = parse_body(b'{"channel": "air_alert_ua", "posts": [{"id": 1, "date": '
                       b'"2024-08-22T08:40:01+03:00", "from": "x"}]}', ChannelBody)
    assert not isinstance(batch.posts, type(UNSET)) and batch.posts[0].raw()["from"] == "x"
    for raw, field in [(b'{"id": 1, "posts": [{"id": 2}]}', "id"),
                       (b'{"posts": []}', "posts"),
                       (b'{"id": 1, "date_unixtime": 1e18}', "date_unixtime"),
                       (b'{"id": 1, "text": ' + b"[" * 65 + b"]" * 65 + b"}", None)]:
        with pytest.raises(BadRequest) as info:
            parse_body(raw, ChannelBody)
        assert info.value.field == field, (raw[:40], info.value.to_json())
