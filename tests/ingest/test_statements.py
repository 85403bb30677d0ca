"""Reading statements into proposals: the Kyiv report, Ukrainian and Russian statements,
all-clears, spellings, districts named like cities, and places that stay unresolved."""

from __future__ import annotations

from typing import Any

import pytest

from tests.regions import (
    DNIPRO_CITY,
    KHARKIV_CITY,
    KHARKIV_OBLAST,
    KYIV,
    KYIV_OBLAST,
    MYKOLAIV_CITY,
    MYKOLAIV_LVIV,
    MYKOLAIV_OBLAST,
    ODESA_CITY,
)
from tests.regions import KYIV_DARNYTSKYI as DARNYTSKYI
from tests.regions import KYIV_DNIPROVSKYI as DNIPROVSKYI
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import Catalogue
from tryvoga.ingest.statements import read_statement, split_sentences

from ..paths import KYIV_STATEMENT

EXAMPLE = KYIV_STATEMENT
KEYS = {"kind", "region", "region_name", "alert_type", "threats", "incident_kind", "status",
        "source", "description", "evidence", "why", "killed", "injured"}


@pytest.fixture(scope="module")
def names(catalogue: Catalogue) -> NameIndex:
    return NameIndex(catalogue)


def read(text: str, names: NameIndex, **kwargs: Any) -> dict[str, Any]:
    answer = read_statement(text, names, **kwargs).to_json()
    assert set(answer) == {"proposals", "unresolved"}
    for proposal in answer["proposals"]:
        assert set(proposal) == KEYS
        assert proposal["evidence"] in " ".join(text.split())
    return answer


def threats(proposal: dict[str, Any]) -> list[str]:
    return [t["type"] for t in proposal["threats"]]


# ---- the night of 20 May 2023 -----------------------------------------------------------------

def test_the_kyiv_report_gives_exactly_its_four_events(names: NameIndex) -> None:
    answer = read(EXAMPLE.read_text("utf-8"), names)
    alert, fire, debris, debris_fire = answer["proposals"]

    assert alert["kind"] == "alert" and alert["region"] == KYIV
    assert alert["alert_type"] == "air_raid" and threats(alert) == ["drones"]
    assert alert["source"] == "Kyiv City Military Administration"
    assert alert["evidence"].startswith("A state of air alert was declared in Kiev")

    assert fire["kind"] == "incident" and fire["incident_kind"] == "fire"
    assert fire["region"] == DARNYTSKYI and fire["status"] == "preliminary"
    assert "10-storey building" in fire["description"]
    assert fire["source"] == "Kyiv City Military Administration"
    assert "Darnitsya district" in fire["evidence"]

    assert debris["kind"] == "incident" and debris["incident_kind"] == "debris"
    assert debris["region"] == DNIPROVSKYI and debris["region"] != DNIPRO_CITY
    assert debris["source"] == "Mayor of Kyiv"
    # The mayor reports what happened: confirmed; the administration said "preliminary".
    assert debris["status"] == "confirmed"
    # The fire the debris caused is an incident of its own, with the same sentence.
    assert (debris_fire["incident_kind"], debris_fire["region"]) == ("fire", DNIPROVSKYI)
    assert debris_fire["evidence"] == debris["evidence"]
    assert "named in the sentence" in debris_fire["why"]

    assert answer["unresolved"] == [{
        "text": "several Ukrainian regions in eastern Ukraine", "reason": "vague",
        "candidates": [], "evidence": alert["evidence"]}]
    # Nothing from the paragraphs about the fighting at Bakhmut.
    assert not any("Bakhmut" in p["evidence"] or "Wagner" in p["evidence"]
                   for p in answer["proposals"])


def test_the_paragraphs_about_bakhmut_alone_give_nothing(names: NameIndex) -> None:
    text = EXAMPLE.read_text("utf-8")
    bakhmut = text[text.index("The Russian attacks on Kiev came after"):]
    assert read(bakhmut, names) == {"proposals": [], "unresolved": []}


