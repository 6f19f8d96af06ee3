"""Redaction keeps what people need to read: the guard against over-redaction.

- Every plan golden (each step's argv and manifests of every scenario and release), the xDS
  goldens, versions.yaml and the README pass through a redactor unchanged.
- Names that refer to a secret instead of holding one (``secret_name``, ``tokenFile``,
  ``TOKEN_AUDIENCE``, ``--external-tls-secret``, ``credentialName``), generated in every notation
  and format, keep their values; so does prose that mentions secrets.
- Ordinary tool output (an istiod pod spec, a ConfigMap beside a Secret, curl -v without
  credentials, ``docker run -u 1000:1000``) is unchanged.
- A short registered value is removed only as a whole token, never from inside a longer word.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from programs.redaction import REDACTED, Redactor
from tests.redaction_cases import NOTATIONS, PREFIX_WORDS, SECRET_WORDS, render_name

REPO = Path(__file__).resolve().parent.parent
READABLE_FILES = sorted(
    [
        *(REPO / "tests" / "goldens").rglob("*.txt"),
        *(REPO / "tests" / "goldens").rglob("*.json"),
        REPO / "versions.yaml",
        REPO / "README.md",
    ]
)
# Words after a secret word that make the name a reference to a secret (its name, file, path...).
REFERENCE_SUFFIXES = (
    "name",
    "file",
    "path",
    "ref",
    "ttl",
    "audience",
    "type",
    "url",
    "id",
    "mount",
    "namespace",
)
VALUE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-./", min_size=3, max_size=30).filter(
    lambda value: value.strip("-./") == value
)


@pytest.mark.parametrize("path", READABLE_FILES, ids=lambda path: str(path.relative_to(REPO)))
def test_goldens_and_docs_come_through_unchanged(path: Path) -> None:
    text = path.read_text()
    redacted = Redactor().redact(text)
    changed = [
        (before, after)
        for before, after in zip(text.splitlines(), redacted.splitlines(), strict=False)
        if before != after
    ]
    assert redacted == text, changed[:5]


@st.composite
def reference_names(draw: st.DrawFn) -> str:
    words = [
        *draw(st.lists(st.sampled_from(PREFIX_WORDS), max_size=2)),
        *draw(st.sampled_from(SECRET_WORDS)),
        draw(st.sampled_from(REFERENCE_SUFFIXES)),
    ]
    return render_name(words, draw(st.sampled_from(NOTATIONS)))


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    name=reference_names(),
    value=VALUE,
    fmt=st.sampled_from(("yaml", "json", "flow", "env", "flag", "ini", "repr")),
)
def test_names_that_refer_to_a_secret_keep_their_values(name: str, value: str, fmt: str) -> None:
    doc = {"spec": {name: value, "other": "x"}}
    text = {
        "yaml": yaml.safe_dump(doc),
        "json": json.dumps(doc, indent=2),
        "flow": yaml.safe_dump(doc, default_flow_style=True),
        "env": f"{name}={value}",
        "flag": f"tool --{re.sub(r'[_.]', '-', name).lower()} {value} -v",
        "ini": f"[x]\n{name} = {value}\n",
        "repr": repr(doc),
    }[fmt]
    assert Redactor().redact(text) == text


PROSE = (
    "could not read secret: not found",
    'Error from server (NotFound): secrets "istio-kubeconfig" not found',
    "the token expired; a new token is requested",
    "password authentication is disabled",
    "--external-tls-secret istiod-gw-cert: no such secret in istio-system",
    "kubectl create secret tls istiod-gw-cert --cert /tmp/x/cert.pem --key /tmp/x/key.pem -n istio-system",
    "istioctl create-remote-secret --name remote --type config --namespace external-istiod",
    "kubectl get secret cacerts -n external-istiod -o name",
    "docker run -u 1000:1000 busybox true",
    "sort -u names.txt",
    "https://istio.io/latest/docs/setup/install/external-controlplane/?lang=en#setup",
    "secretName: istio-ca-secret\ncredentialName: istiod-gw-cert\ntokenFile: /var/run/secrets/token\n",
    "kind: Secret",
    "tokens=3",
)


@pytest.mark.parametrize("text", PROSE)
def test_prose_and_references_are_kept(text: str) -> None:
    assert Redactor().redact(text) == text


ISTIOD_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: istiod-5d9c7
  namespace: external-istiod
spec:
  containers:
  - args:
    - discovery
    - --monitoringAddr=:15014
    env:
    - name: REVISION
      value: default
    - name: JWT_POLICY
      value: third-party-jwt
    - name: TOKEN_AUDIENCE
      value: istio-ca
    - name: PILOT_CERT_PROVIDER
      value: istiod
    - name: EXTERNAL_ISTIOD
      value: "true"
    volumeMounts:
    - mountPath: /var/run/secrets/tokens
      name: istio-token
      readOnly: true
  volumes:
  - name: istio-token
    projected:
      sources:
      - serviceAccountToken:
          audience: istio-ca
          expirationSeconds: 43200
          path: istio-token
  - name: cacerts
    secret:
      optional: true
      secretName: cacerts
"""

