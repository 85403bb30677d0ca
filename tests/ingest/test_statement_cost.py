"""The statement reader is linear in its text (issue 15, defect 2).

No clocks: the work is counted. Every line of Python the reading runs is one step (a trace
function counts them), and every regular-expression call costs the length of the text it is
given (the reader's patterns are wrapped for the test). Doubling a text of any shape must not
much more than double the steps; before the fix the shapes below went up four times.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from tryvoga.domain import names as names_module
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import Catalogue
from tryvoga.ingest import statements
from tryvoga.ingest.statements import read_statement

from .test_statements import EXAMPLE

# The reader's modules: their compiled patterns and their use of ``re`` are counted.
READER_MODULES: list[types.ModuleType] = [
    m for name, m in sorted(sys.modules.items())
    if name == statements.__name__ or name.startswith(statements.__name__ + ".")]


class Counter:
    def __init__(self) -> None:
        self.steps = 0

    def scan(self, text: object) -> None:
        if isinstance(text, str):
            self.steps += len(text)


class CountedPattern:
    """A compiled pattern that charges each call with the length of its subject."""

    def __init__(self, pattern: re.Pattern[str], counter: Counter) -> None:
        self._pattern = pattern
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._pattern, name)
        if name not in ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn",
                        "split"):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            subject = args[1] if name in ("sub", "subn") else args[0]
            self._counter.scan(subject)
            return attribute(*args, **kwargs)
        return counted


class CountedRe:
    """The ``re`` module, with its functions counted the same way."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(re, name)
        if name in ("search", "match", "fullmatch", "finditer", "findall", "split"):
            def counted(pattern: Any, string: str, *args: Any, **kwargs: Any) -> Any:
                self._counter.scan(string)
                return attribute(pattern, string, *args, **kwargs)
            return counted
        if name in ("sub", "subn"):
            def counted_sub(pattern: Any, repl: Any, string: str, *args: Any,
                            **kwargs: Any) -> Any:
                self._counter.scan(string)
                return attribute(pattern, repl, string, *args, **kwargs)
            return counted_sub
        if name == "compile":
            return lambda *a, **k: CountedPattern(re.compile(*a, **k), self._counter)
        return attribute


def _wrap(value: Any, counter: Counter) -> Any:
    if isinstance(value, re.Pattern):
        return CountedPattern(value, counter)
    if isinstance(value, dict) and value and all(isinstance(v, re.Pattern)
                                                 for v in value.values()):
        return {k: CountedPattern(v, counter) for k, v in value.items()}
    return value


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    counter = Counter()
    for module in [*READER_MODULES, names_module]:
        for key, value in list(vars(module).items()):
            wrapped = _wrap(value, counter)
            if wrapped is not value:
                monkeypatch.setattr(module, key, wrapped)
            elif value is re:
                monkeypatch.setattr(module, key, CountedRe(counter))
    yield counter


def steps(text: str, names: NameIndex, counter: Counter) -> int:
    counter.steps = 0

    def trace(frame: types.FrameType, event: str, arg: object) -> Any:
        if event == "line":
            counter.steps += 1
        return trace

    sys.settrace(trace)
    try:
        read_statement(text, names)
    finally:
        sys.settrace(None)
    return counter.steps


@pytest.fixture(scope="module")
def names(catalogue: Catalogue) -> NameIndex:
    return NameIndex(catalogue)


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


# Shapes that were quadratic: a report told many times over; one endless sentence full of
# places; abbreviations that never end a sentence; hard-wrapped lines; many sources in one
# sentence; long words and long runs of capitalised words.
SHAPES = {
    "report": EXAMPLE.read_text("utf-8"),
    "one sentence": "Повітряна тривога у Києві, Харкові та Дарницькому районі, пожежа, уламки, ",
    "abbreviations": "м. Київ вул. Хрещатик обл. ",
    "wrapped": "повітряна тривога у Києві\n",
    "sources": "мер Києва, КМВА, the Kyiv City Military Administration said; ",
    "fires": "heavy fire and a fire and debris, ",
    "capitals": "Київ Харків Одеса Дніпро Львів ",
    "long word": "Київ" * 50 + " ",
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_doubling_a_text_does_not_quadruple_the_work(names: NameIndex, counted: Counter,
                                                     shape: str) -> None:
    unit = SHAPES[shape]
    small = steps(_repeat(unit, 3_000), names, counted)
    large = steps(_repeat(unit, 12_000), names, counted)
    # Four times the text: linear work is about four times the steps; quadratic is sixteen.
    assert large < 6 * small, (shape, small, large)


def test_the_measure_sees_quadratic_work(counted: Counter) -> None:
    """The measure can fail: looking back over the whole text at every stop (what the
    sentence splitter did) counts sixteen times the steps for four times the text."""
    probe = CountedRe(counted)

    def look_back_at_every_stop(size: int) -> int:
        counted.steps = 0
        text = _repeat("м. Київ ", size)
        for stop in range(0, size, 8):
            probe.search(r"\w+\W*$", text[:stop])
        return counted.steps

    assert look_back_at_every_stop(24_000) > 10 * look_back_at_every_stop(6_000)
