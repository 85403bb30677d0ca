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

from tryvoga.ingest.statements.answer import Draft, Reading, Unresolved
from tryvoga.ingest.statements.drafts import read_statement
from tryvoga.ingest.statements.sentences import split_sentences

__all__ = ["Draft", "Reading", "Unresolved", "read_statement", "split_sentences"]
