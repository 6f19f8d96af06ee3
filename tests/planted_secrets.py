"""Secrets planted in the end-to-end runs (kind and existing on fakes, kwok for real): one of
each family the redactor knows (tests/redaction_families.py generates them all; these are one
fixed example each, so that a run's every output can be searched for them).

``CARRIER`` is the text a tool prints; ``FORBIDDEN`` what must appear in no file of the report
directory and nowhere on the terminal; ``SHORT`` the short ones, searched as whole tokens.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InBsYW50ZWQifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cGxhbnRlZCJ9"
    ".cGxhbnRlZC1zaWduYXR1cmUtb2YtdGhlLXRva2Vu"
)
BEARER = "sha256~PlantedOpaqueBearerToken0123456789abcdef"
KEY_LINES = (
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDPlantedKeyLine1",
    "q0VSVEFJTkxZLU5PVC1BLVJFQUwtS0VZLUJVVC1QTEFOVEVELUZPUi1URVNUUw2",
)
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(KEY_LINES) + "\n-----END PRIVATE KEY-----"
# A real EC key's body, printed without its BEGIN/END lines.
_EC_DER = ec.derive_private_key(0x5EC7E7, ec.SECP256R1()).private_bytes(
    serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
PEM_BODY = _b64(_EC_DER)
# One value per secret family (tests/redaction_families.py), each unique so that a leak names its family.
FAMILIES = {
    "camel-case": "PLANTEDCAMELCASEACCESSTOKEN01",
    "exec-env": "PLANTEDEXECENVVALUE02",
    "curl-header": "PLANTEDVAULTHEADERTOKEN03",
    "cookie": "PLANTEDSESSIONCOOKIE04",
    "curl-user": "PLANTEDCURLUSERPASSWORD05",
    "password-flag": "PLANTEDHELMPASSWORD06",
    "aws-ini": "PLANTEDAWSSECRETACCESSKEY07",
    "azure": "PLANTEDAZUREACCOUNTKEY08",
    "url-at": "PLANTEDURLPASS09",
    "docker-auth": "PLANTEDDOCKERREGISTRY10",
    "block-scalar": "PLANTEDBLOCKSCALARLINE11",
    "netrc": "PLANTEDNETRCPASSWORD12",
    "secret-data": "PLANTEDSECRETDATAVALUE13",
}
GITHUB = "ghp_" + "P1anted" * 5 + "G"
GOOGLE = "AIza" + "SyPlantedGoogleApiKey0123456789abcd"
SLACK = "xoxb-123456789012-123456789012-PlantedSlackToken1234"
DOCKER_AUTH = _b64(f"robot:{FAMILIES['docker-auth']}")
SECRET_DATA = _b64(FAMILIES["secret-data"])

CARRIER = "\n".join(
    [
        f"Authorization: Bearer {BEARER}",
        f"using service account token {TOKEN}",
        PRIVATE_KEY,
        json.dumps({"accessToken": FAMILIES["camel-case"]}),
        "users:\n- name: other\n  user:\n    exec:\n      command: helper\n      env:\n"
        f"      - name: HELPER_INPUT\n        value: {FAMILIES['exec-env']}",
        f"> X-Vault-Token: {FAMILIES['curl-header']}",
        f"> Cookie: theme=dark; session={FAMILIES['cookie']}",
        f"curl -u admin:{FAMILIES['curl-user']} https://api.example.test/",
        f"helm repo add r https://r.example.test --username u --password {FAMILIES['password-flag']}",
        f"[default]\naws_secret_access_key = {FAMILIES['aws-ini']}",
        f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={FAMILIES['azure']};EndpointSuffix=core.windows.net",
        f"postgres://app:p@ss{FAMILIES['url-at']}@db.example.test:5432/app",
        json.dumps({"auths": {"ghcr.io": {"auth": DOCKER_AUTH}}}),
        f"stringData:\n  password: |\n    {FAMILIES['block-scalar']}",
        f"machine github.com login me password {FAMILIES['netrc']}",
        f"tokens: {GITHUB} {GOOGLE} {SLACK}",
        PEM_BODY,
        f"apiVersion: v1\ndata:\n  settings: {SECRET_DATA}\nkind: Secret\nmetadata:\n  name: planted",
    ]
)
FORBIDDEN = (
    TOKEN,
    BEARER,
    *KEY_LINES,
    _b64(TOKEN)[:40],
    *FAMILIES.values(),
    GITHUB,
    GOOGLE,
    SLACK,
    DOCKER_AUTH,
    SECRET_DATA,
    PEM_BODY[:40],
)
SHORT: tuple[str, ...] = ()


def leaks_in(text: str, forbidden: tuple[str, ...] = FORBIDDEN, short: tuple[str, ...] = SHORT) -> list[str]:
    """The forbidden strings found in ``text`` (short ones as whole tokens)."""
    found = [secret for secret in forbidden if secret in text]
    found += [
        value
        for value in short
        if re.search(rf"(?<![A-Za-z0-9_+-]){re.escape(value)}(?![A-Za-z0-9_+-])", text)
    ]
    return found


def leaks_under(
    root: Path, forbidden: tuple[str, ...] = FORBIDDEN, short: tuple[str, ...] = SHORT
) -> list[str]:
    """``path: secret`` for every file under ``root`` holding a forbidden string."""
    return [
        f"{path.relative_to(root)}: {secret}"
        for path in sorted(root.rglob("*"))
        if path.is_file()
        for secret in leaks_in(path.read_text(errors="replace"), forbidden, short)
    ]
