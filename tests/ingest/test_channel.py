"""Official channel posts become alert events: the real examples, the forms of input, the
rules for partial ends, threat notices, duplicates and order, and a synthetic night."""

from __future__ import annotations

import itertools
import json
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.regions import DNIPROPETROVSK_OBLAST as DNIPRO_OBLAST
from tests.regions import DONETSK_OBLAST as DONETSK
from tests.regions import KHARKIV_OBLAST, KYIV, NIKOPOL_RAION
from tests.regions import ODESA_OBLAST as ODESA
from tests.regions import ZAPORIZHZHIA_OBLAST as ZAPORIZHZHIA
from tryvoga.api.formats import outbox
from tryvoga.domain.events import Event, format_time
from tryvoga.domain.model import AlertStatus, AlertType, ThreatType
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import Catalogue, Level
from tryvoga.ingest.channel import (
    ChannelIngest,
    Outcome,
    Post,
    read_telegram_export,
    read_text_posts,
)
from tryvoga.service import OPERATOR, Actor, Service
from tryvoga.storage.sqlite import SQLiteStorage

from ..conftest import Server, run_cli, start_server, stop_server
from ..paths import CHANNEL_EXAMPLES

EXAMPLES = CHANNEL_EXAMPLES
KYIV_TZ = ZoneInfo("Europe/Kyiv")



def kyiv(text: str) -> str:
    """'2024-08-22 08:40:01' Kyiv time -> the log's UTC form."""
    return format_time(datetime.fromisoformat(text).replace(tzinfo=KYIV_TZ))


def code(names: NameIndex, text: str) -> str:
    found = names.find(text)
    assert found.region is not None, text
    return found.region.code


@pytest.fixture(scope="module")
def names(catalogue: Catalogue) -> NameIndex:
    return NameIndex(catalogue)


@pytest.fixture
def ingest(catalogue: Catalogue, names: NameIndex) -> ChannelIngest:
    return ChannelIngest(catalogue, names)


class Feed:
    """Posts with increasing message ids, applied one by one; returns each post's events."""

    def __init__(self, service: Service, ingest: ChannelIngest) -> None:
        self.service = service
        self.ingest = ingest
        self.next_id = 1000

    def send(self, time: str, text: str, *, ident: str | None = None,
             actor: Actor = OPERATOR) -> tuple[Outcome, list[Event]]:
        if ident is None:
            self.next_id += 1
            ident = str(self.next_id)
        before = self.service.state.seq
        [outcome] = self.ingest.ingest(self.service, actor,
                                       [Post("air_alert_ua", ident, time, text)])
        return outcome, self.service.storage.read_events(before)


@pytest.fixture
def feed(service: Service, ingest: ChannelIngest) -> Feed:
    return Feed(service, ingest)


def kinds(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.kind, e.payload["region"]) for e in events]


# ---- the real examples ----------------------------------------------------------------------


def examples() -> list[tuple[str, str]]:
    """(comment, post text) of every example in the shared examples.txt."""
    blocks = [b.strip() for b in re.split(r"(?m)^---$", EXAMPLES.read_text("utf-8"))]
    out = []
    for block in blocks:
        comment, _, text = block.partition("\n")
        assert comment.startswith("#")
        out.append((comment, text))
    return out


def test_every_example_gives_the_expected_events(feed: Feed, names: NameIndex,
                                                 catalogue: Catalogue) -> None:
    posts = examples()
    assert len(posts) == 10
    state = feed.service.state
    sloviansk = code(names, "м. Слов'янськ та Слов'янська територіальна громада")
    zaporizhzhia_raions = [code(names, n) for n in (
        "Мелітопольський район", "Василівський район", "Пологівський район",
        "Бердянський район", "Запорізький район")]
    assert {catalogue[c].parent for c in zaporizhzhia_raions} == {ZAPORIZHZHIA}

    # 1, 2: Donetsk oblast, start and end; the post's own time, not the HH:MM, is the start.
    outcome, events = feed.send(kyiv("2023-06-01 16:29:14"), posts[0][1])
    assert outcome.outcome == "applied" and outcome.stated == "16:29"
    assert kinds(events) == [("alert.declared", DONETSK)]
    assert events[0].payload["started_at"] == kyiv("2023-06-01 16:29:14")
    assert events[0].payload["type"] == "air_raid" and events[0].payload["status"] == "actual"
    alert_id = events[0].payload["alert_id"]
    outcome, events = feed.send(kyiv("2023-06-01 17:02:40"), posts[1][1])
    assert kinds(events) == [("alert.ended", DONETSK)]
    assert events[0].payload["alert_id"] == alert_id
    assert state.alerts[alert_id].ended_at == kyiv("2023-06-01 17:02:40")

    # 3: a partial end of Dnipropetrovsk oblast: the oblast's alert ends, an alert declared
    # inside it (Nikopol raion) goes on.
    feed.send(kyiv("2023-06-02 05:10:00"), "🔴 05:10 Повітряна тривога в Дніпропетровська "
              "область")
    feed.send(kyiv("2023-06-02 05:12:00"), "🔴 05:12 Повітряна тривога в Нікопольський район")
    outcome, events = feed.send(kyiv("2023-06-02 06:22:05"), posts[2][1])
    assert outcome.action == "partial_end"
    assert kinds(events) == [("alert.ended", DNIPRO_OBLAST)]
    assert state.find_active(NIKOPOL_RAION, AlertType.AIR_RAID, AlertStatus.ACTUAL)

    # 4: several raions of Zaporizhzhia oblast end in one post.
    feed.send(kyiv("2023-06-03 12:00:00"), "🔴 12:00 Повітряна тривога в\n" + "\n".join(
        f"• {catalogue[c].name_uk}" for c in zaporizhzhia_raions))
    outcome, events = feed.send(kyiv("2023-06-03 12:33:30"), posts[3][1])
    assert sorted(kinds(events)) == sorted(("alert.ended", c) for c in zaporizhzhia_raions)

    # 5, 6: Odesa oblast: the end of an alert (the start first), then a new start.
    feed.send(kyiv("2024-08-19 18:30:00"), "🔴 18:30 Повітряна тривога в Одеська область")
    outcome, events = feed.send(kyiv("2024-08-19 19:46:52"), posts[4][1])
    assert kinds(events) == [("alert.ended", ODESA)]
    assert events[0].payload["ended_at"] == "2024-08-19T16:46:52.000Z"
    outcome, events = feed.send(kyiv("2024-08-21 02:15:09"), posts[5][1])
    assert kinds(events) == [("alert.declared", ODESA)]

    # 7, 8: Kyiv city: the text says 08:39, the post was sent at 08:40:01: that is the start.
    outcome, events = feed.send(kyiv("2024-08-22 08:40:01"), posts[6][1])
    assert kinds(events) == [("alert.declared", KYIV)]
    assert events[0].payload["started_at"] == "2024-08-22T05:40:01.000Z"
    assert outcome.stated == "08:39"
    outcome, events = feed.send(kyiv("2024-08-22 10:06:20"), posts[7][1])
    assert kinds(events) == [("alert.ended", KYIV)]

    # 9, 10: a hromada ("м. Слов'янськ та Слов'янська територіальна громада").
    outcome, events = feed.send(kyiv("2024-08-23 07:47:03"), posts[8][1])
    assert kinds(events) == [("alert.declared", sloviansk)]
    assert catalogue[sloviansk].level is Level.HROMADA
    outcome, events = feed.send(kyiv("2024-08-23 08:36:44"), posts[9][1])
    assert kinds(events) == [("alert.ended", sloviansk)]


