"""A statement's sentences, read one by one, become drafts: one alert per region and type,
one all-clear per region and type, one incident per region and kind."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tryvoga.domain.model import AlertType, IncidentKind, IncidentStatus, ThreatType
from tryvoga.domain.names import NameIndex
from tryvoga.domain.regions import COUNTRY, Level
from tryvoga.ingest.statements.answer import (
    Draft,
    Reading,
    Unresolved,
    candidates_json,
    region_name,
)
from tryvoga.ingest.statements.lexicon import ABOUT_THIS, ALERTS, GOES_ON
from tryvoga.ingest.statements.reader import MAX_CONTEXTS, Reader, Sentence, Source
from tryvoga.ingest.statements.sentences import split_sentences

__all__ = ["read_statement"]

@dataclass(slots=True)
class _AlertDraft:
    order: tuple[int, int]
    region: str
    type: AlertType
    evidence: str
    source: Source | None
    local: list[str]
    why: str
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
    why: str
    killed: int | None = None
    injured: int | None = None


def read_statement(text: str, names: NameIndex, *, source: str = "",
                   within: str | None = None) -> Reading:
    """The proposals and unresolved places of one statement (see the module docstring)."""
    return _Statement(names, source, within, text).reading()


class _Statement:
    def __init__(self, names: NameIndex, source: str, within: str | None, text: str) -> None:
        sentences = split_sentences(text)
        # Read twice: the first reading finds the places the statement is about, the second
        # reads each sentence knowing them.
        first = Reader(names, source, within)
        for i, sentence in enumerate(sentences):
            first.read(i, sentence)
        seeds = [c for c in first.contexts if names.catalogue[c].level in (
            Level.CITY, Level.SPECIAL_CITY, Level.OBLAST)][-MAX_CONTEXTS:]
        self.reader = Reader(names, source, within, seeds)
        self.catalogue = names.catalogue
        self.sentences = [self.reader.read(i, s) for i, s in enumerate(sentences)]
        self.sources = _attribute(self.sentences)
        self.alerts: dict[tuple[str, AlertType], _AlertDraft] = {}
        self.threat_notes: list[tuple[Sentence, str]] = []
        self.clears: dict[tuple[str, AlertType], tuple[tuple[int, int], Draft]] = {}
        self.incidents: dict[tuple[str, IncidentKind], _IncidentDraft] = {}
        self.unresolved: list[Unresolved] = []
        # The most precise places of the latest sentence that named any, and that sentence:
        # where an incident whose own sentence names no place happened.
        self.carried: tuple[list[str], Sentence] | None = None

    def source_text(self, source: Source | None, local: Sequence[str]) -> str:
        if source is None:
            return self.reader.default_source
        return self.reader.source_name(source, local)

    def name(self, code: str) -> str:
        return region_name(self.catalogue, code)

    def places(self, sentence: Sentence) -> list[str]:
        """Where a sentence's event happens: the places it names, else its source's place."""
        if sentence.places:
            return sentence.places
        if sentence.source is not None and sentence.source.place is not None:
            return [sentence.source.place]
        return []

    def no_place(self, text: str, sentence: Sentence, candidates: Iterable[str] = ()) -> None:
        regions = (self.catalogue[c] for c in candidates)
        self.unresolved.append(Unresolved(
            text, "no_place", candidates_json(self.catalogue, regions), sentence.text))

    def reading(self) -> Reading:
        for sentence in self.sentences:
            if sentence.has_event:
                self.unresolved += sentence.unresolved
                self.declarations(sentence)
                self.all_clears(sentence)
                self.incident(sentence)
            precise = self.precise(sentence.places)
            if precise:
                self.carried = (precise, sentence)
        self.attach_threats()
        ordered: list[tuple[tuple[int, int], Draft]] = []
        for alert in self.alerts.values():
            threats = tuple(t.value for t in ThreatType if t in alert.threats)
            ordered.append((alert.order, Draft(
                "alert", alert.region, self.name(alert.region), alert.type.value, threats, None,
                "actual", self.source_text(alert.source, alert.local), "", alert.evidence,
                alert.why)))
        ordered += self.clears.values()
        for item in self.incidents.values():
            ordered.append((item.order, Draft(
                "incident", item.region, self.name(item.region), None, (), item.kind.value,
                item.status.value, item.source, item.description, item.evidence, item.why,
                item.killed, item.injured)))
        ordered.sort(key=lambda pair: pair[0])
        unique = {(u.text, u.evidence): u for u in reversed(self.unresolved)}
        return Reading(tuple(d for _, d in ordered), tuple(reversed(unique.values())))

    def precise(self, places: Sequence[str]) -> list[str]:
        """The most precise of ``places``: a district, not the city that holds it."""
        holding = {above for other in places for above in self.catalogue.ancestors(other)}
        return [c for c in places if c != COUNTRY and c not in holding]

    def place_note(self, sentence: Sentence, places: Sequence[str]) -> str:
        names = ", ".join(self.name(c) for c in places)
        note = f"place: {names}, named in the sentence" if sentence.places else ""
        if sentence.notes:
            note += ("; " if note else "") + "; ".join(sentence.notes)
        return note

    def declarations(self, sentence: Sentence) -> None:
        source = self.sources[sentence.index]
        for number, alert_type in enumerate(sentence.alert_types):
            places = self.places(sentence)
            how = self.place_note(sentence, places) if sentence.places else (
                "place: its source's" if places else "")
            if not places:
                places = sentence.before[-1:]
                how = f"place: {self.name(places[0])}, what the statement is about" \
                    if places else ""
            if not places:
                said = ALERTS[alert_type].search(sentence.text)
                self.no_place(said.group() if said else sentence.text, sentence)
            why = f"an alert declared or in force (“{sentence.said.get('alert', '')}”); {how}"
            for offset, code in enumerate(places):
                key = (code, alert_type)
                if key not in self.alerts:
                    self.alerts[key] = _AlertDraft(
                        (sentence.index, number * 100 + offset), code, alert_type, sentence.text,
                        source, sentence.contexts, why)
                self.alerts[key].threats += sentence.threats
        if sentence.threats and sentence.threat_now and not sentence.incident_kinds:
            for code in self.places(sentence) or sentence.before[-1:]:
                self.threat_notes.append((sentence, code))

    def all_clears(self, sentence: Sentence) -> None:
        source = self.source_text(self.sources[sentence.index], sentence.contexts)
        for alert_type in sentence.all_clear_types:
            # "Відбій тривоги." alone ends what the statement declared, or its city's alert.
            places = self.places(sentence)
            if not places and any(u.reason == "vague" for u in sentence.unresolved):
                continue  # "all clear in the regions": which ones, it does not say
            places = (places or list(dict.fromkeys(a.region for a in self.alerts.values()))
                      or sentence.before[-1:])
            if not places:
                self.no_place(sentence.text, sentence)
            for offset, code in enumerate(places):
                key = (code, alert_type)
                if key not in self.clears:
                    why = (f"an all-clear (“{sentence.said.get('all_clear', '')}”); "
                           + (self.place_note(sentence, places) if sentence.places
                              else "place: the alerts the statement declared, or its place"))
                    self.clears[key] = ((sentence.index, offset), Draft(
                        "all_clear", code, self.name(code), alert_type.value, (), None, None,
                        source, "", sentence.text, why))

    def incident(self, sentence: Sentence) -> None:
        if not sentence.incident_kinds:
            return
        precise = self.precise(sentence.places)
        how = self.place_note(sentence, precise)
        if not precise and not sentence.national:
            # No place in the sentence: a city it names otherwise ("атакували Дніпро"), the
            # place of the sentences before it, its source's, else what the statement is about.
            if sentence.named:
                precise = sentence.named[-1:]
                how = f"place: {self.name(precise[0])}, named in the sentence"
            elif self.carried is not None:
                precise, carrier = self.carried
                how = (f"place carried from an earlier sentence: "
                       f"{', '.join(self.name(c) for c in precise)} (“{carrier.text[:120]}”)")
            elif sentence.source is not None and sentence.source.place is not None:
                precise = [sentence.source.place]
                how = f"place carried from its source: {self.name(precise[0])}"
            elif sentence.before:
                precise = sentence.before[-1:]
                how = f"place carried from the statement: {self.name(precise[0])}"
        if not precise:
            # A sentence about the whole country ("the war in Ukraine has killed ...") is
            # background, not an incident without its place.
            if not sentence.national and not any(u.reason != "vague"
                                                 for u in sentence.unresolved):
                self.no_place(", ".join(k.value for k in sentence.incident_kinds), sentence)
            return
        objects = "; ".join(dict.fromkeys(sentence.objects))
        source = self.source_text(self.sources[sentence.index], sentence.contexts)
        status = f"; preliminary (“{sentence.said['preliminary']}”)" \
            if "preliminary" in sentence.said else ""
        for number, kind in enumerate(sentence.incident_kinds):
            description = kind.value + (f": {objects}" if objects else "")
            killed = injured = None
            if kind is IncidentKind.CASUALTIES:
                killed, injured = sentence.killed, sentence.injured
                counts = [f"{n} {what}" for n, what in ((killed, "killed"), (injured, "injured"))
                          if n is not None]
                if counts:
                    description = f"casualties: {', '.join(counts)}"
            why = f"{kind.value} (“{sentence.said.get(kind.value, '')}”){status}; {how}"
            for offset, code in enumerate(precise):
                earlier = self.incidents.get((code, kind))
                if earlier is not None:  # the same incident told again
                    if sentence.status is IncidentStatus.CONFIRMED:
                        earlier.status = IncidentStatus.CONFIRMED
                    if killed is not None and (earlier.killed or 0) < killed:
                        earlier.killed = killed
                    if injured is not None and (earlier.injured or 0) < injured:
                        earlier.injured = injured
                    continue
                self.incidents[(code, kind)] = _IncidentDraft(
                    (sentence.index, 1000 + number * 100 + offset), code, kind, sentence.status,
                    source, description, sentence.text, why, killed, injured)

    def attach_threats(self) -> None:
        """Threats go to the alerts the statement declared on the region or around it; a
        threat alone (drones tracked, a city attacked) declares nothing."""
        for sentence, code in self.threat_notes:
            # The region's own air-raid alert, or those of the regions containing it.
            matching = [alert for alert in (self.alerts.get((c, AlertType.AIR_RAID)) for c in (
                [code, *reversed(self.catalogue.ancestors(code))])) if alert is not None]
            for draft in matching:
                draft.threats += sentence.threats
                if draft.source is None:
                    draft.source = self.sources[sentence.index]


def _attribute(sentences: Sequence[Sentence]) -> dict[int, Source | None]:
    """Who said each sentence: its own source, the one a following "Про це повідомила ..."
    names, the last speaker if it goes on ("She added"), else the first source the statement
    names (its issuer; in a news report, whoever it is built on)."""
    first = next((s.source for s in sentences if s.source is not None), None)
    out: dict[int, Source | None] = {}
    speaker: Source | None = None
    for i, sentence in enumerate(sentences):
        own = sentence.source
        if own is None and i + 1 < len(sentences) and ABOUT_THIS.search(sentences[i + 1].text):
            own = sentences[i + 1].source
        if own is None and speaker is not None and GOES_ON.search(sentence.text):
            own = speaker
        if sentence.source is not None:
            speaker = sentence.source
        out[sentence.index] = own or first
    return out
