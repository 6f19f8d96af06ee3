"""Families of secrets that documents and credentials carry: mapping keys in every
notation and format, flags, curl credentials and headers, INI files, connection strings, URLs
with a raw ``@``, Docker configs, block scalars, netrc files, token formats, PEM bodies without
their markers, Secret data, exec-plugin env values and secret env entries. Each returns a
``Case`` (tests/redaction_cases.py).
"""

from __future__ import annotations

import json
import string
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import strategies as st

from tests.redaction_cases import ALNUM, Case, Draw, b64, neutral_names, secret_names, wrap


def mapping(draw: Draw, secret: str) -> Case:
    """A key naming a secret, in every format a document is printed in."""
    key = draw(secret_names())
    fmt = draw(
        st.sampled_from(("json", "json-indent", "yaml-block", "yaml-flow", "repr", "ini", "env", "list"))
    )
    doc = {"kind": "Config", "spec": {"name": "x", key: secret}}
    text = {
        "json": lambda: json.dumps(doc),
        "json-indent": lambda: json.dumps(doc, indent=draw(st.sampled_from((2, 4)))),
        "yaml-block": lambda: "\n" + yaml.safe_dump(doc),
        "yaml-flow": lambda: yaml.safe_dump(doc, default_flow_style=True),
        "repr": lambda: repr(doc),
        "ini": lambda: f"\n[default]\n{key}{draw(st.sampled_from(('=', ' = ', '  =  ')))}{secret}\n",
        "env": lambda: "{0}={1}{2}{1}".format(key, draw(st.sampled_from(("", '"', "'"))), secret),
        "list": lambda: "\n" + yaml.safe_dump({"items": [{"name": "a", key: secret}]}),
    }[fmt]()
    return Case(f"mapping-{fmt}", text, [secret], document=doc if fmt not in ("ini", "env", "list") else None)


def flag_with_space(draw: Draw, secret: str) -> Case:
    name = draw(secret_names(notations=("kebab",), flag=True))
    value = draw(st.sampled_from((secret, f'"{secret} x"', f"'{secret}'")))
    return Case("flag-space", f"tool login --user me --{name} {value} --verbose", [secret])


def curl_user(draw: Draw, secret: str) -> Case:
    form = draw(
        st.sampled_from(
            (
                "-u {u}:{p}",
                "-u{u}:{p}",
                "--user {u}:{p}",
                "--user='{u}:{p}'",
                '-u "{u}:{p}"',
                "--proxy-user {u}:{p}",
            )
        )
    )
    return Case(
        "curl-user", "curl -sS " + form.format(u="admin", p=secret) + " https://api.example.test/", [secret]
    )


def _header_name(draw: Draw) -> str:
    fixed = (
        "X-Auth-Token",
        "X-Vault-Token",
        "X-Api-Key",
        "Private-Token",
        "X-Consul-Token",
        "X-Registry-Auth",
    )
    made = "X-" + draw(st.sampled_from(("Service", "Gitlab", "Nomad", "Custom", "Goog"))) + "-"
    made += draw(st.sampled_from(("Token", "Key", "Secret", "Api-Key", "Auth")))
    name = draw(st.sampled_from((*fixed, made)))
    return draw(st.sampled_from((name, name.lower(), name.upper())))


def curl_headers(draw: Draw, secret: str) -> Case:
    kind = draw(st.sampled_from(("verbose", "argument", "cookie", "set-cookie", "cookie-argument")))
    if kind == "verbose":
        name = _header_name(draw)
        text = f"\n* Connected to vault (10.0.0.1)\n> GET /v1/secret HTTP/1.1\n> Host: vault\n> {name}: {secret}\n>\n< HTTP/1.1 200 OK\n"
    elif kind == "argument":
        quote_mark = draw(st.sampled_from(("'", '"')))
        flag = draw(st.sampled_from(("-H ", "--header ", "--header=", "-H")))
        text = f"curl {flag}{quote_mark}{_header_name(draw)}: {secret}{quote_mark} https://x.example.test"
    elif kind == "cookie":
        text = f"\n> Cookie: theme=dark; session={secret}; lang=en\n"
    elif kind == "set-cookie":
        text = f"\n< Set-Cookie: id={secret}; Path=/; HttpOnly\n"
    else:
        text = f"curl -H 'Cookie: session={secret}' https://x.example.test"
    return Case(f"header-{kind}", text, [secret])