# ---- partial ends, splitting, threats, other types -----------------------------------------


def test_partial_end_keeps_the_places_still_on_alert(feed: Feed, names: NameIndex) -> None:
    kryvyi_rih = code(names, "Криворізький район")
    start = kyiv("2023-05-20 05:00:00")
    feed.send(start, "🔴 05:00 Повітряна тривога в Дніпропетровська область\n"
              "Слідкуйте за подальшими повідомленнями.\n#Дніпропетровська_область")
    _, events = feed.send(
        kyiv("2023-05-20 06:22:00"),
        "🟡 06:22 Відбій тривоги в Дніпропетровська область.\n"
        "Зверніть увагу, тривога ще триває у:\n- Нікопольський район\n- Криворізький район\n"
        "#Дніпропетровська_область")
    assert sorted(kinds(events)) == sorted([
        ("alert.ended", DNIPRO_OBLAST), ("alert.declared", NIKOPOL_RAION),
        ("alert.declared", kryvyi_rih)])
    state = feed.service.state
    for region in (NIKOPOL_RAION, kryvyi_rih):
        kept = state.find_active(region, AlertType.AIR_RAID, AlertStatus.ACTUAL)
        assert kept is not None and kept.started_at == start  # under alert since 05:00
    assert state.effective_of(DNIPRO_OBLAST, AlertType.AIR_RAID) == "P"


def test_an_end_for_a_part_splits_the_covering_alert(feed: Feed, catalogue: Catalogue,
                                                     names: NameIndex) -> None:
    start = kyiv("2023-05-20 10:00:00")
    feed.send(start, "🔴 10:00 Повітряна тривога в Запорізька область")
    melitopol = code(names, "Мелітопольський район")
    outcome, events = feed.send(kyiv("2023-05-20 10:40:00"),
                                "🟢 10:40 Відбій тривоги в Мелітопольський район.")
    assert outcome.outcome == "applied"
    others = [c for c in catalogue.children[ZAPORIZHZHIA] if c != melitopol]
    assert kinds(events)[0] == ("alert.ended", ZAPORIZHZHIA)
    assert sorted(kinds(events)[1:]) == sorted(("alert.declared", c) for c in others)
    state = feed.service.state
    assert state.effective_of(melitopol, AlertType.AIR_RAID) == "N"
    for other in others:  # every other part stays under alert, since 10:00
        assert state.effective_of(other, AlertType.AIR_RAID) == "A"
        assert state.find_active(other, AlertType.AIR_RAID,
                                 AlertStatus.ACTUAL).started_at == start  # type: ignore[union-attr]
    # The end of all the rest in one post leaves nothing in the oblast, with no churn.
    outcome, events = feed.send(kyiv("2023-05-20 11:00:00"), "🟢 11:00 Відбій тривоги в\n"
                                + "\n".join(f"• {catalogue[c].name_uk}" for c in others))
    assert sorted(kinds(events)) == sorted(("alert.ended", c) for c in others)
    assert state.effective_of(ZAPORIZHZHIA, AlertType.AIR_RAID) == "N"


