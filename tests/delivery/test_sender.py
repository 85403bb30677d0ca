"""The webhook sender's HTTP/1.1 against receivers on 127.0.0.1 that write exact bytes: the
answer shapes real servers send (chunked, read-to-close, interim 1xx, bare line feeds),
the malformed and the oversized, keep-alive reuse and a kept connection the receiver closed,
TLS verification, and the address checks."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.certs import self_signed
from tryvoga.delivery.safety import Policy
from tryvoga.delivery.sender import KEPT, MAX_HEAD, MAX_RESPONSE, USER_AGENT, Sender

BODY = b'{"seq":1}'
HEADERS = {"Content-Type": "application/json", "X-Tryvoga-Event-Id": "1"}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@dataclass
class Request:
    head: bytes
    body: bytes


@dataclass
class Scripted:
    """Reads each request whole, then writes what ``answer`` returns for it; ``None`` closes
    the connection without a word. Counts connections and keeps every request."""

    answer: Callable[[int], bytes | None]
    close_after: bool = False
    connections: int = 0
    requests: list[Request] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                self.requests.append(Request(head, await reader.readexactly(length)))
                reply = self.answer(len(self.requests))
                if reply is None:
                    return
                writer.write(reply)
                await writer.drain()
                if self.close_after:
                    return
        finally:
            writer.close()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class Servers:
    def __init__(self) -> None:
        self.running: list[asyncio.Server] = []
        self.scripted: list[Scripted] = []

    async def start(self, answer: Callable[[int], bytes | None], *, close_after: bool = False,
                    tls: ssl.SSLContext | None = None) -> Scripted:
        scripted = Scripted(answer, close_after)
        server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0, ssl=tls)
        self.running.append(server)
        self.scripted.append(scripted)
        scripted.port = server.sockets[0].getsockname()[1]
        return scripted


@pytest.fixture
async def serve() -> AsyncIterator[Servers]:
    servers = Servers()
    yield servers
    for server in servers.running:
        server.close()
    for scripted in servers.scripted:
        for writer in scripted.writers:
            writer.close()


def sender(**overrides: object) -> Sender:
    options: dict[str, object] = {"connect_timeout": 2.0, "read_timeout": 2.0,
                                  "concurrency": 8, **overrides}
    policy = options.pop("policy", Policy(["127.0.0.0/8"]))
    return Sender(policy, **options)  # type: ignore[arg-type]


async def test_a_plain_answer_and_the_request_as_sent(serve: Servers) -> None:
    receiver = await serve.start(lambda n: OK)
    client = sender()
    answer = await client.post(receiver.url("/hook/a?x=1"), BODY, HEADERS)
    await client.close()
    assert answer.ok and answer.status == 200 and answer.error is None
    request = receiver.requests[0]
    lines = request.head.decode().split("\r\n")
    assert lines[0] == "POST /hook/a?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{receiver.port}" in lines
    assert f"User-Agent: {USER_AGENT}" in lines
    assert "Content-Type: application/json" in lines and "X-Tryvoga-Event-Id: 1" in lines
    assert f"Content-Length: {len(BODY)}" in lines
    assert request.body == BODY


async def test_connections_are_kept_and_reused(serve: Servers) -> None:
    receiver = await serve.start(lambda n: OK)
    client = sender()
    answers = [await client.post(receiver.url(), BODY, HEADERS) for _ in range(5)]
    await client.close()
    assert all(a.ok for a in answers)
    assert receiver.connections == 1 and len(receiver.requests) == 5


async def test_connection_close_is_honoured(serve: Servers) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    receiver = await serve.start(lambda n: closing, close_after=True)
    client = sender()
    answers = [await client.post(receiver.url(), BODY, HEADERS) for _ in range(3)]
    await client.close()
    assert all(a.ok for a in answers) and receiver.connections == 3


async def test_a_kept_connection_the_receiver_closed_is_replaced_once(
        serve: Servers) -> None:
    # The second request arrives on the kept connection, which the receiver closes without
    # answering (as an idle timeout would): it is sent again on a new connection.
    receiver = await serve.start(lambda n: None if n == 2 else OK)
    client = sender()
    first = await client.post(receiver.url(), BODY, HEADERS)
    second = await client.post(receiver.url(), BODY, HEADERS)
    await client.close()
    assert first.ok and second.ok
    assert receiver.connections == 2 and len(receiver.requests) == 3


async def test_a_new_connection_closed_without_an_answer_is_a_failure(
        serve: Servers) -> None:
    receiver = await serve.start(lambda n: None)
    client = sender()
    answer = await client.post(receiver.url(), BODY, HEADERS)
    await client.close()
    assert answer.status is None and len(receiver.requests) == 1  # not sent twice
    assert answer.error == (f"127.0.0.1:{receiver.port} closed the connection before the "
                            "answer was complete")


@pytest.mark.parametrize(("raw", "status", "error"), [
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3;x=y\r\n!!!\r\n0\r\n"
     b"Trailer: 1\r\n\r\n", 200, None),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 201,
     None),
    (b"HTTP/1.1 204 No Content\r\n\r\n", 204, None),
    (b"HTTP/1.1 202 Accepted\nContent-Length: 2\n\nok", 202, None),
    (b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 13\r\n\r\ndatabase down", 503,
     "HTTP 503: database down"),
    (b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nbroke\r\n0\r\n\r\n", 500,
     "HTTP 500: broke"),
    (b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://203.0.113.9/x\r\n"
     b"Content-Length: 0\r\n\r\n", 307,
     "HTTP 307: redirects are not followed (to http://203.0.113.9/x)"),
])
async def test_answers_as_servers_write_them(serve: Servers, raw: bytes,
                                            status: int, error: str | None) -> None:
    receiver = await serve.start(lambda n: raw)
    client = sender()
    answers = [await client.post(receiver.url(), BODY, HEADERS) for _ in range(2)]
    await client.close()
    assert [(a.status, a.error) for a in answers] == [(status, error)] * 2
    assert receiver.connections == 1  # each answer was read to its end and the wire kept


async def test_an_answer_that_ends_with_the_connection(serve: Servers) -> None:
    raw = b"HTTP/1.0 500 Internal Server Error\r\n\r\nno length here"
    receiver = await serve.start(lambda n: raw, close_after=True)
    client = sender()
    answer = await client.post(receiver.url(), BODY, HEADERS)
    await client.close()
    assert (answer.status, answer.error) == (500, "HTTP 500: no length here")


@pytest.mark.parametrize(("raw", "says"), [
    (b"SMTP ready\r\n\r\n", "not an HTTP/1.x status line"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "not an HTTP/1.x status line"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "not 'name: value'"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok", "Content-Length is not a number"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length is not a number"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "not hexadecimal"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokay\r\n0\r\n\r\n",
     "does not end where its size says"),
    (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (MAX_HEAD + 10) + b"\r\n\r\n",
     f"longer than {MAX_HEAD} bytes"),
])
async def test_malformed_answers_are_failures_that_say_why(
        serve: Servers, raw: bytes, says: str) -> None:
    receiver = await serve.start(lambda n: raw)
    client = sender()
    answer = await client.post(receiver.url(), BODY, HEADERS)
    after = await client.post(receiver.url(), BODY, HEADERS)
    await client.close()
    assert answer.status is None and answer.error is not None
    assert answer.error.startswith(f"malformed answer from 127.0.0.1:{receiver.port}: ")
    assert says in answer.error
    assert receiver.connections == 2  # the confused connection was not used again
    assert after.error == answer.error


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_huge_answer_is_read_only_to_the_bound(serve: Servers,
                                                       chunked: bool) -> None:
    size = MAX_RESPONSE * 40
    if chunked:
        chunk = b"%x\r\n%s\r\n" % (MAX_RESPONSE // 4, b"y" * (MAX_RESPONSE // 4))
        raw = b"HTTP/1.1 500 Big\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 160
    else:
        raw = b"HTTP/1.1 500 Big\r\nContent-Length: %d\r\n\r\n%s" % (size, b"y" * size)
    receiver = await serve.start(lambda n: raw)
    client = sender()
    answer = await client.post(receiver.url(), BODY, HEADERS)
    again = await client.post(receiver.url(), BODY, HEADERS)
    await client.close()
    assert answer.status == 500 and answer.error == "HTTP 500: " + "y" * 200
    assert again.status == 500
    assert receiver.connections == 2  # the rest was never read: the connection was dropped
    assert KEPT >= 200


async def test_a_silent_receiver_times_out(serve: Servers) -> None:
    never = asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await never.wait()
        finally:
            writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = sender(read_timeout=0.2)
    answer = await client.post(f"http://127.0.0.1:{port}/", BODY, HEADERS)
    await client.close()
    never.set()
    server.close()
    await server.wait_closed()
    await asyncio.sleep(0)  # the handler's finally
    assert answer.status is None
    assert answer.error == "timed out waiting for the answer after 0.2 s"


async def test_refusals_happen_before_anything_is_sent(serve: Servers) -> None:
    receiver = await serve.start(lambda n: OK)
    strict = sender(policy=Policy())
    literal = await strict.post(receiver.url(), BODY, HEADERS)
    named = await strict.post(f"http://localhost:{receiver.port}/", BODY, HEADERS)
    injected = await sender().post(receiver.url(), BODY, {"X-Evil": "a\r\nHost: elsewhere"})
    await strict.close()
    assert literal.error is not None and literal.error.startswith(
        "refused: 127.0.0.1 is a private, loopback")
    assert named.error is not None and named.error.startswith("refused: localhost resolves to")
    assert injected.error == "refused: the header 'X-Evil' holds a line break"
    assert receiver.requests == []


async def test_a_closed_port_cannot_be_connected(serve: Servers) -> None:
    answer = await sender().post("http://127.0.0.1:9/hook", BODY, HEADERS)
    assert answer.error is not None and answer.error.startswith("cannot connect to 127.0.0.1:9: ")


def certificate(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1, and a client context trusting it."""
    pair = self_signed(tmp, "127.0.0.1", ip="127.0.0.1", days=1)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(pair.cert, pair.key)
    client = ssl.create_default_context(cafile=str(pair.cert))
    return server, client


async def test_https_verifies_the_receiver(serve: Servers,
                                           tmp_path: Path) -> None:
    server_tls, client_tls = certificate(tmp_path)
    receiver = await serve.start(lambda n: OK, tls=server_tls)
    url = f"https://127.0.0.1:{receiver.port}/hook"
    default = sender()  # the system's authorities: this certificate is nobody's
    refused = await default.post(url, BODY, HEADERS)
    trusting = sender(tls=client_tls)
    answers = [await trusting.post(url, BODY, HEADERS) for _ in range(2)]
    await default.close()
    await trusting.close()
    assert refused.status is None and refused.error is not None
    assert refused.error.startswith(f"TLS with 127.0.0.1:{receiver.port} failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in refused.error
    assert all(a.ok for a in answers) and len(receiver.requests) == 2
    assert receiver.requests[0].body == BODY
