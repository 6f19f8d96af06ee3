"""The per-run PKI: chains verify, names and usages are right, cacerts has Istio's layout."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from scenarios import pki

HOST = "istiod.external-istiod.eicp.test"


@pytest.fixture(scope="module")
def material() -> pki.SuitePki:
    return pki.generate(HOST, run_label="test")


def spki(public_key: Any) -> bytes:
    return bytes(
        public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def cert(material: pki.SuitePki, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(material.material(name))


def test_gateway_certificate_verifies_for_the_hostname_from_the_root(material: pki.SuitePki) -> None:
    root, leaf = cert(material, pki.ROOT_CERT), cert(material, pki.GATEWAY_CERT)
    verifier = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName(HOST))
    chain = verifier.verify(leaf, [])
    assert chain[-1] == root
    wrong = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName("other.example.test"))
    with pytest.raises(VerificationError):
        wrong.verify(leaf, [])


def test_gateway_certificate_does_not_verify_against_another_run(material: pki.SuitePki) -> None:
    other_root = cert(pki.generate(HOST), pki.ROOT_CERT)
    verifier = PolicyBuilder().store(Store([other_root])).build_server_verifier(x509.DNSName(HOST))
    with pytest.raises(VerificationError):
        verifier.verify(cert(material, pki.GATEWAY_CERT), [])


def test_gateway_certificate_names_and_usages(material: pki.SuitePki) -> None:
    leaf = cert(material, pki.GATEWAY_CERT)
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == [HOST]
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    assert leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )


def test_istiod_intermediate_is_a_ca_under_the_root(material: pki.SuitePki) -> None:
    root, intermediate = cert(material, pki.ROOT_CERT), cert(material, pki.ISTIOD_CA_CERT)
    intermediate.verify_directly_issued_by(root)
    constraints = intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    usage = intermediate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    root_constraints = root.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert root_constraints.ca and root.issuer == root.subject
    now = dt.datetime.now(dt.UTC)
    for item in (root, intermediate, cert(material, pki.GATEWAY_CERT)):
        assert item.not_valid_before_utc <= now <= item.not_valid_after_utc


def test_cacerts_layout_is_what_istios_plugin_ca_reads(material: pki.SuitePki) -> None:
    data = material.secret_data(pki.CACERTS_LAYOUT)
    assert set(data) == {"ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"}
    assert data["cert-chain.pem"] == data["ca-cert.pem"] + data["root-cert.pem"]
    chain = x509.load_pem_x509_certificates(data["cert-chain.pem"])
    assert [c.subject for c in chain] == [
        cert(material, pki.ISTIOD_CA_CERT).subject,
        cert(material, pki.ROOT_CERT).subject,
    ]
    key = serialization.load_pem_private_key(data["ca-key.pem"], password=None)
    assert spki(key.public_key()) == spki(cert(material, pki.ISTIOD_CA_CERT).public_key())


def test_tls_and_ca_secret_layouts(material: pki.SuitePki) -> None:
    tls = material.secret_data(pki.GATEWAY_TLS_LAYOUT)
    key = serialization.load_pem_private_key(tls["tls.key"], password=None)
    assert spki(key.public_key()) == spki(x509.load_pem_x509_certificate(tls["tls.crt"]).public_key())
    assert material.secret_data(pki.ROOT_CA_LAYOUT) == {"ca.crt": material.material(pki.ROOT_CERT)}
    assert base64.b64decode(material.root_ca_bundle) == material.material(pki.ROOT_CERT)


def test_private_material_is_listed_for_redaction(material: pki.SuitePki) -> None:
    private = material.private_texts()
    assert len(private) == 3 and all("PRIVATE KEY" in text for text in private)
    public = [
        material.material(name).decode() for name in pki.MATERIAL_NAMES if name not in pki.PRIVATE_MATERIAL
    ]
    assert not any("PRIVATE KEY" in text for text in public)


def test_ip_address_gets_an_ip_san() -> None:
    leaf = x509.load_pem_x509_certificate(pki.generate("172.18.255.200").material(pki.GATEWAY_CERT))
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["172.18.255.200"]


@pytest.mark.parametrize("bad", ["", "<EXTERNAL_HOSTNAME>"])
def test_placeholder_or_empty_hostname_is_refused(bad: str) -> None:
    with pytest.raises(pki.PkiError, match="concrete hostname"):
        pki.generate(bad)


def test_unknown_material_names_the_known_ones(material: pki.SuitePki) -> None:
    with pytest.raises(pki.PkiError, match=r"unknown PKI material 'nope'.*root-cert"):
        material.material("nope")
