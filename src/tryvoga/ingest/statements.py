"""Read an official statement or news report (English, Ukrainian, Russian) into proposals.

A statement such as "A state of air alert was declared in Kiev ... a fire in a 10-storey
building in the Darnitsya district of the capital" becomes *proposed* events: alerts declared
(region, type, threats), all-clears and incidents (kind, place, status, source), each with the
sentence it came from, and a list of the places that could not be pinned to one region. Nothing
here changes anything: an operator confirms or rejects each proposal (``ingest/proposals.py``).

How a statement is read
-----------------------
1. **Sentences.** A rule-based splitter: paragraphs, then lines, then sentence ends
   (``. ! ? …`` and closing quotes), not after abbreviations (``м.``, ``вул.``, ``обл.``,
   ``Mr.``, an initial) nor before a lowercase word. A leading ``date YYYY-MM-DD`` line is
   dropped.
2. **Triggers**, per sentence, by keyword patterns in the three languages: an alert (by type:
   "air alert", "повітряна тривога", "воздушная тревога", "загроза артобстрілу", ...), an
   all-clear ("all clear", "відбій", "отбой"), threats (drones, missiles, ballistic, guided bombs,
   aviation) in a sentence about a current threat ("under attack by drones", "загроза БпЛА"),
   incidents (fire, debris, explosion, damage, casualties; gunfire such as "heavy fire from the
   forces" is not a fire), and the incident's status ("preliminary", "попередньо", "confirmed").
3. **Sources**: the military administration, the mayor, the Air Force, the emergency service,
   the police, the governor, with the place they belong to ("the military administration in
   Kiev", "мер Києва", "Київська міська військова адміністрація", "КМВА"). A sentence without
   one takes the one a following "Про це повідомила ..." names, else the last speaker before it,
   else the first one in the statement.
4. **Places**: capitalised names (with their type words: "Darnitsya district", "м. Київ",
   "Київській області", "Дарницком районе"), "the capital" (Kyiv), "all of Ukraine", and vague
   phrases ("several regions in eastern Ukraine", "кількох областях"), which are reported as
   unresolved. A bare name counts when it follows a preposition of place ("in Kiev", "у Києві")
   or opens the sentence as a city or oblast, so that people and organisations are left alone.
   Names are looked up with :class:`~tryvoga.domain.names.NameIndex`; a district-like name is
   looked up first inside the cities the sentence and the statement have established (most
   recent first), so "the Dnipro district" of a Kyiv statement is Kyiv's Dniprovskyi district
   and not the city of Dnipro, while a bare "Dnipro" is still the city.
5. **Proposals.** One alert per region and type (threat-only sentences add their threats to the
   region's alert, or propose one), one all-clear per region and type, one incident per region
   and kind. A sentence without any trigger gives nothing, not even unresolved places: the
   paragraphs of a report about fighting elsewhere stay silent.

The reading is pure (no I/O) and deterministic.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tryvoga.domain.model import AlertType, IncidentKind, IncidentStatus, ThreatType
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import COUNTRY, Catalogue, Level, Region

__all__ = ["Draft", "Reading", "Unresolved", "read_statement", "split_sentences"]

MAX_WORD = 64  # characters looked back for the word before a stop or a source
MAX_CONTEXTS = 8  # the places a district is looked up in: the sentence's and the latest
MAX_NAME_WORDS = 6  # capitalised words read as one name ("Kryvyi Rih", "Bila Tserkva")

_I = re.IGNORECASE

# ---- sentences -------------------------------------------------------------------------------

_HEADER = re.compile(r"\A\s*(?:date|дата)\s*:?\s*\d{4}-\d{2}-\d{2}\b[ \t]*", _I)
_SENTENCE_END = re.compile(r"[.!?…]+[\"”»’'”)\]]*")
_LAST_WORD = re.compile(r"([^\W\d_][\w'’ʼ-]*|\d+)\W*$")
# Words after which a full stop does not end a sentence (lowercase, without the stop).
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "st", "no", "nos", "vs", "etc", "approx", "gen", "col", "lt", "sgt",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "e.g",
    "i.e", "a.m", "p.m", "м", "г", "с", "смт", "вул", "ул", "просп", "пр", "пров", "пер", "пл",
    "буд", "д", "кв", "корп", "обл", "р-н", "р", "н", "тис", "тыс", "млн", "млрд", "грн", "руб",
    "ім", "им", "див", "см", "т.д", "т.п", "т.ч", "ін", "др", "прим", "ст", "ген", "полк", "підп",
    "п", "о"
})


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, whitespace collapsed, in order."""
    text = _HEADER.sub("", text.replace("\r\n", "\n").replace("\r", "\n"), count=1)
    sentences: list[str] = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        chunks: list[list[str]] = []
        for line in (line.strip() for line in paragraph.split("\n")):
            if not line:
                continue
            # A hard-wrapped line goes on the sentence before it; any other line starts anew.
            if chunks and line[0].islower() and not _SENTENCE_END.search(chunks[-1][-1][-1:]):
                chunks[-1].append(line)
            else:
                chunks.append([line])
        for parts in chunks:
            sentences.extend(_split_chunk(" ".join(parts)))
    return [s for s in (" ".join(s.split()) for s in sentences) if s]


def _split_chunk(chunk: str) -> list[str]:
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(chunk):
        end = match.end()
        if end < len(chunk) and not chunk[end].isspace():
            continue  # "10.5", "р-н.Київ"
        rest = chunk[end:].lstrip()
        if rest and rest[0].islower():
            continue
        if match.group().startswith(".") and len(match.group().rstrip("\"”»’')]")) == 1:
            # Only the end of the text before the stop: a word is short (see MAX_WORD).
            before = _LAST_WORD.search(chunk[max(start, match.start() - MAX_WORD):match.start()])
            word = before.group(1) if before else ""
            if word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper()):
                continue
        out.append(chunk[start:end])
        start = end
    if chunk[start:].strip():
        out.append(chunk[start:])
    return out


# ---- vocabulary ------------------------------------------------------------------------------

def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), _I)