# ---- sentences --------------------------------------------------------------------------------

def test_sentences_end_at_stops_and_quotes_but_not_at_abbreviations() -> None:
    text = ("date 2023-05-20 The administration said that “the capital is under attack.”\n\n"
            "She added: “Air defence is working.” Відбій тривоги в м. Київ. Мер В. Кличко "
            "повідомив про пожежу на вул. Хрещатик, 10.5 тис. людей без світла! Что дальше?\n"
            "A line that goes on\nafter a hard wrap.")
    assert split_sentences(text) == [
        "The administration said that “the capital is under attack.”",
        "She added: “Air defence is working.”",
        "Відбій тривоги в м. Київ.",
        "Мер В. Кличко повідомив про пожежу на вул. Хрещатик, 10.5 тис. людей без світла!",
        "Что дальше?",
        "A line that goes on after a hard wrap.",
    ]


# ---- Ukrainian and Russian --------------------------------------------------------------------

def test_a_ukrainian_statement(names: NameIndex) -> None:
    answer = read(
        "У Києві оголошено повітряну тривогу через загрозу ударних БпЛА. Про це повідомила "
        "Київська міська військова адміністрація.\n\n"
        "За попередньою інформацією, у Дарницькому районі виникла пожежа в 9-поверховому "
        "житловому будинку.\n\n"
        "Мер Києва Віталій Кличко повідомив про падіння уламків у Дніпровському районі, "
        "внаслідок чого загорівся автомобіль. Інформація підтверджена.", names)
    alert, fire, debris, car_fire = answer["proposals"]
    assert (alert["kind"], alert["region"], alert["alert_type"]) == ("alert", KYIV, "air_raid")
    assert threats(alert) == ["drones"]
    assert alert["source"] == "Kyiv City Military Administration"
    assert (fire["incident_kind"], fire["region"], fire["status"]) == (
        "fire", DARNYTSKYI, "preliminary")
    assert "9-поверховому житловому будинку" in fire["description"]
    assert (debris["incident_kind"], debris["region"]) == ("debris", DNIPROVSKYI)
    assert debris["source"] == "Mayor of Kyiv"
    assert (car_fire["incident_kind"], car_fire["region"]) == ("fire", DNIPROVSKYI)
    assert answer["unresolved"] == []


def test_a_russian_statement(names: NameIndex) -> None:
    answer = read(
        "В Киеве объявлена воздушная тревога. Киевская городская военная администрация "
        "сообщает об угрозе ударных беспилотников и баллистических ракет.\n"
        "По предварительным данным, пожар в Дарницком районе в жилом доме.\n"
        "Мэр Киева сообщил о падении обломков в Днепровском районе, информация подтверждена.",
        names)
    alert, fire, debris = answer["proposals"]
    assert (alert["region"], alert["alert_type"]) == (KYIV, "air_raid")
    assert threats(alert) == ["drones", "ballistic"]
    assert alert["source"] == "Kyiv City Military Administration"
    assert (fire["incident_kind"], fire["region"], fire["status"]) == (
        "fire", DARNYTSKYI, "preliminary")
    assert (debris["incident_kind"], debris["region"], debris["status"]) == (
        "debris", DNIPROVSKYI, "confirmed")
    assert debris["source"] == "Mayor of Kyiv"


# ---- all-clears -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "region"), [
    ("All clear in Kyiv.", KYIV),
    ("The air raid alert in Kharkiv region has been lifted.", KHARKIV_OBLAST),
    ("The air-raid alert in Kyiv oblast has ended.", KYIV_OBLAST),
    ("Відбій повітряної тривоги в м. Київ.", KYIV),
    ("Відбій тривоги у Харківській області.", KHARKIV_OBLAST),
    ("Отбой воздушной тревоги в Киеве.", KYIV),
    ("Отбой тревоги в Харьковской области.", KHARKIV_OBLAST),
])
def test_all_clear_sentences(names: NameIndex, text: str, region: str) -> None:
    answer = read(text, names)
    assert [(p["kind"], p["region"], p["alert_type"]) for p in answer["proposals"]] == [
        ("all_clear", region, "air_raid")]


