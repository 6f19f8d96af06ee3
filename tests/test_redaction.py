"""Redaction of secrets by shape and by registered value."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from programs.redaction import REDACTED, Redactor
from tests.planted_secrets import CARRIER, leaks_in

PEM = """-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun
VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK
-----END RSA PRIVATE KEY-----"""
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.sig"


def test_pem_private_key_is_removed_whole() -> None:
    text = f"before\n{PEM}\nafter"
    redacted = Redactor().redact(text)
    assert "MIIEowIBAAKCAQEAu1SU1Lf" not in redacted
    assert redacted.startswith("before\n") and redacted.endswith("\nafter")


def test_kubeconfig_fields_and_bearer_tokens() -> None:
    kubeconfig = f"users:\n- name: x\n  user:\n    token: {TOKEN}\n    client-key-data: LS0tLS1CRUdJTg==\n"
    redacted = Redactor().redact(kubeconfig + f"\nAuthorization: Bearer {TOKEN}\n--token={TOKEN}")
    assert TOKEN not in redacted and "LS0tLS1CRUdJTg==" not in redacted
    assert redacted.count(REDACTED) == 4
    assert "client-key-data: <redacted>" in redacted


def test_json_token_fields() -> None:
    redacted = Redactor().redact('{"token": "abcdefghijkl", "name": "keep-me"}')
    assert "abcdefghijkl" not in redacted and "keep-me" in redacted


def test_registered_value_and_its_base64_form() -> None:
    redactor = Redactor()
    redactor.register("registered-secret-value")
    encoded = base64.b64encode(b"registered-secret-value").decode()
    redacted = redactor.redact(f"plain registered-secret-value and {encoded}")
    assert "registered-secret-value" not in redacted and encoded not in redacted


def test_short_values_are_not_registered() -> None:
    redactor = Redactor(["ok"])
    assert redactor.redact("ok then") == "ok then"


def test_registered_pem_is_caught_line_by_line_when_reindented() -> None:
    redactor = Redactor([PEM])
    indented = "\n".join("      " + line for line in PEM.replace("RSA PRIVATE KEY", "XX").splitlines())
    assert "VTLw7onLRnrq0" not in redactor.redact(indented)


def test_manifest_secret_payloads_and_last_applied_annotation_are_dropped() -> None:
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "istio-remote-secret-remote",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": TOKEN, "keep": "yes"},
        },
        "stringData": {"remote": f"token: {TOKEN}"},
    }
    cleaned = Redactor().redact_manifest(secret)
    assert cleaned["stringData"] == {"remote": REDACTED}
    assert cleaned["metadata"]["annotations"] == {"keep": "yes"}
    assert TOKEN not in str(cleaned)
    assert secret["stringData"]["remote"] == f"token: {TOKEN}", "the original must not be modified"


def test_a_pem_key_cut_short_is_still_redacted() -> None:
    body = PEM.splitlines()[1]
    # A truncated repr: the BEGIN marker and part of the key, escaped newlines, no END marker.
    head_only = repr(PEM)[:90]
    assert body[:30] in head_only
    assert body[:30] not in Redactor().redact(head_only)
    # The other half: key lines before an END marker, the BEGIN marker cut away.
    tail_only = PEM[PEM.index(body) + 20 :]
    assert Redactor().redact(tail_only).startswith(REDACTED)


def test_shapes_of_issue_11_each_redacted_and_prose_kept() -> None:
    redactor = Redactor()
    secret = "S3CRETVALUE12345"
    carriers = [
        f"https://user:{secret}@git.example.test/x",
        f"https://{secret}@git.example.test/x",
        f"GET /api?access_token={secret}&x=1",
        f"GET /api?a=1&token={secret}",
        f"Authorization: Basic {base64.b64encode(f'u:{secret}'.encode()).decode()}",
        repr({"token": secret}),
        f"user: {{client-certificate-data: Q0VSVA==, client-key-data: {secret}}}",
        f"GITHUB_TOKEN={secret}",
        f"export DB_PASSWORD='{secret}'",
        f"eyJhbGciOiJSUzI1NiJ9.eyJz\n  {secret}.c2ln\n  bmF0dXJl",
        base64.b64encode(f"users:\n- user:\n    token: {secret}\n".encode()).decode(),
    ]
    for carrier in carriers:
        redacted = redactor.redact(f"before {carrier} after")
        assert secret not in redacted, carrier
        assert redacted.startswith("before ") and REDACTED in redacted, carrier
    for prose in ("could not read secret: not found", "secretName: istio-ca", "kind: Secret", "tokens=3"):
        assert redactor.redact(prose) == prose


def test_registered_value_base64_with_trailing_newline() -> None:
    redactor = Redactor(["registered-secret-value"])
    for encoded in (
        base64.b64encode(b"registered-secret-value\n").decode(),
        "x" + base64.b64encode(b"a registered-secret-value b").decode(),
    ):
        assert redactor.redact(encoded) != encoded


# -- shapes the redactor once missed, one example each (the property tests generate them) --

S18 = "Q7XK2M9PLW4RT8ZVB3"
DOCKER_AUTH = base64.b64encode(f"u:{S18}".encode()).decode()
DOCKER_CONFIG = base64.b64encode(json.dumps({"auths": {"r": {"auth": S18}}}).encode()).decode()
ISSUE_18_SHAPES = {
    "camelCase keys": json.dumps({"accessToken": S18, "refreshToken": S18}),
    "exec env value (YAML)": f"users:\n- name: u\n  user:\n    exec:\n      command: helper\n      env:\n      - name: HELPER_INPUT\n        value: {S18}\n",
    "exec env value (JSON)": json.dumps(
        {"users": [{"user": {"exec": {"env": [{"name": "IN", "value": S18}]}}}]}
    ),
    "curl -v request headers": f"> X-Auth-Token: {S18}\n> X-Vault-Token: {S18}\n> Cookie: session={S18}\n",
    "curl -u user:pw": f"curl -u admin:{S18} https://x.example.test",
    "--password VALUE": f"helm repo add r https://r.example.test --username u --password {S18}",
    "AWS INI": f"[default]\naws_secret_access_key = {S18}\n",
    "Azure AccountKey": f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={S18}==;EndpointSuffix=core.windows.net",
    "URL password with a raw @": f"https://user:p@ss{S18}@host.example.test/x",
    "docker auth": json.dumps({"auths": {"r.example.test": {"auth": DOCKER_AUTH}}}),
    ".dockerconfigjson": f"data:\n  .dockerconfigjson: {DOCKER_CONFIG}",
    "YAML block scalar": f"stringData:\n  password: |\n    {S18}\n",
    ".netrc": f"machine github.com login me password {S18}\n",
    "GitHub token": f"using ghp_{S18}{S18}ABCD",
    "Google API key": f"key=AIza{S18}{S18[:17]}",
    "Slack token": f"xoxb-123456789012-{S18}",
    "PEM body alone": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu",
    "Secret data under a neutral key": f"apiVersion: v1\ndata:\n  mydata: {base64.b64encode(S18.encode()).decode()}\nkind: Secret\n",
}


@pytest.mark.parametrize("shape", ISSUE_18_SHAPES)
def test_shapes_of_issue_18_are_redacted(shape: str) -> None:
    text = ISSUE_18_SHAPES[shape]
    redacted = Redactor().redact(text)
    for secret in (
        S18,
        base64.b64encode(S18.encode()).decode(),
        DOCKER_AUTH,
        DOCKER_CONFIG,
        "C7VJTUt9Us8cKj",
    ):
        assert secret not in redacted, redacted


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("hunt3r", "password was hunt3r."),  # short
        ("p@ss/w0rd!value", "next=p%40ss%2Fw0rd%21value"),  # URL-encoded
        ('say "hi" secretvalue', '{"note": "say \\"hi\\" secretvalue"}'),  # JSON-escaped
        ("ABCDEFGHIJKLMNOPQRSTUVWX", "ABCDEFGHIJKL\n    MNOPQRSTUVWX"),  # wrapped across lines
    ],
)
def test_registered_values_in_the_forms_of_issue_18(value: str, shown: str) -> None:
    redacted = Redactor([value]).redact(shown)
    assert REDACTED in redacted and value.rsplit(maxsplit=1)[-1] not in redacted.replace("\n    ", "")


def _pytest_failure(text: str) -> str:
    """``text`` as pytest's longrepr quotes an exception's message: ``E   `` before each line."""
    return "\n".join(f"E   {line}" for line in f"AssertionError: {text}".split("\n"))


def test_every_family_quoted_in_a_pytest_failure_is_redacted() -> None:
    """The kwok tier's planted failure (tests/test_kwok_tier_secrets.py) found these leaking:
    the ``E   `` prefix hid the exec env and Secret data structure, curl's ``> Cookie:`` and the
    AWS INI line from shapes anchored at a line's start; the conformance report then strips
    the prefix and the indentation, so what it shows must already be redacted."""
    failure = _pytest_failure(CARRIER)
    redacted = Redactor().redact(f"def test_x():\n>       raise\n{failure}\n\ntests/x.py:3: AssertionError")
    assert leaks_in(redacted) == [], redacted
    assert "E       exec:\nE         command: helper" in redacted  # the structure is kept
    assert (
        leaks_in(json.dumps({"trace": failure}))
        and leaks_in(Redactor().redact(json.dumps({"trace": failure}))) == []
    )


def test_pytest_failure_lines_without_a_secret_are_left_exactly_as_they_were() -> None:
    failure = "E  assert 2 == 3\nE    +  where 2 = len([1, 2])\nE\nEnd of the output"
    assert Redactor().redact(failure) == failure


def test_indented_curl_verbose_headers_are_redacted() -> None:
    text = "    > GET / HTTP/1.1\n    > Cookie: session=indentedcookie1\n    < Set-Cookie: id=indentedcookie2"
    redacted = Redactor().redact(text)
    assert "indentedcookie" not in redacted and "> GET / HTTP/1.1" in redacted, redacted