def aws_ini(draw: Draw, secret: str) -> Case:
    space = draw(st.sampled_from(("=", " = ", " =  ")))
    profile = draw(st.sampled_from(("default", "profile ci")))
    text = (
        f"\n[{profile}]\nregion{space}us-east-1\naws_access_key_id{space}AKIA{secret[:16].ljust(16, 'Q')}\n"
    )
    text += f"aws_secret_access_key{space}{secret}\naws_session_token{space}{secret[::-1]}\n"
    return Case("aws-ini", text, [secret, secret[::-1], "AKIA" + secret[:16].ljust(16, "Q")])


def connection_string(draw: Draw, secret: str) -> Case:
    text = draw(
        st.sampled_from(
            (
                f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={secret}==;EndpointSuffix=core.windows.net",
                f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={secret}=",
                f"BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2020&sig={secret}",
            )
        )
    )
    return Case("connection-string", text, [secret])


def url_with_at(draw: Draw, secret: str) -> Case:
    cut = draw(st.integers(min_value=4, max_value=len(secret) - 4))
    specials = draw(st.sampled_from(("@", "@@", "@!", ":@", "@$")))
    password = secret[:cut] + specials + secret[cut:]
    user = draw(st.sampled_from(("user", "x-access-token", "ci")))
    scheme = draw(st.sampled_from(("https", "http", "git+https", "postgres")))
    return Case(
        "url-raw-at", f"{scheme}://{user}:{password}@host.example.test:5432/db", [secret[:cut], secret[cut:]]
    )


def docker_auth(draw: Draw, secret: str) -> Case:
    registry = draw(st.sampled_from(("https://index.docker.io/v1/", "ghcr.io", "registry.example.test:5000")))
    auth = b64(f"robot:{secret}")
    entry = {"auth": auth} if draw(st.booleans()) else {"username": "robot", "password": secret, "auth": auth}
    config = json.dumps({"auths": {registry: entry}})
    form = draw(st.sampled_from(("config", "secret-yaml", "secret-json", "jsonpath")))
    if form == "config":
        text = config
    elif form == "secret-yaml":
        text = f"\napiVersion: v1\ndata:\n  .dockerconfigjson: {b64(config)}\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\n"
    elif form == "secret-json":
        text = json.dumps(
            {"apiVersion": "v1", "kind": "Secret", "data": {".dockerconfigjson": b64(config)}}, indent=4
        )
    else:
        text = b64(config)
    return Case(f"docker-{form}", text, [secret, auth, b64(config)[:40]], document=json.loads(config))


def block_scalar(draw: Draw, secret: str) -> Case:
    key = draw(secret_names(notations=("kebab", "snake", "camel")))
    style = draw(st.sampled_from(("|", "|-", ">", ">-", "|+")))
    lines = wrap(secret, draw(st.integers(min_value=6, max_value=len(secret)))).split("\n")
    indent = draw(st.sampled_from(("", "  ", "    ")))
    step = draw(st.sampled_from(("  ", "    ")))
    item = draw(st.booleans())
    opener = f"{indent}- " if item else indent
    inner = indent + ("  " if item else "") + step
    body = "".join(f"{inner}{line}\n" for line in lines)
    after = f"{indent}{'  ' if item else ''}name: keep-me\n"
    return Case(
        "block-scalar",
        f"\n{indent}spec:\n{opener}{key}: {style}\n{body}{after}",
        [line for line in lines if len(line) >= 4],
    )


def netrc(draw: Draw, secret: str) -> Case:
    host = draw(st.sampled_from(("github.com", "api.example.test", "registry.local")))
    layout = draw(st.sampled_from(("one-line", "lines", "default")))
    if layout == "one-line":
        text = f"\nmachine {host} login me password {secret}\n"
    elif layout == "lines":
        text = f"\nmachine {host}\n  login me\n  password {secret}\n"
    else:
        text = f"\ndefault login anonymous password {secret}\n"
    return Case(f"netrc-{layout}", text, [secret])