def test_threat_notices_never_start_or_end_an_alert(feed: Feed) -> None:
    state = feed.service.state
    # No alert: recorded as a threat notice, nothing in the log.
    outcome, events = feed.send(kyiv("2025-03-01 14:05:00"),
                                "🔴🔴 14:05 Загроза ударних БпЛА в Харківська область!")
    assert events == [] and outcome.outcome == "skipped" and outcome.reason == "threat_notice"
    assert any("threat notice" in n for n in outcome.notes)
    assert not state.active_alerts()
    # With an alert: the threat is attached to it, and taken off again.
    feed.send(kyiv("2025-03-01 14:10:00"), "🔴 14:10 Повітряна тривога в Харківська область")
    outcome, events = feed.send(kyiv("2025-03-01 14:12:00"),
                                "🔴🔴 14:12 Загроза ударних БпЛА в Харківська область!")
    assert [e.kind for e in events] == ["alert.updated"]
    alert = state.find_active(KHARKIV_OBLAST, AlertType.AIR_RAID, AlertStatus.ACTUAL)
    assert alert is not None and [t.type for t in alert.threats] == [ThreatType.DRONES]
    outcome, events = feed.send(kyiv("2025-03-01 14:20:00"),
                                "🔴 14:20 Загроза керованих авіабомб в Харківська область")
    assert [e.kind for e in events] == ["alert.updated"]
    outcome, events = feed.send(kyiv("2025-03-01 14:30:00"),
                                "🟡 14:30 Відбій по КАБах\n#Харківська_область")
    assert [e.kind for e in events] == ["alert.updated"]
    outcome, events = feed.send(kyiv("2025-03-01 14:40:00"),
                                "🟢 14:40 Відбій загрози ударних БпЛА в Харківська область")
    assert [e.kind for e in events] == ["alert.updated"]
    alert = state.alerts[alert.id]
    assert alert.active and alert.threats == ()
    # A threat for a raion attaches to the oblast alert that covers it.
    outcome, events = feed.send(kyiv("2025-03-01 14:45:00"),
                                "Ракетна загроза в Харківський район")
    assert [e.kind for e in events] == ["alert.updated"]
    assert [t.type for t in state.alerts[alert.id].threats] == [ThreatType.MISSILES]
    assert len(state.alerts) == 1 and state.alerts[alert.id].active


def test_artillery_and_the_other_types(feed: Feed, names: NameIndex) -> None:
    nikopol = code(names, "Нікопольська територіальна громада")
    _, events = feed.send(kyiv("2023-05-20 11:00:00"),
                          "🔴 11:00 Загроза артобстрілу!\nЗараз у м. Нікополь та Нікопольська "
                          "територіальна громада\n"
                          "#м_Нікополь_та_Нікопольська_територіальна_громада")
    assert kinds(events) == [("alert.declared", nikopol)]
    assert events[0].payload["type"] == "artillery_shelling"
    _, events = feed.send(kyiv("2023-05-20 11:20:00"),
                          "🔴 11:20 Загроза артобстрілу в Нікопольський район.")
    assert events[0].payload["type"] == "artillery_shelling"
    _, events = feed.send(kyiv("2023-05-20 11:30:00"), "🟢 11:30 Відбій загрози артобстрілу в "
                          "м. Нікополь та Нікопольська територіальна громада.")
    assert kinds(events) == [("alert.ended", nikopol)]
    for start, end, type_ in (("Загроза вуличних боїв в", "Відбій загрози вуличних боїв в",
                               "urban_fights"),
                              ("Хімічна загроза в", "Відбій хімічної загрози в", "chemical"),
                              ("Радіаційна загроза в", "Відбій радіаційної загрози в",
                               "nuclear")):
        _, events = feed.send(kyiv("2023-05-20 12:00:00"), f"🔴 12:00 {start} Запорізька "
                              "область")
        assert [(e.kind, e.payload["type"]) for e in events] == [("alert.declared", type_)]
        _, events = feed.send(kyiv("2023-05-20 12:10:00"), f"🟢 12:10 {end} Запорізька "
                              "область.")
        assert [(e.kind, e.payload["type"]) for e in events] == [("alert.ended", type_)]
    # The regional administrations' form.
    _, events = feed.send(kyiv("2023-05-20 13:00:00"), "🔴 Харківська область - повітряна "
                          "тривога!")
    assert kinds(events) == [("alert.declared", KHARKIV_OBLAST)]
    _, events = feed.send(kyiv("2023-05-20 13:30:00"), "🟢 Харківська область - відбій "
                          "повітряної тривоги!")
    assert kinds(events) == [("alert.ended", KHARKIV_OBLAST)]


def test_tests_and_unknown_posts_change_nothing(feed: Feed) -> None:
    outcome, events = feed.send(kyiv("2023-05-20 13:00:00"),
                                "🔴 13:00 Повітряна тривога в Тестовий Регіон")
    assert events == [] and (outcome.outcome, outcome.reason) == ("skipped", "test")
    outcome, events = feed.send(kyiv("2023-05-20 13:01:00"), "Шановні підписники, дякуємо!")
    assert events == [] and (outcome.outcome, outcome.reason) == ("failed", "unrecognized")
    outcome, events = feed.send(kyiv("2023-05-20 13:02:00"),
                                "🔴 13:02 Повітряна тривога в Атлантида")
    assert events == [] and (outcome.outcome, outcome.reason) == ("failed", "unresolved_place")
    # One unknown place among known ones: the others are applied, the post still fails.
    outcome, events = feed.send(kyiv("2023-05-20 13:03:00"), "🔴 13:03 Повітряна тривога в\n"
                                "• Сумська область\n• Атлантида")
    assert outcome.outcome == "failed" and len(events) == 1
    assert [p["text"] for p in outcome.places if p["region"] is None] == ["Атлантида"]