_ALERTS: dict[AlertType, re.Pattern[str]] = {
    AlertType.ARTILLERY_SHELLING: _any(
        r"\bartillery\s+(?:shelling\s+)?(?:alert|threat|warning)s?\b",
        r"\bthreat\s+of\s+(?:artillery\s+)?shelling\b",
        r"\bзагроз\w*\s+(?:артилерійського\s+)?(?:арт)?обстріл\w*",
        r"\bугроз\w*\s+(?:артиллерийского\s+)?(?:арт)?обстрел\w*"),
    AlertType.URBAN_FIGHTS: _any(r"\burban\s+(?:fights?|fighting|combat)\s+(?:alert|threat)",
                                 r"\bзагроз\w*\s+вуличних\s+боїв", r"\bугроз\w*\s+уличных\s+боев"),
    AlertType.CHEMICAL: _any(r"\bchemical\s+(?:alert|threat|hazard|danger)",
                             r"\bхімічн\w+\s+(?:небезпек|загроз|тривог)\w*",
                             r"\bхимическ\w+\s+(?:опасност|угроз|тревог)\w*"),
    AlertType.NUCLEAR: _any(r"\b(?:nuclear|radiation)\s+(?:alert|threat|hazard|danger)",
                            r"\b(?:радіаційн|ядерн)\w+\s+(?:небезпек|загроз|тривог)\w*",
                            r"\b(?:радиационн|ядерн)\w+\s+(?:опасност|угроз|тревог)\w*"),
    AlertType.AIR_RAID: _any(
        r"\bair[- ]?raid\s+(?:alerts?|alarms?|warnings?|sirens?)\b",
        r"\bair\s+(?:alerts?|alarms?)\b",
        r"\bair[- ]raids?\b", r"\bsirens?\b",
        r"\bповітрян\w*\s+тривог\w*", r"\bтривог[аиуою]\b", r"\bтривогу\b",
        r"\bвоздушн\w*\s+тревог\w*", r"\bтревог[аиуой]\b"),
}
_ALL_CLEAR = _any(
    r"\ball[- ]clear\b",
    r"\b(?:alerts?|alarms?)\s+(?:(?:was|were|has\s+been|have\s+been|is|are)\s+)?"
    r"(?:lifted|cancell?ed|called\s+off|over|ended)\b",
    r"\b(?:alerts?|alarms?)\b[^.;:]{0,60}?\b(?:has|have)\s+(?:ended|been\s+lifted)\b",
    r"\bend\s+of\s+(?:the\s+)?(?:air[- ]raid\s+|air\s+)?(?:alert|alarm)\b",
    r"\bвідбій\b", r"\bтривог\w*\s+(?:скасовано|скасована|завершено|завершилась|закінчилась)\b",
    r"\bотбой\b", r"\bтревог\w*\s+(?:отменен\w*|завершен\w*|закончил\w*)")
# An alert spoken of as past or as a time ("during the alert") is not a declaration...
_ALERT_PAST = _any(r"\blast(?:ed|ing)\b", r"\bduring\b", r"\bafter\b", r"\bbefore\b",
                   r"\bтривал[аио]?\b", r"\bпід\s+час\b", r"\bпісля\b", r"\bдо\s+відбою\b",
                   r"\bдлил[аио]сь\b", r"\bво\s+время\b", r"\bпосле\b", r"\bдо\s+отбоя\b")
# ... unless it says so.
_ALERT_DECLARED = _any(r"\bdeclared\b", r"\bannounced\b", r"\bsounded\b", r"\bissued\b",
                       r"\bin\s+effect\b", r"\bwent\s+off\b", r"\bоголош\w*", r"\bлунає\b",
                       r"\bлунають\b", r"\bтриває\b", r"\bобъявл\w*", r"\bзвуч\w*",
                       r"\bдейству\w*")

_THREATS: dict[ThreatType, re.Pattern[str]] = {
    ThreatType.BALLISTIC: _any(r"\bballistic\w*(?:\s+missiles?)?", r"\bбалістик\w*",
                               r"\bбалістичн\w*(?:\s+ракет\w*)?", r"\bбаллистик\w*",
                               r"\bбаллистическ\w*(?:\s+ракет\w*)?"),
    ThreatType.GUIDED_BOMBS: _any(r"\bguided\s+(?:aerial\s+)?bombs?\b", r"\bglide\s+bombs?\b",
                                  r"\bKABs?\b", r"\bКАБ\w*", r"\bкерован\w+\s+авіабомб\w*",
                                  r"\bавіабомб\w*", r"\bуправляем\w+\s+авиабомб\w*",
                                  r"\bавиабомб\w*"),
    ThreatType.DRONES: _any(r"\bdrones?\b", r"\bUAVs?\b", r"\bShaheds?\b", r"\bkamikaze\b",
                            r"\bБпЛА\b", r"\bБПЛА\b", r"\bдрон\w*", r"\bшахед\w*",
                            r"\bбезпілотник\w*", r"\bбеспилотник\w*"),
    ThreatType.MISSILES: _any(r"\bmissiles?\b", r"\brockets?\b", r"\bракет\w*"),
    ThreatType.AVIATION: _any(r"\btactical\s+aviation\b", r"\bmilitary\s+aircraft\b",
                              r"\bfighter\s+jets?\b", r"\bbombers?\b", r"\bавіаці\w*",
                              r"\bавиаци\w*"),
}
# A sentence about a threat now, as opposed to one that only names a weapon.
_THREAT_NOW = _any(r"\battack\w*", r"\bthreat\w*", r"\bdanger\b", r"\bair\s+defen[cs]e\w*",
                   r"\bapproach\w*", r"\bheading\b", r"\bflying\b", r"\blaunch\w*",
                   r"\bconfront\w*", r"\bshot\s+down\b", r"\bintercept\w*", r"\bairspace\b",
                   r"\bатак\w*", r"\bзагроз\w*", r"\bнебезпек\w*", r"\bППО\b",
                   r"\bпротиповітрян\w*", r"\bрух\w*", r"\bкурс\w*", r"\bлет(?:и|я)\w*",
                   r"\bзапуск\w*", r"\bзбит\w*", r"\bзбив\w*", r"\bугроз\w*", r"\bопасност\w*",
                   r"\bПВО\b", r"\bпротивовоздушн\w*", r"\bдвиж\w*", r"\bлет(?:я|и)т\w*",
                   r"\bсбит\w*", r"\bпростор\w*", r"\bпространств\w*")

