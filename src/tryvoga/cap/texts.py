"""What a CAP message says, in Ukrainian and English.

Pure functions of a message's facts. Every text has a limit from CAP practice: a headline of at
most 160 characters, and a short text of at most 90 GSM-7 characters for SMS, cell broadcast
and LED displays. GSM-7 has no Cyrillic, so the Ukrainian short text is written in the
official Latin transliteration (Cabinet of Ministers resolution 55 of 2010).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from tryvoga.domain.events import parse_time
from tryvoga.domain.model import AlertType, IncidentKind, IncidentStatus, Threat, ThreatType
from tryvoga.domain.regions import COUNTRY, Catalogue, Level

KYIV = ZoneInfo("Europe/Kyiv")
HEADLINE_MAX = 160
SHORT_MAX = 90

ALERT_NAMES = {
    "uk": {AlertType.AIR_RAID: "Повітряна тривога",
           AlertType.ARTILLERY_SHELLING: "Загроза артобстрілу",
           AlertType.URBAN_FIGHTS: "Загроза вуличних боїв",
           AlertType.CHEMICAL: "Хімічна загроза",
           AlertType.NUCLEAR: "Радіаційна загроза"},
    "en": {AlertType.AIR_RAID: "Air raid alert",
           AlertType.ARTILLERY_SHELLING: "Artillery shelling threat",
           AlertType.URBAN_FIGHTS: "Urban fighting threat",
           AlertType.CHEMICAL: "Chemical threat",
           AlertType.NUCLEAR: "Radiation threat"},
}

THREAT_NAMES = {
    "uk": {ThreatType.DRONES: "ударні БпЛА", ThreatType.MISSILES: "крилаті ракети",
           ThreatType.BALLISTIC: "балістичні ракети",
           ThreatType.GUIDED_BOMBS: "керовані авіабомби", ThreatType.AVIATION: "авіація"},
    "en": {ThreatType.DRONES: "attack drones", ThreatType.MISSILES: "cruise missiles",
           ThreatType.BALLISTIC: "ballistic missiles",
           ThreatType.GUIDED_BOMBS: "guided aerial bombs", ThreatType.AVIATION: "aviation"},
}

LEVEL_NAMES = {"uk": {"red": "червоний рівень", "yellow": "жовтий рівень"},
               "en": {"red": "red level", "yellow": "yellow level"}}

INCIDENT_NAMES = {
    "uk": {IncidentKind.FIRE: "Пожежа", IncidentKind.DEBRIS: "Падіння уламків",
           IncidentKind.EXPLOSION: "Вибух", IncidentKind.DAMAGE: "Пошкодження",
           IncidentKind.CASUALTIES: "Постраждалі", IncidentKind.OTHER: "Подія"},
    "en": {IncidentKind.FIRE: "Fire", IncidentKind.DEBRIS: "Falling debris",
           IncidentKind.EXPLOSION: "Explosion", IncidentKind.DAMAGE: "Damage",
           IncidentKind.CASUALTIES: "Casualties", IncidentKind.OTHER: "Incident"},
}

INCIDENT_STATUS = {
    "uk": {IncidentStatus.PRELIMINARY: "попередня інформація",
           IncidentStatus.CONFIRMED: "підтверджено", IncidentStatus.RETRACTED: "спростовано"},
    "en": {IncidentStatus.PRELIMINARY: "preliminary information",
           IncidentStatus.CONFIRMED: "confirmed", IncidentStatus.RETRACTED: "retracted"},
}

# What to do, per alert type: civil-defence guidance in plain words.
SHELTER_ADVICE = {
    "uk": {AlertType.AIR_RAID: "Негайно пройдіть до найближчого укриття і залишайтеся там до "
                               "відбою тривоги.",
           AlertType.ARTILLERY_SHELLING: "Негайно сховайтеся в укритті або в приміщенні без "
                                         "вікон; не виходьте до відбою.",
           AlertType.URBAN_FIGHTS: "Залишайтеся в приміщенні, подалі від вікон; не виходьте "
                                   "на вулицю до відбою.",
           AlertType.CHEMICAL: "Зайдіть у будинок, зачиніть вікна й двері, вимкніть "
                               "вентиляцію, захистіть органи дихання; чекайте вказівок.",
           AlertType.NUCLEAR: "Негайно зайдіть у будинок або укриття, подалі від зовнішніх "
                              "стін; зачиніть вікна; чекайте вказівок."},
    "en": {AlertType.AIR_RAID: "Go to the nearest shelter now and stay there until the "
                               "all-clear.",
           AlertType.ARTILLERY_SHELLING: "Take cover now in a shelter or a room without "
                                         "windows; stay there until the all-clear.",
           AlertType.URBAN_FIGHTS: "Stay indoors, away from windows; do not go outside until "
                                   "the all-clear.",
           AlertType.CHEMICAL: "Go indoors, close windows and doors, switch off ventilation, "
                               "protect your breathing, and wait for instructions.",
           AlertType.NUCLEAR: "Go indoors or to a shelter now, away from outer walls; close "
                              "windows and wait for instructions."},
}

# Short texts are written in Cyrillic here and transliterated when built.
SHORT_ACTION = {"uk": "Негайно в укриття!", "en": "Take shelter now!"}
SHORT_TYPE = {
    "uk": {AlertType.AIR_RAID: "ПОВІТРЯНА ТРИВОГА", AlertType.ARTILLERY_SHELLING:
           "ЗАГРОЗА АРТОБСТРІЛУ", AlertType.URBAN_FIGHTS: "ЗАГРОЗА ВУЛИЧНИХ БОЇВ",
           AlertType.CHEMICAL: "ХІМІЧНА ЗАГРОЗА", AlertType.NUCLEAR: "РАДІАЦІЙНА ЗАГРОЗА"},
    "en": {AlertType.AIR_RAID: "AIR RAID ALERT", AlertType.ARTILLERY_SHELLING:
           "ARTILLERY SHELLING THREAT", AlertType.URBAN_FIGHTS: "URBAN FIGHTING THREAT",
           AlertType.CHEMICAL: "CHEMICAL THREAT", AlertType.NUCLEAR: "RADIATION THREAT"},
}
DRILL_PREFIX = {"uk": {"exercise": "НАВЧАННЯ. ", "test": "ТЕСТ. "},
                "en": {"exercise": "EXERCISE. ", "test": "TEST. "}}
SHORT_DRILL = {"uk": {"exercise": "НАВЧАННЯ ", "test": "ТЕСТ "},
               "en": {"exercise": "EXERCISE ", "test": "TEST "}}

# ---- GSM 03.38 ---------------------------------------------------------------------------

# The basic character set (one septet each); the escape extension is left out on purpose so
# that a short text of n characters is n septets.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC for c in text)


def to_gsm7(text: str) -> str:
    """Latin text with everything outside the GSM-7 basic set replaced or dropped."""
    text = text.replace("’", "'").replace("ʼ", "'").replace("—", "-").replace("–", "-")
    out = []
    for char in unicodedata.normalize("NFKD", text):
        if char in GSM7_BASIC:
            out.append(char)
        elif unicodedata.category(char) == "Mn":
            continue  # a combining accent of a letter already kept
        elif char.isspace():
            out.append(" ")
    return "".join(out)


# ---- Ukrainian → Latin (official transliteration, 2010) --------------------------------------

_SIMPLE = {"а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "ж": "zh",
           "з": "z", "и": "y", "і": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
           "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
           "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "'": "", "’": "", "ʼ": "",
           # Russian letters that appear in some names
           "ё": "io", "ы": "y", "э": "e", "ъ": ""}
# Letters written differently at the start of a word.
_INITIAL = {"є": ("ye", "ie"), "ї": ("yi", "i"), "й": ("y", "i"), "ю": ("yu", "iu"),
            "я": ("ya", "ia")}


def transliterate(text: str) -> str:
    out: list[str] = []
    for index, char in enumerate(text):
        lower = char.lower()
        prev = text[index - 1] if index else ""
        if lower in _INITIAL:
            at_start = prev == "" or (not prev.isalpha() and prev not in "'’ʼ")
            latin = _INITIAL[lower][0 if at_start else 1]
        elif lower == "г" and prev.lower() == "з":
            latin = "gh"  # зг → zgh, so it is not read as zh
        elif lower in _SIMPLE:
            latin = _SIMPLE[lower]
        else:
            out.append(char)
            continue
        if char != lower and latin:
            following = text[index + 1] if index + 1 < len(text) else ""
            whole_word_upper = following.isupper() or (prev.isupper()
                                                       and not following.isalpha())
            latin = latin.upper() if whole_word_upper else latin[0].upper() + latin[1:]
        out.append(latin)
    return "".join(out)


# ---- places and times --------------------------------------------------------------------------

def place(catalogue: Catalogue, code: str, lang: str) -> str:
    """A region's name with its oblast or special city, e.g. "Darnytskyi District, Kyiv"."""
    region = catalogue[code]
    name = region.name_uk if lang == "uk" else region.name_en
    if code == COUNTRY or region.level.top:
        return name
    top = catalogue.top_of(code)
    if top is None:
        return name
    top_region = catalogue[top]
    parent = region.parent and catalogue.get(region.parent)
    if region.level is Level.CITY_DISTRICT and parent and parent.code != top:
        # a district of a city inside an oblast: name the city, which readers know
        city = parent.name_uk if lang == "uk" else parent.name_en
        return f"{name}, {city}"
    return f"{name}, {top_region.name_uk if lang == 'uk' else top_region.name_en}"


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # not %B: that follows the process locale


