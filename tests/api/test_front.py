"""The read front answers the plain polled reads exactly as aiohttp does, and leaves every other
request to aiohttp with nothing lost: compared answer by answer with a plain aiohttp site of
the same application (``front_pair.py``), on uvloop and on asyncio's own loop."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.api.front_pair import Pair, exchange, normal, read_answers
from tests.conftest import start_server, stop_server
from tests.polling import wait_for
from tests.regions import KYIV
from tests.regions import LVIV_OBLAST as LVIV
from tryvoga.api.http import second_of

STATUS = b"/api/v1/status"
ACTIVE = b"/api/v1/alerts/active"
# The façades' polled reads (docs/compat.md), and where a request holds the pair's token.
BY_OBLAST = b"/v1/iot/active_air_raid_alerts_by_oblast.json"
ONE_UID = b"/v1/iot/active_air_raid_alerts/31.json"
IN_UA_ACTIVE = b"/v1/alerts/active.json"
UA_ALERTS = b"/api/v3/alerts"
UA_REGION = b"/api/v3/alerts/31"
TOKEN = b"@TOKEN@"
# High enough never to refuse these tests, so that each request is counted all the same.
UNLIMITED = {"compat_rate_token": 10**9, "compat_rate_ip": 10**9}


@pytest.fixture(scope="module", params=["uvloop", "asyncio"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Pair]:
    running = Pair(tmp_path_factory.mktemp("front") / "front.db", request.param, **UNLIMITED)
    running.declare(KYIV)
    last = running.declare(LVIV, "artillery_shelling")
    # Last-Modified moves from the last change's second to the next once that second is
    # over: wait for it, so that both sites answer with the same one.
    settled = second_of(last["started_at"]) + 1
    wait_for(lambda: time.time() >= settled, "the second of the last change to end")
    yield running
    running.close()


def get(path: bytes, *headers: bytes, version: bytes = b"1.1", host: bool = True) -> bytes:
    lines = [b"GET " + path + b" HTTP/" + version] + ([b"Host: t"] if host else [])
    return b"\r\n".join([*lines, *headers]) + b"\r\n\r\n"


def validators(pair: Pair, path: bytes) -> tuple[bytes, bytes]:
    head = exchange(pair.plain_port, [get(path)])[0]
    etag = re.search(rb"ETag: ([^\r]*)", head)
    modified = re.search(rb"Last-Modified: ([^\r]*)", head)
    assert etag and modified
    return etag.group(1), modified.group(1)


def with_token(pair: Pair, writes: list[bytes]) -> list[bytes]:
    """``writes`` with the pair's token where they say ``TOKEN``, which is found (aiohttp
    has looked it up, so the front knows it for ``tokens.TTL`` seconds)."""
    if not any(TOKEN in w for w in writes):
        return writes
    exchange(pair.plain_port, [get(UA_ALERTS, b"Authorization: " + pair.token.encode())])
    return [w.replace(TOKEN, pair.token.encode()) for w in writes]


def compare(pair: Pair, writes: list[bytes], count: int | None = None) -> list[bytes]:
    """The front site's answers, after checking that they are the plain site's."""
    writes = with_token(pair, writes)
    front = normal(exchange(pair.front_port, writes, count))
    plain = normal(exchange(pair.plain_port, writes, count))
    assert front == plain
    return front


# Requests the front answers itself, by what they are to test.
def answered_cases(etag: bytes, modified: bytes) -> dict[str, bytes]:
    return {
        "status": get(STATUS),
        "active": get(ACTIVE),
        "etag 304": get(ACTIVE, b"If-None-Match: " + etag),
        "etag in any case, with spaces": get(ACTIVE, b"if-NONE-match:   " + etag + b"  "),
        "etag among others": get(ACTIVE, b'If-None-Match: "x", W/"y", ' + etag),
        "etag *": get(ACTIVE, b"If-None-Match: *"),
        "an old etag": get(ACTIVE, b'If-None-Match: "0123"'),
        "etag decides over date": get(ACTIVE, b'If-None-Match: "0123"',
                                      b"If-Modified-Since: " + modified),
        "since settled": get(ACTIVE, b"If-Modified-Since: " + modified),
        "since later": get(ACTIVE, b"If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"),
        "since earlier": get(ACTIVE, b"If-Modified-Since: Sat, 01 Jan 2022 00:00:00 GMT"),
        "since garbage": get(ACTIVE, b"If-Modified-Since: yesterday"),
        "close": get(STATUS, b"Connection: close"),
        "keep-alive in 1.1": get(STATUS, b"Connection: Keep-Alive"),
        "1.0": get(STATUS, version=b"1.0", host=False),
        "1.0 close": get(STATUS, b"Connection: close", version=b"1.0"),
        "1.0 keep-alive": get(STATUS, b"Connection: keep-alive", version=b"1.0"),
        "1.0 keep-alive 304": get(ACTIVE, b"Connection: keep-alive", b"If-None-Match: " + etag,
                                  version=b"1.0"),
        "a browser's headers": get(ACTIVE, b"User-Agent: Mozilla/5.0 (X11; Linux x86_64)",
                                   b"Accept: application/json, */*;q=0.8",
                                   b"Accept-Encoding: gzip, deflate, br",
                                   b"Accept-Language: uk-UA,uk;q=0.9", b"Cookie: a=b",
                                   b"Referer: http://t/", b"X-Forwarded-For: 10.0.0.1"),
        "obs-text in a value": get(ACTIVE, "X-Name: Київ".encode()),
        "an empty Host": b"GET /api/v1/status HTTP/1.1\r\nHost:\r\n\r\n",
        "127 more headers": get(ACTIVE, *[b"X-A: b"] * 127),
        "a query": get(ACTIVE + b"?type=air_raid"),
        "an empty query": get(ACTIVE + b"?"),
        "a region": get(ACTIVE + b"?region=" + KYIV.encode()),
        "a region in lower case, with neighbours": get(
            ACTIVE + b"?region=" + KYIV.lower().encode() + b"&neighbours=1"),
        "a region and a type, 304": get(ACTIVE + b"?region=" + LVIV.encode()
                                        + b"&type=artillery_shelling",
                                        b"If-None-Match: *"),
        "an unknown parameter": get(ACTIVE + b"?utm_source=x&region="),
        "status by level": get(STATUS + b"?level=raion"),
        "alerts.in.ua by oblast, token in the query": get(BY_OBLAST + b"?token=" + TOKEN),
        "alerts.in.ua v2 by oblast, bearer": get(
            b"/v2/iot/active_air_raid_alerts_by_oblast.json",
            b"Authorization: Bearer " + TOKEN),
        "alerts.in.ua one uid, bearer": get(ONE_UID, b"Authorization: bearer  " + TOKEN),
        "alerts.in.ua one uid, 304": get(ONE_UID + b"?token=" + TOKEN, b"If-None-Match: *"),
        "alerts.in.ua all uids": get(b"/v1/iot/active_air_raid_alerts.json?token=" + TOKEN),
        "alerts.in.ua active, bare Bearer and the query": get(
            IN_UA_ACTIVE + b"?token=" + TOKEN, b"Authorization: Bearer"),
        "alerts.in.ua anonymous": get(BY_OBLAST),
        "ukrainealarm alerts, raw key": get(UA_ALERTS, b"Authorization: " + TOKEN),
        "ukrainealarm region, Bearer key": get(UA_REGION, b"Authorization: Bearer " + TOKEN),
        "ukrainealarm status": get(UA_ALERTS + b"/status", b"Authorization: " + TOKEN),
        "ukrainealarm anonymous, a query ignored": get(UA_REGION + b"?x=1"),
    }


# Requests the front hands to aiohttp, by why.
def handed_cases(etag: bytes) -> dict[str, bytes]:
    token = b"Authorization: Bearer tv_no_such_token"
    return {
        "an escaped query": get(ACTIVE + b"?type=air%5Fraid"),
        "a plus in a query": get(ACTIVE + b"?region=+" + KYIV.encode()),
        "a bad value": get(ACTIVE + b"?type=bombs"),
        "an unknown region": get(ACTIVE + b"?region=UA1"),
        "a name twice": get(ACTIVE + b"?region=" + KYIV.encode() + b"&region=" + LVIV.encode()),
        "a fragment": get(ACTIVE + b"?region=" + KYIV.encode() + b"#x"),
        "a bad level": get(STATUS + b"?level=street"),
        "another path": get(b"/api/v1/regions?q=Kyiv"),
        "an unknown token, query": get(BY_OBLAST + b"?token=tv_no_such_token"),
        "an unknown token, ukrainealarm": get(UA_ALERTS, b"Authorization: tv_no_such_token"),
        "Basic on alerts.in.ua": get(ONE_UID, b"Authorization: Basic eDp5"),
        "an unknown uid": get(b"/v1/iot/active_air_raid_alerts/9999.json"),
        "a uid not a number": get(b"/v1/iot/active_air_raid_alerts/abc.json"),
        "an escaped uid": get(b"/v1/iot/active_air_raid_alerts/%33%31.json"),
        "an unknown region id": get(UA_ALERTS + b"/12345", b"Authorization: " + TOKEN),
        "regionHistory": get(UA_ALERTS + b"/regionHistory?regionId=31",
                             b"Authorization: " + TOKEN),
        "a tab in the key": get(UA_ALERTS, b"Authorization: Bearer\t" + TOKEN),
        "the token twice": get(UA_ALERTS, b"Authorization: " + TOKEN,
                               b"Authorization: " + TOKEN),
        "a trailing slash": get(STATUS + b"/"),
        "HEAD": b"HEAD /api/v1/status HTTP/1.1\r\nHost: t\r\n\r\n",
        "a token": get(ACTIVE, token),
        "a bad authorization": get(ACTIVE, b"Authorization: Basic eDp5"),
        "a body": get(STATUS, b"Content-Length: 2")[:-2] + b"\r\n{}",
        "content-length 0": get(STATUS, b"Content-Length: 0"),
        "chunked": get(STATUS, b"Transfer-Encoding: chunked") + b"0\r\n\r\n",
        "expect": get(STATUS, b"Expect: 100-continue"),
        "upgrade": get(STATUS, b"Connection: Upgrade", b"Upgrade: websocket"),
        "connection list": get(STATUS, b"Connection: keep-alive, close"),
        "two etags": get(ACTIVE, b"If-None-Match: " + etag, b"If-None-Match: " + etag),
        "no Host in 1.1": get(STATUS, host=False),
        "two Hosts": get(STATUS, b"Host: u"),
        "two User-Agents": get(STATUS, b"User-Agent: a", b"user-agent: b"),
        "128 more headers": get(ACTIVE, *[b"X-A: b"] * 128),
        "a long header": get(ACTIVE, b"X-A: " + b"b" * 8190),
        "HTTP/1.2": get(STATUS, version=b"1.2"),
        "HTTP/2.0": get(STATUS, version=b"2.0"),
        "bare LF": b"GET /api/v1/status HTTP/1.1\nHost: t\n\n",
        "a space before the colon": get(STATUS, b"X-A : b"),
        "a folded header": get(STATUS, b"X-A: b", b" c"),
        "a control character": get(STATUS, b"X-A: b\x01c"),
        "a NUL": get(STATUS, b"X-A: b\x00c"),
        "DEL": get(STATUS, b"X-A: b\x7fc"),
        "lowercase method": b"get /api/v1/status HTTP/1.1\r\nHost: t\r\n\r\n",
        "two spaces": b"GET  /api/v1/status HTTP/1.1\r\nHost: t\r\n\r\n",
        "absolute form": b"GET http://t/api/v1/status HTTP/1.1\r\nHost: t\r\n\r\n",
        "old websocket": get(STATUS, b"Sec-WebSocket-Key1: 1"),
        "a request id to echo": get(STATUS, b"X-Request-Id: poll-1"),
        "a leading empty line": b"\r\n" + get(STATUS),
        "garbage": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
    }


def test_answers_as_aiohttp_does(pair: Pair) -> None:
    etag, modified = validators(pair, ACTIVE)
    for name, request in answered_cases(etag, modified).items():
        before = pair.answered
        answers = compare(pair, [request])
        assert len(answers) == 1, name
        assert pair.answered == before + 1, f"{name}: the front did not answer it"
    by_name = {name: normal(exchange(pair.front_port, with_token(pair, [request])))[0]
               for name, request in answered_cases(etag, modified).items()}
    assert by_name["etag 304"].startswith(b"HTTP/1.1 304 Not Modified\r\n")
    assert by_name["etag *"].startswith(b"HTTP/1.1 304")
    assert by_name["an old etag"].startswith(b"HTTP/1.1 200")
    assert by_name["since settled"].startswith(b"HTTP/1.1 304")
    assert by_name["since earlier"].startswith(b"HTTP/1.1 200")
    assert b"\r\nConnection: close\r\n" in by_name["close"]
    assert by_name["1.0 keep-alive"].startswith(b"HTTP/1.0 200")
    assert KYIV.encode() in by_name["active"] and LVIV.encode() in by_name["active"]
    assert KYIV.encode() in by_name["a region"] and LVIV.encode() not in by_name["a region"]
    assert by_name["a region and a type, 304"].startswith(b"HTTP/1.1 304")
    for name in ("alerts.in.ua by oblast, token in the query", "ukrainealarm alerts, raw key",
                 "ukrainealarm region, Bearer key", "alerts.in.ua anonymous"):
        assert by_name[name].startswith(b"HTTP/1.1 200"), name
    assert by_name["alerts.in.ua one uid, bearer"].endswith(b'"A"')  # Kyiv is under alert
    assert b"X-Request-Id" not in by_name["ukrainealarm alerts, raw key"]


def test_a_request_again_is_answered_the_same(pair: Pair) -> None:
    """The front remembers the answer to a request head for the rest of the second while the
    state stays (``Front.recall``): the same request three times on one connection, and again
    after a write, is answered as aiohttp answers each."""
    etag, modified = validators(pair, ACTIVE)
    for name, request in answered_cases(etag, modified).items():
        if b"close" in request.lower() or (b"HTTP/1.0" in request
                                           and b"keep-alive" not in request.lower()):
            continue  # one answer, then the connection ends
        before = pair.answered
        answers = compare(pair, [request * 3], count=3)
        assert len(answers) == 3, name
        assert pair.answered == before + 3, name
    request = get(ACTIVE)
    first = exchange(pair.front_port, [request])[0]
    alert = pair.declare("UA32000000000030281")
    again = exchange(pair.front_port, [request])[0]
    assert b"UA32000000000030281" not in first and b"UA32000000000030281" in again
    assert pair.call_api("POST", f"/api/v1/alerts/{alert['id']}/end")[0] == 200


def test_the_facades_limits_count_the_fronts_answers(tmp_path: Path) -> None:
    """A façade read the front answers is counted against the address's budget like one
    aiohttp answers: with 5 a minute, five reads are the front's and the sixth is aiohttp's
    429. A token the process has not seen yet is looked up by the front, off the event loop,
    and the read answered by it; an unknown one is aiohttp's to refuse."""
    pair = Pair(tmp_path / "limits.db", "uvloop", compat_rate_ip=5)
    try:
        token = pair.token.encode()
        # Two pipelined reads with a token never seen: held while it is looked up, then both
        # answered by the front, in order.
        first = exchange(pair.front_port, [get(UA_ALERTS, b"Authorization: " + token) * 2],
                         count=2)
        assert [a.split(b" ", 2)[1] for a in first] == [b"200", b"200"]
        assert pair.answered == 2
        answers = exchange(pair.front_port, [get(UA_REGION, b"Authorization: " + token)] * 5,
                           count=5)
        assert [a.split(b" ", 2)[1] for a in answers] == [b"200"] * 3 + [b"429"] * 2
        assert pair.answered == 5
        assert b"Retry-After: " in answers[-1]
    finally:
        pair.close()