def test_a_post_is_applied_once_and_late_posts_do_not_resurrect_alerts(feed: Feed) -> None:
    state = feed.service.state
    start = "🔴 09:00 Повітряна тривога в Сумська область"
    outcome, events = feed.send(kyiv("2023-05-21 09:00:00"), start, ident="77")
    assert outcome.outcome == "applied"
    outcome, events = feed.send(kyiv("2023-05-21 09:00:00"), start, ident="77")
    assert events == [] and (outcome.outcome, outcome.reason) == ("skipped", "duplicate")
    # The same message id with other text: an edit is not applied again.
    outcome, events = feed.send(kyiv("2023-05-21 09:00:00"),
                                "🔴 09:00 Повітряна тривога в Полтавська область", ident="77")
    assert events == [] and (outcome.outcome, outcome.reason) == ("failed",
                                                                  "changed_after_applied")
    assert outcome.notes == ("message 77 of air_alert_ua was applied before with another text "
                             "or time; an edited post is not applied again",)
    # The end arrives, then (late) the start that preceded it: no alert left running.
    feed.send(kyiv("2023-05-21 10:00:00"), "🟢 10:00 Відбій тривоги в Сумська область.",
              ident="80")
    outcome, events = feed.send(kyiv("2023-05-21 09:30:00"),
                                "🔴 09:30 Повітряна тривога в Сумська область", ident="79")
    assert events == [] and (outcome.outcome, outcome.reason) == ("skipped", "out_of_order")
    assert not state.active_alerts()
    # An all-clear for a place that is not on alert changes nothing.
    outcome, events = feed.send(kyiv("2023-05-21 11:00:00"),
                                "🟢 11:00 Відбій тривоги в Сумська область.")
    assert events == [] and (outcome.outcome, outcome.reason) == ("skipped", "not_active")


def test_a_token_writes_only_in_its_scope(feed: Feed) -> None:
    kyiv_only = Actor("kyiv-ops", (KYIV,))
    outcome, events = feed.send(kyiv("2023-05-21 12:00:00"),
                                "🔴 12:00 Повітряна тривога в Сумська область", actor=kyiv_only)
    assert events == [] and (outcome.outcome, outcome.reason) == ("failed", "out_of_scope")
    outcome, events = feed.send(kyiv("2023-05-21 12:00:00"),
                                "🔴 12:00 Повітряна тривога в м. Київ", actor=kyiv_only)
    assert kinds(events) == [("alert.declared", KYIV)]
    assert events[0].actor == "channel:air_alert_ua"
    # A post the narrow token could apply only in part is applied in full when a token for
    # the whole country sends it; the part applied before is not applied again.
    both = "🔴 12:05 Повітряна тривога в\n• м. Київ\n• Сумська область"
    outcome, events = feed.send(kyiv("2023-05-21 12:05:00"), both, ident="500",
                                actor=kyiv_only)
    assert (outcome.outcome, outcome.reason) == ("failed", "out_of_scope") and events == []
    outcome, events = feed.send(kyiv("2023-05-21 12:05:00"), both, ident="500")
    assert kinds(events) == [("alert.declared", "UA59000000000057109")]
    outcome, events = feed.send(kyiv("2023-05-21 12:05:00"), both, ident="500")
    assert (outcome.outcome, outcome.reason) == ("skipped", "duplicate")


# ---- input forms ----------------------------------------------------------------------------


def telegram_export(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "Повітряна тривога", "type": "public_channel", "id": 1766138888,
            "messages": messages}


def tg_message(ident: int, moment: datetime, text: Any) -> dict[str, Any]:
    # `date` is the exporting computer's local time (here deliberately another zone);
    # `date_unixtime` is the exact moment.
    local = moment.astimezone(ZoneInfo("America/New_York")).replace(tzinfo=None)
    return {"id": ident, "type": "message", "date": local.isoformat(),
            "date_unixtime": str(int(moment.timestamp())), "from": "Повітряна тривога",
            "from_id": "channel1766138888", "text": text, "text_entities": []}


def test_telegram_export_with_entities_and_exact_times() -> None:
    moment = datetime(2024, 8, 22, 5, 40, 1, tzinfo=UTC)
    data = telegram_export([
        {"id": 1, "type": "service", "date": "2022-02-26T15:05:04", "action": "create_channel",
         "text": ""},
        tg_message(2, moment, ["🔴 08:39 Повітряна тривога в ",
                               {"type": "bold", "text": "м. Київ"},
                               "\nСлідкуйте за подальшими повідомленнями.\n",
                               {"type": "hashtag", "text": "#м_Київ"}]),
    ])
    reading = read_telegram_export(data)
    assert [(p.id, p.time) for p in reading.posts] == [("2", "2024-08-22T05:40:01.000Z")]
    assert reading.posts[0].text.startswith("🔴 08:39 Повітряна тривога в м. Київ\n")
    assert reading.skipped == [("1", "service_message", "not a post")]


def test_plain_text_posts() -> None:
    reading = read_text_posts(
        "# the night of 20 May 2023\n"
        "2023-05-20 00:41:31 id=5001\n🔴 00:41 Повітряна тривога в м. Київ\n#м_Київ\n---\n"
        "2023-05-19T21:41:31Z\n🟢 00:41 Відбій тривоги в м. Київ.\n---\n"
        "🔴 00:42 Повітряна тривога в м. Київ\n")
    assert (reading.posts[0].id, reading.posts[0].time) == ("5001",
                                                            "2023-05-19T21:41:31.000Z")
    assert reading.posts[1].time == "2023-05-19T21:41:31.000Z"
    assert reading.posts[1].id.startswith("t")  # no id: one derived from time and text
    assert [f[1] for f in reading.failed] == ["no_timestamp"]


