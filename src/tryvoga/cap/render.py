"""A message of the projection → CAP 1.2 XML bytes.

Everything here is a pure function of the message, the catalogue and the publisher's settings,
so the same message always gives the same bytes (signatures included: RSA PKCS#1 v1.5 is
deterministic). Times are Kyiv local with their offset (``2023-05-20T00:41:31+03:00``), whole
seconds, never ``Z``, as the CAP schema requires. The XML is written without indentation: a
verifier that strips whitespace (some do) then sees the very bytes that were signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from lxml import etree

from tryvoga.cap import texts
from tryvoga.cap.geo import polygons_of
from tryvoga.cap.options import LANGUAGES
from tryvoga.cap.projection import Message, Phase
from tryvoga.cap.signing import Signer, signer_from
from tryvoga.domain.model import (
    Alert,
    AlertStatus,
    AlertType,
    Incident,
    IncidentKind,
    IncidentStatus,
    ThreatLevel,
    alert_level,
)
from tryvoga.domain.regions import COUNTRY, Catalogue
from tryvoga.settings import Settings

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_TYPE = "application/cap+xml"
CLOSED_EXPIRY = 3600  # an all-clear or a cancel is news for an hour

# The names of parameters and codes this publisher writes (and its ingest reads back).
P_TYPE = "tryvoga:alert_type"
P_INCIDENT_KIND = "tryvoga:incident_kind"
P_THREAT = "tryvoga:threat"
P_LEVEL = "tryvoga:level"
P_SHELTER = "tryvoga:shelter_seconds"
P_NOTE = "tryvoga:note"
P_INCIDENT_STATUS = "tryvoga:incident_status"
P_GEOMETRY = "tryvoga:geometry_attribution"
P_SHORT = "CMAMtext"  # the 90-character text for cell broadcast, as in the IPAWS profile
G_KATOTTG = "KATOTTG"
G_ISO = "ISO3166-2"
G_ISO_COUNTRY = "ISO3166-1"


def cap_time(log_time: str) -> str:
    """``2023-05-19T21:41:31.000Z`` → ``2023-05-20T00:41:31+03:00``."""
    return texts.kyiv_time(log_time).replace(microsecond=0).isoformat()


def cap_time_after(log_time: str, seconds: int) -> str:
    moment = texts.kyiv_time(log_time).replace(microsecond=0) + timedelta(seconds=seconds)
    return moment.astimezone(texts.KYIV).isoformat()


@dataclass(frozen=True, slots=True)
class Publisher:
    """Who this server speaks for in CAP, and how."""

    sender: str = "tryvoga@localhost"
    sender_name: str = "Tryvoga"
    expiry: int = 86400
    languages: tuple[str, ...] = LANGUAGES
    signer: Signer | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Publisher:
        return cls(sender=settings.cap_sender, sender_name=settings.cap_sender_name,
                   expiry=settings.cap_expiry, languages=settings.cap_languages,
                   signer=signer_from(settings.cap_signing_key, settings.cap_signing_cert))

    def identifier(self, seq: int) -> str:
        return f"urn:tryvoga:{self.sender}:{seq}"

    def seq_of(self, identifier: str) -> int | None:
        prefix = f"urn:tryvoga:{self.sender}:"
        rest = identifier[len(prefix):] if identifier.startswith(prefix) else ""
        return (int(rest) if rest.isascii() and rest.isdigit() and len(rest) <= 18
                and not rest.startswith("0") else None)

    def path(self, seq: int) -> str:
        return "/cap/" + quote(self.identifier(seq), safe=":@-._~") + ".xml"

    # ---- the message ------------------------------------------------------------------------

    def render(self, message: Message, catalogue: Catalogue) -> bytes:
        root = etree.Element(f"{{{CAP_NS}}}alert",
                             nsmap={None: CAP_NS})  # type: ignore[dict-item]
        sent = cap_time(message.time)
        status = "Actual"
        if message.alert is not None and message.alert.status is not AlertStatus.ACTUAL:
            status = message.alert.status.value.capitalize()
        _add(root, "identifier", self.identifier(message.seq))
        _add(root, "sender", self.sender)
        _add(root, "sent", sent)
        _add(root, "status", status)
        _add(root, "msgType", message.phase.msg_type)
        source = (message.alert.source if message.alert is not None
                  else message.incident.source if message.incident is not None else "")
        if source:
            _add(root, "source", source)
        _add(root, "scope", "Public")
        note = _note(message, status)
        if note:
            _add(root, "note", note)
        if message.references:
            _add(root, "references", " ".join(
                f"{self.sender},{self.identifier(seq)},{cap_time(time)}"
                for seq, time in message.references))
        if message.incidents:
            _add(root, "incidents", " ".join(f"incident-{i}" for i in message.incidents))
        for lang in self.languages:
            if message.alert is not None:
                self._alert_info(root, message, message.alert, lang, catalogue, sent)
            elif message.incident is not None:
                self._incident_info(root, message, message.incident, lang, catalogue, sent)
        if self.signer is not None:
            root = self.signer.sign(root)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def headline(self, message: Message, catalogue: Catalogue, lang: str) -> str:
        """At most 160 characters; also the title of the message's feed entry."""
        if message.alert is not None:
            alert = message.alert
            drill = texts.DRILL_PREFIX[lang].get(alert.status.value, "")
            text = drill + _alert_headline(message, alert, lang,
                                           texts.ALERT_NAMES[lang][alert.type],
                                           texts.place(catalogue, alert.region, lang))
        else:
            assert message.incident is not None
            incident = message.incident
            event = texts.INCIDENT_NAMES[lang][incident.kind]
            where = texts.place(catalogue, incident.region, lang)
            if message.phase.closing:
                retracted = {"uk": "Спростовано", "en": "Retracted"}[lang]
                text = f"{retracted}: {event.lower()} — {where}"
            else:
                text = f"{event}: {where} ({texts.INCIDENT_STATUS[lang][incident.status]})"
        return texts.clip(text, texts.HEADLINE_MAX)

    def _expires(self, message: Message) -> str:
        seconds = min(self.expiry, CLOSED_EXPIRY) if message.phase.closing else self.expiry
        return cap_time_after(message.time, seconds)

    def _alert_info(self, root: etree._Element, message: Message, alert: Alert, lang: str,
                    catalogue: Catalogue, sent: str) -> None:
        phase = message.phase
        level = alert_level(alert.threats)
        info = etree.SubElement(root, f"{{{CAP_NS}}}info")
        _add(info, "language", lang)
        cbrne = alert.type in (AlertType.CHEMICAL, AlertType.NUCLEAR)
        _add(info, "category", "CBRNE" if cbrne else "Security")
        event = texts.ALERT_NAMES[lang][alert.type]
        _add(info, "event", event)
        _add(info, "responseType", {Phase.ENDED: "AllClear", Phase.WITHDRAWN: "None"}.get(
            phase, "Shelter"))
        _add(info, "urgency", "Past" if phase.closing else "Immediate")
        if phase.closing:
            severity, certainty = "Minor", ("Observed" if phase is Phase.ENDED else "Unlikely")
        elif level is ThreatLevel.YELLOW:
            severity, certainty = "Severe", "Likely"
        else:
            severity, certainty = "Extreme", "Observed"
        _add(info, "severity", severity)
        _add(info, "certainty", certainty)
        _code(info, "eventCode", P_TYPE, alert.type.value)
        _add(info, "effective", sent)
        _add(info, "onset", cap_time(alert.started_at))
        _add(info, "expires", self._expires(message))
        _add(info, "senderName", self.sender_name)
        where = texts.place(catalogue, alert.region, lang)
        _add(info, "headline", self.headline(message, catalogue, lang))
        _add(info, "description", _alert_description(message, alert, lang, event, where))
        _add(info, "instruction", _alert_instruction(message, alert, lang))
        for threat in alert.threats:
            _code(info, "parameter", P_THREAT, f"{threat.type.value}:{threat.level.value}")
        if level is not None:
            _code(info, "parameter", P_LEVEL, level.value)
        if message.shelter_seconds is not None and not phase.closing:
            _code(info, "parameter", P_SHELTER, str(message.shelter_seconds))
        if alert.note:
            _code(info, "parameter", P_NOTE, alert.note)
        _code(info, "parameter", P_SHORT, _alert_short(message, alert, lang, where))
        self._area(info, message.region, lang, catalogue)

    def _incident_info(self, root: etree._Element, message: Message, incident: Incident,
                       lang: str, catalogue: Catalogue, sent: str) -> None:
        phase = message.phase
        info = etree.SubElement(root, f"{{{CAP_NS}}}info")
        _add(info, "language", lang)
        _add(info, "category", "Fire" if incident.kind is IncidentKind.FIRE else "Safety")
        event = texts.INCIDENT_NAMES[lang][incident.kind]
        _add(info, "event", event)
        _add(info, "responseType", "None" if phase.closing else "Avoid")
        _add(info, "urgency", "Past" if phase.closing else "Expected")
        hurt = bool(incident.killed or incident.injured
                    or incident.kind is IncidentKind.CASUALTIES)
        _add(info, "severity", "Minor" if phase.closing else "Severe" if hurt else "Moderate")
        _add(info, "certainty", {IncidentStatus.PRELIMINARY: "Likely",
                                 IncidentStatus.CONFIRMED: "Observed",
                                 IncidentStatus.RETRACTED: "Unlikely"}[incident.status])
        _code(info, "eventCode", P_INCIDENT_KIND, incident.kind.value)
        _add(info, "effective", sent)
        _add(info, "expires", self._expires(message))
        _add(info, "senderName", self.sender_name)
        where = texts.place(catalogue, incident.region, lang)
        status = texts.INCIDENT_STATUS[lang][incident.status]
        retracted = {"uk": "Спростовано", "en": "Retracted"}[lang]
        _add(info, "headline", self.headline(message, catalogue, lang))
        _add(info, "description", _incident_description(incident, lang, event, where, status))
        _add(info, "instruction", {
            ("uk", False): "Тримайтеся подалі від місця події та виконуйте вказівки "
                           "рятувальників.",
            ("en", False): "Keep away from the area and follow the instructions of the "
                           "emergency services.",
            ("uk", True): "Це повідомлення спростовано: не зважайте на нього.",
            ("en", True): "This report was retracted: disregard it."}[lang, phase.closing])
        _code(info, "parameter", P_INCIDENT_STATUS, incident.status.value)
        if incident.killed is not None:
            _code(info, "parameter", "tryvoga:killed", str(incident.killed))
        if incident.injured is not None:
            _code(info, "parameter", "tryvoga:injured", str(incident.injured))
        lead = (texts.to_gsm7(retracted.upper()) if phase.closing
                else texts.INCIDENT_NAMES[lang][incident.kind].upper())
        tail = ({"uk": "Не зважайте.", "en": "Disregard it."} if phase.closing else
                {"uk": "Тримайтеся подалі.", "en": "Keep away."})[lang]
        _code(info, "parameter", P_SHORT, texts.short_text(lang, lead, where, tail))
        self._area(info, incident.region, lang, catalogue, incident)

    def _area(self, info: etree._Element, code: str, lang: str, catalogue: Catalogue,
              incident: Incident | None = None) -> None:
        rings, attribution = polygons_of(code)
        if rings:
            _code(info, "parameter", P_GEOMETRY, attribution)
        area = etree.SubElement(info, f"{{{CAP_NS}}}area")
        where = texts.place(catalogue, code, lang)
        if incident is not None and incident.address:
            where = f"{incident.address}, {where}"
        _add(area, "areaDesc", where)
        for ring in rings:
            _add(area, "polygon", ring)
        if incident is not None and incident.latitude is not None:
            _add(area, "circle", f"{incident.latitude},{incident.longitude} 0")
        region = catalogue[code]
        if code == COUNTRY:
            _code(area, "geocode", G_ISO_COUNTRY, "UA")
            return
        _code(area, "geocode", G_KATOTTG, code)
        if region.iso:
            _code(area, "geocode", G_ISO, region.iso)


