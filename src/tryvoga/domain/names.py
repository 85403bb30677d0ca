"""Find regions by name, in any common spelling.

People and feeds name a region in many ways: "Київ", "м. Київ", "#м_Київ", "Kyiv", "Kiev",
"Киев"; "Kyiv Oblast", "Київська обл.", "Київщина"; "Дарницький район", "Darnitsya district".
:class:`NameIndex` resolves all of them against the catalogue, and reports a name that fits
several regions as ambiguous, with its candidates, instead of guessing.

How a text is read
------------------
The text is normalized (:func:`normalize`); a hashtag's ``#`` and ``_`` become spaces. Type
words are taken out and become a hint of the level: "область", "обл.", "oblast", "region",
"-щина" (oblast); "район", "р-н", "raion", "district" (raion or city district); "громада",
"територіальна громада", "ТГ", "hromada", "community" (hromada); "м.", "місто", "city",
"city of", "г." (city or special city). Several type words narrow to the levels they share.
What remains is the *stem*; a text of nothing but type words ("район") names nothing. The
catalogue's own names are read the same way, so "Київська область" has the stem "київська" and
"Kyiv Oblast" the stem "kyiv", while the city "Київ" has no type word: its stem is its name.

A *skeleton* is the stem spelled loosely, so that Ukrainian, Russian and the usual Latin
spellings meet: every letter is mapped to a rough Latin sound (х, kh, г, g, h -> h; ц, ts -> c;
ж, zh, з -> z; ш, щ, sh -> S; ч, ch -> C), soft signs and apostrophes are dropped, every run of
vowels (including y and і, и, е, є, ї, ю, я) becomes one ``V``, the words are joined, doubled
letters are merged and final vowels dropped. So Київ, Kyiv, Kiev, Киев -> ``kVv``; Харків,
Kharkov -> ``hVrkVv``; Дніпро, Днепр, Dnipro -> ``dnVpr``; Запоріжжя, Zaporozhye -> ``zVpVrVz``.
An adjective in -ський/-цький/-зький (any gender or case, Ukrainian, Russian or Latin) is cut after
its ``k`` and also has *roots*: the noun it comes from, by dropping ``k``, then ``s``, then a
final ``-ov``/``-iv``; a noun in -ка also has the root without its ``k``. "Дарницький" has the
root ``dVrnVc`` = "Darnitsya", "Дніпровський" has ``dnVpr`` = "Dnipro", "Київська" has ``kVv`` =
"Kiev", "Солом'янський" has ``sVlVmVn`` = "Solomianka". A few Russian and pre-2016 names that no
skeleton reaches ("Николаев", "Белая Церковь", "Артемовск", ...) are rewritten on the query side
to their Ukrainian form (:data:`QUERY_SPELLINGS`); the original spelling is tried as well.

Tiers
-----
Candidates are first limited to ``within`` (a region code, ISO code or ``"UA"``: that region and
everything below it), to ``levels``, and to the query's type hint. The answer is the first tier
that has any match, and only that tier's matches are returned:

1. a KATOTTG code (any case), an ISO 3166-2 code ("UA-30"), or "UA";
2. the whole text equals a region's full name ("Київська область", "Kyiv Oblast", "Київ");
3. the stem equals a region's name that has no type word (the city "Київ"), then
4. the stem equals a region's stem (the oblast "Kyiv Oblast" for "Kyiv oblast");
5. the skeleton equals the skeleton of a name without type word, then
6. the skeleton equals the skeleton of a stem ("Kiev Oblast", "Dnepropetrovsk oblast");
7. a root is shared: a noun for an adjective and back ("Darnitsya district", "Київщина", and
   "Dnipro" within Kyiv: its Dniprovskyi district);
8. "X та Y" / "X and Y": each part is looked up, and the region containing a match of every part
   is the answer ("м. Слов'янськ та Слов'янська територіальна громада" -> the hromada); and
   "X, Y": X is looked up within a match of Y ("Darnytskyi district, Kyiv").

Tiers 3 and 5 before 4 and 6 are what makes a bare noun name the city: "Kyiv", "Kiev" and
"Київ" name the city Kyiv, not "Kyiv Oblast" (whose English stem is also "Kyiv"), and "Kharkiv",
"Харків", "Kharkov" name the city, not the hromada, raion or oblast built on it; with a type word
("Kyiv oblast", "Харківська громада") the hint decides. A bare name that is a city's exact name
resolves to that city even if districts elsewhere are named by the adjective: "Dnipro" is the
city Dnipro, while "Dnipro district" never is (the hint excludes cities) and is ambiguous among
the five Dniprovskyi raions and districts until ``within`` picks one. Regions whose names are
equal stay ambiguous: "Миколаїв" and "Nikolaev" (the oblast centre and a town in Lviv Oblast),
"Харківська" (the oblast and the hromada), "Дніпровський район" (a raion and four city
districts), and about 700 hromada names that recur in several raions.

A ``within`` that is not a known code gives no matches; no text makes :meth:`NameIndex.find`
raise. Building the index for the packaged catalogue (2,505 regions) takes about 0.1 s.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from itertools import islice, product

from tryvoga.domain.regions import COUNTRY, Catalogue, Level, Region

__all__ = ["QUERY_SPELLINGS", "Lookup", "NameIndex", "normalize"]

APOSTROPHE = "'"
_APOSTROPHES = str.maketrans({c: APOSTROPHE for c in "’ʼ`‘´′ʹ"})
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")


def normalize(text: str) -> str:
    """Casefold, NFC, one apostrophe, no punctuation, single spaces.

    Apostrophes and hyphens are kept inside a word ("кам'янець-подільський"); everything else
    that is not a letter or a digit (``#``, ``_``, ``.``, quotes, dashes) separates words.
    """
    text = unicodedata.normalize("NFC", text).casefold()
    # Stress marks and other combining marks left over after NFC (й and ї are precomposed).
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.translate(_APOSTROPHES)
    return " ".join(_WORD.findall(text))


def _words(normalized: str) -> list[str]:
    """Key words: hyphenated parts split, apostrophes dropped."""
    return [part.replace(APOSTROPHE, "") for word in normalized.split() for part in word.split("-")
            if part.replace(APOSTROPHE, "")]


# --- type words ------------------------------------------------------------------------------

_CITIES = frozenset({Level.CITY, Level.SPECIAL_CITY})
_OBLASTS = frozenset({Level.OBLAST})
_RAIONS = frozenset({Level.RAION, Level.CITY_DISTRICT})
_HROMADAS = frozenset({Level.HROMADA})
_CITY_DISTRICTS = frozenset({Level.CITY_DISTRICT})
_ANY: frozenset[Level] = frozenset(Level)

_TYPE_PHRASES: dict[tuple[str, ...], frozenset[Level]] = {}


def _types(levels: frozenset[Level], *phrases: str) -> None:
    for phrase in phrases:
        _TYPE_PHRASES[tuple(_words(normalize(phrase)))] = levels


_types(_OBLASTS, "область", "області", "областю", "обл", "oblast", "oblasti", "obl", "region",
       "регіон", "province", "автономна республіка", "автономної республіки", "ар",
       "autonomous republic", "автономная республика")
_types(_RAIONS, "район", "районі", "району", "р-н", "р-ні", "рн", "raion", "rayon", "district")
_types(_CITY_DISTRICTS, "city district", "район міста", "район у місті")
_types(_HROMADAS, "громада", "громади", "громаді", "територіальна громада",
       "територіальної громади", "територіальній громаді", "міська", "селищна", "сільська",
       "тг", "отг", "мтг", "стг", "об'єднана", "hromada", "hromady", "gromada",
       "territorial community", "community", "urban", "rural")
_types(_CITIES, "м", "місто", "міста", "місті", "city", "town", "г", "город", "city of")
_types(_ANY, "of", "the", "in", "у", "в")  # fillers: no hint of their own
_LONGEST_PHRASE = max(len(p) for p in _TYPE_PHRASES)
# The colloquial name of an oblast: the city's name with -щина (с + щина -> щина: Одеса ->
# Одещина) or -ччина (ц: Вінниця -> Вінниччина), in any case ending.
_REGION_SUFFIXES: dict[str, tuple[str, ...]] = {
    **{f"щин{end}": ("", "с") for end in ("а", "и", "і", "у", "ою")},
    **{f"ччин{end}": ("ц",) for end in ("а", "и", "і", "у", "ою")},
    **{f"shchyn{end}": ("", "s") for end in ("a", "y", "i", "u")},
    **{f"chchyn{end}": ("ts",) for end in ("a", "y", "i", "u")},
}


def _strip_types(words: list[str]) -> tuple[list[str], frozenset[Level] | None]:
    """Remove type words; return the rest and the intersection of their level hints."""
    rest: list[str] = []
    hint: frozenset[Level] | None = None
    i = 0
    while i < len(words):
        for size in range(min(_LONGEST_PHRASE, len(words) - i), 0, -1):
            levels = _TYPE_PHRASES.get(tuple(words[i:i + size]))
            if levels is not None:
                if levels is not _ANY:
                    hint = levels if hint is None else hint & levels
                i += size
                break
        else:
            rest.append(words[i])
            i += 1
    return rest, hint


def _region_nouns(word: str) -> list[str]:
    """"Київщина" -> ["київ"], "Одещина" -> ["оде", "одес"], "Вінниччина" -> ["вінниц"]."""
    for suffix, endings in _REGION_SUFFIXES.items():
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            return [word[:-len(suffix)] + ending for ending in endings]
    return []


# --- skeletons -------------------------------------------------------------------------------

_CYRILLIC = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "h", "д": "d", "е": "e", "є": "e", "ж": "z",
    "з": "z", "и": "y", "і": "i", "ї": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n",
    "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "c",
    "ч": "C", "ш": "S", "щ": "S", "ь": "", "ъ": "", "ы": "y", "э": "e", "ё": "o", "ю": "u",
    "я": "a",
})  # fmt: skip
_LATIN_GROUPS = {
    "shch": "S", "sch": "S", "sh": "S", "ch": "C", "cz": "C", "zh": "z", "kh": "h", "gh": "h",
    "ts": "c", "tz": "c", "ph": "f", "g": "h", "x": "ks", "w": "v", "q": "k", "j": "y",
}  # fmt: skip
_LATIN = re.compile("|".join(sorted(_LATIN_GROUPS, key=len, reverse=True)))
_VOWELS = re.compile(r"[aeiouy]+")
_NOT_SOUND = re.compile(r"[^a-zA-Z]")
_DOUBLES = re.compile(r"(.)\1+")
# An adjective in -ський/-цький/-зький, any gender or case: cut after the k.
_ADJECTIVE = re.compile(r"(?<=[sczSC]k)V(?:[mh]V?)?$")


def _sound(word: str) -> str:
    """The loose Latin sound of one key word, vowels as V."""
    latin = "".join(_latin_base(ch) for ch in word)
    latin = _LATIN.sub(lambda m: _LATIN_GROUPS[m.group()], latin)
    latin = _NOT_SOUND.sub("", latin.translate(_CYRILLIC))
    return _DOUBLES.sub(r"\1", _VOWELS.sub("V", latin))


def _latin_base(ch: str) -> str:
    """A Latin letter without its diacritic (ó -> o); other letters unchanged."""
    base = unicodedata.normalize("NFD", ch)[0]
    return base if "a" <= base <= "z" else ch


@dataclass(frozen=True, slots=True)
class _Shape:
    """The skeleton of a stem and, for an adjective, the roots of the noun behind it."""

    skeleton: str
    roots: frozenset[str]


def _shape(sounds: Iterable[str]) -> _Shape:
    # Words are joined before anything else, so that "Кам'янець-Подільський" and the hashtag
    # spelling "КамянецьПодільський" give one skeleton.
    whole = _DOUBLES.sub(r"\1", "".join(sounds))
    adjective = _ADJECTIVE.search(whole)
    if adjective is None:
        noun = whole[:-1] if whole.endswith("V") and len(whole) > 1 else whole
        # A noun in -ка makes its adjective without the к: Солом'янка -> Солом'янський.
        if noun.endswith("k") and len(noun) > 3 and noun[-2] != "V":
            return _Shape(noun, frozenset({noun, noun[:-1]}))
        return _Shape(noun, frozenset({noun}))
    base = whole[:adjective.start()]
    roots = {base, base[:-1]}
    noun = base[:-1]
    if noun.endswith("s"):
        noun = noun[:-1]
        roots.add(noun)
    if noun.endswith("Vv"):
        roots.add(noun[:-2])
    elif noun.endswith("v"):
        roots.add(noun[:-1])
    return _Shape(base, frozenset(r for r in roots if len(r) >= 2))


# Spellings that no skeleton reaches: Russian forms and names changed since 2016. Applied to the
# query only, as an extra reading beside the original, and to the start of a word, so that
# adjectives follow ("Николаевская" -> "Миколаївська"). Renamed places whose old name lives on
# in an oblast's name (Kirovohrad, Dnipropetrovsk) are left out: those names mean the oblast.
QUERY_SPELLINGS: dict[str, str] = {
    "николаев": "миколаїв",
    "церковь": "церква",
    "кременчуг": "кременчук",
    "днепродзержинск": "кам'янське",
    "артемовск": "бахмут",
    "артемівськ": "бахмут",
    "красноармейск": "покровськ",
    "красноармійськ": "покровськ",
    "ильичевск": "чорноморськ",
    "іллічівськ": "чорноморськ",
    "комсомольск": "горішні плавні",
    "дзержинск": "торецьк",
    "червоноград": "шептицький",
}


def _sounds_of(text: str) -> str:
    return "".join(_sound(w) for w in _words(normalize(text)))


_SPELLINGS: list[tuple[str, str]] = sorted(
    ((_sounds_of(old), _sounds_of(new)) for old, new in QUERY_SPELLINGS.items()),
    key=lambda pair: -len(pair[0]))


_MAX_READINGS = 8


def _respellings(sound: str) -> list[str]:
    out = [sound]
    for old, new in _SPELLINGS:
        if sound.startswith(old):
            out.append(new + sound[len(old):])
            break
    return out


# --- parsed names ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reading:
    full: str  # the whole text, compact
    stem: str  # without type words, compact
    stripped: bool  # type words were taken out
    hint: frozenset[Level] | None
    shapes: tuple[_Shape, ...]  # the first is the spelling as written


def _read(text: str, respell: bool = False) -> _Reading:
    words = _words(normalize(text))
    rest, hint = _strip_types(words)
    readings = [rest]
    if respell and hint is None and len(rest) == 1:
        nouns = _region_nouns(rest[0])
        if nouns:
            readings, hint = [[noun] for noun in nouns], _OBLASTS
    shapes: dict[_Shape, None] = {}
    for reading in readings:
        sounds = [_sound(w) for w in reading]
        if respell:
            options = [_respellings(s) for s in sounds]
            # At most a few readings, however many words were respelled.
            combos = islice(product(*options), _MAX_READINGS)
            shapes.update(dict.fromkeys(_shape(combo) for combo in combos))
        else:
            shapes[_shape(sounds)] = None
    return _Reading("".join(words), "".join(readings[0]), readings[0] != words, hint,
                    tuple(shapes))


# --- the index -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """The answer to one name: the regions of the best tier that matched anything."""

    query: str
    matches: tuple[Region, ...]

    @property
    def ambiguous(self) -> bool:
        return len(self.matches) > 1

    @property
    def region(self) -> Region | None:
        return self.matches[0] if len(self.matches) == 1 else None


_LEVEL_RANK = {level: rank for rank, level in enumerate((
    Level.COUNTRY, Level.SPECIAL_CITY, Level.OBLAST, Level.CITY, Level.RAION, Level.HROMADA,
    Level.CITY_DISTRICT))}
_ISO = re.compile(r"UA-?(\d\d)")
_CONJUNCTIONS = frozenset({"та", "і", "й", "и", "and"})

_Index = dict[str, list[str]]


def _add(index: _Index, key: str, code: str) -> None:
    if key:
        codes = index.setdefault(key, [])
        if code not in codes:
            codes.append(code)


@dataclass(frozen=True, slots=True)
class _SearchKeys:
    keys: tuple[str, ...]  # compact names and stems
    words: tuple[str, ...]
    skeletons: tuple[str, ...]


class NameIndex:
    """All the keys of a catalogue's names, built once; lookups are dictionary hits."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._codes: dict[str, str] = {}
        self._full: _Index = {}  # tier 2
        self._name: _Index = {}  # tier 3: names without type words
        self._stem: _Index = {}  # tier 4
        self._name_skeleton: _Index = {}  # tier 5
        self._stem_skeleton: _Index = {}  # tier 6
        self._roots: _Index = {}  # tier 7
        self._search: dict[str, _SearchKeys] = {}
        self._up: dict[str, frozenset[str]] = {}
        for region in catalogue:
            self._up[region.code] = frozenset((region.code, *catalogue.ancestors(region.code)))
            self._codes[region.code.upper()] = region.code
            if region.iso:
                self._codes[region.iso.upper().replace("-", "")] = region.code
            keys: list[str] = []
            words: list[str] = []
            skeletons: list[str] = []
            for name in dict.fromkeys((region.name_uk, region.name_en)):
                reading = _read(name)
                shape = reading.shapes[0]
                _add(self._full, reading.full, region.code)
                if reading.stripped:
                    _add(self._stem, reading.stem, region.code)
                    _add(self._stem_skeleton, shape.skeleton, region.code)
                else:
                    _add(self._name, reading.stem, region.code)
                    _add(self._name_skeleton, shape.skeleton, region.code)
                for root in shape.roots:
                    _add(self._roots, root, region.code)
                keys += (reading.stem, reading.full)
                words += _words(normalize(name))
                skeletons.append(shape.skeleton)
            self._search[region.code] = _SearchKeys(
                tuple(dict.fromkeys(keys)), tuple(dict.fromkeys(words)),
                tuple(dict.fromkeys(skeletons)))

    # -- find --

    def find(self, query: str, within: str | None = None,
             levels: Collection[Level] | None = None) -> Lookup:
        """The regions that ``query`` names, best tier only (see the module docstring)."""
        root = self._root(within)
        if root is None:
            return Lookup(query, ())
        allowed = frozenset(levels) if levels is not None else None
        return Lookup(query, self._sorted(self._find(query, root, allowed)))

    def _root(self, within: str | None) -> str | None:
        if within is None:
            return COUNTRY
        return self._code(within)

    def _code(self, text: str) -> str | None:
        key = text.strip().upper()
        iso = _ISO.fullmatch(key)
        if iso:
            key = "UA" + iso.group(1)
        return self._codes.get(key)

    def _find(self, query: str, root: str, allowed: frozenset[Level] | None) -> list[str]:
        return self._find_tier(query, root, allowed)[1]

    def _find_tier(self, query: str, root: str,
                   allowed: frozenset[Level] | None) -> tuple[int, list[str]]:
        """The number of the first tier that matched (see the module docstring), and its codes."""
        code = self._code(query)
        if code is not None:
            return 1, self._filter([code], root, allowed)
        reading = _read(query, respell=True)
        if not reading.stem:  # empty, or nothing but type words ("район")
            return 0, []
        hinted = allowed
        if reading.hint is not None:
            hinted = reading.hint if allowed is None else allowed & reading.hint
        tiers: list[tuple[_Index, Iterable[str], frozenset[Level] | None]] = [
            (self._full, [reading.full], allowed),
            (self._name, [reading.stem], hinted),
            (self._stem, [reading.stem], hinted),
            (self._name_skeleton, [s.skeleton for s in reading.shapes], hinted),
            (self._stem_skeleton, [s.skeleton for s in reading.shapes], hinted),
            (self._roots, [r for s in reading.shapes for r in s.roots], hinted),
        ]
        for tier, (index, keys, levels) in enumerate(tiers, start=2):
            found = self._filter([c for k in keys for c in index.get(k, ())], root, levels)
            if found:
                return tier, found
        return 8, self._find_compound(query, root, allowed)

    def _find_compound(self, query: str, root: str,
                       allowed: frozenset[Level] | None) -> list[str]:
        parts = [p for p in query.split(",") if normalize(p)]
        if len(parts) > 1:  # "Darnytskyi district, Kyiv": the first part, inside the others
            contexts = [self._find(p, root, None) for p in parts[1:]]
            if all(contexts):
                found = self._find(parts[0], root, allowed)
                return [c for c in found
                        if all(any(ctx in self._up[c] for ctx in ctxs) for ctxs in contexts)]
            return []
        words = normalize(query).split()
        pieces: list[list[str]] = [[]]
        for word in words:
            if word in _CONJUNCTIONS:
                pieces.append([])
            else:
                pieces[-1].append(word)
        if len(pieces) < 2 or not all(pieces):
            return []
        # "м. Слов'янськ та Слов'янська територіальна громада": the region holding every part.
        found_parts = [self._find(" ".join(p), root, None) for p in pieces]
        if not all(found_parts):
            return []
        candidates = dict.fromkeys(c for found in found_parts for c in found)
        return self._filter(
            [c for c in candidates if all(any(c in self._up[m] for m in found)
                                          for found in found_parts)],
            root, allowed)

    def _filter(self, codes: Iterable[str], root: str,
                levels: frozenset[Level] | None) -> list[str]:
        regions = self.catalogue.regions
        return list(dict.fromkeys(
            c for c in codes
            if root in self._up[c] and (levels is None or regions[c].level in levels)))

    def _sorted(self, codes: Iterable[str]) -> tuple[Region, ...]:
        regions = [self.catalogue.regions[c] for c in codes]
        return tuple(sorted(regions, key=lambda r: (_LEVEL_RANK[r.level], r.code)))

    # -- search --

    def search(self, query: str, limit: int = 20,
               levels: Collection[Level] | None = None) -> list[Region]:
        """Regions whose names start with or contain ``query``, best first, for a search box.

        Order: what :meth:`find` answers, if it matched a name as written; names or stems that
        start with the text; names with a word that starts with it; what :meth:`find` answers
        by skeleton; names that contain the text; names whose skeleton starts with the text's
        (other spellings: "Kharko" finds Kharkiv). Within each, the country's top level first
        (special cities, oblasts), then cities, raions, hromadas, city districts; shorter names
        first. Type words narrow the levels as in :meth:`find` ("Kyiv obl").
        """
        if limit <= 0:
            return []
        reading = _read(query, respell=True)
        key = reading.stem
        if not key:
            return []
        chosen = frozenset(levels) if levels is not None else None
        allowed = chosen
        if reading.hint is not None:
            allowed = reading.hint if allowed is None else allowed & reading.hint
        skeletons = [s.skeleton for s in reading.shapes]
        found_tier, found = self._find_tier(query, COUNTRY, chosen)
        rank = 0 if found_tier <= 4 else 3

        def order(region: Region, tier: int) -> tuple[int, int, int, str]:
            return tier, _LEVEL_RANK[region.level], len(region.name_uk), region.name_uk

        ranked = {region.code: order(region, rank) for region in self._sorted(found)}
        for code, keys in self._search.items():
            region = self.catalogue.regions[code]
            if code == COUNTRY or (allowed is not None and region.level not in allowed):
                continue
            tier = _search_tier(key, skeletons, keys)
            if tier is not None:
                ranked[code] = min(order(region, tier), ranked.get(code, order(region, 9)))
        best = sorted(ranked, key=ranked.__getitem__)[:limit]
        return [self.catalogue.regions[c] for c in best]


def _search_tier(key: str, skeletons: list[str], keys: _SearchKeys) -> int | None:
    if any(k.startswith(key) for k in keys.keys):
        return 1
    if any(w.startswith(key) for w in keys.words):
        return 2
    if any(key in k for k in keys.keys):
        return 4
    # A short skeleton ("kVv") is the start of too many names; below four signs, only equal.
    if any(s == q or (len(q) >= 4 and s.startswith(q)) for s in keys.skeletons
           for q in skeletons):
        return 5
    return None