_INCIDENTS: dict[IncidentKind, re.Pattern[str]] = {
    IncidentKind.DEBRIS: _any(r"\bdebris\b", r"\bwreckage\b", r"\bfragments?\b",
                              r"\bуламк\w*", r"\bуламок\b", r"\bобломк\w*", r"\bобломок\b"),
    IncidentKind.EXPLOSION: _any(r"\bexplosions?\b", r"\bblasts?\b", r"\bexploded\b",
                                 r"\bвибух\w*", r"\bвзрыв\w*"),
    IncidentKind.FIRE: _any(r"\bfires?\b", r"\bblaze\b", r"\bcaught\s+fire\b", r"\bburning\b",
                            r"\bпожеж\w*", r"\bзагорян\w*", r"\bзайман\w*", r"\bзагорі\w*",
                            r"\bгорить\b", r"\bпожар\w*", r"\bвозгоран\w*", r"\bзагорел\w*",
                            r"\bгорит\b"),
    IncidentKind.DAMAGE: _any(r"\bdamaged?\b", r"\bdestroyed\b", r"\bdestruction\b",
                              r"\bпошкодж\w*", r"\bзруйнован\w*", r"\bруйнуван\w*",
                              r"\bповрежд\w*", r"\bразрушен\w*"),
    IncidentKind.CASUALTIES: _any(r"\bkilled\b", r"\binjur(?:ed|ies|y)\b", r"\bwounded\b",
                                  r"\bdead\b", r"\bcasualt(?:y|ies)\b", r"\bhospitali[sz]ed\b",
                                  r"\bзагинул\w*", r"\bзагибл\w*", r"\bпоранен\w*",
                                  r"\bпостраждал\w*", r"\bтравмован\w*", r"\bпогиб\w*",
                                  r"\bранен\w*", r"\bпострадал\w*"),
}
# Gunfire is not a fire on the ground.
_NOT_A_FIRE = _any(r"\b(?:heavy|artillery|mortar|machine[- ]gun|gun|small[- ]arms|enemy|rocket|"
                   r"sniper|returned|returning|return|opened|opening|open|cease|friendly|intense|"
                   r"direct|suppressing|covering)\s+fire\b",
                   r"\bfire\s+(?:from|at|on|upon|support|fights?|fighting|exchange)\b",
                   r"\bunder\s+fire\b", r"\bcease[- ]?fires?\b")
# Drones and missiles destroyed in the air are interceptions, not damage on the ground.
_WEAPON = r"(?:drones?|missiles?|rockets?|UAVs?|Shaheds?|targets?)"
_NOT_DAMAGE = _any(rf"\bdestroy\w*\s+(?:[\w-]+\s+){{0,3}}{_WEAPON}\b",
                   rf"\b{_WEAPON}\s+(?:[\w-]+\s+){{0,3}}destroyed\b")
# "Постраждалих немає", "no one was injured": casualties denied are not casualties.
_NO_CASUALTIES = _any(r"\bno\s+(?:one|body)\s+was\s+(?:killed|injured|hurt|wounded)\b",
                      r"\bno\s+(?:casualties|injuries|victims|dead|injured)\b",
                      r"\bwithout\s+(?:casualties|injuries)\b",
                      r"\b(?:немає|нема|без)\s+(?:загиблих|постраждалих|поранених|жертв)\b",
                      r"\b(?:загиблих|постраждалих|поранених|жертв)\s+(?:немає|нема|не\s+має)\b",
                      r"\b(?:нет|без)\s+(?:погибших|пострадавших|раненых|жертв)\b",
                      r"\b(?:погибших|пострадавших|раненых|жертв)\s+нет\b")
_PRELIMINARY = _any(r"\bpreliminar\w*", r"\bunconfirmed\b", r"\bnot\s+(?:yet\s+)?confirmed\b",
                    r"\bпопередн\w*", r"\bне\s+підтвердж\w*", r"\bпредварительн\w*",
                    r"\bне\s+подтвержд\w*")
_CONFIRMED = _any(r"\bconfirm\w*", r"\bпідтвердж\w*", r"\bподтвержд\w*")
# What was hit: kept as written, for the incident's description.
_OBJECT = _any(
    r"\b(?:an?\s+)?(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|sixteen|"
    r"high)[- ]stor(?:e)?y\s+(?:residential\s+|apartment\s+|office\s+)?"
    r"(?:building|house|block)s?\b",
    r"\b(?:an?\s+)?(?:residential|apartment|high-rise|private|office|administrative|industrial|"
    r"non-residential)\s+(?:building|house|block|facility|complex)s?\b",
    r"\b(?:an?\s+)?(?:warehouse|garage|school|kindergarten|hospital|supermarket|"
    r"shopping\s+(?:centre|center|mall))\b",
    r"\b\d+-?\w{0,3}[- ]?поверхов\w*(?:\s+житлов\w+)?\s+будин\w*",
    r"\bбагатоповерхів\w*", r"\b(?:житлов|приватн|адміністративн|нежитлов)\w+\s+будин\w*",
    r"\b(?:склад|гараж|школ|лікарн|дитяч\w+\s+садк)\w*",
    r"\b\d+-?\w{0,3}[- ]?этажн\w*(?:\s+жил\w+)?\s+дом\w*", r"\bмногоэтажк\w*",
    r"\b(?:жил|частн|административн|нежил)\w+\s+дом\w*",
    r"\b(?:склад|гараж|школ|больниц|детск\w+\s+сад)\w*")

# Sources: a role, and where to look for the place it belongs to.
_ROLES: dict[str, re.Pattern[str]] = {
    "military_administration": _any(
        r"\b(?:(?:city|municipal|regional|oblast)\s+)?military\s+"
        r"(?:administration|department|authorit(?:y|ies))\b",
        r"\b(?:(?:міськ|обласн|районн)\w*\s+)?військов\w*\s+адміністрац\w*",
        r"\b(?:(?:городск|областн|районн)\w*\s+)?военн\w*\s+администрац\w*",
        r"\b(?:КМВА|КГВА|KCMA|KMVA|ОВА|МВА|ОДА|ОГА)\b"),
    "mayor": _any(r"\bmayor\b", r"\bмер(?:а|ом|у|ові)?\b", r"\bміськ\w+\s+голов\w*",
                  r"\bмэр\w*", r"\bгородск\w+\s+голов\w*", r"\bKlitschko\b", r"\bКличк\w*"),
    "governor": _any(r"\bgovernor\b", r"\bhead\s+of\s+the\s+(?:regional|oblast)\b",
                     r"\bгубернатор\w*", r"\b(?:голов|начальник)\w*\s+(?:ОВА|ОДА|обласн\w+)"),
    "air_force": _any(r"\bair\s+force\b", r"\bповітрян\w+\s+сил\w*", r"\bвоздушн\w+\s+сил\w*"),
    "emergency_service": _any(r"\b(?:state\s+)?emergency\s+service\b", r"\brescuers\b",
                              r"\bДСНС\b", r"\bрятувальник\w*", r"\bГСЧС\b", r"\bМЧС\b",
                              r"\bспасател\w*"),
    "police": _any(r"\bpolice\b", r"\bполіці\w*", r"\bполици\w*"),
}
_KYIV_ROLES = re.compile(r"\b(?:КМВА|КГВА|KCMA|KMVA|Klitschko|Кличк\w*)\b", _I)
_CITY_LEVEL_WORD = re.compile(r"\b(?:city|municipal|міськ\w*|городск\w*)\b", _I)
_OBLAST_LEVEL_WORD = re.compile(r"\b(?:regional|oblast|обласн\w*|областн\w*|ОВА|ОДА|ОГА)\b", _I)
# "Про це повідомила ...": the source of the sentence before.
_ABOUT_THIS = re.compile(r"^\W*(?:про\s+це|об\s+этом|this\s+was\s+(?:reported|announced))\b", _I)