def test_an_all_clear_without_a_place_ends_what_the_statement_declared(names: NameIndex
                                                                       ) -> None:
    answer = read("Повітряна тривога в Харкові! ... 03:10 — відбій.", names)
    assert [(p["kind"], p["region"]) for p in answer["proposals"]] == [
        ("alert", KHARKIV_CITY), ("all_clear", KHARKIV_CITY)]


def test_an_alert_spoken_of_in_the_past_is_not_declared(names: NameIndex) -> None:
    answer = read("The air raid alert in Kyiv lasted three hours.", names)
    assert answer["proposals"] == []


# ---- spellings and context ---------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "An air raid alert was declared in Kiev.",
    "An air raid alert was declared in Kyiv.",
    "У Києві оголошено повітряну тривогу.",
    "Повітряна тривога: Київ.",
    "В Киеве объявлена воздушная тревога.",
])
def test_kyiv_in_any_spelling(names: NameIndex, text: str) -> None:
    assert [p["region"] for p in read(text, names)["proposals"]] == [KYIV]


@pytest.mark.parametrize("place", ["Darnitsya", "Darnytsia", "Дарниці", "Дарниця",
                                   "the Darnytskyi district"])
def test_darnytsia_in_any_spelling_resolves_inside_kyiv(names: NameIndex, place: str) -> None:
    answer = read(f"Kyiv: debris fell in {place}, the mayor said.", names)
    assert [(p["incident_kind"], p["region"]) for p in answer["proposals"]] == [
        ("debris", DARNYTSKYI)]


@pytest.mark.parametrize("place", ["Kharkov", "Kharkiv", "Харкові", "Харькове"])
def test_kharkiv_in_any_spelling(names: NameIndex, place: str) -> None:
    answer = read(f"Air raid alert in {place}: ballistic missile threat.", names)
    assert [(p["region"], threats(p)) for p in answer["proposals"]] == [
        (KHARKIV_CITY, ["ballistic"])]


def test_a_district_named_like_a_city_is_the_district_once_the_city_is_known(
        names: NameIndex) -> None:
    in_kyiv = read("Explosions in Kyiv. Debris fell in the Dnipro district.", names)
    assert [(p["incident_kind"], p["region"]) for p in in_kyiv["proposals"]] == [
        ("explosion", KYIV), ("debris", DNIPROVSKYI)]
    # A bare name is still the city, even in a Kyiv statement.
    city = read("Explosions in Kyiv. An explosion was also heard in Dnipro.", names)
    assert [p["region"] for p in city["proposals"]] == [KYIV, DNIPRO_CITY]


def test_a_district_without_its_city_stays_unresolved_with_candidates(names: NameIndex
                                                                      ) -> None:
    answer = read("Debris fell in the Dnipro district.", names)
    assert answer["proposals"] == []
    (item,) = answer["unresolved"]
    assert item["text"] == "Dnipro district" and item["reason"] == "ambiguous"
    codes = {c["code"] for c in item["candidates"]}
    assert DNIPROVSKYI in codes and len(codes) > 1
    assert "Dniprovskyi District, Kyiv" in {c["name"] for c in item["candidates"]}


def test_an_ambiguous_town_is_unresolved_until_the_context_decides(names: NameIndex) -> None:
    answer = read("Повітряна тривога в Києві та в Миколаєві.", names)
    assert [p["region"] for p in answer["proposals"]] == [KYIV]
    (item,) = answer["unresolved"]
    assert (item["text"], item["reason"]) == ("Миколаєві", "ambiguous")
    assert {c["code"] for c in item["candidates"]} == {MYKOLAIV_CITY, MYKOLAIV_LVIV}

    within = read("Повітряна тривога в Миколаєві.", names, within=MYKOLAIV_OBLAST)
    assert [p["region"] for p in within["proposals"]] == [MYKOLAIV_CITY]


