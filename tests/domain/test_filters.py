"""Stream filters, routes and frames: pure functions, checked without a server."""

from __future__ import annotations

import json
import struct

import pytest

from tryvoga.domain.events import Event, Kind, make_event
from tryvoga.domain.filters import Router, StreamFilter
from tryvoga.domain.regions import COUNTRY, Catalogue, Level
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, NotFound
from tryvoga.live import frames
from tryvoga.live.frames import Format, Frames
from tryvoga.live.websocket import ClientFrames


def raion_of(catalogue: Catalogue, oblast: str) -> str:
    return next(c for c in catalogue.children[oblast] if catalogue[c].level is Level.RAION)


def oblasts(catalogue: Catalogue) -> list[str]:
    return sorted(r.code for r in catalogue.at_level(Level.OBLAST))


def declared(seq: int, region: str, type_: str = "air_raid") -> Event:
    return make_event(seq, "2023-05-20T00:00:00.000Z", "t", Kind.ALERT_DECLARED.value,
                      {"alert_id": seq, "region": region, "type": type_, "status": "actual"},
                      "0" * 64)


def test_region_filter_takes_the_subtree_and_inherits_alerts_from_above(
        catalogue: Catalogue) -> None:
    first, second = oblasts(catalogue)[:2]
    raion = raion_of(catalogue, first)
    hromada = catalogue.children[raion][0]
    router = Router(catalogue)
    state = State(catalogue)
    chosen = StreamFilter.build(catalogue, [raion])

    def wants(region: str, kind: Kind = Kind.ALERT_DECLARED) -> bool:
        event = make_event(1, "2023-05-20T00:00:00.000Z", "t", kind.value,
                           {"alert_id": 1, "incident_id": 1, "region": region,
                            "type": "air_raid"}, "0" * 64)
        return chosen.matches(router.route(event, state))

    assert wants(raion) and wants(hromada)            # the subtree
    assert wants(first) and wants(COUNTRY)            # declared above: inherited
    assert not wants(second)                          # another oblast
    assert not wants(raion_of(catalogue, second))
    # Incidents are places, not coverage: one in the oblast is not inside the raion.
    assert wants(hromada, Kind.INCIDENT_REPORTED)
    assert not wants(first, Kind.INCIDENT_REPORTED)
    # Region settings are inherited (shelter seconds reach down).
    assert wants(first, Kind.REGION_CONFIGURED)


def test_type_and_kind_filters(catalogue: Catalogue) -> None:
    router = Router(catalogue)
    state = State(catalogue)
    air = router.route(declared(1, COUNTRY), state)
    shelling = router.route(declared(1, COUNTRY, "artillery_shelling"), state)
    assert StreamFilter.build(catalogue, types=["air_raid"]).matches(air)
    assert not StreamFilter.build(catalogue, types=["air_raid"]).matches(shelling)
    assert StreamFilter.build(catalogue, kinds=["alert.*"]).matches(air)
    assert StreamFilter.build(catalogue, kinds=["alert.declared"]).matches(air)
    assert not StreamFilter.build(catalogue, kinds=["alert.ended"]).matches(air)
    assert not StreamFilter.build(catalogue, kinds=["incident.*"]).matches(air)
    # Equal filters are equal values: subscribers with them share one match per event.
    assert StreamFilter.build(catalogue, ["ua"]) == StreamFilter.build(catalogue, ["UA"])


@pytest.mark.parametrize(("part", "value", "error"), [
    ("regions", "UA999", NotFound), ("types", "rain", BadRequest),
    ("kinds", "alert.exploded", BadRequest), ("kinds", "nothing.*", BadRequest)])
def test_bad_filters_are_refused(catalogue: Catalogue, part: str, value: str,
                                 error: type[Exception]) -> None:
    with pytest.raises(error):
        StreamFilter.build(catalogue, **{part: [value]})


def test_frames_carry_the_events_json_once_per_format(catalogue: Catalogue) -> None:
    event = declared(7, COUNTRY)
    encoded = Frames(event, State(catalogue))
    body = json.dumps(event.to_json(), ensure_ascii=False,
                      separators=(",", ":")).encode()
    sse = encoded.get(Format.SSE, True)
    assert encoded.get(Format.SSE, True) is sse  # encoded once, then shared
    size, _, rest = sse.partition(b"\r\n")
    assert int(size, 16) == len(rest) - 2 and rest.endswith(b"\r\n")
    assert rest[:-2] == b"id: 7\ndata: " + body + b"\n\n"
    assert encoded.get(Format.NDJSON, False) == body + b"\n"
    ws = encoded.get(Format.WS, False)
    assert ws[0] == 0x81 and ws[1] == 126 and struct.unpack("!H", ws[2:4])[0] == len(body)
    assert ws[4:] == body
    final = frames.reconnect(Format.SSE, False, 41, "too_slow")
    assert final.startswith(b"event: reconnect\nid: 41\ndata: ")
    assert json.loads(final.split(b"data: ")[1])["reconnect"]["last_id"] == 41


def test_client_websocket_frames_are_read_across_reads() -> None:
    sent: list[bytes] = []
    closed: list[bool] = []
    reader = ClientFrames(sent.append, lambda: closed.append(True))

    def masked(opcode: int, payload: bytes) -> bytes:
        mask = b"\x01\x02\x03\x04"
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + body

    stream = masked(0x1, b"ignored text") + masked(0x9, b"hi") + masked(0x8, b"\x03\xe8")
    for i in range(len(stream)):  # one byte at a time
        reader.feed(stream[i:i + 1])
    assert sent[0] == b"\x8a\x02hi"  # pong with the ping's payload
    assert sent[1] == b"\x88\x02\x03\xe8" and closed == [True]  # close answered once
    unmasked = ClientFrames(sent.append, lambda: closed.append(True))
    unmasked.feed(b"\x81\x01a")
    assert sent[-1][0] == 0x88 and sent[-1][2:4] == b"\x03\xea"  # 1002 protocol error