# A speaker going on: "She added", "Він додав".
_GOES_ON = _any(r"^\W*(?:she|he|they|він|вона|вони|он|она|они)\b",
                r"\b(?:added|went\s+on|додав|додала|додали|добавил|добавила|добавили)\b")
_CAPITAL = _any(r"\b(?:the\s+)?(?:Ukrainian\s+|Ukraine['’]s\s+)?capital\b", r"\bстолиц\w*",
                r"\bстоличн\w*")
_WHOLE_COUNTRY = _any(r"\b(?:all\s+(?:of\s+)?|across\s+(?:all\s+of\s+)?|throughout\s+)Ukraine\b",
                      r"\bнаціональн\w+\s+тривог\w*", r"\bпо\s+всій\s+(?:території\s+)?Україні\b",
                      r"\bпо\s+всей\s+(?:территории\s+)?Украин[еы]\b", r"\bnationwide\b")
_COUNTRY = re.compile(r"\bUkraine\b|\bУкраїн(?:а|и|і|у|ою)\b|\bУкраин(?:а|е|у|ы|ой)\b")
_QUANTITY = (r"(?:several|some|many|a\s+number\s+of|a\s+few|other|multiple|various|most|"
             r"\d+|two|three|four|five|six|seven|eight|nine|ten)")
_COMPASS = r"(?:eastern|western|southern|northern|central|north-?eastern|south-?eastern|" \
           r"north-?western|south-?western|frontline|front-line|border)"
_VAGUE = _any(
    rf"\b{_QUANTITY}\s+(?:[\w-]+\s+){{0,2}}(?:regions|oblasts|provinces|areas|cities|districts)"
    rf"(?:\s+(?:in|of)\s+(?:the\s+)?(?:{_COMPASS}\s+Ukraine|east|west|south|north|"
    rf"country|Ukraine))?",
    rf"\b(?:the\s+)?{_COMPASS}\s+(?:regions|oblasts|areas)(?:\s+of\s+Ukraine)?",
    rf"\b{_COMPASS}\s+Ukraine\b",
    r"\bthe\s+(?:east|west|south|north)\s+of\s+(?:the\s+country|Ukraine)\b",
    r"\b(?:кількох|декількох|кілька|низці|ряді|інших|багатьох|деяких|усіх|всіх|\d+)\s+"
    r"(?:[\w'-]+\s+){0,2}(?:областях|областей|області|регіонах|регіонів|містах|районах)"
    r"(?:\s+на\s+(?:сході|заході|півдні|півночі)(?:\s+України)?)?",
    r"\b(?:східн|західн|південн|північн|центральн|прифронтов)\w+\s+(?:областях|областей|"
    r"регіонах|регіонів|області)",
    r"\bна\s+(?:сході|заході|півдні|півночі)\s+України\b",
    r"\b(?:нескольких|несколько|ряде|других|многих|некоторых|всех|\d+)\s+"
    r"(?:[\w-]+\s+){0,2}(?:областях|областей|регионах|регионов|городах|районах)"
    r"(?:\s+на\s+(?:востоке|западе|юге|севере)(?:\s+Украины)?)?",
    r"\b(?:восточн|западн|южн|северн|центральн|прифронтов)\w+\s+(?:областях|областей|"
    r"регионах|регионов)",
    r"\bна\s+(?:востоке|западе|юге|севере)\s+Украины\b")

_WORD = re.compile(r"[^\W_]+(?:['’ʼ`-][^\W_]+)*")
# Words before a name that say what it is (lowercase, without a full stop).
_PRE_TYPES = frozenset({"м", "місто", "місті", "міста", "г", "город", "городе", "смт", "с",
                        "село", "селі", "селище", "селищі", "city", "town", "village"})
# Words after a name that say what it is; plural ones may be shared ("Дарницькому та
# Дніпровському районах"). Russian forms are rewritten to the Ukrainian the index knows.
_POST_TYPES: dict[str, str] = {
    "district": "district", "districts": "district", "raion": "raion", "rayon": "raion",
    "region": "region", "regions": "region", "oblast": "oblast", "oblasts": "oblast",
    "province": "oblast", "community": "community", "hromada": "hromada",
    "район": "район", "району": "району", "районі": "районі", "районом": "район",
    "районах": "район", "районів": "район", "районе": "районі", "района": "району",
    "районы": "район", "р-н": "р-н", "р-ні": "р-ні", "область": "область", "області": "області",
    "областю": "областю", "областях": "область", "областей": "область", "обл": "обл",
    "области": "області", "областью": "областю", "громада": "громада", "громаді": "громаді",
    "громади": "громади", "громадах": "громада",
}
_PLURAL_TYPES = frozenset({"districts", "regions", "oblasts", "районах", "районів", "районы",
                           "областях", "областей", "громадах"})
_DISTRICT_TYPES = frozenset({"district", "raion", "район", "району", "районі", "р-н", "р-ні"})
_LOCATIVE = frozenset({"in", "at", "near", "over", "across", "around", "outside", "of", "to",
                       "from", "on", "into", "within", "у", "в", "во", "на", "біля", "поблизу",
                       "під", "над", "до", "з", "із", "по", "под", "около", "возле", "из",
                       "близ"})
_FILLERS = frozenset({"the", "a"})
_CONJUNCTIONS = frozenset({"and", "та", "і", "й", "и", "а", "also"})
# Capitalised words that are never places here (they open sentences, or name people, days,
# media); kept short on purpose: a bare name must also sit after a preposition of place.
_NOT_PLACES = frozenset({
    "the", "a", "an", "she", "he", "it", "they", "we", "this", "that", "these", "those", "there",
    "according", "also", "and", "but", "however", "meanwhile", "earlier", "later", "today",
    "tonight", "yesterday", "in", "at", "on", "for", "from", "after", "before", "during",
    "ukraine", "ukrainian", "ukrainians", "russia", "russian", "russians", "moscow", "belarus",
    "telegram", "facebook", "twitter", "viber", "youtube", "instagram", "monday", "tuesday",
    "wednesday", "thursday", "friday", "saturday", "sunday", "у", "в", "на", "за", "це", "він",
    "вона", "вони", "ми", "також", "крім", "окрім", "внаслідок", "згідно", "після", "під", "до",
    "про", "по", "україна", "україни", "україні", "україну", "росія", "росії", "рф", "он", "она",
    "они", "мы", "это", "также", "кроме", "после", "во", "украина", "украины", "украине",
    "россия", "россии",
    # Months: "in February" is a time.
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "січень", "лютий", "березень", "квітень", "травень",
    "червень", "липень", "серпень", "вересень", "жовтень", "листопад", "грудень", "січні",
    "лютому", "березні", "квітні", "травні", "червні", "липні", "серпні", "вересні", "жовтні",
    "листопаді", "грудні", "январе", "феврале", "марте", "апреле", "мае", "июне", "июле",
    "августе", "сентябре", "октябре", "ноябре", "декабре",
})
_BIG = frozenset({Level.SPECIAL_CITY, Level.CITY, Level.OBLAST})
_CITIES = frozenset({Level.SPECIAL_CITY, Level.CITY})