def test_an_unknown_place_is_unresolved_not_found(names: NameIndex) -> None:
    answer = read("A fire broke out in Troieshchyna, Kyiv.", names)
    assert [(u["text"], u["reason"]) for u in answer["unresolved"]] == [
        ("Troieshchyna", "not_found")]


def test_an_incident_without_a_place_is_unresolved(names: NameIndex) -> None:
    answer = read("Two people were injured.", names)
    assert answer["proposals"] == []
    assert [(u["text"], u["reason"]) for u in answer["unresolved"]] == [
        ("casualties", "no_place")]


# ---- what is not an event -----------------------------------------------------------------------

def test_gunfire_is_not_a_fire(names: NameIndex) -> None:
    text = ("A Ukrainian unit near Kharkiv was under heavy fire from Russian forces and "
            "returned fire at the positions.")
    assert read(text, names)["proposals"] == []


@pytest.mark.parametrize("text", [
    "Kharkiv is under attack by Shahed drones, the regional military administration said.",
    "Kyiv was attacked by drones overnight.",
    "На Чернігівщині група БпЛА рухається в бік Київщини.",
    "A group of drones is moving towards Kyiv region from the north.",
    "Ракета в напрямку Дніпра!",
    "Перебувайте в укриттях до відбою повітряної тривоги у Києві.",
    "Stay in shelters in Kyiv until the all-clear!",
    "Синоптики прогнозують, що у разі оголошення тривоги в Одесі варто прямувати в укриття.",
    "В Киеве воздушная тревога длилась три часа.",
])
def test_tracking_attacks_forecasts_and_shelter_advice_declare_nothing(names: NameIndex,
                                                                       text: str) -> None:
    assert [p for p in read(text, names)["proposals"] if p["kind"] != "incident"] == []


def test_a_threat_goes_to_the_alert_the_statement_declared(names: NameIndex) -> None:
    answer = read("У Харкові оголошено повітряну тривогу. Харків атакують шахеди.", names)
    (alert,) = answer["proposals"]
    assert (alert["region"], threats(alert)) == (KHARKIV_CITY, ["drones"])
    assert "оголошено" in alert["why"]


def test_several_regions_and_a_shared_type_word(names: NameIndex) -> None:
    answer = read("Повітряна тривога у Київській та Харківській областях.", names)
    assert [p["region"] for p in answer["proposals"]] == [KYIV_OBLAST, KHARKIV_OBLAST]


@pytest.mark.parametrize(("text", "regions"), [
    ("Air raid alert in Kyiv, Kharkiv and Odesa.", [KYIV, KHARKIV_CITY, ODESA_CITY]),
    ("Повітряна тривога у Києві та Харкові.", [KYIV, KHARKIV_CITY]),
    ("Воздушная тревога на Киевщине и Харьковщине.", [KYIV_OBLAST, KHARKIV_OBLAST]),
])
def test_a_list_of_places_shares_its_preposition(names: NameIndex, text: str,
                                                 regions: list[str]) -> None:
    assert [p["region"] for p in read(text, names)["proposals"]] == regions


def test_a_default_source_is_used_when_the_text_names_none(names: NameIndex) -> None:
    answer = read("Пожежа в Дарницькому районі Києва.", names, source="KMVA Telegram")
    (fire,) = answer["proposals"]
    assert (fire["region"], fire["source"]) == (DARNYTSKYI, "KMVA Telegram")