def test_leaves_the_rest_to_aiohttp(pair: Pair) -> None:
    etag, _ = validators(pair, ACTIVE)
    for name, request in handed_cases(etag).items():
        before = pair.answered
        answers = compare(pair, [request])
        assert answers, name
        assert pair.answered == before, f"{name}: the front answered it"


def test_what_follows_a_handover_is_aiohttps(pair: Pair) -> None:
    """Pipelined: two reads, a write with a body, two reads again, in one send. The front
    answers the first two, aiohttp the write and everything after it, in order."""
    declare = pair.write("POST", "/api/v1/alerts",
                         {"regions": ["UA12000000000090473"], "type": "chemical"})
    before = pair.answered
    answers = exchange(pair.front_port, [get(STATUS) + get(ACTIVE) + declare + get(ACTIVE)
                                         + get(STATUS)], count=5)
    assert pair.answered == before + 2
    assert [a.split(b" ", 2)[1] for a in answers] == [b"200", b"200", b"201", b"200", b"200"]
    assert b"UA12000000000090473" not in answers[1]
    assert b"UA12000000000090473" in answers[3]  # after the write, its alert is there
    status, _ = pair.call_api("POST", "/api/v1/alerts/end",
                              {"region": "UA12000000000090473", "type": "chemical"})
    assert status == 200