# ---- a synthetic night through the real command -------------------------------------------


@dataclass
class Night:
    messages: list[dict[str, Any]]
    intervals: set[tuple[str, str, str, str | None]]  # (type, region, start, end)
    threat_posts: int
    test_posts: int
    partial_posts: int
    shelling_posts: int


def synthetic_night(catalogue: Catalogue, names: NameIndex, seed: int = 20230520) -> Night:
    """Hundreds of posts over one night: starts and ends, several places per post, partial
    all-clears (an oblast ends, some of its raions stay), threat notices, shelling starts and
    ends, test posts; returns them and the alert intervals they describe."""
    rng = random.Random(seed)
    excluded = {DNIPRO_OBLAST, DONETSK, KHARKIV_OBLAST, KYIV}
    places = [r.code for r in catalogue.top_level() if r.code not in excluded]
    oblasts = [c for c in places if catalogue[c].level is Level.OBLAST
               and len(catalogue.children[c]) > 2]
    places += catalogue.children[DNIPRO_OBLAST]  # raions, whose oblast never has an alert
    hromadas = [c for raion in catalogue.children[DONETSK]
                for c in catalogue.children[raion]
                if catalogue[c].level is Level.HROMADA
                and names.find(catalogue[c].name_uk).region is not None]
    places += hromadas[:15]
    shelled = hromadas[15:25]  # artillery shelling, a type of its own
    places.append(KYIV)
    written = {c: ("м. Київ" if c == KYIV else catalogue[c].name_uk)
               for c in [*places, *shelled]}
    tags = {c: "#" + re.sub(r"[.'’ʼ-]", "", written[c]).replace(" ", "_") for c in written}
    air = "air_raid"
    active: dict[str, str] = {}
    kept: dict[str, str] = {}  # a raion left on alert by a partial all-clear -> its oblast
    shelling: dict[str, str] = {}
    intervals: set[tuple[str, str, str, str | None]] = set()
    messages: list[dict[str, Any]] = []
    moment = datetime(2023, 5, 19, 18, 0, tzinfo=UTC)
    threat_posts = test_posts = partial_posts = shelling_posts = 0

    def end(place: str, when: str) -> None:
        intervals.add((air, place, active.pop(place), when))
        # An oblast's all-clear ends what a partial all-clear of it left on alert.
        for raion in [r for r, oblast in kept.items() if oblast == place]:
            intervals.add((air, raion, active.pop(raion), when))
            del kept[raion]

    for ident in range(1, 460):
        moment += timedelta(seconds=rng.randint(20, 160))
        when = format_time(moment)
        hhmm = moment.astimezone(KYIV_TZ).strftime("%H:%M")
        roll = rng.random()
        partial = [o for o in oblasts if o in active]
        if roll < 0.08:
            threat_posts += 1
            place = rng.choice(places)
            text = f"🔴🔴 {hhmm} Загроза ударних БпЛА в {written[place]}!\n{tags[place]}"
        elif roll < 0.11:
            test_posts += 1
            text = f"🔴 {hhmm} Повітряна тривога в Тестовий Регіон"
        elif roll < 0.17:
            shelling_posts += 1
            place = rng.choice(shelled)
            if place in shelling:
                intervals.add(("artillery_shelling", place, shelling.pop(place), when))
                text = f"🟢 {hhmm} Відбій загрози артобстрілу в {written[place]}."
            else:
                shelling[place] = when
                text = f"🔴 {hhmm} Загроза артобстрілу в {written[place]}."
            text += f"\n{tags[place]}"
        elif roll < 0.22 and partial:
            partial_posts += 1
            oblast = rng.choice(partial)
            started = active[oblast]
            raions = [r for r in catalogue.children[oblast]
                      if r not in active and r not in kept
                      and catalogue[r].level is Level.RAION]
            still = rng.sample(raions, min(len(raions), rng.choice([1, 2])))
            end(oblast, when)
            for raion in still:
                active[raion] = started  # under alert since the oblast's start
                kept[raion] = oblast
            text = (f"🟡 {hhmm} Відбій тривоги в {written[oblast]}.\n"
                    "Зверніть увагу, тривога ще триває у:\n"
                    + "\n".join(f"- {catalogue[r].name_uk}" for r in still)
                    + f"\n{tags[oblast]}")
        else:
            start = rng.random() < 0.5 or not active
            pool = [p for p in places if (p in active) != start]
            if not pool:
                continue
            chosen = rng.sample(pool, min(len(pool), rng.choice([1, 1, 1, 2, 3, 5])))
            for place in chosen:
                if start:
                    active[place] = when
                else:
                    end(place, when)
            head = (f"🔴 {hhmm} Повітряна тривога в" if start
                    else f"🟢 {hhmm} Відбій тривоги в")
            if len(chosen) == 1:
                text = (f"{head} {written[chosen[0]]}{'' if start else '.'}\n"
                        f"Слідкуйте за подальшими повідомленнями.\n{tags[chosen[0]]}")
            else:
                text = head + "\n" + "\n".join(f"• {written[p]}" for p in chosen)
        messages.append(tg_message(ident, moment, text))
    intervals |= {(air, place, start, None) for place, start in active.items()}
    intervals |= {("artillery_shelling", place, start, None) for place, start in shelling.items()}
    return Night(messages, intervals, threat_posts, test_posts, partial_posts, shelling_posts)