def test_a_channel_style_post(names: NameIndex) -> None:
    answer = read(
        "⚠️ Увага! Київ – повітряна тривога! Загроза застосування балістичного озброєння. "
        "Прямуйте в укриття!\n\nСили ППО працюють у Києві. Не виходьте з укриттів до відбою!\n\n"
        "За попередніми даними, внаслідок падіння уламків у Солом'янському районі пошкоджено "
        "приватний будинок, постраждалих немає.\n\n03:01 відбій тривоги в Києві.",
        names, source="Kyiv City Military Administration (Telegram)")
    alert, debris, damage, clear = answer["proposals"]
    assert (alert["kind"], alert["region"], threats(alert)) == ("alert", KYIV, ["ballistic"])
    assert alert["source"] == "Kyiv City Military Administration (Telegram)"
    assert (debris["incident_kind"], debris["region"]) == ("debris", "UA80000000000980793")
    assert (damage["incident_kind"], damage["region"]) == ("damage", "UA80000000000980793")
    assert damage["description"] == "damage: приватний будинок"  # no casualties
    assert debris["status"] == damage["status"] == "preliminary"
    assert (clear["kind"], clear["region"]) == ("all_clear", KYIV)
    assert answer["unresolved"] == []


def test_a_wire_report_with_background_paragraphs(names: NameIndex) -> None:
    answer = read(
        "KYIV, May 20 - Russia launched a wave of drones at Kyiv overnight, the city's military "
        "administration said.\n\n"
        "Air defences destroyed all the drones heading for Kyiv, the head of the Kyiv City "
        "Military Administration said on Telegram.\n\n"
        "Debris fell on a non-residential building in the Sviatoshynskyi district, causing a "
        "fire, Mayor Vitali Klitschko said. No one was injured.\n\n"
        "In the southern city of Odesa, a missile strike damaged port infrastructure, regional "
        "governor Oleh Kiper said. Two people were wounded.\n\n"
        "The war in Ukraine has killed tens of thousands of people since February 2022.", names)
    # Drones launched at Kyiv are an attack, not an alert declared.
    debris, fire, damage, wounded = answer["proposals"]
    # "destroyed all the drones" is an interception, not damage.
    assert (debris["incident_kind"], debris["region"]) == ("debris", "UA80000000000875983")
    assert debris["description"] == "debris: a non-residential building"
    assert debris["source"] == "Mayor of Kyiv"
    assert (fire["incident_kind"], fire["region"]) == ("fire", "UA80000000000875983")
    assert (damage["incident_kind"], damage["region"]) == ("damage", ODESA_CITY)
    assert damage["source"] == "Head of the Odesa Regional Military Administration"
    # The wounded are in Odesa, the place of the sentence before: carried, and said so; the
    # background paragraph gives nothing.
    assert (wounded["incident_kind"], wounded["region"]) == ("casualties", ODESA_CITY)
    assert (wounded["killed"], wounded["injured"]) == (None, 2)
    assert wounded["description"] == "casualties: 2 injured"
    assert "carried" in wounded["why"] and "Odesa" in wounded["why"]
    assert answer["unresolved"] == []


# ---- statements as real people write them (issue 14) -------------------------------------------

def kinds(answer: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(p["kind"], p["incident_kind"], p["region"]) for p in answer["proposals"]]


def test_an_unplaced_incident_takes_the_place_of_the_sentences_before(names: NameIndex) -> None:
    answer = read("Уламки впали у Дарницькому районі Києва. Виникла пожежа у приватному "
                  "будинку. Двоє людей травмовані.", names)
    assert kinds(answer) == [("incident", "debris", DARNYTSKYI),
                             ("incident", "fire", DARNYTSKYI),
                             ("incident", "casualties", DARNYTSKYI)]
    fire, casualties = answer["proposals"][1:]
    assert "carried from an earlier sentence" in fire["why"]
    assert fire["evidence"] == "Виникла пожежа у приватному будинку."
    assert casualties["injured"] == 2


def test_each_kind_the_text_reports_is_its_own_proposal(names: NameIndex) -> None:
    answer = read("In Kharkiv, a missile strike caused an explosion and a fire, damaged a "
                  "school; one person was killed and 12 were injured.", names)
    assert sorted(str(k) for _, k, _ in kinds(answer)) == [
        "casualties", "damage", "explosion", "fire"]
    (casualties,) = [p for p in answer["proposals"] if p["incident_kind"] == "casualties"]
    assert (casualties["killed"], casualties["injured"]) == (1, 12)