def kyiv_time(log_time: str) -> datetime:
    return parse_time(log_time).astimezone(KYIV)


def local_moment(log_time: str, lang: str) -> str:
    moment = kyiv_time(log_time)
    if lang == "uk":
        return f"{moment:%H:%M} {moment:%d.%m.%Y} (за київським часом)"
    return f"{moment:%H:%M} Kyiv time, {moment.day} {MONTHS[moment.month - 1]} {moment.year}"


def duration(seconds: int, lang: str) -> str:
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes = rest // 60
    if lang == "uk":
        return f"{hours} год {minutes} хв" if hours else f"{minutes} хв"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def threats_text(threats: tuple[Threat, ...], lang: str) -> str:
    return ", ".join(f"{THREAT_NAMES[lang][t.type]} ({LEVEL_NAMES[lang][t.level.value]})"
                     for t in threats)


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word with an ellipsis when it must be cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,.;:—-") + "…"


def short_text(lang: str, lead: str, where: str, tail: str) -> str:
    """``lead where. tail`` in at most 90 GSM-7 characters, shortening the place first."""
    if lang == "uk":
        lead, where, tail = transliterate(lead), transliterate(where), transliterate(tail)
    lead, where, tail = to_gsm7(lead), to_gsm7(where), to_gsm7(tail)
    fixed = len(lead) + len(tail) + 3  # ": " and ". "
    room = SHORT_MAX - fixed
    if len(where) > room and ", " in where:
        where = where.split(", ")[0]
    if len(where) > room:
        where = where[:max(room - 2, 0)].rstrip() + ".."
    text = f"{lead}: {where}. {tail}".strip()
    if len(text) > SHORT_MAX:  # only with an unusually long lead and tail
        text = text[:SHORT_MAX - 2] + ".."
    return text
