"""Reading one sentence: its source, its triggers (alerts, all-clears, threats, incidents)
and its places, resolved against the name index and the statement's context."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import rapidfuzz

from tryvoga.domain.model import AlertType, IncidentKind, IncidentStatus, ThreatType
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import COUNTRY, Level, Region
from tryvoga.ingest.statements.answer import Unresolved, candidates_json
from tryvoga.ingest.statements.lexicon import (
    ALERT_DECLARED,
    ALERT_NOT_NOW,
    ALERT_OVER,
    ALERT_PAST,
    ALERTS,
    ALL_CLEAR,
    BIG,
    CAPITAL,
    CITIES,
    CITY_LEVEL_WORD,
    CONFIRMED,
    CONJUNCTIONS,
    COUNTRY_NAME,
    DISTRICT_TYPES,
    FILLERS,
    INCIDENTS,
    INJURED,
    KILLED,
    KYIV_ROLES,
    LOCATIVE,
    NO_CASUALTIES,
    NOT_A_FIRE,
    NOT_DAMAGE,
    NOT_PLACES,
    OBJECT,
    OBLAST_LEVEL_WORD,
    PLURAL_TYPES,
    POST_TYPES,
    PRE_TYPES,
    PRELIMINARY,
    ROLES,
    THE_CITY,
    THE_OBLAST,
    THREAT_NOW,
    THREATS,
    VAGUE,
    WHOLE_COUNTRY,
    WORD,
)
from tryvoga.ingest.statements.morphology import is_common_word, nominative
from tryvoga.ingest.statements.sentences import MAX_WORD

MAX_CONTEXTS = 8  # the places a district is looked up in: the sentence's and the latest
MAX_NAME_WORDS = 6  # capitalised words read as one name ("Kryvyi Rih", "Bila Tserkva")

@dataclass(frozen=True, slots=True)
class Source:
    role: str
    place: str | None  # region code
    oblast: bool = False  # "regional", "обласна": the oblast's, even where a city is named


@dataclass(slots=True)
class Mention:
    text: str
    start: int
    end: int
    typed: bool = False
    district: bool = False
    plural: bool = False
    locative: bool = False
    initial: bool = False
    possessive: bool = False  # "Kyiv's Darnytskyi district": the city around what follows
    regions_of: bool = False  # "the regions of Kirovohrad and Cherkasy": oblasts


@dataclass(slots=True)
class Sentence:
    index: int
    text: str
    source: Source | None = None
    places: list[str] = field(default_factory=list)  # target regions, in order
    contexts: list[str] = field(default_factory=list)  # cities/oblasts named here
    unresolved: list[Unresolved] = field(default_factory=list)
    alert_types: list[AlertType] = field(default_factory=list)
    all_clear_types: list[AlertType] = field(default_factory=list)
    threats: list[ThreatType] = field(default_factory=list)
    threat_now: bool = False
    incident_kinds: list[IncidentKind] = field(default_factory=list)
    status: IncidentStatus = IncidentStatus.CONFIRMED
    objects: list[str] = field(default_factory=list)
    national: bool = False  # names the country itself ("the war in Ukraine")
    said: dict[str, str] = field(default_factory=dict)  # what was read: kind -> the words
    killed: int | None = None
    injured: int | None = None
    notes: list[str] = field(default_factory=list)  # how its places were read
    named: list[str] = field(default_factory=list)  # cities named but not as the place
    before: list[str] = field(default_factory=list)  # the statement's places before it

    @property
    def has_event(self) -> bool:
        return bool(self.alert_types or self.all_clear_types or self.incident_kinds
                    or (self.threats and self.threat_now))


def find_spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


class Mask:
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

    def __iadd__(self, spans: Iterable[tuple[int, int]]) -> Mask:
        for span in spans:
            self.add(*span)
        return self

    def hits(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` overlaps a span."""
        i = bisect.bisect_right(self.ends, start)  # the first span that ends after start
        return i < len(self.starts) and self.starts[i] < end


def overlaps(start: int, end: int, spans: Mask) -> bool:
    return spans.hits(start, end)


def _district_key(name: str) -> str:
    """A district's name without its type word and case ending, for tolerant matching."""
    words = [w for w in re.findall(r"[^\W\d_]+", name.lower())
             if w not in ("district", "raion", "район", "районі", "району", "районе", "района",
                          "р", "н", "the", "city")]
    return re.sub(r"(?:ому|ого|ий|ій|ый|ом|ым|ім)$", "", " ".join(words))