@pytest.mark.parametrize(("text", "region"), [
    ("The alert was lifted in Kyiv.", KYIV),
    ("All clear in Kharkiv region.", KHARKIV_OBLAST),
    ("У Києві відбій тривоги.", KYIV),
    ("У Харківській області тривогу скасовано.", KHARKIV_OBLAST),
    ("Повітряну тривогу в Києві скасували.", KYIV),
    ("В Киеве дали отбой воздушной тревоги.", KYIV),
    ("Тревога в Харьковской области отменена.", KHARKIV_OBLAST),
])
def test_all_clears_in_their_inflections(names: NameIndex, text: str, region: str) -> None:
    assert kinds(read(text, names)) == [("all_clear", None, region)]


@pytest.mark.parametrize(("text", "region"), [
    ("An air raid alert was declared in Kharkiv region.", KHARKIV_OBLAST),
    ("Air raid alert in the Lviv region.", "UA46000000000026241"),
    ("Air raid alert in Lviv.", "UA46060250010015970"),
    ("Повітряна тривога на Харківщині.", KHARKIV_OBLAST),
    ("Оголошено тривогу в Харківській області.", KHARKIV_OBLAST),
    ("Воздушная тревога объявлена в Харьковской области.", KHARKIV_OBLAST),
])
def test_a_region_is_the_oblast_and_a_bare_name_the_city(names: NameIndex, text: str,
                                                         region: str) -> None:
    assert kinds(read(text, names)) == [("alert", None, region)]


def test_a_common_word_opening_a_sentence_is_not_a_town(names: NameIndex) -> None:
    answer = read("Повітряна тривога у Києві. Саме тому прохання залишатися в укриттях. "
                  "Тому будьте уважні. Именно поэтому пожар потушили быстро.", names)
    regions = {p["region"] for p in answer["proposals"]}
    assert regions == {KYIV}


@pytest.mark.parametrize("text", [
    "Debris fell in Kyiv's Darnytskyi district.",
    "In Kyiv, debris fell in the Darnytskyii district.",
    "У Києві уламки впали в Дарнитському районі.",
])
def test_districts_inside_a_known_city_match_tolerantly(names: NameIndex, text: str) -> None:
    assert kinds(read(text, names)) == [("incident", "debris", DARNYTSKYI)]


def test_a_typo_far_from_every_district_stays_unresolved(names: NameIndex) -> None:
    answer = read("In Kyiv, debris fell in the Zzyzx district.", names)
    assert kinds(answer) == [("incident", "debris", KYIV)]  # the city, with the place carried


@pytest.mark.parametrize(("text", "status"), [
    ("A fire broke out in Kyiv.", "confirmed"),
    ("Уламки впали у Києві.", "confirmed"),
    ("According to preliminary information, a fire broke out in Kyiv.", "preliminary"),
    ("Попередньо, пожежа у Києві.", "preliminary"),
    ("Інформація про пожежу у Києві уточнюється.", "preliminary"),
])
def test_status_is_confirmed_unless_the_text_says_preliminary(names: NameIndex, text: str,
                                                              status: str) -> None:
    (incident,) = read(text, names)["proposals"]
    assert incident["status"] == status


def test_the_city_and_the_oblast_named_by_common_nouns(names: NameIndex) -> None:
    answer = read("Харків. У місті та області оголошена повітряна тривога.", names)
    assert kinds(answer) == [("alert", None, KHARKIV_CITY), ("alert", None, KHARKIV_OBLAST)]


@pytest.mark.parametrize(("text", "name"), [
    ("Пожежа у Черкасах.", "Cherkasy"),
    ("Вибухи в Сумах.", "Sumy"),
    ("Пожар в Черкассах.", "Cherkasy"),
    ("Уламки впали у Броварах.", "Brovary"),
])
def test_inflected_names_the_index_misses_are_read_in_the_nominative(
        names: NameIndex, text: str, name: str) -> None:
    (incident,) = read(text, names)["proposals"]
    assert names.catalogue[incident["region"]].name_en == name