def test_pipelined_reads_are_answered_in_order(pair: Pair) -> None:
    etag, _ = validators(pair, ACTIVE)
    requests = [get(ACTIVE), get(ACTIVE, b"If-None-Match: " + etag), get(STATUS)] * 200
    before = pair.answered
    answers = compare(pair, [b"".join(requests)], count=len(requests))
    assert len(answers) == 600
    assert pair.answered == before + 600
    assert [a.split(b" ", 2)[1] for a in answers[:3]] == [b"200", b"304", b"200"]


def test_a_malformed_request_after_answered_ones(pair: Pair) -> None:
    """aiohttp fails a whole read when a request in it is malformed, and answers only the
    400; the front has answered the good requests before the bad one by then, which is what
    aiohttp answers when they come in reads of their own."""
    bad = b"GET /api/v1/status HTTP/1.1\r\nX-A : b\r\n\r\n"
    answers = normal(exchange(pair.front_port, [get(STATUS) + bad], count=2))
    one_by_one = normal(exchange(pair.plain_port, [get(STATUS), bad], count=2,
                                 split=lambda sock: None))
    assert [a.split(b" ", 2)[1] for a in answers] == [b"200", b"400"]
    assert answers[1] == one_by_one[-1]


@pytest.mark.parametrize("cut", [1, 4, 5, 20, 27, 28, 29, -3, -2, -1])
def test_a_request_in_pieces(pair: Pair, cut: int) -> None:
    """Every byte kept until the head is whole, wherever the client's writes fall: inside
    the method, the target, between CR and LF, before the last empty line."""
    etag, _ = validators(pair, ACTIVE)
    request = get(ACTIVE, b"If-None-Match: " + etag)
    first, rest = request[:cut], request[cut:]
    before = pair.answered
    with socket.create_connection(("127.0.0.1", pair.front_port), timeout=10) as sock:
        sock.sendall(first)
        wait_for(lambda: [c.pending for c in pair.connections()] == [first],
                 "the front to hold the first piece")
        sock.sendall(rest)
        answer = read_answers(sock, 1)
    assert pair.answered == before + 1
    assert normal(answer) == normal(exchange(pair.plain_port, [request]))


