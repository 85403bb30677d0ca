"""Optional enveloped XML-DSig signatures (RSA-SHA256, X.509 certificate) on CAP messages.

The signature is the last child of ``<alert>``, as CAP 1.2 allows. RSA PKCS#1 v1.5 signatures
are deterministic, so every worker signs a message to the same bytes. Exclusive XML
canonicalisation is used because it is the form every verifier supports.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from signxml import (  # type: ignore[attr-defined]
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureMethod,
    XMLSigner,
    methods,
)

from tryvoga.settings import SettingsError


class Signer:
    def __init__(self, key_pem: str, cert_pem: str) -> None:
        try:
            key = serialization.load_pem_private_key(key_pem.encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeEncodeError) as exc:
            raise SettingsError(f"TRYVOGA_CAP_SIGNING_KEY: not an unencrypted PEM private key "
                                f"({exc})") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SettingsError("TRYVOGA_CAP_SIGNING_KEY: CAP signatures here are RSA-SHA256; "
                                "give an RSA key")
        try:
            cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise SettingsError(f"TRYVOGA_CAP_SIGNING_CERT: not a PEM X.509 certificate "
                                f"({exc})") from None
        if cert.public_key() != key.public_key():
            raise SettingsError("TRYVOGA_CAP_SIGNING_CERT does not belong to "
                                "TRYVOGA_CAP_SIGNING_KEY (their public keys differ)")
        self._key = key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
        self._cert = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        self._signer = XMLSigner(
            method=methods.enveloped,
            signature_algorithm=SignatureMethod.RSA_SHA256,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)

    def sign(self, root: etree._Element) -> etree._Element:
        signed: etree._Element = self._signer.sign(root, key=self._key, cert=self._cert)
        return signed


def signer_from(key_pem: str, cert_pem: str) -> Signer | None:
    if not key_pem and not cert_pem:
        return None
    if not key_pem or not cert_pem:
        raise SettingsError("CAP signing needs both TRYVOGA_CAP_SIGNING_KEY and "
                            "TRYVOGA_CAP_SIGNING_CERT (or their _FILE forms), or neither")
    return Signer(key_pem, cert_pem)
