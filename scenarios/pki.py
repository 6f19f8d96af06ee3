"""The per-run private PKI of the dns-tls scenario (pure computation, no I/O).

One root signs two things (README.md, "dns-tls in a test environment"):
- an intermediate CA that the external istiod uses as its plugin CA (the ``cacerts`` secret:
  ``ca-cert.pem``, ``ca-key.pem``, ``root-cert.pem``, ``cert-chain.pem``, the layout
  pilot/pkg/bootstrap/istio_ca.go reads), so every proxy's mounted mesh root is this root;
- the external gateway's server certificate for the hostname, so proxies (XDS_ROOT_CA /
  CA_ROOT_CA pointing at the mounted root) and the remote API server (webhook caBundle) verify
  the gateway with the same root.

Material is addressed by name (``MATERIAL_NAMES``): plan steps name the material a Secret is
made from and the installer fetches it here, so ``--plan`` never prints a private key.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_CERT = "root-cert"
ROOT_KEY = "root-key"
ISTIOD_CA_CERT = "istiod-ca-cert"
ISTIOD_CA_KEY = "istiod-ca-key"
ISTIOD_CERT_CHAIN = "istiod-cert-chain"
GATEWAY_CERT = "gateway-cert"
GATEWAY_KEY = "gateway-key"

MATERIAL_NAMES = (
    ROOT_CERT,
    ROOT_KEY,
    ISTIOD_CA_CERT,
    ISTIOD_CA_KEY,
    ISTIOD_CERT_CHAIN,
    GATEWAY_CERT,
    GATEWAY_KEY,
)
PRIVATE_MATERIAL = frozenset({ROOT_KEY, ISTIOD_CA_KEY, GATEWAY_KEY})

# The `cacerts` secret keys Istio's plugin CA expects, and the material each holds.
CACERTS_LAYOUT: dict[str, str] = {
    "ca-cert.pem": ISTIOD_CA_CERT,
    "ca-key.pem": ISTIOD_CA_KEY,
    "root-cert.pem": ROOT_CERT,
    "cert-chain.pem": ISTIOD_CERT_CHAIN,
}
# A kubernetes.io/tls secret for the gateway's credentialName.
GATEWAY_TLS_LAYOUT: dict[str, str] = {"tls.crt": GATEWAY_CERT, "tls.key": GATEWAY_KEY}
# A CA-only secret: Istio's SDS reads "ca.crt" for a DestinationRule's credentialName.
ROOT_CA_LAYOUT: dict[str, str] = {"ca.crt": ROOT_CERT}

_RSA_BITS = 2048
_VALIDITY = dt.timedelta(days=30)  # a run's PKI outlives the run, not much more
_CLOCK_SKEW = dt.timedelta(hours=1)


class PkiError(ValueError):
    """Bad input to the PKI (e.g. an empty hostname); the message names the value."""


@dataclass(frozen=True)
class SuitePki:
    """The PEM-encoded material of one run's PKI, by name."""

    hostname: str
    istiod_namespace: str
    pem: dict[str, bytes]

    def material(self, name: str) -> bytes:
        try:
            return self.pem[name]
        except KeyError:
            raise PkiError(
                f"unknown PKI material {name!r}: known names are {', '.join(MATERIAL_NAMES)}"
            ) from None

    def secret_data(self, layout: dict[str, str]) -> dict[str, bytes]:
        """Secret data for a layout such as ``CACERTS_LAYOUT``."""
        return {key: self.material(name) for key, name in layout.items()}

    def private_texts(self) -> tuple[str, ...]:
        """The private keys as text, for the redactor."""
        return tuple(self.pem[name].decode() for name in sorted(PRIVATE_MATERIAL))

    @property
    def root_ca_bundle(self) -> str:
        """base64 of the root certificate PEM: a webhook ``caBundle``."""
        return base64.b64encode(self.pem[ROOT_CERT]).decode()


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)


def _name(common_name: str, run_label: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Istio"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"eicp {run_label}"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey, start: dt.datetime, end: dt.datetime
) -> x509.CertificateBuilder:
    """A certificate of ``key``'s public key for ``subject``, issued by ``issuer``, valid start-end."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
    )


def generate(
    hostname: str,
    *,
    istiod_namespace: str = "external-istiod",
    run_label: str = "run",
    now: dt.datetime | None = None,
) -> SuitePki:
    """Make a root, the istiod intermediate (for ``cacerts``) and the gateway's server cert."""
    if not hostname or hostname.startswith("<"):
        raise PkiError(f"the gateway certificate needs a concrete hostname, got {hostname!r}")
    start = (now or dt.datetime.now(dt.UTC)) - _CLOCK_SKEW
    end = start + _VALIDITY

    root_key = _key()
    root_name = _name("EICP Root CA", run_label)
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = (
        _builder(root_name, root_name, root_key, start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(root_ski, critical=False)
        .sign(root_key, hashes.SHA256())
    )
    root_aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski)

    # The intermediate carries istiod's service name as SAN, as the Sail guide's (seed 004).
    istiod_key = _key()
    istiod_ca = (
        _builder(
            _name("EICP Intermediate CA (external istiod)", run_label), root_name, istiod_key, start, end
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(istiod_key.public_key()), critical=False)
        .add_extension(root_aki, critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(f"istiod.{istiod_namespace}.svc")]), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )

    gateway_key = _key()
    gateway = (
        _builder(_name(hostname, run_label), root_name, gateway_key, start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_san(hostname)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(gateway_key.public_key()), critical=False)
        .add_extension(root_aki, critical=False)
        .sign(root_key, hashes.SHA256())
    )

    root_pem, istiod_pem = _pem_cert(root), _pem_cert(istiod_ca)
    return SuitePki(
        hostname=hostname,
        istiod_namespace=istiod_namespace,
        pem={
            ROOT_CERT: root_pem,
            ROOT_KEY: _pem_key(root_key),
            ISTIOD_CA_CERT: istiod_pem,
            ISTIOD_CA_KEY: _pem_key(istiod_key),
            ISTIOD_CERT_CHAIN: istiod_pem + root_pem,
            GATEWAY_CERT: _pem_cert(gateway),
            GATEWAY_KEY: _pem_key(gateway_key),
        },
    )