def capitalised(word: str) -> bool:
    return word[:1].isupper()


_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1,
    "один": 1, "одна": 1, "одну": 1, "одного": 1, "двоє": 2, "дві": 2, "два": 2, "троє": 3,
    "три": 3, "четверо": 4, "чотири": 4, "п'ятеро": 5, "пʼятеро": 5, "п’ятеро": 5, "пятеро": 5,
    "п'ять": 5, "шестеро": 6, "шість": 6, "семеро": 7, "сім": 7, "восьмеро": 8, "вісім": 8,
    "дев'ятеро": 9, "десятеро": 10, "десять": 10, "двое": 2, "трое": 3, "двух": 2,
    "трех": 3, "трёх": 3, "четырех": 4, "пяти": 5, "восьми": 8, "двоих": 2,
}
# A number that is an age, a time or a floor is not a number of people.
_NOT_PEOPLE = re.compile(r"\s*(?:-|–)?\s*(?:year|yr|рок|річн|лет|летн|год|:|th\b|st\b|nd\b|rd\b"
                         r"|-?(?:й|го|му|поверх|этаж|storey|story|floor))", re.I)
_NUMBER = re.compile(r"\b(\d{1,5})\b|\b(" + "|".join(
    re.escape(w.strip()) for w in sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\b", re.I)


def _count_near(pattern: re.Pattern[str], text: str, denied: Mask) -> int | None:
    """The number of people said next to a word of ``pattern`` ("two people were killed",
    "поранено п'ятеро людей"), the largest if several; None if none is said."""
    best: int | None = None
    for match in pattern.finditer(text):
        if denied.hits(*match.span()):
            continue
        window_start = max(0, match.start() - 40)
        # The number before the word first ("two people were killed"), then after it
        # ("поранено п'ятеро").
        around = [((0 if n.start() + window_start < match.start() else 1),
                   abs(n.start() + window_start - match.start()), n)
                  for n in _NUMBER.finditer(text[window_start:match.end() + 40])]
        around = [(side, d, n) for side, d, n in around if not _NOT_PEOPLE.match(
            text, window_start + n.end()) and text[window_start + n.start() - 1:
                                                   window_start + n.start()] != ":"]
        for _, _, number in sorted(around, key=lambda item: item[:2])[:1]:
            digits, word = number.group(1), number.group(2)
            value = int(digits) if digits else _NUMBER_WORDS.get(word.lower(), 0)
            if 0 < value < 10_000 and (best is None or value > best):
                best = value
    return best


class Reader:
    def __init__(self, names: NameIndex, default_source: str, within: str | None,
                 seeds: Sequence[str] = ()) -> None:
        self.names = names
        self.catalogue = names.catalogue
        self.default_source = default_source
        kyiv = names.find("Kyiv", levels=[Level.SPECIAL_CITY]).region
        self.kyiv = kyiv.code if kyiv is not None else None
        # Cities and oblasts the statement has named, most recent last.
        # ``seeds``: the places of the whole statement, found by a first reading, so that a
        # district named before its city ("В Індустріальному районі ... у Харкові") is found.
        self.contexts: list[str] = list(dict.fromkeys([*seeds, *([within] if within else [])]))
        self._established = set(self.contexts)

    # -- places --

    def resolve(self, text: str, district: bool, local: Sequence[str], *, inflected: bool = True
                ) -> tuple[Region | None, tuple[Region, ...]]:
        """One region for ``text``, or none with the candidates; context decides districts.
        A name that finds nothing as written is tried in the nominative ("у Черкасах",
        "в Сумах", "у Броварах": pymorphy3's reading of the inflected form)."""
        found = self.names.find(text)
        if not district and found.region is not None and found.region.level in BIG:
            return found.region, ()
        contexts = self._contexts(local)
        for context in contexts:
            inside = self.names.find(text, within=context)
            if inside.region is not None:
                return inside.region, ()
        if found.region is not None:
            return found.region, ()
        if district:
            for context in contexts:
                near = self._district_like(text, context)
                if near is not None:
                    return near, ()
        if inflected and not found.matches:
            plain = nominative(text)
            if plain is not None:
                return self.resolve(plain, district, local, inflected=False)
        return None, found.matches

    def _district_like(self, text: str, city: str) -> Region | None:
        """A district of ``city`` written with a typo ("Podilslkyi district"): the one whose
        name is closest, if it is close (rapidfuzz ratio of 80 or more) and no other district
        comes within 10 of it."""
        region = self.catalogue[city]
        if region.level not in CITIES:
            return None
        choices: dict[str, str] = {}
        for code in self.catalogue.children.get(city, ()):
            child = self.catalogue[code]
            for name in (child.name_en, child.name_uk):
                choices[_district_key(name)] = code
        if not choices:
            return None
        best = rapidfuzz.process.extract(_district_key(text), list(choices),
                                         scorer=rapidfuzz.fuzz.ratio, score_cutoff=80,
                                         limit=len(choices))
        if not best:
            return None
        code = choices[best[0][0]]
        # Only if no other district comes close: a typo, not a guess between two.
        if any(choices[name] != code and score > best[0][1] - 10 for name, score, _ in best):
            return None
        return self.catalogue[code]

    def _contexts(self, local: Sequence[str]) -> list[str]:
        # The sentence's own places and the statement's most recent ones: a district is looked
        # up in a few places, not in every city a long text has named.
        ordered = list(dict.fromkeys([*local[-MAX_CONTEXTS:],
                                      *reversed(self.contexts[-MAX_CONTEXTS:])]))
        # A city's own oblast is context too ("the Chuhuiv district" in a Kharkiv statement).
        tops = [t for t in (self.catalogue.top_of(c) for c in ordered) if t is not None]
        return list(dict.fromkeys([*ordered, *tops]))

    def _around(self, local: Sequence[str], oblast: bool) -> str | None:
        """The city (or with ``oblast`` the oblast) that the statement is about: the latest
        named, or the one around it."""
        for code in [*reversed(local), *reversed(self.contexts)]:
            region = self.catalogue[code]
            if not oblast and region.level in CITIES:
                return code
            if oblast:
                if region.level is Level.OBLAST:
                    return code
                top = self.catalogue.top_of(code)
                if top is not None and self.catalogue[top].level is Level.OBLAST:
                    return top
                if region.level is Level.SPECIAL_CITY:  # Kyiv: Kyiv Oblast around it
                    around = self.names.find(f"{region.name_en} Oblast", levels=[Level.OBLAST])
                    if around.region is not None:
                        return around.region.code
        return None

    def establish(self, code: str) -> None:
        if code in self._established:
            self.contexts.remove(code)
        self._established.add(code)
        self.contexts.append(code)

    # -- sources --

    def find_source(self, text: str, masked: Mask) -> Source | None:
        first: Source | None = None
        for role, pattern in ROLES.items():
            for match in pattern.finditer(text):
                if overlaps(*match.span(), masked):
                    continue
                source, span = self._source_at(role, match, text)
                masked.add(*span)
                if first is None or (first.place is None and source.place is not None):
                    first = source
        return first

    def _source_at(self, role: str, match: re.Match[str], text: str
                   ) -> tuple[Source, tuple[int, int]]:
        start, end = match.span()
        said = match.group()
        if role == "military_administration" and CITY_LEVEL_WORD.search(said):
            levels: frozenset[Level] = CITIES
        elif role in ("governor",) or (role == "military_administration"
                                       and OBLAST_LEVEL_WORD.search(said)):
            levels = frozenset({Level.OBLAST})
        else:
            levels = BIG
        oblast = levels == frozenset({Level.OBLAST})
        if KYIV_ROLES.search(said) and self.kyiv is not None:
            return Source(role, self.kyiv), (start, end)
        # The place after it: "in Kiev", "of Kyiv", "мер Києва", "у місті Харків".
        after = re.match(r"\s+(?:(?:in|of|у|в|міста|города)\s+)?(?:the\s+)?(?:city\s+of\s+)?"
                         r"([^\W\d_][\w'’ʼ-]*)", text[end:end + 2 * MAX_WORD])
        if after and capitalised(after.group(1)) and after.group(1).lower() not in NOT_PLACES:
            region = self.names.find(after.group(1), levels=levels).region
            if region is not None:
                return Source(role, region.code, oblast), (start, end + after.end())
        # The place before it: "Kyiv City Military Administration", "Київська міська ...".
        window = max(0, start - MAX_WORD)
        before = re.search(r"([^\W\d_][\w'’ʼ-]*)\s+$", text[window:start])
        if before and capitalised(before.group(1)) \
                and before.group(1).lower() not in NOT_PLACES:
            region = self.names.find(before.group(1), levels=levels).region
            if region is not None:
                return Source(role, region.code, oblast), (window + before.start(1), end)
        return Source(role, None, oblast), (start, end)

    def source_name(self, source: Source, local: Sequence[str]) -> str:
        place = source.place
        if place is None and source.role in ("military_administration", "mayor", "governor"):
            place = next((c for c in self._contexts(local)
                          if self.catalogue[c].level in BIG), None)
        if place is not None and source.oblast:
            place = self.catalogue.top_of(place) or place
        region = self.catalogue[place] if place else None
        name = region.name_en if region else ""
        if source.role == "military_administration":
            if region is None:
                return "military administration"
            if region.level is Level.OBLAST:
                return f"{name.removesuffix(' Oblast')} Regional Military Administration"
            if region.level in CITIES:
                return f"{name} City Military Administration"
            return f"{name} Military Administration"
        if source.role == "mayor":
            return f"Mayor of {name}" if region and region.level in CITIES else "mayor"
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

    def read(self, index: int, text: str) -> Sentence:
        sentence = Sentence(index, text, before=self.contexts[-MAX_CONTEXTS:])
        masked = Mask()
        sentence.source = self.find_source(text, masked)
        if sentence.source is not None and sentence.source.place is not None:
            sentence.contexts.append(sentence.source.place)
        self._triggers(sentence)
        sentence.national = COUNTRY_NAME.search(text) is not None
        vague = find_spans(VAGUE, text)
        whole = find_spans(WHOLE_COUNTRY, text)
        capital = [span for span in find_spans(CAPITAL, text) if not overlaps(*span, masked)]
        masked += vague + whole + capital
        mentions = self._mentions(text, masked)
        if capital and self.kyiv is not None:
            sentence.contexts.append(self.kyiv)
        # Cities first: they are the context for the districts in the same sentence.
        resolved: list[tuple[int, str]] = []
        pending: list[Mention] = []
        for mention in mentions:
            if mention.district:
                pending.append(mention)
                continue
            self._place(sentence, mention, resolved)
        for mention in pending:
            self._place(sentence, mention, resolved)
        resolved += [(s, self.kyiv) for s, _ in capital if self.kyiv is not None]
        for pattern, oblast in ((THE_CITY, False), (THE_OBLAST, True)):
            for match in pattern.finditer(text):
                around = self._around(sentence.contexts, oblast)
                if around is not None:
                    resolved.append((match.start(), around))
                    sentence.notes.append(f"“{match.group().strip()}” read as "
                                          f"{self.catalogue[around].name_en}")
        resolved += [(s, COUNTRY) for s, _ in whole]
        sentence.places = list(dict.fromkeys(code for _, code in sorted(resolved)))
        for start, end in vague:
            sentence.unresolved.append(Unresolved(text[start:end], "vague", (), text))
        for code in dict.fromkeys(sentence.contexts):
            self.establish(code)
        return sentence

    def _place(self, sentence: Sentence, mention: Mention,
               resolved: list[tuple[int, str]]) -> None:
        # The Russian cases of "-щина" (Киевщине, Харьковщины) in the Ukrainian form the index
        # reads as an oblast.
        lookup = re.sub(r"щин(?:е|ы|ой)\b", lambda m: {"щине": "щині", "щины": "щини"}.get(
            m.group(), "щиною"), mention.text)
        region, candidates = self.resolve(lookup, mention.district, sentence.contexts)
        bare = not mention.typed
        if region is not None and region.code == COUNTRY:
            return  # "in Ukraine": context, not a target (see WHOLE_COUNTRY)
        if mention.possessive:
            # "Kyiv's": the city around the district that follows, not a place of its own.
            if region is not None and region.level in BIG:
                sentence.contexts.append(region.code)
            return
        if (region is not None and bare and not mention.locative and mention.initial
                and " " not in mention.text and is_common_word(mention.text)
                and not any(self.catalogue.is_within(region.code, c)
                            for c in self._contexts(sentence.contexts))):
            # "Саме", "Тому", "Именно" open sentences: a common word, not a town, unless
            # the statement is about a place around it.
            return
        if region is not None and (mention.typed or mention.locative or (
                mention.initial and region.level in BIG)):
            resolved.append((mention.start, region.code))
            if region.level in BIG and region.code not in sentence.contexts[-MAX_CONTEXTS:]:
                sentence.contexts.append(region.code)
            return
        if bare and not mention.locative:
            # A capitalised word that is not said to be a place: a person, a body; or a city
            # named otherwise ("атакували Дніпро"), which tells what the statement is about.
            if (region is not None and region.level in BIG and " " not in mention.text
                    and not is_common_word(mention.text)):
                sentence.named.append(region.code)
                if region.code not in sentence.contexts[-MAX_CONTEXTS:]:
                    sentence.contexts.append(region.code)
            return
        reason = "ambiguous" if candidates else "not_found"
        sentence.unresolved.append(Unresolved(mention.text, reason,
                                              candidates_json(self.catalogue, candidates),
                                              sentence.text))

    def _mentions(self, text: str, masked: Mask) -> list[Mention]:
        words = [m for m in WORD.finditer(text)
                 if m.end() - m.start() <= MAX_WORD and not overlaps(*m.span(), masked)]
        letter = re.search(r"[^\W_]", text)
        first_letter = letter.start() if letter else len(text)
        mentions: list[Mention] = []
        i = 0
        while i < len(words):
            word = words[i]
            lower = word.group().lower()
            first = i
            pre = False
            if (lower in PRE_TYPES and i + 1 < len(words)
                    and capitalised(words[i + 1].group())
                    and re.fullmatch(r"\.?\s+", text[word.end():words[i + 1].start()])):
                pre, i = True, i + 1
            elif (lower in ("city", "town", "village") and i + 2 < len(words)
                  and words[i + 1].group().lower() == "of"
                  and capitalised(words[i + 2].group())):
                pre, i = True, i + 2
            name = words[i].group()
            adjective_before_type = (
                not capitalised(name) and i + 1 < len(words)
                and words[i + 1].group().lower() in POST_TYPES
                and re.search(r"(?:ськ|цьк|зьк|ск|цк)\w{0,3}$", name.lower()) is not None)
            if not adjective_before_type and (not capitalised(name) or (
                    not pre and name.lower() in NOT_PLACES)):
                i += 1
                continue
            last = i
            possessive = re.search(r"['’]s$", name) is not None
            while (not possessive and last + 1 < len(words) and last + 1 - i < MAX_NAME_WORDS
                   and capitalised(words[last + 1].group())
                   and words[last + 1].group().lower() not in NOT_PLACES
                   and words[last + 1].group().lower() not in POST_TYPES
                   and text[words[last].end():words[last + 1].start()].isspace()):
                last += 1
            types: list[str] = []
            # One type word: in "Золочевского района области" the oblast is another place.
            while (not possessive and not types and last + 1 < len(words)
                   and words[last + 1].group().lower() in POST_TYPES
                   and re.fullmatch(r"\s+", text[words[last].end():words[last + 1].start()])):
                last += 1
                types.append(words[last].group().lower())
            start, end = words[first].start(), words[last].end()
            core = " ".join(w.group() for w in words[i:last + 1 - len(types)])
            if possessive:
                core = re.sub(r"['’]s$", "", core)
            mention = Mention(
                text=" ".join(filter(None, [text[words[first].start():words[i].start()].strip(),
                                            core, *(POST_TYPES[t] for t in types)])),
                start=start, end=end, typed=pre or bool(types),
                district=any(POST_TYPES[t] in DISTRICT_TYPES for t in types),
                plural=any(t in PLURAL_TYPES for t in types))
            before = [w.group().lower() for w in words[max(0, first - 2):first]]
            if before and before[-1] in FILLERS:
                before = before[:-1]
            gap = text[words[first - 1].end():start] if first > 0 else ""
            mention.locative = bool(before) and before[-1] in LOCATIVE and (
                gap.strip() == "" or gap.strip().lower() in FILLERS)
            # First in the sentence, or heading a list: "Повітряна тривога: Київ".
            mention.initial = (start <= first_letter
                               or text[max(0, start - MAX_WORD):start].rstrip()[-1:]
                               in (":", "—", "–"))
            mention.possessive = possessive
            # "the regions of Kirovohrad and Cherkasy", "region of Lviv": oblasts.
            if (not mention.typed and len(before) >= 2 and before[-1] == "of"
                    and before[-2] in ("region", "regions", "oblast", "oblasts", "province")):
                mention.text, mention.typed, mention.locative = f"{mention.text} region", True, True
                mention.regions_of = True
            mentions.append(mention)
            i = last + 1
        # "Дарницькому та Дніпровському районах", "Сумській, Полтавській та Чернігівській
        # областях", "Kyiv and Kharkiv regions": the list shares the type, from its end.
        for a, b in reversed(list(itertools.pairwise(mentions))):
            between = text[a.end:b.start].strip(" ,").lower()
            if not a.typed and b.plural and (between in CONJUNCTIONS or between == ""):
                kind = b.text.split()[-1]
                a.text, a.typed, a.district = f"{a.text} {kind}", True, b.district
                a.locative = a.plural = True
        # "the regions of Kirovohrad and Cherkasy": the list shares "regions of".
        for a, b in itertools.pairwise(mentions):
            between = text[a.end:b.start].strip(" ,").lower()
            if a.regions_of and not b.typed and (between in CONJUNCTIONS or between == ""):
                b.text, b.typed, b.locative, b.regions_of = f"{b.text} region", True, True, True
        # "у Києві та Харкові", "in Kyiv, Kharkiv and Odesa": the list shares the preposition.
        for a, b in itertools.pairwise(mentions):
            between = text[a.end:b.start].strip(" ,").lower()
            if a.locative and (between in CONJUNCTIONS or between == ""):
                b.locative = True
        return mentions

    def _triggers(self, sentence: Sentence) -> None:
        text = sentence.text
        # "Until the all-clear", "in case of an alert", "follow the news about the all-clear":
        # words about an alert that is not now are not read for alerts at all.
        now = ALERT_NOT_NOW.sub(lambda m: " " * len(m.group()), text)
        clear = ALL_CLEAR.search(now)
        named = [(kind, m) for kind, m in ((k, p.search(now)) for k, p in ALERTS.items()) if m]
        if clear:
            sentence.all_clear_types = [named[0][0] if named else AlertType.AIR_RAID]
            sentence.said["all_clear"] = clear.group()
        elif named and not ALERT_OVER.search(now) and (
                ALERT_DECLARED.search(now) or not ALERT_PAST.search(now)):
            declared = ALERT_DECLARED.search(now)
            sentence.alert_types = [named[0][0]]
            sentence.said["alert"] = named[0][1].group() + (
                f" … {declared.group()}" if declared else "")
        taken = Mask()
        for threat, pattern in THREATS.items():
            spans = [s for s in find_spans(pattern, text) if not overlaps(*s, taken)]
            if spans:
                sentence.threats.append(threat)
                taken += spans
        sentence.threat_now = THREAT_NOW.search(text) is not None
        not_fire = Mask(find_spans(NOT_A_FIRE, text))
        no_casualties = Mask(find_spans(NO_CASUALTIES, text))
        not_damage = Mask(find_spans(NOT_DAMAGE, text))
        for kind, pattern in INCIDENTS.items():
            spans = find_spans(pattern, text)
            if kind is IncidentKind.FIRE:
                spans = [s for s in spans if not overlaps(*s, not_fire)]
            elif kind is IncidentKind.CASUALTIES:
                spans = [s for s in spans if not overlaps(*s, no_casualties)]
            elif kind is IncidentKind.DAMAGE:
                spans = [s for s in spans if not overlaps(*s, not_damage)]
            if spans:
                sentence.incident_kinds.append(kind)
                sentence.said[kind.value] = text[spans[0][0]:spans[0][1]]
        if sentence.incident_kinds:
            # Officials reporting what happened report facts; preliminary only if they say so.
            preliminary = PRELIMINARY.search(text)
            if preliminary and not CONFIRMED.search(text):
                sentence.status = IncidentStatus.PRELIMINARY
                sentence.said["preliminary"] = preliminary.group()
            sentence.objects = [m.group().strip() for m in OBJECT.finditer(text)]
        if IncidentKind.CASUALTIES in sentence.incident_kinds:
            sentence.killed = _count_near(KILLED, text, no_casualties)
            sentence.injured = _count_near(INJURED, text, no_casualties)