# ---- the answer ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Draft:
    """A proposed event, before the proposals store gives it an id."""

    kind: str  # alert | all_clear | incident
    region: str
    region_name: str
    alert_type: str | None
    threats: tuple[str, ...]
    incident_kind: str | None
    status: str | None
    source: str
    description: str
    evidence: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "region": self.region, "region_name": self.region_name,
            "alert_type": self.alert_type,
            "threats": [{"type": t, "level": "red"} for t in self.threats],
            "incident_kind": self.incident_kind, "status": self.status, "source": self.source,
            "description": self.description, "evidence": self.evidence,
        }


@dataclass(frozen=True, slots=True)
class Unresolved:
    text: str
    reason: str  # ambiguous | not_found | vague | no_place
    candidates: tuple[dict[str, Any], ...]  # code, name (with its city or oblast), level
    evidence: str

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "reason": self.reason,
                "candidates": [dict(c) for c in self.candidates], "evidence": self.evidence}


def _candidates(catalogue: Catalogue, regions: Iterable[Region]) -> tuple[dict[str, Any], ...]:
    return tuple({"code": r.code, "name": _region_name(catalogue, r.code), "name_uk": r.name_uk,
                  "level": r.level.value} for r in regions)


@dataclass(frozen=True, slots=True)
class Reading:
    proposals: tuple[Draft, ...]
    unresolved: tuple[Unresolved, ...]

    def to_json(self) -> dict[str, Any]:
        return {"proposals": [p.to_json() for p in self.proposals],
                "unresolved": [u.to_json() for u in self.unresolved]}


# ---- reading one sentence --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Source:
    role: str
    place: str | None  # region code
    oblast: bool = False  # "regional", "обласна": the oblast's, even where a city is named


@dataclass(slots=True)
class _Mention:
    text: str
    start: int
    end: int
    typed: bool = False
    district: bool = False
    plural: bool = False
    locative: bool = False
    initial: bool = False


@dataclass(slots=True)
class _Sentence:
    index: int
    text: str
    source: _Source | None = None
    places: list[str] = field(default_factory=list)  # target regions, in order
    contexts: list[str] = field(default_factory=list)  # cities/oblasts named here
    unresolved: list[Unresolved] = field(default_factory=list)
    alert_types: list[AlertType] = field(default_factory=list)
    all_clear_types: list[AlertType] = field(default_factory=list)
    threats: list[ThreatType] = field(default_factory=list)
    threat_now: bool = False
    incident_kinds: list[IncidentKind] = field(default_factory=list)
    status: IncidentStatus = IncidentStatus.PRELIMINARY
    objects: list[str] = field(default_factory=list)
    national: bool = False  # names the country itself ("the war in Ukraine")

    @property
    def has_event(self) -> bool:
        return bool(self.alert_types or self.all_clear_types or self.incident_kinds
                    or (self.threats and self.threat_now))


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


