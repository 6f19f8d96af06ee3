"""Hypothesis strategies for every family of secret the redactor must catch (issues 11 and 18).

Each family is generated, not listed: key names are composed from words in every notation
(kebab, snake, SCREAMING_SNAKE, camelCase, dotted) with prefixes and suffixes; header names,
flags, token formats, documents (kubeconfigs, Secrets, Docker configs, INI files, netrc files)
are built with random content, layout, order and indentation; registered values come in every
form a tool prints them. The shapes of documents and credentials are in
tests/redaction_shape_families.py, the cases and names in tests/redaction_cases.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import yaml
from hypothesis import strategies as st

from tests import redaction_shape_families as shapes
from tests.redaction_cases import (
    FILLER,
    SECRET,
    SHORT_SECRET,
    Case,
    Draw,
    b64,
    leaks,
    neutral_names,
    secret_names,
    wrap,
)

# -- registered values --------------------------------------------------------------------------


def _registered_short(draw: Draw, secret: str) -> Case:
    short = draw(SHORT_SECRET)
    where = draw(st.sampled_from(("password was {s}.", "login ok ({s})", "{s}", "pw={s} end", "'{s}'")))
    return Case("registered-short", where.format(s=short), [short], register=[short])


def _registered_url(draw: Draw, secret: str) -> Case:
    value = secret[:8] + draw(st.sampled_from(("@", "/", ":", "+", " ", "&", "%"))) + secret[8:]
    encoded = draw(st.sampled_from((quote(value, safe=""), quote_plus(value, safe=""), quote(value))))
    return Case("registered-url", f"GET /login?user=x&next={encoded}", [encoded], register=[value])


def _registered_json(draw: Draw, secret: str) -> Case:
    value = secret[:6] + draw(st.sampled_from(('"', "\\", "/", "é", "\t"))) + secret[6:]
    ascii_only = draw(st.booleans())
    text = json.dumps({"note": value}, ensure_ascii=ascii_only)
    escaped = text[len('{"note": "') : -2]
    return Case("registered-json", text, [escaped, secret[:6] + secret[6:]], register=[value])


def _registered_wrapped(draw: Draw, secret: str) -> Case:
    width = draw(st.integers(min_value=4, max_value=len(secret) - 1))
    form = draw(st.sampled_from(("lines", "indented", "repr")))
    if form == "repr":
        text = "\\n".join(secret[i : i + width] for i in range(0, len(secret), width))
    else:
        text = wrap(secret, width, "    " if form == "indented" else "")
    return Case(f"registered-wrapped-{form}", text, [secret], register=[secret])


def _registered(draw: Draw, secret: str) -> Case:
    return Case("registered", secret, [secret], register=[secret])


def _registered_b64(draw: Draw, secret: str) -> Case:
    newline = draw(st.booleans())
    encoded = b64(secret + ("\n" if newline else ""))
    return Case("registered-b64", encoded, [encoded], register=[secret])


# -- the first shapes ----------------------------------------------------------------------------


def _bearer(draw: Draw, secret: str) -> Case:
    lead = draw(
        st.sampled_from(("Authorization: Bearer ", "bearer ", "-H 'Bearer ", "> Authorization: token "))
    )
    return Case("bearer", lead + secret, [secret])


def _jwt(draw: Draw, secret: str) -> Case:
    jwt = f"eyJhbGciOiJSUzI1NiJ9.{secret}.{secret[::-1]}"
    if draw(st.booleans()):
        jwt = wrap(jwt, draw(st.integers(min_value=8, max_value=40)), draw(st.sampled_from(("", "  ", "\t"))))
    return Case("jwt", jwt, [secret, secret[::-1]])


def _pem(draw: Draw, secret: str) -> Case:
    kind = draw(st.sampled_from(("", "RSA ", "EC ", "OPENSSH ")))
    body = wrap((secret * 4)[:128], 64)
    pem = f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----\n"
    return Case("pem", repr(pem) if draw(st.booleans()) else pem, body.splitlines())


def _userinfo(draw: Draw, secret: str) -> Case:
    user = draw(st.sampled_from(("user:", "x-access-token:", "")))
    return Case("userinfo", f"https://{user}{secret}@git.example.test/org/repo.git", [secret])


def _query(draw: Draw, secret: str) -> Case:
    param = draw(st.sampled_from(("access_token", "token", "api_key", "sig", "client_secret")))
    return Case("query", f"https://api.example.test/v1/x?a=1&{param}={secret}&b=2", [secret])


def _basic(draw: Draw, secret: str) -> Case:
    encoded = b64(f"admin:{secret}")
    return Case("basic", f"Authorization: Basic {encoded}", [encoded])


def _env_var(draw: Draw, secret: str) -> Case:
    return Case("env-var", "", [secret], env_name=draw(secret_names(notations=("screaming",))))


def _kubeconfig_user(draw: Draw, secret: str) -> Case:
    """Registered from a kubeconfig (every user's credential, whichever context is selected),
    then printed where no shape gives it away."""
    kind = draw(st.sampled_from(("client-secret", "exec-env", "token", "password", "other-user-exec")))
    users = [{"name": "selected", "user": {"token": "SELECTEDUSERTOKEN1234"}}]
    if kind == "client-secret":
        users.append(
            {
                "name": "u",
                "user": {
                    "auth-provider": {"name": "oidc", "config": {"client-id": "x", "client-secret": secret}}
                },
            }
        )
    elif kind in ("exec-env", "other-user-exec"):
        users.append(
            {
                "name": "u",
                "user": {
                    "exec": {"command": "helper", "env": [{"name": draw(neutral_names()), "value": secret}]}
                },
            }
        )
    else:
        users.append({"name": "u", "user": {kind: secret}})
    kubeconfig = {"contexts": [{"name": "selected", "context": {"user": "selected"}}], "users": users}
    return Case(f"kubeconfig-{kind}", f"helper said: {secret}", [secret], kubeconfig=kubeconfig)


def _kubeconfig_b64(draw: Draw, secret: str) -> Case:
    kubeconfig = yaml.safe_dump({"apiVersion": "v1", "users": [{"name": "u", "user": {"token": secret}}]})
    encoded = b64(kubeconfig)
    return Case("kubeconfig-b64", draw(st.sampled_from((encoded, wrap(encoded, 76)))), [encoded[:40], secret])


FAMILIES: tuple[Callable[[Draw, str], Case], ...] = (
    # shapes the redactor once missed
    shapes.mapping, shapes.flag_with_space, shapes.curl_user, shapes.curl_headers, shapes.aws_ini,
    shapes.connection_string, shapes.url_with_at, shapes.docker_auth, shapes.block_scalar, shapes.netrc,
    shapes.token_format, shapes.pem_body, shapes.secret_data, shapes.exec_env, shapes.env_entry,
    _registered_short, _registered_url, _registered_json, _registered_wrapped, _kubeconfig_user,
    # the first shapes
    _bearer, _jwt, _pem, _userinfo, _query, _basic, _env_var, _registered, _registered_b64, _kubeconfig_b64,
)  # fmt: skip
FAMILY_NAMES = tuple(family.__name__.lstrip("_") for family in FAMILIES)


@st.composite
def cases(draw: Draw, family: int | None = None) -> tuple[str, Case]:
    """(the family's name, a generated case of it); of family number ``family`` if given."""
    index = draw(st.integers(min_value=0, max_value=len(FAMILIES) - 1)) if family is None else family
    return FAMILY_NAMES[index], FAMILIES[index](draw, draw(SECRET))


@st.composite
def mixed_cases(draw: Draw, families: list[int]) -> list[tuple[tuple[str, Case], str, str]]:
    """A case of each of ``families`` (numbers), each with filler before and after."""
    return [(draw(cases(family)), draw(FILLER), draw(FILLER)) for family in families]


__all__ = ["FAMILIES", "FAMILY_NAMES", "FILLER", "Case", "cases", "leaks", "mixed_cases"]
