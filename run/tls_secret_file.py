"""``--external-tls-secret-file``: the gateway's TLS secret of the user's, for clusters the run creates.

kwok mode creates its clusters, so no secret of the user's can already be in them: the user
hands the Secret manifest over instead (as ``kubectl get secret NAME -n istio-system -o yaml``
prints it, or ``kubectl create secret tls NAME --cert=... --key=... --dry-run=client -o yaml``
with a ``ca.crt`` key added), and the installer creates it where the guide expects it. The
clusters trust no CA of the user's, so the Secret must carry the CA that issued its certificate
(``ca.crt``): the remote webhooks verify the gateway with it (``caBundle``).

Checked before any work: the file, its shape, the certificate's names, that the key is the
certificate's and that ``ca.crt`` issued it. Only public material leaves this module (the CA);
the key is read again when the Secret is created (install/actions/secrets.py).
"""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TLS_TYPE = "kubernetes.io/tls"
KEYS = ("tls.crt", "tls.key", "ca.crt")
ACCEPTED = (
    f"a Secret manifest (YAML or JSON) of type {TLS_TYPE} with data (or stringData) "
    "tls.crt, tls.key and ca.crt (the CA that issued tls.crt)"
)


class TlsSecretFileError(ValueError):
    """The file is not a usable TLS secret; the message says why and what is accepted."""


@dataclass(frozen=True)
class TlsSecretFile:
    path: Path
    name: str
    ca_bundle: str  # base64 of ca.crt (PEM), public: the webhooks' caBundle


def secret_data(document: Mapping[str, Any]) -> dict[str, bytes]:
    """The Secret's data, decoded (``stringData`` wins, as the API server merges it)."""
    data: dict[str, bytes] = {}
    for key, value in (document.get("data") or {}).items():
        try:
            data[str(key)] = base64.b64decode(str(value), validate=True)
        except binascii.Error:
            raise TlsSecretFileError(f"data.{key} is not base64") from None
    for key, value in (document.get("stringData") or {}).items():
        data[str(key)] = str(value).encode()
    return data


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise TlsSecretFileError(f"cannot be read as YAML or JSON ({type(error).__name__})") from None
    if not isinstance(document, dict) or document.get("kind") != "Secret":
        raise TlsSecretFileError("is not a Secret manifest (kind: Secret)")
    return document


def load(path: Path, name: str, hostname: str) -> TlsSecretFile:
    """The checked secret file, or ``TlsSecretFileError`` (never naming secret material)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if not path.is_file():
        raise TlsSecretFileError("does not exist or is not a file")
    document = read_manifest(path)
    found = str((document.get("metadata") or {}).get("name") or "")
    if found != name:
        raise TlsSecretFileError(f"names Secret {found or '(none)'!r}, not {name!r} (--external-tls-secret)")
    if document.get("type") != TLS_TYPE:
        raise TlsSecretFileError(f"has type {document.get('type')!r}, not {TLS_TYPE}")
    data = secret_data(document)
    missing = [key for key in KEYS if not data.get(key)]
    if missing:
        raise TlsSecretFileError(f"has no {', '.join(missing)}")
    try:
        chain = x509.load_pem_x509_certificates(data["tls.crt"])
        cas = x509.load_pem_x509_certificates(data["ca.crt"])
    except ValueError:
        raise TlsSecretFileError("tls.crt or ca.crt is not PEM certificates") from None
    try:
        key = serialization.load_pem_private_key(data["tls.key"], None)
    except (ValueError, TypeError):
        raise TlsSecretFileError("tls.key is not an unencrypted PEM private key") from None
    leaf = chain[0]
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise TlsSecretFileError("tls.key is not the key of tls.crt's first certificate")
    _check_names(leaf, hostname)
    _check_issued(leaf, chain[1:], cas)
    now = datetime.datetime.now(datetime.UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise TlsSecretFileError(
            f"tls.crt is not valid now (valid {leaf.not_valid_before_utc} to {leaf.not_valid_after_utc})"
        )
    return TlsSecretFile(path, name, base64.b64encode(data["ca.crt"]).decode())


def _check_names(leaf: Any, hostname: str) -> None:
    from cryptography import x509

    try:
        names = leaf.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    wildcard = "*." + hostname.split(".", 1)[-1]
    if hostname not in names and wildcard not in names:
        raise TlsSecretFileError(
            f"tls.crt is for {', '.join(names) or 'no DNS name'}, not {hostname} (--external-hostname)"
        )


def _check_issued(leaf: Any, intermediates: list[Any], roots: list[Any]) -> None:
    """``leaf`` chains to one of ``roots`` (ca.crt) through ``intermediates`` (the rest of
    tls.crt), by signatures only."""
    from cryptography.exceptions import InvalidSignature

    current, seen = leaf, 0
    while seen <= len(intermediates):
        for root in roots:
            try:
                current.verify_directly_issued_by(root)
                return
            except (ValueError, TypeError, InvalidSignature):
                continue
        issuer = next((c for c in intermediates if c.subject == current.issuer and c != current), None)
        if issuer is None:
            break
        current, seen = issuer, seen + 1
    raise TlsSecretFileError(
        "ca.crt did not issue tls.crt (no chain from tls.crt to a certificate in ca.crt)"
    )