class _Mask:
    """Spans of a text, merged and sorted, so that asking whether a span touches one of them
    costs a binary search, however many there are (the reader stays linear in the text)."""

    __slots__ = ("ends", "starts")

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for span in sorted(spans):
            self.add(*span)

    def add(self, start: int, end: int) -> None:
        i = bisect.bisect_left(self.ends, start)  # the first span that ends at or after start
        j = bisect.bisect_right(self.starts, end, lo=i)  # after the last that starts by end
        if i < j:
            start, end = min(start, self.starts[i]), max(end, self.ends[j - 1])
        self.starts[i:j] = [start]
        self.ends[i:j] = [end]

    def __iadd__(self, spans: Iterable[tuple[int, int]]) -> _Mask:
        for span in spans:
            self.add(*span)
        return self

    def hits(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` overlaps a span."""
        i = bisect.bisect_right(self.ends, start)  # the first span that ends after start
        return i < len(self.starts) and self.starts[i] < end


def _overlaps(start: int, end: int, spans: _Mask) -> bool:
    return spans.hits(start, end)


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


class _Reader:
    def __init__(self, names: NameIndex, default_source: str, within: str | None) -> None:
        self.names = names
        self.catalogue = names.catalogue
        self.default_source = default_source
        kyiv = names.find("Kyiv", levels=[Level.SPECIAL_CITY]).region
        self.kyiv = kyiv.code if kyiv is not None else None
        # Cities and oblasts the statement has named, most recent last.
        self.contexts: list[str] = [within] if within else []
        self._established = set(self.contexts)

    # -- places --

    def resolve(self, text: str, district: bool, local: Sequence[str]
                ) -> tuple[Region | None, tuple[Region, ...]]:
        """One region for ``text``, or none with the candidates; context decides districts."""
        found = self.names.find(text)
        if not district and found.region is not None and found.region.level in _BIG:
            return found.region, ()
        for context in self._contexts(local):
            inside = self.names.find(text, within=context)
            if inside.region is not None:
                return inside.region, ()
        if found.region is not None:
            return found.region, ()
        return None, found.matches

    def _contexts(self, local: Sequence[str]) -> list[str]:
        # The sentence's own places and the statement's most recent ones: a district is looked
        # up in a few places, not in every city a long text has named.
        ordered = list(dict.fromkeys([*local[-MAX_CONTEXTS:],
                                      *reversed(self.contexts[-MAX_CONTEXTS:])]))
        # A city's own oblast is context too ("the Chuhuiv district" in a Kharkiv statement).
        tops = [t for t in (self.catalogue.top_of(c) for c in ordered) if t is not None]
        return list(dict.fromkeys([*ordered, *tops]))

    def establish(self, code: str) -> None:
        if code in self._established:
            self.contexts.remove(code)
        self._established.add(code)
        self.contexts.append(code)

    # -- sources --

    def find_source(self, text: str, masked: _Mask) -> _Source | None:
        first: _Source | None = None
        for role, pattern in _ROLES.items():
            for match in pattern.finditer(text):
                if _overlaps(*match.span(), masked):
                    continue
                source, span = self._source_at(role, match, text)
                masked.add(*span)
                if first is None or (first.place is None and source.place is not None):
                    first = source
        return first

    def _source_at(self, role: str, match: re.Match[str], text: str
                   ) -> tuple[_Source, tuple[int, int]]:
        start, end = match.span()
        said = match.group()
        if role == "military_administration" and _CITY_LEVEL_WORD.search(said):
            levels: frozenset[Level] = _CITIES
        elif role in ("governor",) or (role == "military_administration"
                                       and _OBLAST_LEVEL_WORD.search(said)):
            levels = frozenset({Level.OBLAST})
        else:
            levels = _BIG
        oblast = levels == frozenset({Level.OBLAST})
        if _KYIV_ROLES.search(said) and self.kyiv is not None:
            return _Source(role, self.kyiv), (start, end)
        # The place after it: "in Kiev", "of Kyiv", "мер Києва", "у місті Харків".
        after = re.match(r"\s+(?:(?:in|of|у|в|міста|города)\s+)?(?:the\s+)?(?:city\s+of\s+)?"
                         r"([^\W\d_][\w'’ʼ-]*)", text[end:end + 2 * MAX_WORD])
        if after and _capitalised(after.group(1)) and after.group(1).lower() not in _NOT_PLACES:
            region = self.names.find(after.group(1), levels=levels).region
            if region is not None:
                return _Source(role, region.code, oblast), (start, end + after.end())
        # The place before it: "Kyiv City Military Administration", "Київська міська ...".
        window = max(0, start - MAX_WORD)
        before = re.search(r"([^\W\d_][\w'’ʼ-]*)\s+$", text[window:start])
        if before and _capitalised(before.group(1)) \
                and before.group(1).lower() not in _NOT_PLACES:
            region = self.names.find(before.group(1), levels=levels).region
            if region is not None:
                return _Source(role, region.code, oblast), (window + before.start(1), end)
        return _Source(role, None, oblast), (start, end)

    def source_name(self, source: _Source, local: Sequence[str]) -> str:
        place = source.place
        if place is None and source.role in ("military_administration", "mayor", "governor"):
            place = next((c for c in self._contexts(local)
                          if self.catalogue[c].level in _BIG), None)
        if place is not None and source.oblast:
            place = self.catalogue.top_of(place) or place
        region = self.catalogue[place] if place else None
        name = region.name_en if region else ""
        if source.role == "military_administration":
            if region is None:
                return "military administration"
            if region.level is Level.OBLAST:
                return f"{name.removesuffix(' Oblast')} Regional Military Administration"
            if region.level in _CITIES:
                return f"{name} City Military Administration"
            return f"{name} Military Administration"
        if source.role == "mayor":
            return f"Mayor of {name}" if region and region.level in _CITIES else "mayor"
        if source.role == "governor":
            oblast = self.catalogue.top_of(region.code) if region else None
            if oblast and self.catalogue[oblast].level is Level.OBLAST:
                short = self.catalogue[oblast].name_en.removesuffix(" Oblast")
                return f"Head of the {short} Regional Military Administration"
            return "head of the regional military administration"
        return {"air_force": "Air Force of the Armed Forces of Ukraine",
                "emergency_service": "State Emergency Service of Ukraine",
                "police": "National Police of Ukraine"}[source.role]

    # -- one sentence --

    def read(self, index: int, text: str) -> _Sentence:
        sentence = _Sentence(index, text)
        masked = _Mask()
        sentence.source = self.find_source(text, masked)
        if sentence.source is not None and sentence.source.place is not None:
            sentence.contexts.append(sentence.source.place)
        self._triggers(sentence)
        sentence.national = _COUNTRY.search(text) is not None
        vague = _spans(_VAGUE, text)
        whole = _spans(_WHOLE_COUNTRY, text)
        capital = [span for span in _spans(_CAPITAL, text) if not _overlaps(*span, masked)]
        masked += vague + whole + capital
        mentions = self._mentions(text, masked)
        if capital and self.kyiv is not None:
            sentence.contexts.append(self.kyiv)
        # Cities first: they are the context for the districts in the same sentence.
        resolved: list[tuple[int, str]] = []
        pending: list[_Mention] = []
        for mention in mentions:
            if mention.district:
                pending.append(mention)
                continue
            self._place(sentence, mention, resolved)
        for mention in pending:
            self._place(sentence, mention, resolved)
        resolved += [(s, self.kyiv) for s, _ in capital if self.kyiv is not None]
        resolved += [(s, COUNTRY) for s, _ in whole]
        sentence.places = list(dict.fromkeys(code for _, code in sorted(resolved)))
        for start, end in vague:
            sentence.unresolved.append(Unresolved(text[start:end], "vague", (), text))
        for code in dict.fromkeys(sentence.contexts):
            self.establish(code)
        return sentence

    def _place(self, sentence: _Sentence, mention: _Mention,
               resolved: list[tuple[int, str]]) -> None:
        # The Russian cases of "-щина" (Киевщине, Харьковщины) in the Ukrainian form the index
        # reads as an oblast.
        lookup = re.sub(r"щин(?:е|ы|ой)\b", lambda m: {"щине": "щині", "щины": "щини"}.get(
            m.group(), "щиною"), mention.text)
        region, candidates = self.resolve(lookup, mention.district, sentence.contexts)
        bare = not mention.typed
        if region is not None and region.code == COUNTRY:
            return  # "in Ukraine": context, not a target (see _WHOLE_COUNTRY)
        if region is not None and (mention.typed or mention.locative or (
                mention.initial and region.level in _BIG)):
            resolved.append((mention.start, region.code))
            if region.level in _BIG and region.code not in sentence.contexts[-MAX_CONTEXTS:]:
                sentence.contexts.append(region.code)
            return
        if bare and not mention.locative:
            return  # a capitalised word that is not said to be a place: a person, a body
        reason = "ambiguous" if candidates else "not_found"
        sentence.unresolved.append(Unresolved(mention.text, reason,
                                              _candidates(self.catalogue, candidates),
                                              sentence.text))

    def _mentions(self, text: str, masked: _Mask) -> list[_Mention]:
        words = [m for m in _WORD.finditer(text)
                 if m.end() - m.start() <= MAX_WORD and not _overlaps(*m.span(), masked)]
        letter = re.search(r"[^\W_]", text)
        first_letter = letter.start() if letter else len(text)
        mentions: list[_Mention] = []
        i = 0
        while i < len(words):
            word = words[i]
            lower = word.group().lower()
            first = i
            pre = False
            if (lower in _PRE_TYPES and i + 1 < len(words)
                    and _capitalised(words[i + 1].group())
                    and re.fullmatch(r"\.?\s+", text[word.end():words[i + 1].start()])):
                pre, i = True, i + 1
            elif (lower in ("city", "town", "village") and i + 2 < len(words)
                  and words[i + 1].group().lower() == "of"
                  and _capitalised(words[i + 2].group())):
                pre, i = True, i + 2
            name = words[i].group()
            adjective_before_type = (
                not _capitalised(name) and i + 1 < len(words)
                and words[i + 1].group().lower() in _POST_TYPES
                and re.search(r"(?:ськ|цьк|зьк|ск|цк)\w{0,3}$", name.lower()) is not None)
            if not adjective_before_type and (not _capitalised(name) or (
                    not pre and name.lower() in _NOT_PLACES)):
                i += 1
                continue
            last = i
            while (last + 1 < len(words) and last + 1 - i < MAX_NAME_WORDS
                   and _capitalised(words[last + 1].group())
                   and words[last + 1].group().lower() not in _NOT_PLACES
                   and words[last + 1].group().lower() not in _POST_TYPES
                   and text[words[last].end():words[last + 1].start()].isspace()):
                last += 1
            types: list[str] = []
            while (last + 1 < len(words) and words[last + 1].group().lower() in _POST_TYPES
                   and re.fullmatch(r"\s+", text[words[last].end():words[last + 1].start()])):
                last += 1
                types.append(words[last].group().lower())
            start, end = words[first].start(), words[last].end()
            core = " ".join(w.group() for w in words[i:last + 1 - len(types)])
            mention = _Mention(
                text=" ".join(filter(None, [text[words[first].start():words[i].start()].strip(),
                                            core, *(_POST_TYPES[t] for t in types)])),
                start=start, end=end, typed=pre or bool(types),
                district=any(_POST_TYPES[t] in _DISTRICT_TYPES for t in types),
                plural=any(t in _PLURAL_TYPES for t in types))
            before = [w.group().lower() for w in words[max(0, first - 2):first]]
            if before and before[-1] in _FILLERS:
                before = before[:-1]
            gap = text[words[first - 1].end():start] if first > 0 else ""
            mention.locative = bool(before) and before[-1] in _LOCATIVE and (
                gap.strip() == "" or gap.strip().lower() in _FILLERS)
            # First in the sentence, or heading a list: "Повітряна тривога: Київ".
            mention.initial = (start <= first_letter
                               or text[max(0, start - MAX_WORD):start].rstrip()[-1:]
                               in (":", "—", "–"))
            mentions.append(mention)
            i = last + 1
        # "Дарницькому та Дніпровському районах", "Kyiv and Kharkiv regions": share the type.
        for a, b in itertools.pairwise(mentions):
            between = text[a.end:b.start].strip(" ,").lower()
            if not a.typed and b.plural and (between in _CONJUNCTIONS or between == ""):
                kind = b.text.split()[-1]
                a.text, a.typed, a.district = f"{a.text} {kind}", True, b.district
                a.locative = True
        # "у Києві та Харкові", "in Kyiv, Kharkiv and Odesa": the list shares the preposition.
        for a, b in itertools.pairwise(mentions):
            between = text[a.end:b.start].strip(" ,").lower()
            if a.locative and (between in _CONJUNCTIONS or between == ""):
                b.locative = True
        return mentions

    def _triggers(self, sentence: _Sentence) -> None:
        text = sentence.text
        all_clear = _ALL_CLEAR.search(text) is not None
        named = [kind for kind, pattern in _ALERTS.items() if pattern.search(text)]
        if all_clear:
            sentence.all_clear_types = named[:1] or [AlertType.AIR_RAID]
        elif named and (_ALERT_DECLARED.search(text) or not _ALERT_PAST.search(text)):
            sentence.alert_types = named[:1]
        taken = _Mask()
        for threat, pattern in _THREATS.items():
            spans = [s for s in _spans(pattern, text) if not _overlaps(*s, taken)]
            if spans:
                sentence.threats.append(threat)
                taken += spans
        sentence.threat_now = _THREAT_NOW.search(text) is not None
        not_fire = _Mask(_spans(_NOT_A_FIRE, text))
        no_casualties = _Mask(_spans(_NO_CASUALTIES, text))
        not_damage = _Mask(_spans(_NOT_DAMAGE, text))
        for kind, pattern in _INCIDENTS.items():
            spans = _spans(pattern, text)
            if kind is IncidentKind.FIRE:
                spans = [s for s in spans if not _overlaps(*s, not_fire)]
            elif kind is IncidentKind.CASUALTIES:
                spans = [s for s in spans if not _overlaps(*s, no_casualties)]
            elif kind is IncidentKind.DAMAGE:
                spans = [s for s in spans if not _overlaps(*s, not_damage)]
            if spans:
                sentence.incident_kinds.append(kind)
        if sentence.incident_kinds:
            if _PRELIMINARY.search(text):
                sentence.status = IncidentStatus.PRELIMINARY
            elif _CONFIRMED.search(text):
                sentence.status = IncidentStatus.CONFIRMED
            sentence.objects = [m.group().strip() for m in _OBJECT.finditer(text)]


# ---- the statement ---------------------------------------------------------------------------

@dataclass(slots=True)
class _AlertDraft:
    order: tuple[int, int]
    region: str
    type: AlertType
    evidence: str
    source: _Source | None
    local: list[str]
    declared: bool
    threats: list[ThreatType] = field(default_factory=list)


@dataclass(slots=True)
class _IncidentDraft:
    order: tuple[int, int]
    region: str
    kind: IncidentKind
    status: IncidentStatus
    source: str
    description: str
    evidence: str


def read_statement(text: str, names: NameIndex, *, source: str = "",
                   within: str | None = None) -> Reading:
    """The proposals and unresolved places of one statement (see the module docstring)."""
    return _Statement(names, source, within, text).reading()


class _Statement:
    def __init__(self, names: NameIndex, source: str, within: str | None, text: str) -> None:
        self.reader = _Reader(names, source, within)
        self.catalogue = names.catalogue
        self.sentences = [self.reader.read(i, s) for i, s in enumerate(split_sentences(text))]
        self.sources = _attribute(self.sentences)
        self.alerts: dict[tuple[str, AlertType], _AlertDraft] = {}
        self.threat_notes: list[tuple[_Sentence, str]] = []
        self.clears: dict[tuple[str, AlertType], tuple[tuple[int, int], Draft]] = {}
        self.incidents: dict[tuple[str, IncidentKind], _IncidentDraft] = {}
        self.unresolved: list[Unresolved] = []

    def source_text(self, source: _Source | None, local: Sequence[str]) -> str:
        if source is None:
            return self.reader.default_source
        return self.reader.source_name(source, local)

    def name(self, code: str) -> str:
        return _region_name(self.catalogue, code)

    def places(self, sentence: _Sentence) -> list[str]:
        """Where a sentence's event happens: the places it names, else its source's place."""
        if sentence.places:
            return sentence.places
        if sentence.source is not None and sentence.source.place is not None:
            return [sentence.source.place]
        return []

    def no_place(self, text: str, sentence: _Sentence, candidates: Iterable[str] = ()) -> None:
        self.unresolved.append(Unresolved(
            text, "no_place", _candidates(self.catalogue, (self.catalogue[c] for c in candidates)),
            sentence.text))

    def reading(self) -> Reading:
        for sentence in self.sentences:
            if sentence.has_event:
                self.unresolved += sentence.unresolved
                self.declarations(sentence)
                self.all_clears(sentence)
                self.incident(sentence)
        self.attach_threats()
        ordered: list[tuple[tuple[int, int], Draft]] = []
        for alert in self.alerts.values():
            threats = tuple(t.value for t in ThreatType if t in alert.threats)
            ordered.append((alert.order, Draft(
                "alert", alert.region, self.name(alert.region), alert.type.value, threats, None,
                "actual", self.source_text(alert.source, alert.local), "", alert.evidence)))
        ordered += self.clears.values()
        for item in self.incidents.values():
            ordered.append((item.order, Draft(
                "incident", item.region, self.name(item.region), None, (), item.kind.value,
                item.status.value, item.source, item.description, item.evidence)))
        ordered.sort(key=lambda pair: pair[0])
        unique = {(u.text, u.evidence): u for u in reversed(self.unresolved)}
        return Reading(tuple(d for _, d in ordered), tuple(reversed(unique.values())))

    def declarations(self, sentence: _Sentence) -> None:
        source = self.sources[sentence.index]
        for number, alert_type in enumerate(sentence.alert_types):
            places = self.places(sentence) or self.reader.contexts[-1:]
            if not places:
                said = _ALERTS[alert_type].search(sentence.text)
                self.no_place(said.group() if said else sentence.text, sentence)
            for offset, code in enumerate(places):
                key = (code, alert_type)
                earlier = self.alerts.get(key)
                if earlier is None or not earlier.declared:
                    self.alerts[key] = _AlertDraft(
                        (sentence.index, number * 100 + offset), code, alert_type, sentence.text,
                        source, sentence.contexts, True,
                        list(earlier.threats) if earlier else [])
                self.alerts[key].threats += sentence.threats
        if sentence.threats and sentence.threat_now and not sentence.incident_kinds:
            for code in self.places(sentence) or self.reader.contexts[-1:]:
                self.threat_notes.append((sentence, code))

    def all_clears(self, sentence: _Sentence) -> None:
        source = self.source_text(self.sources[sentence.index], sentence.contexts)
        for alert_type in sentence.all_clear_types:
            # "Відбій тривоги." alone ends what the statement declared, or its city's alert.
            places = (self.places(sentence)
                      or list(dict.fromkeys(a.region for a in self.alerts.values()))
                      or self.reader.contexts[-1:])
            if not places:
                self.no_place(sentence.text, sentence)
            for offset, code in enumerate(places):
                key = (code, alert_type)
                if key not in self.clears:
                    self.clears[key] = ((sentence.index, offset), Draft(
                        "all_clear", code, self.name(code), alert_type.value, (), None, None,
                        source, "", sentence.text))

    def incident(self, sentence: _Sentence) -> None:
        if not sentence.incident_kinds:
            return
        catalogue = self.catalogue
        targets = sentence.places
        # The most precise places: a district, not the city that holds it.
        holding = {above for other in targets for above in catalogue.ancestors(other)}
        precise = [c for c in targets if c != COUNTRY and c not in holding]
        kinds = ", ".join(k.value for k in sentence.incident_kinds)
        # A sentence about the whole country ("the war in Ukraine has killed ...") is
        # background, not an incident without its place.
        if not precise and not sentence.national and not any(
                u.reason != "vague" for u in sentence.unresolved):
            self.no_place(kinds, sentence, self.reader.contexts[-1:])
        kind = sentence.incident_kinds[0]
        description = kinds
        if sentence.objects:
            description += ": " + "; ".join(dict.fromkeys(sentence.objects))
        source = self.source_text(self.sources[sentence.index], sentence.contexts)
        for offset, code in enumerate(precise):
            earlier = self.incidents.get((code, kind))
            if earlier is not None:  # the same incident told again
                if sentence.status is IncidentStatus.CONFIRMED:
                    earlier.status = IncidentStatus.CONFIRMED
                continue
            self.incidents[(code, kind)] = _IncidentDraft(
                (sentence.index, 1000 + offset), code, kind, sentence.status, source,
                description, sentence.text)

    def attach_threats(self) -> None:
        """Threats said in sentences of their own go to the region's alert, or propose one."""
        for sentence, code in self.threat_notes:
            # The region's own air-raid alert, or those of the regions containing it.
            matching = [alert for alert in (self.alerts.get((c, AlertType.AIR_RAID)) for c in (
                [code, *reversed(self.catalogue.ancestors(code))])) if alert is not None]
            if not matching:
                draft = _AlertDraft((sentence.index, 0), code, AlertType.AIR_RAID,
                                    sentence.text, self.sources[sentence.index],
                                    sentence.contexts, False)
                self.alerts[(code, AlertType.AIR_RAID)] = draft
                matching = [draft]
            for draft in matching:
                draft.threats += sentence.threats
                if draft.source is None:
                    draft.source = self.sources[sentence.index]


def _region_name(catalogue: Catalogue, code: str) -> str:
    """The English name, with the city or oblast it lies in: "Dniprovskyi District, Kyiv"."""
    region = catalogue[code]
    if region.level is Level.CITY_DISTRICT and region.parent:
        return f"{region.name_en}, {catalogue[region.parent].name_en}"
    top = catalogue.top_of(code)
    if region.level not in (Level.OBLAST, Level.SPECIAL_CITY, Level.COUNTRY) and top:
        return f"{region.name_en}, {catalogue[top].name_en}"
    return region.name_en


def _attribute(sentences: Sequence[_Sentence]) -> dict[int, _Source | None]:
    """Who said each sentence: its own source, the one a following "Про це повідомила ..."
    names, the last speaker if it goes on ("She added"), else the first source the statement
    names (its issuer; in a news report, whoever it is built on)."""
    first = next((s.source for s in sentences if s.source is not None), None)
    out: dict[int, _Source | None] = {}
    speaker: _Source | None = None
    for i, sentence in enumerate(sentences):
        own = sentence.source
        if own is None and i + 1 < len(sentences) and _ABOUT_THIS.search(sentences[i + 1].text):
            own = sentences[i + 1].source
        if own is None and speaker is not None and _GOES_ON.search(sentence.text):
            own = speaker
        if sentence.source is not None:
            speaker = sentence.source
        out[sentence.index] = own or first
    return out