def test_a_synthetic_night_rebuilds_the_intervals_it_describes(
        tmp_path: Path, catalogue: Catalogue, names: NameIndex) -> None:
    night = synthetic_night(catalogue, names)
    assert len(night.messages) > 300 and len(night.intervals) > 150
    assert night.partial_posts >= 5 and night.shelling_posts >= 10 and night.threat_posts >= 10
    export = tmp_path / "result.json"
    shuffled = list(night.messages)
    random.Random(1).shuffle(shuffled)  # an export's order is not trusted: time and id are
    export.write_text(json.dumps(telegram_export(shuffled), ensure_ascii=False), "utf-8")
    db = tmp_path / "night.db"
    first = run_cli("ingest", "channel", str(export), db=db)
    summary = first.stdout.strip().splitlines()[-1]
    posts = len(night.messages)
    assert summary.startswith(f"{posts} posts: ")
    assert f"test {night.test_posts}" in summary and "failed 0" in summary

    storage = SQLiteStorage(db)
    try:
        state = Service(storage, catalogue, outbox=outbox(catalogue)).state
        got = {(a.type.value, a.region, a.started_at, a.ended_at)
               for a in state.alerts.values()}
        assert got == night.intervals
        assert all(a.status is AlertStatus.ACTUAL for a in state.alerts.values())
        assert_no_overlap(state)
        seq = state.seq
    finally:
        storage.close()

    # Again: every post is a duplicate; nothing is appended.
    again = run_cli("ingest", "channel", str(export), db=db)
    assert f"skipped {posts}" in again.stdout and "failed 0" in again.stdout
    storage = SQLiteStorage(db)
    try:
        assert storage.head()[0] == seq
    finally:
        storage.close()


def test_the_command_fails_when_a_post_does_not_parse(tmp_path: Path) -> None:
    text = tmp_path / "posts.txt"
    text.write_text("2023-05-20 00:41:31 id=1\n🔴 00:41 Повітряна тривога в м. Київ\n---\n"
                    "2023-05-20 00:50:00 id=2\nЩось незрозуміле\n---\n"
                    "2023-05-20 00:51:00 id=3\n🔴 00:51 Повітряна тривога в Тестовий Регіон\n",
                    "utf-8")
    result = run_cli("ingest", "channel", str(text), db=tmp_path / "x.db", check=False)
    assert result.returncode == 1
    assert "3 posts: applied 1; skipped 1 (test 1); failed 1 (unrecognized 1)" in result.stdout
    assert "air_alert_ua/2" in result.stdout  # the failed post is named
    assert result.stderr == ""  # not a terminal: the summary, and no progress bar's leftovers
    missing = run_cli("ingest", "channel", str(tmp_path / "nope.json"), db=tmp_path / "x.db",
                      check=False)
    assert missing.returncode == 1 and missing.stderr.startswith("error: cannot read")
    assert "Traceback" not in missing.stderr


# ---- the live feed over HTTP ----------------------------------------------------------------


@pytest.fixture
def live(tmp_path: Path) -> Any:
    server = start_server(tmp_path)
    yield server
    stop_server(server)


def test_live_feed_over_http(live: Server) -> None:
    post = {"channel": "air_alert_ua", "id": 9001, "date": "2024-08-22T08:40:01+03:00",
            "text": "🔴 08:39 Повітряна тривога в м. Київ\n#м_Київ"}
    answer = live.post("/api/v1/ingest/channel", post)
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["summary"] == {"applied": 1, "skipped": {}, "failed": {}}
    assert body["posts"][0]["effects"] == ["air_raid declared in Київ"]
    active = live.get("/api/v1/alerts/active", token=None).json()["alerts"]
    assert [(a["region"], a["started_at"]) for a in active] == [
        (KYIV, "2024-08-22T05:40:01.000Z")]
    # Re-sent: a duplicate; a batch in any order is applied in order of time and id.
    again = live.post("/api/v1/ingest/channel", post).json()
    assert again["summary"]["skipped"] == {"duplicate": 1}
    batch = {"posts": [
        {"id": 9003, "date_unixtime": "1724313000",
         "text": [{"type": "plain", "text": "🔴 10:50 Повітряна тривога в Київська область"}]},
        {"id": 9002, "date": "2024-08-22T10:06:00+03:00",
         "text": "🟢 10:06 Відбій тривоги в м. Київ."},
    ]}
    result = live.post("/api/v1/ingest/channel", batch).json()
    assert [p["id"] for p in result["posts"]] == ["9002", "9003"]
    assert result["summary"]["applied"] == 2
    active = live.get("/api/v1/alerts/active", token=None).json()["alerts"]
    assert [a["region_name_en"] for a in active] == ["Kyiv Oblast"]


def test_live_feed_refuses_bad_requests_with_the_one_error_shape(live: Server) -> None:
    post = {"id": 1, "date": "2024-08-22T08:40:01+03:00", "text": "🔴 08:39 Повітряна тривога"}
    unauthorized = live.post("/api/v1/ingest/channel", post, token=None)
    assert unauthorized.status == 401
    assert unauthorized.json()["error"]["code"] == "token_missing"
    for body, field in (({"id": 1, "text": "x"}, "date"),
                        ({"id": 1, "date": "yesterday", "text": "x"}, "date"),
                        ({"date": "2024-08-22T08:40:01+03:00", "text": "x"}, "id"),
                        ({**post, "colour": "red"}, "colour"),
                        ({"posts": [post, {"id": 2}]}, "posts[1].date"),
                        ({"posts": []}, "posts")):
        answer = live.post("/api/v1/ingest/channel", body)
        assert answer.status == 422, (body, answer.body)
        error = answer.json()["error"]
        assert set(error) == {"code", "message", "status", "field"}
        assert error["field"] == field, error
    assert live.get("/api/v1/alerts/active", token=None).json()["alerts"] == []


