"""Morphology, loaded when first needed and kept: pymorphy3 with its Ukrainian and Russian
dictionaries (each costs about half a second and some tens of megabytes to load).

Used to tell a capitalised common word that opens a sentence ("Саме", "Тому", "Именно",
"Зазначається") from a place name: a word that the dictionaries know as a particle, adverb,
pronoun, conjunction, preposition, interjection, numeral or verb is not read as a place on its
own.
"""

from __future__ import annotations

import functools
import re
from typing import Any

__all__ = ["is_common_word", "is_function_word", "load"]

_CYRILLIC = re.compile(r"[а-яёіїєґ]", re.IGNORECASE)
_UKRAINIAN = re.compile(r"[іїєґ]", re.IGNORECASE)
_RUSSIAN = re.compile(r"[ыэъё]", re.IGNORECASE)
_FUNCTION = frozenset({"PRCL", "ADVB", "NPRO", "CONJ", "PREP", "INTJ", "PRED", "COMP", "NUMR"})
# Words that are never a place's name on their own: function words, verbs and their forms.
_COMMON = _FUNCTION | {"VERB", "INFN", "PRTF", "PRTS", "GRND", "ADJS"}


@functools.cache
def _analyzer(lang: str) -> Any:
    import pymorphy3  # type: ignore[import-untyped]  # the package ships no type hints

    return pymorphy3.MorphAnalyzer(lang=lang)


def load() -> None:
    """Load both dictionaries now (a reader process does, before it takes statements)."""
    _analyzer("uk")
    _analyzer("ru")


@functools.lru_cache(maxsize=4096)
def is_function_word(word: str) -> bool:
    """Whether ``word`` is, in a dictionary of its language, a particle, adverb, pronoun,
    conjunction, preposition, interjection or numeral."""
    return _known_as(word, _FUNCTION)


@functools.lru_cache(maxsize=4096)
def is_common_word(word: str) -> bool:
    """Whether ``word`` is a function word or a verb (or one of its forms) in a dictionary of
    its language: "Зазначається", "Саме", "Тому" open sentences and name no place."""
    return _known_as(word, _COMMON)


def _known_as(word: str, parts: frozenset[str]) -> bool:
    if not _CYRILLIC.search(word):
        return False
    langs = ["uk"] if _UKRAINIAN.search(word) else ["ru"] if _RUSSIAN.search(word) else ["uk",
                                                                                       "ru"]
    for lang in langs:
        for parse in _analyzer(lang).parse(word.lower()):
            if parse.is_known and (parse.tag.POS in parts or "Apro" in parse.tag.grammemes):
                return True
    return False


@functools.lru_cache(maxsize=4096)
def nominative(text: str) -> str | None:
    """``text`` with each Ukrainian or Russian word put in the nominative, number kept ("у
    Черкасах" → "Черкаси", "Кривому Розі" → "Кривий Ріг", "в Черкассах" → "Черкассы"), or
    None if no word changes: the dictionaries' reading of an inflected place name, for the
    name index when the name as written finds nothing."""
    words = text.split()
    if not words or not all(_CYRILLIC.search(w) for w in words):
        return None
    langs = ["uk"] if _UKRAINIAN.search(text) else ["ru"] if _RUSSIAN.search(text) else ["uk",
                                                                                       "ru"]
    out: list[str] = []
    for word in words:
        best = word
        for lang in langs:
            for parse in _analyzer(lang).parse(word.lower()):
                case = parse.tag.case
                if case is None or case == "nomn" or parse.tag.POS not in ("NOUN", "ADJF"):
                    continue
                wanted = {"nomn"} | ({parse.tag.number} if parse.tag.number else set())
                inflected = parse.inflect(wanted)
                if inflected is not None:
                    best = inflected.word
                    break
            if best != word:
                break
        out.append(best[:1].upper() + best[1:] if word[:1].isupper() else best)
    result = " ".join(out)
    return None if result == text else result
