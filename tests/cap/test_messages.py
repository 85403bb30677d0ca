"""CAP messages as a projection of the log: lifecycle, content, schema, determinism, signatures."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tests.certs import KeyPair
from tests.regions import KYIV, LVIV_OBLAST
from tests.regions import KYIV_DARNYTSKYI as DARNYTSKYI
from tryvoga.cap import texts
from tryvoga.cap.projection import CapProjection, Message, Phase
from tryvoga.cap.render import Publisher
from tryvoga.cap.signing import Signer
from tryvoga.commands import Declare, ReportIncident
from tryvoga.domain.model import AlertType
from tryvoga.domain.regions import Catalogue
from tryvoga.service import Actor, Service
from tryvoga.settings import SettingsError
from tryvoga.storage.sqlite import SQLiteStorage

from .conftest import NS, assert_valid_cap, find, kyiv_night, verify_independently

PUBLISHER = Publisher(sender="cap@tryvoga.test", sender_name="Kyiv test authority")


def project(storage: SQLiteStorage, catalogue: Catalogue) -> CapProjection:
    projection = CapProjection(catalogue)
    projection.apply_all(storage.iter_events())
    return projection


def chain(projection: CapProjection, name: str) -> list[Message]:
    return [projection.messages[s] for s in projection.chains[name]]


def rendered(message: Message, catalogue: Catalogue,
             publisher: Publisher = PUBLISHER) -> etree._Element:
    return assert_valid_cap(publisher.render(message, catalogue))


def test_every_message_of_the_night_validates_against_the_official_schema(
        service: Service, admin: Actor, storage: SQLiteStorage, catalogue: Catalogue) -> None:
    kyiv_night(service, admin)
    projection = project(storage, catalogue)
    assert len(projection.messages) == 11
    for message in projection.messages.values():
        root = rendered(message, catalogue)
        assert find(root, "cap:identifier") == [PUBLISHER.identifier(message.seq)]
        assert find(root, "cap:sender") == ["cap@tryvoga.test"]
        assert find(root, "cap:scope") == ["Public"]
        assert find(root, "cap:info/cap:language") == ["uk", "en"]
        for info in root.findall("cap:info", NS):
            assert len(find(info, "cap:headline")[0]) <= texts.HEADLINE_MAX
            short = [p.findtext("cap:value", namespaces=NS) or "" for p in
                     info.findall("cap:parameter", NS)
                     if p.findtext("cap:valueName", namespaces=NS) == "CMAMtext"]
            assert len(short) == 1 and 0 < len(short[0]) <= 90 and texts.is_gsm7(short[0])
            for element in ("category", "event", "responseType", "urgency", "severity",
                            "certainty", "expires", "senderName", "description",
                            "instruction"):
                assert find(info, f"cap:{element}"), element
            assert find(info, "cap:area/cap:areaDesc")


def test_lifecycle_declared_updated_ended(service: Service, admin: Actor,
                                          storage: SQLiteStorage, catalogue: Catalogue) -> None:
    ids = kyiv_night(service, admin)
    projection = project(storage, catalogue)
    declared, updated, ended = chain(projection, f"alert:{ids['kyiv']}")
    assert [m.phase for m in (declared, updated, ended)] == [Phase.DECLARED, Phase.UPDATED,
                                                              Phase.ENDED]
    first = rendered(declared, catalogue)
    assert find(first, "cap:msgType") == ["Alert"] and find(first, "cap:status") == ["Actual"]
    assert not find(first, "cap:references")
    assert find(first, "cap:info/cap:responseType") == ["Shelter", "Shelter"]
    assert find(first, "cap:info/cap:urgency") == ["Immediate", "Immediate"]
    assert find(first, "cap:info/cap:category") == ["Security", "Security"]
    assert find(first, "cap:info/cap:headline")[1] == "Air raid alert: Kyiv — attack drones"
    assert "90 seconds" in find(first, "cap:info/cap:instruction")[1]
    assert "90 с" in find(first, "cap:info/cap:instruction")[0]
    assert find(first, "cap:info/cap:area/cap:geocode/cap:value")[:2] == [KYIV, "UA-30"]
    for ring in find(first, "cap:info/cap:area/cap:polygon"):
        pairs = ring.split(" ")
        assert pairs[0] == pairs[-1] and 4 <= len(pairs) <= 300
        lat, lon = map(float, pairs[0].split(","))
        assert 50 < lat < 51 and 30 < lon < 31  # lat,lon order, in Kyiv

    second = rendered(updated, catalogue)
    assert find(second, "cap:msgType") == ["Update"]
    sent_first = find(first, "cap:sent")[0]
    assert find(second, "cap:references") == [
        f"cap@tryvoga.test,{PUBLISHER.identifier(declared.seq)},{sent_first}"]
    # Both incidents were linked, public, and reported before the update.
    assert find(second, "cap:incidents") == [f"incident-{ids['fire']} incident-{ids['debris']}"]
    params = find(second, "cap:info/cap:parameter/cap:value")
    assert "drones:red" in params and "ballistic:red" in params and "90" in params

    last = rendered(ended, catalogue)
    assert find(last, "cap:msgType") == ["Update"]
    assert find(last, "cap:info/cap:responseType") == ["AllClear", "AllClear"]
    assert find(last, "cap:info/cap:urgency") == ["Past", "Past"]
    assert len(find(last, "cap:references")[0].split(" ")) == 2  # the whole chain


def test_withdrawn_is_a_cancel_and_drills_are_never_actual(
        service: Service, admin: Actor, storage: SQLiteStorage, catalogue: Catalogue) -> None:
    ids = kyiv_night(service, admin)
    projection = project(storage, catalogue)
    cancel = rendered(chain(projection, f"alert:{ids['lviv']}")[-1], catalogue)
    assert find(cancel, "cap:msgType") == ["Cancel"]
    assert "wrong oblast" in find(cancel, "cap:note")[0]
    assert find(cancel, "cap:references")
    drill = rendered(chain(projection, f"alert:{ids['drill']}")[0], catalogue)
    assert find(drill, "cap:status") == ["Exercise"]
    assert find(drill, "cap:info/cap:category") == ["CBRNE", "CBRNE"]
    assert find(drill, "cap:info/cap:headline")[1].startswith("EXERCISE. ")
    test = rendered(chain(projection, f"alert:{ids['test']}")[0], catalogue)
    assert find(test, "cap:status") == ["Test"]
    # The whole country: ISO 3166-1, no KATOTTG code and no polygon.
    assert find(test, "cap:info/cap:area/cap:geocode/cap:value") == ["UA", "UA"]
    assert not find(test, "cap:info/cap:area/cap:polygon")


def test_incidents_are_fire_or_safety_messages(service: Service, admin: Actor,
                                               storage: SQLiteStorage,
                                               catalogue: Catalogue) -> None:
    ids = kyiv_night(service, admin)
    projection = project(storage, catalogue)
    reported, confirmed = chain(projection, f"incident:{ids['fire']}")
    first = rendered(reported, catalogue)
    assert find(first, "cap:msgType") == ["Alert"]
    assert find(first, "cap:info/cap:category") == ["Fire", "Fire"]
    assert find(first, "cap:info/cap:certainty") == ["Likely", "Likely"]
    assert find(first, "cap:info/cap:area/cap:circle") == ["50.41,30.64 0"] * 2
    assert DARNYTSKYI in find(first, "cap:info/cap:area/cap:geocode/cap:value")
    assert find(first, "cap:info/cap:area/cap:polygon")  # Kyiv's districts have geometry
    assert find(rendered(confirmed, catalogue), "cap:info/cap:certainty") == ["Observed"] * 2
    retracted = rendered(chain(projection, f"incident:{ids['debris']}")[-1], catalogue)
    assert find(retracted, "cap:msgType") == ["Cancel"]
    assert find(retracted, "cap:info/cap:category") == ["Safety", "Safety"]


def test_embargoed_incident_is_not_public_until_its_time(
        service: Service, admin: Actor, storage: SQLiteStorage, catalogue: Catalogue) -> None:
    service.handle(
        admin,
        ReportIncident.of(
            kind="damage",
            region=DARNYTSKYI,
            source="Police",
            embargo_until="2999-01-01T00:00:00+00:00",
        ),
    )
    projection = project(storage, catalogue)
    message = next(iter(projection.messages.values()))
    assert not projection.public(message, "2026-01-01T00:00:00.000Z")
    assert projection.public(message, "2999-01-01T00:00:00.000Z")
    assert projection.feed("2026-01-01T00:00:00.000Z", 3600) == []


def test_rebuild_gives_the_same_bytes(service: Service, admin: Actor, storage: SQLiteStorage,
                                      catalogue: Catalogue) -> None:
    kyiv_night(service, admin)
    whole = project(storage, catalogue)
    # Followed live in odd batches, the projection makes the very same messages.
    live = CapProjection(catalogue)
    events = storage.read_events()
    for start in range(0, len(events), 3):
        live.apply_all(events[start:start + 3])
    assert list(whole.messages) == list(live.messages)
    for seq, message in whole.messages.items():
        assert PUBLISHER.render(message, catalogue) == PUBLISHER.render(live.messages[seq],
                                                                        catalogue)


def test_signed_messages_verify_independently(
        service: Service, admin: Actor, storage: SQLiteStorage, catalogue: Catalogue,
        key_pair: KeyPair, tmp_path: Path) -> None:
    kyiv_night(service, admin)
    signer = Signer(key_pair.key.read_text(), key_pair.cert.read_text())
    publisher = Publisher(sender="cap@tryvoga.test", signer=signer)
    projection = project(storage, catalogue)
    for message in list(projection.messages.values())[:4]:
        body = publisher.render(message, catalogue)
        root = assert_valid_cap(body)
        assert root[-1].tag == "{http://www.w3.org/2000/09/xmldsig#}Signature"
        assert body == publisher.render(message, catalogue)  # deterministic, signature too
        verify_independently(body, key_pair.cert, tmp_path)
    tampered = publisher.render(next(iter(projection.messages.values())), catalogue).replace(
        b"Immediate", b"Expected", 1)
    path = tmp_path / "tampered.xml"
    path.write_bytes(tampered)
    import capvalidator
    assert not capvalidator.check_signature(tampered).passed


def test_a_key_and_certificate_that_do_not_match_are_refused(key_pair: KeyPair) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    with pytest.raises(SettingsError, match="does not belong"):
        Signer(other, key_pair.cert.read_text())
    with pytest.raises(SettingsError, match="PEM private key"):
        Signer("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----",
               key_pair.cert.read_text())


def test_short_texts_fit_90_gsm7_characters_even_for_long_names(catalogue: Catalogue) -> None:
    longest = max((r for r in catalogue), key=lambda r: len(r.name_uk))
    for lang in ("uk", "en"):
        text = texts.short_text(lang, texts.SHORT_DRILL[lang]["exercise"]
                                + texts.SHORT_TYPE[lang][AlertType.URBAN_FIGHTS],
                                texts.place(catalogue, longest.code, lang),
                                texts.SHORT_ACTION[lang])
        assert len(text) <= 90 and texts.is_gsm7(text), text
    assert texts.transliterate("Згурівка, Ямпіль, Знам'янка") == "Zghurivka, Yampil, Znamianka"


def test_lviv_oblast_has_its_polygon_and_iso_code(service: Service, admin: Actor,
                                                  storage: SQLiteStorage,
                                                  catalogue: Catalogue) -> None:
    service.handle(admin, Declare.of(regions=[LVIV_OBLAST], type="air_raid"))
    root = rendered(next(iter(project(storage, catalogue).messages.values())), catalogue)
    assert find(root, "cap:info/cap:area/cap:geocode/cap:value")[:2] == [LVIV_OBLAST, "UA-46"]
    assert len(find(root, "cap:info/cap:area/cap:polygon")) == 2  # uk and en, one ring each