@pytest.mark.parametrize("first", [b"GET /api/v1/status HTTP/1.1\n",
                                   b"GET /api/v1/status HTTP/1.1\r\nHost: t\n",
                                   b"GET /api/v1/status HTTP/1.1\rHost: t\r"])
def test_a_lone_cr_or_lf_is_not_waited_on(pair: Pair, first: bytes) -> None:
    """A head with a line ending other than CRLF may end without the CRLF CRLF the front
    waits for: it is aiohttp's as soon as it arrives, so the client gets aiohttp's answer
    instead of waiting for one."""
    rest = first[-1:] if first.endswith(b"\n") else b"\n\n"
    before = pair.answered
    assert normal(exchange(pair.front_port, [first, rest], count=1)) == normal(
        exchange(pair.plain_port, [first, rest], count=1))
    assert pair.answered == before


def test_a_new_state_is_served_at_once(pair: Pair) -> None:
    etag, _ = validators(pair, STATUS)
    cached = get(STATUS, b"If-None-Match: " + etag)
    assert exchange(pair.front_port, [cached])[0].startswith(b"HTTP/1.1 304")
    alert = pair.declare("UA63000000000041885")
    answer = exchange(pair.front_port, [cached])[0]  # the same ETag: changed since
    assert answer.startswith(b"HTTP/1.1 200")
    assert b'"UA63000000000041885":{"air_raid":"A"' in answer
    new_etag, _ = validators(pair, STATUS)
    assert new_etag != etag and b"ETag: " + new_etag in answer
    assert pair.call_api("POST", f"/api/v1/alerts/{alert['id']}/end")[0] == 200
    assert b'"UA63000000000041885":{"air_raid":"N"' in exchange(pair.front_port,
                                                                 [get(STATUS)])[0]