LIST_WITH_A_SECRET = """\
apiVersion: v1
items:
- apiVersion: v1
  data:
    mesh: |-
      defaultConfig:
        discoveryAddress: istiod.external-istiod.svc:15012
  kind: ConfigMap
  metadata:
    name: istio
- apiVersion: v1
  data:
    config: c2VjcmV0LWNvbmZpZy12YWx1ZQ==
  kind: Secret
  metadata:
    name: istio-kubeconfig
kind: List
"""

CURL_VERBOSE = """\
> GET /productpage HTTP/1.1
> Host: 172.18.255.200
> User-Agent: curl/8.5.0
> Accept: */*
< HTTP/1.1 200 OK
< content-type: text/html; charset=utf-8
< x-envoy-upstream-service-time: 12
"""


def test_ordinary_tool_output_is_kept() -> None:
    redactor = Redactor()
    assert redactor.redact(ISTIOD_POD) == ISTIOD_POD
    assert redactor.redact(CURL_VERBOSE) == CURL_VERBOSE
    listed = redactor.redact(LIST_WITH_A_SECRET)
    assert "discoveryAddress: istiod.external-istiod.svc:15012" in listed  # the ConfigMap's data
    assert f"config: {REDACTED}" in listed and "c2VjcmV0" not in listed  # the Secret's data
    assert listed.count("\n") == LIST_WITH_A_SECRET.count("\n")


def test_a_short_registered_value_is_removed_only_as_a_whole_token() -> None:
    redactor = Redactor(["admin", "s3cr"])
    assert redactor.redact("bound to cluster-admin as admin") == f"bound to cluster-admin as {REDACTED}"
    assert redactor.redact("s3cret and s3cr.") == f"s3cret and {REDACTED}."
    assert Redactor(["ok"]).redact("ok then") == "ok then"  # under four characters: never registered


@pytest.mark.parametrize("key", ["install.remote-secret", "token", "client_secret", "apiKey", "password"])
def test_a_number_under_a_secret_key_survives_and_a_string_is_redacted(key: str) -> None:
    """Key-based redaction applies to strings only (programs/redaction/__init__.py): the
    conformance report's timeout table holds ``install.remote-secret: 120`` and must stay valid."""
    redactor = Redactor()
    document = {key: 120, "limit": {key: 2.5}, "flags": {key: True}}
    assert redactor.redact_document(document) == document
    assert redactor.redact_document({key: "s3cr3t-value", "all": {key: ["a-b-c-d", 7]}}) == {
        key: REDACTED,
        "all": {key: [REDACTED, 7]},
    }
    as_json = json.dumps({key: 120, "other": {key: "s3cr3t-value"}})
    assert json.loads(redactor.redact(as_json)) == {key: 120, "other": {key: REDACTED}}
    as_yaml = yaml.safe_dump({"timeouts": {key: 120, "enabled": {key: False}}, key: "s3cr3t-value"})
    assert yaml.safe_load(redactor.redact(as_yaml)) == {
        "timeouts": {key: 120, "enabled": {key: False}},
        key: REDACTED,
    }
    assert redactor.redact(repr({key: 1.5, "x": {key: "s3cr3t-value"}})) == repr(
        {key: 1.5, "x": {key: REDACTED}}
    )
