"""Import a historical record of alerts: the ukrainian-air-raid-sirens-dataset CSV files.

Formats (see the dataset's DATASETS_README.md; all times UTC):

* official, ``official_data_uk.csv`` / ``official_data_en.csv``:
  ``oblast,raion,hromada,level,started_at,finished_at,source``, one row per alert at oblast,
  raion or hromada level, the place named as the official channel names it, in Ukrainian or in
  the national romanization ("Umanska terytorialna hromada");
* volunteer, ``volunteer_data_*.csv``: ``region,started_at,finished_at,naive``, oblast level;
  ``naive=True`` where no all-clear was seen (the end is start + 30 minutes).

Every row is resolved through the catalogue, from the oblast down, each name looked up within
the one above it: by its exact name (Ukrainian, or romanized by the national system of 2010),
then through the :class:`~tryvoga.domain.names.NameIndex`, then by the place's current name if
it was renamed since the record was written (:data:`FORMER_NAMES`). A row that does not resolve
to exactly one region at its own level is listed with the reason, never widened to its parent
and never dropped silently.

An import is one command: one ``history.imported`` event (source, file name, SHA-256, row count,
period) and, in the same transaction, the rows in the history store (``storage/history.py``).
The live state does not change. The idempotency key is the file's SHA-256, and rows are unique
per (source, region, type, start), so importing a file twice, or both language copies of the
official record, adds nothing the second time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from tryvoga.domain.events import Event, HistoryImported, NewEvent, format_time
from tryvoga.domain.model import AlertType
from tryvoga.domain.names import NameIndex, normalize
from tryvoga.domain.regions import COUNTRY, Catalogue, Level
from tryvoga.domain.state import State
from tryvoga.errors import BadRequest, TryvogaError
from tryvoga.ingest.files import read_text
from tryvoga.ingest.former_names import FORMER_NAMES
from tryvoga.service import Actor, Decision, Outcome, Service
from tryvoga.storage.base import WriteTransaction
from tryvoga.storage.history import HistoryBatch, HistoryRow, ImportRecord, Unresolved

IMPORTER = Actor("history-import")

OFFICIAL_COLUMNS = ("oblast", "raion", "hromada", "level", "started_at", "finished_at",
                    "source")
VOLUNTEER_COLUMNS = ("region", "started_at", "finished_at", "naive")

# Places renamed since the record was written (mostly under the 2023 law on decolonizing
# place names): FORMER_NAMES (ingest/former_names.py, shared with the channel) maps a word of
# the old name to the word in the codifier. Tried only after the name as written failed, and
# only within the parent the row gives.

# The national romanization of Ukrainian (Cabinet of Ministers resolution No. 55, 2010): the
# first form at the start of a word, the second elsewhere.
_ROMAN: dict[str, str | tuple[str, str]] = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": ("ye", "ie"),
    "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": ("yi", "i"), "й": ("y", "i"), "к": "k",
    "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "",
    "ю": ("yu", "iu"), "я": ("ya", "ia"), "'": "",
}  # fmt: skip


def romanize(text: str) -> str:
    """Normalized Ukrainian text in the national romanization ("зг" is "zgh")."""
    out: list[str] = []
    previous = " "
    for ch in normalize(text).replace("зг", "zgh"):
        value = _ROMAN.get(ch, ch)
        if isinstance(value, tuple):
            value = value[0] if not previous.isalpha() else value[1]
        out.append(value)
        if ch != "'":
            previous = ch
    return "".join(out)


_CITY_AND = re.compile(r"^(?:м|m)\s+.+?\s+(?:та|ta)\s+(?=\S)")
_CITY = re.compile(r"^m\s+(.+?)\s+ta\s+")


def _key(text: str) -> str:
    """A name as compared here: normalized, romanized, without "м. X та " before a hromada."""
    plain = romanize(text)
    return _CITY_AND.sub("", plain)


_FORMER_ROMAN = {romanize(old): romanize(new) for old, new in FORMER_NAMES.items()}


def _former(text: str) -> str | None:
    """The text with former names replaced by current ones, or None if it has none."""
    words = normalize(text).split()
    for table in (FORMER_NAMES, _FORMER_ROMAN):
        if any(w in table for w in words):
            return " ".join(table.get(w, w) for w in words)
    return None


_TOP = (Level.OBLAST, Level.SPECIAL_CITY)


class PlaceResolver:
    """(oblast, raion, hromada) of a record row -> one region code, cached per distinct place."""

    def __init__(self, catalogue: Catalogue, names: NameIndex | None = None) -> None:
        self.catalogue = catalogue
        self.names = names or NameIndex(catalogue)
        self._children: dict[str, dict[str, list[str]]] = {}
        self._cache: dict[tuple[str, str, str, str], str | Unresolved] = {}

    def _exact(self, parent: str) -> dict[str, list[str]]:
        table = self._children.get(parent)
        if table is None:
            table = {}
            for code in self.catalogue.children.get(parent, ()):
                region = self.catalogue[code]
                for key in {_key(region.name_uk), _key(region.name_en)}:
                    table.setdefault(key, []).append(code)
            self._children[parent] = table
        return table

    def find(self, text: str, parent: str, levels: Sequence[Level]) -> list[str]:
        """The regions directly or indirectly below ``parent`` that ``text`` names."""
        for attempt in (text, _former(text)):
            if attempt is None:
                continue
            exact = [c for c in self._exact(parent).get(_key(attempt), ())
                     if self.catalogue[c].level in levels]
            if len(exact) == 1:
                return exact
            # The index also reads "м. Покров та Покровська громада" as the hromada that holds
            # the city, where two hromadas share the name.
            found = [r.code for r in self.names.find(attempt, within=parent,
                                                      levels=levels).matches]
            if found and (not exact or len(found) < len(exact)):
                return found
            holding = self._holding_city(attempt, exact)
            if holding:
                return holding
            if exact:
                return exact
        return []

    def _holding_city(self, text: str, candidates: list[str]) -> list[str]:
        """Of hromadas named alike, those holding the city a "м. X та ..." name gives first."""
        city = _CITY.match(romanize(text))
        if city is None or len(candidates) < 2:
            return []
        return [c for c in candidates
                if any(_key(self.catalogue[k].name_uk) == city.group(1)
                       for k in self.catalogue.children.get(c, ()))]

    def resolve(self, oblast: str, raion: str = "", hromada: str = "",
                level: str = "") -> str | Unresolved:
        key = (oblast, raion, hromada, level)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._resolve(oblast.strip(), raion.strip(),
                                                      hromada.strip(), level.strip())
        return cached

    def _resolve(self, oblast: str, raion: str, hromada: str, level: str) -> str | Unresolved:
        place = ", ".join(p for p in (hromada, raion, oblast) if p)
        if not oblast:
            return Unresolved(0, place, "no oblast given")
        tops = self.find(oblast, COUNTRY, _TOP)
        if not tops and raion and self.find(raion, COUNTRY, _TOP):
            oblast, raion = raion, oblast  # a row with the two columns swapped
            tops = self.find(oblast, COUNTRY, _TOP)
        if len(tops) != 1:
            return Unresolved(0, place, self._why(oblast, tops))
        code = tops[0]
        wanted = level or ("hromada" if hromada else "raion" if raion else "oblast")
        if wanted not in ("oblast", "raion", "hromada"):
            return Unresolved(0, place, f"unknown level {level!r}")
        if wanted in ("raion", "hromada"):
            if raion:
                raions = self.find(raion, code, (Level.RAION,))
                if len(raions) != 1:
                    return Unresolved(0, place, self._why(raion, raions))
                code = raions[0]
            elif wanted == "raion":
                return Unresolved(0, place, "a raion-level row without a raion")
        if wanted == "hromada":
            if not hromada:
                return Unresolved(0, place, "a hromada-level row without a hromada")
            hromadas = self.find(hromada, code, (Level.HROMADA,))
            if len(hromadas) != 1:
                return Unresolved(0, place, self._why(hromada, hromadas))
            code = hromadas[0]
        return code

    def _why(self, text: str, found: list[str]) -> str:
        if not found:
            return f"no region is named {text!r} there"
        names = "; ".join(f"{self.catalogue[c].name_uk} ({c})" for c in found[:5])
        return f"{text!r} fits several regions: {names}"


# ---- reading a record ---------------------------------------------------------------------------


def _utc(text: str) -> str:
    """'2022-03-15 16:10:34+00:00' -> '2022-03-15T16:10:34.000Z' (an offset is required)."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        raise ValueError("time without a UTC offset")
    return format_time(moment)