def test_a_client_that_does_not_read_is_paused_not_buffered(pair: Pair) -> None:
    """Thousands of pipelined reads whose answers are not read: the front stops reading once
    the socket's buffer is full (so neither side's memory grows), and answers all of them,
    in order, once the client reads."""
    count = 6000  # about 18 MB of answers: far beyond what the sockets buffer
    requests = get(STATUS) * count
    with socket.create_connection(("127.0.0.1", pair.front_port), timeout=30) as sock:
        sender = threading.Thread(target=sock.sendall, args=(requests,), daemon=True)
        sender.start()
        wait_for(lambda: any(c.paused for c in pair.connections()), "the front to pause")
        answers = read_answers(sock, count)
        sender.join(timeout=30)
    assert len(answers) == count
    assert all(a.startswith(b"HTTP/1.1 200 OK\r\n") for a in answers)
    assert len({len(a) for a in answers}) == 1


def test_shutdown_closes_idle_front_connections(tmp_path: Path) -> None:
    pair = Pair(tmp_path / "front.db", "uvloop")
    try:
        with socket.create_connection(("127.0.0.1", pair.front_port), timeout=10) as sock:
            sock.sendall(get(STATUS))
            assert read_answers(sock, 1)[0].startswith(b"HTTP/1.1 200")
            assert len(pair.connections()) == 1
            pair.stop_sites()
            assert sock.recv(100) == b""  # closed, not left open after the shutdown
    finally:
        pair.close()