def token_format(draw: Draw, secret: str) -> Case:
    def chars(alphabet: str, size: int) -> str:
        return draw(st.text(alphabet=alphabet, min_size=size, max_size=size))

    kind = draw(st.sampled_from(("github", "github-pat", "google-key", "google-oauth", "slack", "gitlab")))
    if kind == "github":
        token = draw(st.sampled_from(("ghp_", "gho_", "ghu_", "ghs_", "ghr_"))) + chars(ALNUM, 36)
    elif kind == "github-pat":
        token = "github_pat_" + chars(ALNUM, 22) + "_" + chars(ALNUM, 59)
    elif kind == "google-key":
        token = "AIza" + chars(ALNUM + "-_", 35)
    elif kind == "google-oauth":
        token = "ya29." + chars(ALNUM + "-_", 60)
    elif kind == "slack":
        token = f"xox{draw(st.sampled_from('bpas'))}-{chars(string.digits, 12)}-{chars(string.digits, 12)}-{chars(ALNUM, 24)}"
    else:
        token = "glpat-" + chars(ALNUM + "-_", 20)
    where = draw(st.sampled_from(("bare {t} here", "token: {t}", "export X={t}", "Using {t}.")))
    return Case("token-format", where.format(t=token), [token])


_RSA_KEYS = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]


def pem_body(draw: Draw, secret: str) -> Case:
    kind = draw(st.sampled_from(("rsa-pkcs1", "rsa-pkcs8", "ec-sec1", "ec-pkcs8", "ed25519")))
    if kind.startswith("rsa"):
        key: Any = draw(st.sampled_from(_RSA_KEYS))
    elif kind.startswith("ec"):
        key = ec.generate_private_key(draw(st.sampled_from((ec.SECP256R1(), ec.SECP384R1()))))
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    fmt = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if kind in ("rsa-pkcs1", "ec-sec1")
        else serialization.PrivateFormat.PKCS8
    )
    der = key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
    indent = draw(st.sampled_from(("", "    ")))
    body = wrap(b64(der), 64, indent)
    text = draw(
        st.sampled_from((f"\n{indent}{body}\n", f"\ntls.key.pem: |\n    {wrap(b64(der), 64, '    ')}\n"))
    )
    lines = [line.strip() for line in body.splitlines() if len(line.strip()) >= 16]
    return Case(f"pem-body-{kind}", text, lines)


def secret_data(draw: Draw, secret: str) -> Case:
    names = draw(
        st.lists(
            st.sampled_from(("config", "mydata", "ca.crt", "values.yaml", "settings", "blob")),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    values = {name: b64(f"{secret}-{index}") for index, name in enumerate(names)}
    raw = {f"plain-{index}": f"{secret}{index}" for index in range(draw(st.integers(0, 1)))}
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "data": values,
        "kind": "Secret",
        "metadata": {"name": "x"},
        "type": "Opaque",
    }
    if raw:
        obj["stringData"] = raw
    form = draw(st.sampled_from(("yaml", "json", "list-yaml", "list-json", "compact-json")))
    neighbour = {"apiVersion": "v1", "data": {"shown": "visible-config"}, "kind": "ConfigMap"}
    if form == "yaml":
        text = "\n" + yaml.safe_dump(obj)
    elif form == "json":
        text = json.dumps(obj, indent=4)
    elif form == "list-yaml":
        text = "\n" + yaml.safe_dump({"apiVersion": "v1", "items": [neighbour, obj], "kind": "List"})
    elif form == "list-json":
        text = json.dumps({"apiVersion": "v1", "items": [obj, neighbour], "kind": "List"}, indent=4)
    else:
        text = json.dumps(obj)
    return Case(f"secret-data-{form}", text, [*values.values(), *raw.values()], document=obj)


def exec_env(draw: Draw, secret: str) -> Case:
    """Unregistered: the kubeconfig is only seen in a tool's output (found by its structure)."""
    env = [{"name": draw(neutral_names()), "value": secret}]
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "helper", "env": env}}
    doc = {"apiVersion": "v1", "kind": "Config", "users": [{"name": "other", "user": user}]}
    form = draw(st.sampled_from(("yaml", "json", "json-indent")))
    text = {
        "yaml": lambda: "\n" + yaml.safe_dump(doc),
        "json": lambda: json.dumps(doc),
        "json-indent": lambda: json.dumps(doc, indent=2),
    }[form]()
    return Case(f"exec-env-{form}", text, [secret], document=doc)


def env_entry(draw: Draw, secret: str) -> Case:
    name = draw(secret_names(notations=("screaming",)))
    doc = {"env": [{"name": "PILOT_X", "value": "keep"}, {"name": name, "value": secret}]}
    form = draw(st.sampled_from(("yaml", "json", "flow")))
    text = {
        "yaml": lambda: "\n" + yaml.safe_dump(doc),
        "json": lambda: json.dumps(doc),
        "flow": lambda: yaml.safe_dump(doc, default_flow_style=True),
    }[form]()
    return Case(f"env-entry-{form}", text, [secret], document=doc)