# ---- pieces ----------------------------------------------------------------------------------

def _add(parent: etree._Element, tag: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    element.text = text
    return element


def _code(parent: etree._Element, tag: str, name: str, value: str) -> None:
    element = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    _add(element, "valueName", name)
    _add(element, "value", value)


def _note(message: Message, status: str) -> str:
    parts = []
    if status == "Exercise":
        parts.append("Exercise: not a real alert.")
    elif status == "Test":
        parts.append("Test: not a real alert; no action is needed.")
    if message.phase is Phase.WITHDRAWN and message.alert is not None:
        reason = message.alert.end_reason
        parts.append("Withdrawn: the alert was declared in error"
                     + (f" ({reason})." if reason else "."))
    if message.phase is Phase.RETRACTED:
        parts.append("Retracted: the incident report was wrong.")
    return " ".join(parts)


def _alert_headline(message: Message, alert: Alert, lang: str, event: str, where: str) -> str:
    threats = ", ".join(texts.THREAT_NAMES[lang][t.type] for t in alert.threats)
    if message.phase is Phase.ENDED:
        word = {"uk": "Відбій", "en": "All clear"}[lang]
        return f"{word}: {event.lower()} — {where}"
    if message.phase is Phase.WITHDRAWN:
        word = {"uk": "Скасовано як помилкову", "en": "Cancelled, issued in error"}[lang]
        return f"{word}: {event.lower()} — {where}"
    headline = f"{event}: {where}"
    if threats:
        headline += f" — {threats}"
    if message.phase is Phase.UPDATED:
        headline += {"uk": " (оновлено)", "en": " (updated)"}[lang]
    return headline


def _alert_description(message: Message, alert: Alert, lang: str, event: str,
                       where: str) -> str:
    uk = lang == "uk"
    since = texts.local_moment(alert.started_at, lang)
    parts: list[str] = []
    if message.phase is Phase.ENDED and alert.ended_at is not None:
        seconds = int((texts.kyiv_time(alert.ended_at)
                       - texts.kyiv_time(alert.started_at)).total_seconds())
        parts.append(
            f"Відбій: {event.lower()} у місцевості «{where}» завершилася о "
            f"{texts.local_moment(alert.ended_at, lang)}, тривала {texts.duration(seconds, lang)}."
            if uk else
            f"All clear: the {event.lower()} in {where} ended at "
            f"{texts.local_moment(alert.ended_at, lang)} after {texts.duration(seconds, lang)}.")
    elif message.phase is Phase.WITHDRAWN:
        parts.append(
            f"Скасовано: {event.lower()} у місцевості «{where}», оголошена о {since}, "
            "була помилковою." if uk else
            f"Cancelled: the {event.lower()} in {where} declared at {since} was issued in "
            "error.")
        if alert.end_reason:
            parts.append(("Причина: " if uk else "Reason: ") + alert.end_reason)
    else:
        if message.phase is Phase.UPDATED:
            what = [({"threats": "загрози", "note": "примітка"} if uk else
                     {"threats": "threats", "note": "note"})[c] for c in message.changed]
            parts.append(("Оновлення (" if uk else "Update (") + ", ".join(what) + ").")
        parts.append(f"{event} у місцевості «{where}» з {since}." if uk
                     else f"{event} in {where} since {since}.")
        if alert.threats:
            parts.append(("Загрози: " if uk else "Threats: ")
                         + texts.threats_text(alert.threats, lang) + ".")
    if alert.source:
        parts.append(("Джерело: " if uk else "Source: ") + alert.source + ".")
    if alert.note and not message.phase.closing:
        parts.append(alert.note)
    return " ".join(parts)


def _alert_instruction(message: Message, alert: Alert, lang: str) -> str:
    if message.phase is Phase.ENDED:
        return ("Відбій тривоги: можна залишити укриття. Стежте за новими попередженнями."
                if lang == "uk" else
                "The alert is over: you may leave the shelter. Stay alert for new warnings.")
    if message.phase is Phase.WITHDRAWN:
        return ("Це попередження було надіслано помилково: не зважайте на нього."
                if lang == "uk" else "This warning was issued in error: disregard it.")
    text = texts.SHELTER_ADVICE[lang][alert.type]
    if message.shelter_seconds is not None:
        seconds = message.shelter_seconds
        text += (f" Щоб дістатися укриття, у вас близько {seconds} с." if lang == "uk"
                 else f" You have about {seconds} seconds to reach shelter.")
    return text


def _alert_short(message: Message, alert: Alert, lang: str, where: str) -> str:
    drill = texts.SHORT_DRILL[lang].get(alert.status.value, "")
    if message.phase is Phase.ENDED:
        lead, tail = ({"uk": ("ВІДБІЙ ТРИВОГИ", "Можна вийти з укриття."),
                       "en": ("ALL CLEAR", "You may leave shelter.")})[lang]
    elif message.phase is Phase.WITHDRAWN:
        lead, tail = ({"uk": ("СКАСОВАНО", "Тривога була помилковою."),
                       "en": ("CANCELLED", "Alert issued in error.")})[lang]
    else:
        lead, tail = texts.SHORT_TYPE[lang][alert.type], texts.SHORT_ACTION[lang]
    return texts.short_text(lang, drill + lead, where, tail)


def _incident_description(incident: Incident, lang: str, event: str, where: str,
                          status: str) -> str:
    uk = lang == "uk"
    parts = [f"{event} у місцевості «{where}» ({status})." if uk
             else f"{event} in {where} ({status})."]
    if incident.address:
        parts.append(("Адреса: " if uk else "Address: ") + incident.address + ".")
    if incident.killed:
        parts.append(("Загиблі: " if uk else "Killed: ") + str(incident.killed) + ".")
    if incident.injured:
        parts.append(("Поранені: " if uk else "Injured: ") + str(incident.injured) + ".")
    if incident.description:
        parts.append(incident.description)
    parts.append(("Джерело: " if uk else "Source: ") + incident.source + ".")
    return " ".join(parts)


# ---- settings -------------------------------------------------------------------------------

def check(settings: Settings) -> Publisher:
    """The publisher for these settings, or a SettingsError naming what is wrong."""
    return Publisher.from_settings(settings)