def test_idle_connections_are_closed(tmp_path: Path) -> None:
    """As aiohttp's keep-alive timeout: a connection that sends nothing, or nothing more
    after an answer, is closed when the timeout passes."""
    pair = Pair(tmp_path / "front.db", "uvloop", keepalive_timeout=0.3)
    try:
        with socket.create_connection(("127.0.0.1", pair.front_port), timeout=10) as silent, \
                socket.create_connection(("127.0.0.1", pair.front_port), timeout=10) as read:
            read.sendall(get(STATUS))
            assert read_answers(read, 1)[0].startswith(b"HTTP/1.1 200")
            started = time.monotonic()
            assert silent.recv(100) == b""
            assert read.recv(100) == b""
            assert time.monotonic() - started < 5
    finally:
        pair.close()


# ---- any request, compared -----------------------------------------------------------------

_NAMES = st.sampled_from(["Host", "host", "If-None-Match", "If-Modified-Since", "Connection",
                          "Authorization", "Content-Length", "Transfer-Encoding", "User-Agent",
                          "Accept", "X-Request-Id", "Upgrade", "Expect", "Content-Type"])
_VALUES = st.one_of(
    st.sampled_from(["t", "", "close", "keep-alive", "Close", "upgrade", "*", '"0123"',
                     "Sat, 01 Jan 2022 00:00:01 GMT", "Fri, 01 Jan 2100 00:00:00 GMT", "0",
                     "chunked", "Bearer x", "websocket", "100-continue", "application/json",
                     "@TOKEN@", "Bearer @TOKEN@", "bearer  @TOKEN@ ", "Basic @TOKEN@",
                     "Bearer", "Bearer\t@TOKEN@"]),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x44F), max_size=12))


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from([b"GET"] * 6 + [b"HEAD", b"POST", b"get", b"GET "]))
    path = draw(st.sampled_from([STATUS, ACTIVE, ACTIVE, STATUS + b"?level=oblast",
                                 b"/api/v1/regions/UA", b"/healthz", b"/api/v1/statuses",
                                 b"/api/v1//status"]))
    if draw(st.booleans()):  # a façade's read, or a native read with a query
        path = draw(st.sampled_from([
            BY_OBLAST, ONE_UID, IN_UA_ACTIVE, UA_ALERTS, UA_REGION, UA_ALERTS + b"/status",
            b"/v2/iot/active_air_raid_alerts/8.json", b"/v1/iot/active_air_raid_alerts/0.json",
            UA_ALERTS + b"/9999", UA_ALERTS + b"/regionHistory"]))
        path += draw(st.sampled_from([b"", b"?", b"?token=" + TOKEN, b"?token=tv_x",
                                      b"?token=", b"?token=" + TOKEN + b"&token=x",
                                      b"?regionId=31", b"?token=%41"]))
    elif draw(st.booleans()):
        path = ACTIVE + draw(st.sampled_from([
            b"?region=" + KYIV.encode(), b"?region=ua80000000000093317&neighbours=true",
            b"?region=UA1", b"?type=air_raid&region=" + LVIV.encode(), b"?type=x",
            b"?region=" + KYIV.encode() + b"&type=", b"?a&b", b"?=1", b"?region=%20"]))
    version = draw(st.sampled_from([b"HTTP/1.1"] * 4 + [b"HTTP/1.0", b"HTTP/1.2", b"HTTX/1.1"]))
    headers = draw(st.lists(st.tuples(_NAMES, _VALUES), max_size=5))
    separator = draw(st.sampled_from([b": ", b":", b" : ", b":\t"] + [b": "] * 6))
    end = draw(st.sampled_from([b"\r\n"] * 12 + [b"\n", b"\r"]))
    lines = [method + b" " + path + b" " + version]
    lines += [n.encode() + separator + v.encode("utf-8", "surrogatepass") for n, v in headers]
    return end.join(lines) + end + end


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests(), cut=st.integers(min_value=0, max_value=200))
@example(request=b"HEAD /api/v1/status HTTP/1.1\r\nHost: t\r\n\r\n", cut=1)  # "H", "EAD ..."
def test_any_request_gets_aiohttps_answer(pair: Pair, request: bytes, cut: int) -> None:
    """Whatever the request, the front's site answers what the plain site answers, sent whole
    or in two writes."""
    request = with_token(pair, [request])[0]
    writes = [request[:cut], request[cut:]] if 0 < cut < len(request) else [request]
    front = normal(exchange(pair.front_port, writes, count=1))
    plain = normal(exchange(pair.plain_port, writes, count=1))
    assert front == plain