def _kind(path: Path, header: Sequence[str]) -> str:
    if tuple(header[:len(OFFICIAL_COLUMNS)]) == OFFICIAL_COLUMNS:
        return "official"
    if tuple(header[:len(VOLUNTEER_COLUMNS)]) == VOLUNTEER_COLUMNS:
        return "volunteer"
    raise BadRequest(
        f"{path.name}: not a record of the air-raid sirens dataset; expected the columns "
        f"{','.join(OFFICIAL_COLUMNS)} (official) or {','.join(VOLUNTEER_COLUMNS)} "
        "(volunteer)", code="record_format")


def record_kind(path: Path) -> str:
    """official or volunteer, from the header line; a clear error for anything else."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror}", code="file_unreadable") from None
    except UnicodeDecodeError:
        raise BadRequest(f"{path} is not UTF-8 text", code="record_format") from None
    return _kind(path, [h.strip() for h in header])


@dataclass
class Record:
    """A record file read and resolved, ready to import."""

    path: Path
    source: str  # official | volunteer
    sha256: str
    total_rows: int
    rows: list[HistoryRow] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)

    @property
    def period(self) -> tuple[str | None, str | None]:
        if not self.rows:
            return None, None
        return min(r.started_at for r in self.rows), max(r.ended_at for r in self.rows)

    def batch(self) -> HistoryBatch:
        start, end = self.period
        return HistoryBatch(self.source, self.path.name, self.sha256, self.total_rows,
                            self.rows, self.unresolved, start, end)


def read_record(path: Path, catalogue: Catalogue, *, resolver: PlaceResolver | None = None,
                progress: Callable[[int], None] | None = None) -> Record:
    """Read and resolve a record file; bad rows are listed in ``unresolved``, not raised."""
    data, text = read_text(path, "record_format")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = tuple(h.strip() for h in next(reader, []))
    kind = _kind(path, header)
    resolver = resolver or PlaceResolver(catalogue)
    record = Record(path, kind, hashlib.sha256(data).hexdigest(), 0)
    width = len(header)
    for line, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        record.total_rows += 1
        if progress is not None and record.total_rows % 1000 == 0:
            progress(1000)
        if len(values) < width:
            record.unresolved.append(Unresolved(line, ",".join(values), "too few columns"))
            continue
        row = dict(zip(header, values, strict=False))
        if kind == "official":
            place_parts = (row["oblast"], row["raion"], row["hromada"])
            found = resolver.resolve(*place_parts, level=row["level"])
            naive = False
            source = (row.get("source") or "official").strip() or "official"
        else:
            place_parts = (row["region"], "", "")
            found = resolver.resolve(row["region"], level="oblast")
            naive = row["naive"].strip().lower() == "true"
            source = "volunteer"
        place = ", ".join(p.strip() for p in place_parts if p.strip())
        if isinstance(found, Unresolved):
            record.unresolved.append(Unresolved(line, place, found.reason))
            continue
        try:
            started, ended = _utc(row["started_at"]), _utc(row["finished_at"])
        except ValueError:
            record.unresolved.append(Unresolved(
                line, place, f"bad time: {row['started_at']!r} / {row['finished_at']!r}"))
            continue
        if ended < started:
            record.unresolved.append(Unresolved(line, place, "ends before it starts"))
            continue
        record.rows.append(HistoryRow(line, found, AlertType.AIR_RAID.value, started, ended,
                                      source, place, naive))
    if progress is not None:
        progress(record.total_rows % 1000)
    return record


# ---- importing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    record: Record
    seq: int | None  # the history.imported event, None if the file was imported before
    added: int  # rows new to the history store
    already: ImportRecord | None = None

    def summary(self) -> dict[str, Any]:
        start, end = self.record.period
        return {
            "file": self.record.path.name, "source": self.record.source,
            "sha256": self.record.sha256, "rows": self.record.total_rows,
            "resolved": len(self.record.rows), "added": self.added,
            "already_in_history": len(self.record.rows) - self.added if self.seq else None,
            "unresolved": [{"row": u.row, "place": u.place, "reason": u.reason}
                           for u in self.record.unresolved],
            "period": {"from": start, "to": end},
            "event": self.seq,
            "imported_before": None if self.already is None else self.already.seq,
        }


def import_record(service: Service, record: Record) -> ImportResult:
    """One command: the history.imported event and the rows, in one transaction.

    A record of which no row resolved is refused: an import event that adds nothing and spans
    no period would only say that something was imported."""
    if not record.rows:
        what = (f"none of its {record.total_rows} rows resolved to a region and valid times"
                if record.total_rows else "it holds no rows")
        raise BadRequest(f"{record.path.name}: {what}; nothing imported", code="record_empty")
    start, end = record.period
    payload = {"source": record.source, "file": record.path.name, "sha256": record.sha256,
               "rows": record.total_rows, "resolved": len(record.rows),
               "unresolved": len(record.unresolved), "period": {"from": start, "to": end}}
    found: dict[str, Any] = {}

    def decide(state: State, time: str) -> Decision:
        return [NewEvent.of(msgspec.convert(payload, HistoryImported))], lambda after: (
            Outcome.CREATED, {"import": {"seq": after.seq, **payload}})

    def store(tx: WriteTransaction, events: Sequence[Event]) -> None:
        # Another process may have imported the same file a moment ago.
        existing = tx.history_import(record.sha256)
        if existing is not None:
            found["existing"] = existing
            raise _AlreadyImported()
        found["added"] = tx.history_add(events[0].seq, events[0].time, record.batch())

    try:
        result = service.run(IMPORTER, {"op": "history.import", "sha256": record.sha256},
                             decide, idempotency_key=f"history:{record.sha256}", store=store)
    except _AlreadyImported:
        return ImportResult(record, None, 0, found["existing"])
    if result.replayed:
        return ImportResult(record, None, 0, None)
    return ImportResult(record, result.events[0].seq, int(found["added"]))


class _AlreadyImported(TryvogaError):
    status = 409
    default_code = "already_imported"

    def __init__(self) -> None:
        super().__init__("this file was already imported")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror}", code="file_unreadable") from None
    return digest.hexdigest()


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def unresolved_lines(items: Iterable[Unresolved]) -> list[str]:
    return [f"  row {u.row}: {u.place}: {u.reason}" for u in items]


__all__ = ["FORMER_NAMES", "IMPORTER", "ImportResult", "PlaceResolver", "Record",
           "count_lines", "file_sha256", "import_record", "read_record", "record_kind",
           "romanize"]