def test_live_feed_tells_an_edited_post_in_the_channels_terms(live: Server) -> None:
    post = {"id": 9100, "date": "2024-08-22T08:40:01+03:00",
            "text": "🔴 08:39 Повітряна тривога в м. Київ"}
    assert live.post("/api/v1/ingest/channel", post).json()["summary"]["applied"] == 1
    edited = live.post("/api/v1/ingest/channel",
                       {**post, "text": "🔴 08:39 Повітряна тривога в Київська область"})
    assert edited.status == 200, edited.body
    [item] = edited.json()["posts"]
    assert (item["outcome"], item["reason"]) == ("failed", "changed_after_applied")
    assert item["notes"] == ["message 9100 of air_alert_ua was applied before with another "
                             "text or time; an edited post is not applied again"]
    active = live.get("/api/v1/alerts/active", token=None).json()["alerts"]
    assert [a["region"] for a in active] == [KYIV]


def test_the_command_shows_progress_only_on_a_terminal(tmp_path: Path) -> None:
    from .test_history import run_on_terminal

    text = tmp_path / "posts.txt"
    text.write_text("2023-05-20 00:41:31 id=1\n🔴 00:41 Повітряна тривога в м. Київ\n---\n"
                    "2023-05-20 03:01:35 id=2\n🟢 03:01 Відбій тривоги в м. Київ.\n", "utf-8")
    piped = run_cli("ingest", "channel", str(text), db=tmp_path / "piped.db")
    assert piped.stderr == ""
    assert piped.stdout == "2 posts: applied 2; skipped 0 (none); failed 0 (none)\n"
    stdout, shown = run_on_terminal("ingest", "channel", str(text), "--db",
                                    str(tmp_path / "tty.db"))
    assert "posts" in shown and "2/2" in shown
    assert stdout == piped.stdout


# ---- an all-clear ends what a partial all-clear split (issue 14) -----------------------------

def assert_no_overlap(state: Any) -> None:
    """No place has two alerts of one type at once, in the whole history."""
    by_place: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for alert in state.alerts.values():
        by_place.setdefault((alert.region, alert.type.value), []).append(
            (alert.started_at, alert.ended_at or "9999"))
    for place, spans in by_place.items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end <= start, (place, spans)


OBLAST_ALERT = "🔴 {t} Повітряна тривога в Харківська область\n#Харківська_область"
OBLAST_CLEAR = "🟢 {t} Відбій тривоги в Харківська область.\n#Харківська_область"
RAION_ALERT = "🔴 {t} Повітряна тривога в Харківський район\n#Харківська_область"
RAION_CLEAR = "🟢 {t} Відбій тривоги в Харківський район.\n#Харківська_область"
CHUHUIV_CLEAR = "🟢 {t} Відбій тривоги в Чугуївський район.\n#Харківська_область"
PARTIAL = ("🟡 {t} Відбій тривоги в Харківська область.\nЗверніть увагу, тривога ще триває у:\n"
           "- Ізюмський район\n- Куп'янський район\n#Харківська_область")
HROMADA_CLEAR = ("🟢 {t} Відбій тривоги в Дергачівська територіальна громада.\n"
                 "#Харківська_область")
BETWEEN = ["🔴🔴 {t} Загроза ударних БпЛА в Харківська область!\n#Харківська_область",
           "🔴 {t} Загроза артобстрілу в Харківський район.\n#Харківська_область",
           "🟢 {t} Відбій загрози ударних БпЛА в Харківська область\n#Харківська_область"]


@pytest.mark.parametrize("between", [False, True], ids=["plain", "threats and shelling"])
@pytest.mark.parametrize(("start", "partial", "final", "top"), [
    (OBLAST_ALERT, CHUHUIV_CLEAR, OBLAST_CLEAR, KHARKIV_OBLAST),
    (RAION_ALERT, HROMADA_CLEAR, RAION_CLEAR, "raion"),
    (OBLAST_ALERT, PARTIAL, OBLAST_CLEAR, KHARKIV_OBLAST),
], ids=["oblast-raion-oblast", "raion-hromada-raion", "oblast-partial-list-oblast"])
def test_an_all_clear_ends_every_part_a_partial_all_clear_left(
        feed: Feed, names: NameIndex, catalogue: Catalogue, start: str, partial: str,
        final: str, top: str, between: bool) -> None:
    if top == "raion":
        top = code(names, "Харківський район")
    state = feed.service.state
    moment = datetime(2024, 3, 1, 2, 0, tzinfo=KYIV_TZ)

    def send(text: str) -> tuple[Outcome, list[Event]]:
        nonlocal moment
        moment += timedelta(minutes=7)
        return feed.send(format_time(moment), text.format(t=moment.strftime("%H:%M")))

    outcome, _ = send(start)
    assert outcome.outcome == "applied"
    outcome, events = send(partial)
    assert outcome.outcome == "applied"
    parts = [e.payload["region"] for e in events if e.kind == "alert.declared"]
    assert parts and all(catalogue.is_within(p, top) for p in parts)
    if between:
        for text in BETWEEN[:2]:
            send(text)
        # The drones' threat went to the parts under alert; the shelling is an alert of its
        # own type.
        assert all(ThreatType.DRONES in {t.type for t in a.threats}
                   for a in state.active_alerts() if a.type is AlertType.AIR_RAID)
    outcome, events = send(final)
    assert outcome.outcome == "applied", outcome
    ended = {e.payload["region"] for e in events if e.kind == "alert.ended"}
    assert set(parts) <= ended
    # Nothing of the region stays under an air-raid alert.
    assert [a for a in state.active_alerts() if a.type is AlertType.AIR_RAID
            and catalogue.is_within(a.region, top)] == []
    assert state.effective_of(top, AlertType.AIR_RAID) == "N"
    if between:
        shelling = [a for a in state.active_alerts()
                    if a.type is AlertType.ARTILLERY_SHELLING]
        assert len(shelling) == 1  # an air-raid all-clear does not end the shelling
        send(BETWEEN[2])
    assert_no_overlap(state)
    # The same region's all-clear again changes nothing.
    outcome, events = send(final)
    assert events == [] and outcome.reason == "not_active"