def test_tryvoga_serve_puts_the_front_on_its_socket(tmp_path: Path) -> None:
    """The real command, with and without ``--fast-reads``: the same answers on a connection
    that goes from polled reads to a write and back."""
    on = start_server(tmp_path)
    off = start_server(tmp_path, "--fast-reads", "false", db=on.db)
    try:
        body = b'{"region": "UA80000000000093317", "type": "air_raid"}'
        end = (b"POST /api/v1/alerts/end HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
               + on.token.encode() + b"\r\nContent-Length: " + str(len(body)).encode()
               + b"\r\n\r\n" + body)
        answers = []
        for server in (on, off):
            port = int(server.base.rsplit(":", 1)[1])
            answers.append(normal(exchange(port, [get(STATUS), get(ACTIVE), end, get(STATUS)],
                                           count=4)))
        # Nothing is active to end: 409 from aiohttp, then the front's read again.
        assert [a.split(b" ", 2)[1] for a in answers[0]] == [b"200", b"200", b"409", b"200"]
        assert answers[0] == answers[1]
    finally:
        stop_server(on)
        stop_server(off)


def test_with_private_reads_every_read_needs_a_token(tmp_path: Path) -> None:
    """``--public-reads false``: the front has no native reads to answer (it answers those
    without looking at tokens), so aiohttp checks the token of every native polled read."""
    server = start_server(tmp_path, "--public-reads", "false")
    try:
        for path in ("/api/v1/status", "/api/v1/alerts/active"):
            refused = server.get(path, token=None)
            assert refused.status == 401
            assert refused.json()["error"]["status"] == 401
            assert server.get(path, token="tv_not_a_token").status == 401
            allowed = server.get(path)
            assert allowed.status == 200
            etag = allowed.headers["ETag"]
            assert server.get(path, headers={"If-None-Match": etag}).status == 304
            assert server.get(path, token=None, headers={"If-None-Match": etag}).status == 401
    finally:
        stop_server(server)
