"""Sentences: a statement cut at its sentence ends (not after abbreviations), whitespace
collapsed, a leading ``date YYYY-MM-DD`` line dropped."""

from __future__ import annotations

import re

__all__ = ["MAX_WORD", "split_sentences"]

MAX_WORD = 64  # characters looked back for the word before a stop or a source
_I = re.IGNORECASE

HEADER = re.compile(r"\A\s*(?:date|дата)\s*:?\s*\d{4}-\d{2}-\d{2}\b[ \t]*", _I)
SENTENCE_END = re.compile(r"[.!?…]+[\"”»’'”)\]]*")
LAST_WORD = re.compile(r"([^\W\d_][\w'’ʼ-]*|\d+)\W*$")
# Words after which a full stop does not end a sentence (lowercase, without the stop).
ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "st", "no", "nos", "vs", "etc", "approx", "gen", "col", "lt", "sgt",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "e.g",
    "i.e", "a.m", "p.m", "м", "г", "с", "смт", "вул", "ул", "просп", "пр", "пров", "пер", "пл",
    "буд", "д", "кв", "корп", "обл", "р-н", "р", "н", "тис", "тыс", "млн", "млрд", "грн", "руб",
    "ім", "им", "див", "см", "т.д", "т.п", "т.ч", "ін", "др", "прим", "ст", "ген", "полк", "підп",
    "п", "о"
})


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, whitespace collapsed, in order."""
    text = HEADER.sub("", text.replace("\r\n", "\n").replace("\r", "\n"), count=1)
    sentences: list[str] = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        chunks: list[list[str]] = []
        for line in (line.strip() for line in paragraph.split("\n")):
            if not line:
                continue
            # A hard-wrapped line goes on the sentence before it; any other line starts anew.
            if chunks and line[0].islower() and not SENTENCE_END.search(chunks[-1][-1][-1:]):
                chunks[-1].append(line)
            else:
                chunks.append([line])
        for parts in chunks:
            sentences.extend(_split_chunk(" ".join(parts)))
    return [s for s in (" ".join(s.split()) for s in sentences) if s]


def _split_chunk(chunk: str) -> list[str]:
    out: list[str] = []
    start = 0
    for match in SENTENCE_END.finditer(chunk):
        end = match.end()
        if end < len(chunk) and not chunk[end].isspace():
            continue  # "10.5", "р-н.Київ"
        rest = chunk[end:].lstrip()
        if rest and rest[0].islower():
            continue
        if match.group().startswith(".") and len(match.group().rstrip("\"”»’')]")) == 1:
            # Only the end of the text before the stop: a word is short (see MAX_WORD).
            before = LAST_WORD.search(chunk[max(start, match.start() - MAX_WORD):match.start()])
            word = before.group(1) if before else ""
            if word.lower() in ABBREVIATIONS or (len(word) == 1 and word.isupper()):
                continue
        out.append(chunk[start:end])
        start = end
    if chunk[start:].strip():
        out.append(chunk[start:])
    return out