def test_a_part_starts_after_its_own_last_all_clear(feed: Feed, names: NameIndex) -> None:
    """A raion whose own alert ended after the oblast's began gets its part from that end,
    not from the oblast's start: its rows never overlap."""
    chuhuiv = code(names, "Чугуївський район")
    izium = code(names, "Ізюмський район")
    feed.send(kyiv("2024-03-01 01:00:00"), "🔴 01:00 Повітряна тривога в Чугуївський район")
    feed.send(kyiv("2024-03-01 01:10:00"), "🔴 01:10 Повітряна тривога в Харківська область")
    feed.send(kyiv("2024-03-01 01:20:00"), "🟢 01:20 Відбій тривоги в Чугуївський район.")
    _, events = feed.send(kyiv("2024-03-01 01:30:00"), "🟢 01:30 Відбій тривоги в "
                          "Ізюмський район.")
    declared = {e.payload["region"]: e.payload["started_at"] for e in events
                if e.kind == "alert.declared"}
    assert izium not in declared
    assert declared[chuhuiv] == kyiv("2024-03-01 01:20:00")
    assert_no_overlap(feed.service.state)


# ---- renamed places and names several places share (issue 14) -------------------------------

MYKOLAIV_CITY = "UA48060150010035747"
MYKOLAIV_LVIV = "UA46100110010094231"


def test_renamed_places_resolve_through_the_table_history_uses(feed: Feed,
                                                               names: NameIndex) -> None:
    from tryvoga.ingest import former_names, history

    assert history.FORMER_NAMES is former_names.FORMER_NAMES  # one table for both
    shakhtarska = "UA12140210000089021"  # Першотравенськ, Dnipropetrovsk oblast, now Шахтарське
    assert feed.service.state.catalogue.top_of(shakhtarska) == DNIPRO_OBLAST
    bahacheve = code(names, "Багачевська територіальна громада")
    outcome, events = feed.send(kyiv("2024-05-01 01:00:00"),
                                "🔴 01:00 Повітряна тривога в м. Першотравенськ та "
                                "Першотравенська територіальна громада\n"
                                "#м_Першотравенськ_та_Першотравенська_територіальна_громада")
    assert outcome.outcome == "applied" and kinds(events) == [("alert.declared", shakhtarska)]
    outcome, events = feed.send(kyiv("2024-05-01 01:05:00"),
                                "🔴 01:05 Повітряна тривога в Ватутінська територіальна громада")
    assert kinds(events) == [("alert.declared", bahacheve)]


def test_a_shared_name_is_settled_by_the_post_then_by_the_alerts_in_force(feed: Feed) -> None:
    # Nothing says which Mykolaiv: reported, with both.
    outcome, events = feed.send(kyiv("2024-05-01 02:00:00"),
                                "🔴 02:00 Повітряна тривога в м. Миколаїв")
    assert events == [] and (outcome.outcome, outcome.reason) == ("failed", "unresolved_place")
    (place,) = outcome.places
    assert set(place["candidates"]) == {MYKOLAIV_CITY, MYKOLAIV_LVIV}
    # The post's hashtag says which.
    outcome, events = feed.send(kyiv("2024-05-01 02:01:00"),
                                "🔴 02:01 Повітряна тривога в м. Миколаїв\n#Львівська_область")
    assert kinds(events) == [("alert.declared", MYKOLAIV_LVIV)]
    # The oblast named in the same post says which.
    outcome, events = feed.send(kyiv("2024-05-01 02:02:00"),
                                "🔴 02:02 Повітряна тривога в\n• Миколаївська область\n"
                                "• м. Миколаїв")
    assert ("alert.declared", MYKOLAIV_CITY) in kinds(events)
    # Neither: the alerts in force do. Only Lviv's Mykolaiv is under alert now.
    feed.send(kyiv("2024-05-01 02:10:00"), "🟢 02:10 Відбій тривоги в\n• Миколаївська область"
              "\n• м. Миколаїв\n#Миколаївська_область")
    outcome, events = feed.send(kyiv("2024-05-01 02:20:00"),
                                "🟢 02:20 Відбій тривоги в м. Миколаїв.")
    assert kinds(events) == [("alert.ended", MYKOLAIV_LVIV)]
    assert any("alerts in force" in note for note in outcome.notes)
