"""Hypothesis over the parsers (issue 15, "The suite that proves the guarantees"): the alert
channel's posts (export → parse → decide → apply), the statement reader, and incoming CAP XML,
hostile XML included. Each input is answered, never with a crash (only the documented errors)
and never with a hang.

- Channel: ``post_from_json`` takes the post or refuses it with ``BadRequest``;
  ``ChannelIngest.ingest`` then answers it with an outcome (applied, skipped or failed) on a
  real ``Service`` over a temporary SQLite file, whose state builds up from example to
  example; nothing raises.
- Statements: ``read_statement`` (what the server's reader processes run) answers every text
  with a reading; nothing raises.
- CAP: ``Ingester.ingest_bytes`` answers every document with an outcome (ingested, ignored or
  rejected, the last for anything not a valid public CAP 1.2 message: not XML, DTDs and
  entities, deep nesting, other roots, schema errors, unknown places); nothing raises.

No hang: each call runs under a watchdog of 5 s + 1 ms per character (``SIGALRM`` raises in
Python code; ``faulthandler`` ends the process with every thread's traceback at three times
that, for a loop in C). That is a hang detector, not a timing assertion: the project asserts
no timings; how the time grows with the size is measured by ``bench/parsers.py`` and written
in docs/reliability.md.

The inputs mix real material (the channel's posts in ``tests/data/messages``, the statements
of ``tests/data/statements``, CAP messages this server publishes) with random text, Cyrillic,
emoji, huge numbers, hashtags, bullets and nested tags. ``make test`` runs a fixed set
(``derandomize``); ``make soak`` (``TRYVOGA_SOAK=1``) ten times as many random ones, larger.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.regions import KYIV, LVIV_OBLAST
from tryvoga.api.formats import outbox
from tryvoga.cap.ingest import Ingester
from tryvoga.cap.projection import CapProjection
from tryvoga.cap.render import Publisher
from tryvoga.commands import Declare, EndByRegion
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import load_catalogue
from tryvoga.errors import BadRequest
from tryvoga.ingest.channel import ChannelIngest
from tryvoga.ingest.channel.export import post_from_json
from tryvoga.ingest.statements import read_statement
from tryvoga.service import Actor, Service
from tryvoga.storage.sqlite import SQLiteStorage

SOAK = os.environ.get("TRYVOGA_SOAK", "") not in ("", "0")
SCALE = 10 if SOAK else 1
DATA = Path(__file__).resolve().parent.parent / "data"
CATALOGUE = load_catalogue()
ADMIN = Actor("fuzz")


class Hang(BaseException):
    """Raised by the watchdog: a BaseException, so no ``except Exception`` swallows it."""


@contextmanager
def watchdog(size: int) -> Iterator[None]:
    budget = 5.0 + size / 1000

    def hang(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"no answer within {budget:.1f} s for an input of {size} characters")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.setitimer(signal.ITIMER_REAL, budget)
    faulthandler.dump_traceback_later(budget * 3, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, previous)


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples * SCALE, deadline=None, derandomize=not SOAK,
                    database=None, suppress_health_check=[
                        HealthCheck.too_slow, HealthCheck.data_too_large,
                        HealthCheck.function_scoped_fixture])


# ---- material --------------------------------------------------------------------------------

def channel_posts() -> list[str]:
    blocks = (DATA / "messages" / "examples.txt").read_text("utf-8").split("\n---\n")
    return [b for b in ("\n".join(line for line in block.splitlines()
                                   if not line.startswith("#")).strip() for block in blocks) if b]


def statements() -> list[str]:
    lines = (DATA / "statements" / "corpus.jsonl").read_text("utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    texts.append((DATA / "examples" / "kyiv-2023-05-20-statement.txt").read_text("utf-8"))
    return texts


POSTS = channel_posts()
STATEMENTS = statements()
EMOJI = ["🔴", "🟢", "🟡", "⚠️", "❗️", "💥", "🚀", "🛩", "🇺🇦", "\u200d", "\ufe0f", "👨‍👩‍👧"]
WORDS = ["Повітряна тривога", "Відбій тривоги", "Загроза застосування балістики", "в", "м.",
         "область", "район", "громада", "Київ", "Харків", "Слов'янськ", "#м_Київ",
         "#Одеська_область", "•", "Слідкуйте за подальшими повідомленнями.", "Тестовий Регіон",
         "Kyiv", "oblast", "district", "ракета", "уламки", "загинули", "поранені", "КМВА",
         "Ukraine", "Донецька", "ʼ", "’", "'", "«", "»", "—", "\n", "\r\n", "\t", "  "]

cyrillic = st.text(st.characters(min_codepoint=0x400, max_codepoint=0x4FF), max_size=80)
numbers = st.one_of(st.integers(min_value=-10**40, max_value=10**40).map(str),
                    st.integers(min_value=1, max_value=2000).map(lambda n: "9" * n),
                    st.sampled_from(["00:00", "23:59", "99:99", "1e18", "NaN", "٣٤", "²"]))
nested_tags = st.recursive(st.sampled_from(["", "x", "Київ", "<b>", "&amp;"]),
                           lambda inner: st.tuples(st.sampled_from(["b", "i", "a", "x"]),
                                                   inner).map(lambda t: f"<{t[0]}>{t[1]}</{t[0]}>"),
                           max_leaves=12)
pieces = st.one_of(st.sampled_from(WORDS), st.sampled_from(EMOJI), cyrillic, numbers,
                   nested_tags, st.text(max_size=40))


@st.composite
def mixed(draw: st.DrawFn, real: list[str], max_pieces: int) -> str:
    """Real material cut and spliced with random pieces."""
    parts: list[str] = []
    if draw(st.booleans()):  # half start with a whole real one, so that some are applied
        parts.append(draw(st.sampled_from(real)))
    for _ in range(draw(st.integers(min_value=0, max_value=max_pieces))):
        if draw(st.booleans()):
            text = draw(st.sampled_from(real))
            start = draw(st.integers(min_value=0, max_value=len(text)))
            end = draw(st.integers(min_value=start, max_value=len(text)))
            parts.append(text[start:end] if draw(st.booleans()) else text)
        else:
            parts.append(draw(pieces))
    joiner = draw(st.sampled_from(["", " ", "\n", "\n• ", " #"]))
    return joiner.join(parts) * draw(st.sampled_from([1, 1, 1, 2, 10]))


# ---- the channel -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def channel_service() -> Iterator[Service]:
    with tempfile.TemporaryDirectory() as folder:
        storage = SQLiteStorage(Path(folder) / "fuzz.db")
        yield Service(storage, CATALOGUE, outbox=outbox(CATALOGUE))
        storage.close()


@pytest.fixture(scope="module")
def ingest() -> ChannelIngest:
    return ChannelIngest(CATALOGUE)


@fuzz_settings(300)
@given(text=mixed(POSTS, 8), when=st.one_of(
    st.just({"date": "2024-08-22T08:40:01+03:00"}),
    st.integers(min_value=1_600_000_000, max_value=1_800_000_000).map(
        lambda n: {"date_unixtime": str(n)}),
    st.integers(min_value=-10**20, max_value=10**20).map(lambda n: {"date_unixtime": n}),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: {"date_unixtime": f}),
    numbers.map(lambda n: {"date_unixtime": n}), st.text(max_size=30).map(lambda t: {"date": t})),
    ident=st.one_of(st.integers(min_value=1, max_value=10**6),
                    st.integers(min_value=1, max_value=10**6).map(str),
                    st.integers(min_value=-10**30, max_value=10**30), numbers))
def test_channel_posts_are_answered(channel_service: Service, ingest: ChannelIngest, text: str,
                                    when: dict[str, Any], ident: Any) -> None:
    item = {"id": ident, "text": text, **when}
    with watchdog(len(text)):
        try:
            post = post_from_json(item)
        except BadRequest:
            event("post refused")
            return
        outcomes = ingest.ingest(channel_service, ADMIN, [post])
    assert len(outcomes) == 1 and outcomes[0].outcome in ("applied", "skipped", "failed")
    event(f"post {outcomes[0].outcome}")


def test_a_post_id_in_other_digits_is_answered(tmp_path: Path, ingest: ChannelIngest) -> None:
    """Found by the test above: ``"²".isdigit()`` is true and ``int("²")`` fails, so sorting
    such a post raised ValueError (a 500 at ``POST /api/v1/ingest/channel``)."""
    post = post_from_json({"id": "²", "date": "2024-08-22T08:40:01+03:00",
                           "text": "🔴 08:39 Повітряна тривога в м. Київ"})
    storage = SQLiteStorage(tmp_path / "post.db")
    try:
        outcomes = ingest.ingest(Service(storage, CATALOGUE, outbox=outbox(CATALOGUE)), ADMIN,
                                 [post])
    finally:
        storage.close()
    assert [o.outcome for o in outcomes] == ["applied"]


# ---- statements ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def names() -> NameIndex:
    return NameIndex(CATALOGUE)


@fuzz_settings(40)
@given(text=mixed(STATEMENTS, 6 * (3 if SOAK else 1)),
       within=st.sampled_from([None, KYIV, LVIV_OBLAST]))
def test_statements_are_read(names: NameIndex, text: str, within: str | None) -> None:
    text = text[:50_000]  # the most a statement may be (ingest/proposals.py MAX_STATEMENT)
    with watchdog(len(text)):
        reading = read_statement(text, names, source="fuzz", within=within)
    assert reading is not None


# ---- CAP -------------------------------------------------------------------------------------

def published_messages() -> list[bytes]:
    with tempfile.TemporaryDirectory() as folder:
        storage = SQLiteStorage(Path(folder) / "cap.db")
        service = Service(storage, CATALOGUE, outbox=outbox(CATALOGUE))
        service.handle(ADMIN, Declare.of(regions=[KYIV, LVIV_OBLAST], type="air_raid",
                                         threats=[{"type": "drones", "level": "red"}],
                                         note="Київ & «Львів»"))
        service.handle(ADMIN, Declare.of(regions=[KYIV], type="artillery_shelling",
                                         status="exercise"))
        service.handle(ADMIN, EndByRegion.of(region=LVIV_OBLAST, type="air_raid"))
        projection = CapProjection(CATALOGUE)
        projection.apply_all(storage.iter_events())
        publisher = Publisher(sender="cap@fuzz.test", sender_name="Fuzz")
        messages = [publisher.render(m, CATALOGUE) for m in projection.messages.values()]
        storage.close()
    return messages


MESSAGES = published_messages()
HOSTILE = [
    # billion laughs
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;'
    b'&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'
    b'&lol2;&lol2;&lol2;&lol2;">]><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
    b"&lol3;</alert>",
    # external entities, a file and the network
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
    b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://127.0.0.1:9/evil.dtd"><a/>',
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x">%p;]><a/>',
    # XInclude, which must never be processed
    b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2" xmlns:xi="http://www.w3.org/2001/'
    b'XInclude"><xi:include href="file:///etc/passwd" parse="text"/></alert>',
    # deep nesting and a huge attribute
    b"<a>" * 50_000 + b"</a>" * 50_000,
    b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2" x="' + b"A" * 900_000 + b'"/>',
    b"\xef\xbb\xbf<?xml version='1.0' encoding='UTF-16'?><alert/>",
    "<?xml version='1.0' encoding='UTF-16'?><alert/>".encode("utf-16"),
    b"\x00\xff\xfe<<<",
    b"",
    b"<?xml-stylesheet href='http://127.0.0.1:9/x.xsl'?><a/>",
    b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><![CDATA[" + b"]" * 1000 + b"]]></alert>",
]


@st.composite
def cap_documents(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(min_value=0, max_value=5))
    if choice == 0:
        return draw(st.sampled_from(HOSTILE))
    if choice == 1:
        return draw(st.binary(max_size=300))
    message = draw(st.sampled_from(MESSAGES))
    if choice == 2:  # cut short
        return message[:draw(st.integers(min_value=0, max_value=len(message)))]
    text = message.decode("utf-8")
    if choice == 3:  # an element's text replaced, escaped as XML needs or raw
        opens = [i for i, c in enumerate(text) if c == ">"]
        at = draw(st.sampled_from(opens))
        end = text.find("<", at)
        if end < 0:
            end = at + 1
        value = draw(mixed(POSTS, 4))
        if draw(st.booleans()):
            value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        text = text[:at + 1] + value + text[end:]
    elif choice == 4:  # nested or unknown elements spliced in
        opens = [i for i, c in enumerate(text) if c == ">"]
        at = draw(st.sampled_from(opens))
        text = text[:at + 1] + draw(nested_tags) + text[at + 1:]
    else:  # a region code, a value or a name changed
        old = draw(st.sampled_from([KYIV, LVIV_OBLAST, "Actual", "Alert", "Public", "Update",
                                    "air_raid", "drones", "red", "KATOTTG", "uk-UA"]))
        new = draw(st.one_of(numbers, cyrillic, st.sampled_from(["UA", "", "Cancel", "UA-30"])))
        text = text.replace(old, new)
    return text.encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def cap_ingester() -> Iterator[Ingester]:
    with tempfile.TemporaryDirectory() as folder:
        storage = SQLiteStorage(Path(folder) / "ingest.db")
        yield Ingester(Service(storage, CATALOGUE, outbox=outbox(CATALOGUE)))
        storage.close()


@fuzz_settings(300)
@given(document=cap_documents())
def test_cap_documents_are_answered(cap_ingester: Ingester, document: bytes) -> None:
    with watchdog(len(document)):
        outcome = cap_ingester.ingest_bytes(document)
    assert outcome.verdict in ("ingested", "ignored", "rejected"), outcome
    event(f"CAP {outcome.verdict}")
    if outcome.verdict == "rejected":
        assert outcome.detail and "Traceback" not in outcome.detail
