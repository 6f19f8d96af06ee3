"""What a generated secret case is (tests/redaction_families.py makes them): the text that
carries the secret, the strings that must not survive and what the run would have registered;
the generated names of secrets; and the search for leaks.

Secrets are upper case and digits, the text around them lower case and punctuation: a secret
can never appear by accident in the filler, nor be assembled from it.
"""

from __future__ import annotations

import base64
import re
import string
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
SECRET = st.text(alphabet=UPPER, min_size=16, max_size=48)
SHORT_SECRET = st.text(alphabet=UPPER, min_size=4, max_size=7).filter(
    lambda s: sum(c.isdigit() for c in s) >= 2 and sum(c.isalpha() for c in s) >= 2
)
FILLER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz .,;:()-\n", max_size=40)
ALNUM = string.ascii_letters + string.digits
SHORT_MIN = 8  # what tests/ call a short secret: checked as a whole token, not a substring

Draw = st.DrawFn


@dataclass
class Case:
    """One generated secret: the text that carries it and the strings that must not survive."""

    family: str
    text: str
    forbidden: list[str]
    register: list[str] = field(default_factory=list)
    kubeconfig: dict[str, Any] | None = None
    env_name: str | None = None
    document: Any = None  # the object the text renders, when it renders one (a check's evidence)


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def wrap(text: str, width: int, indent: str = "") -> str:
    return f"\n{indent}".join(text[i : i + width] for i in range(0, len(text), width))


# -- names ------------------------------------------------------------------------------------

SECRET_WORDS = (
    ("token",), ("password",), ("passwd",), ("passphrase",), ("secret",), ("api", "key"), ("access", "key"),
    ("secret", "access", "key"), ("private", "key"), ("client", "secret"), ("credentials",),
    ("account", "key"), ("shared", "access", "key"), ("client", "key", "data"), ("refresh", "token"),
    ("access", "token"), ("id", "token"), ("auth", "token"), ("session", "token"), ("signing", "key"),
)  # fmt: skip
PREFIX_WORDS = ("github", "db", "vault", "aws", "my", "registry", "oauth", "admin", "ci", "npm", "smtp")
KEEPING_SUFFIXES = ((), ("value",), ("b64",), ("data",), ("raw",), ("1",))
NOTATIONS = ("kebab", "snake", "screaming", "camel", "pascal", "dotted")


def render_name(words: list[str], notation: str) -> str:
    if notation == "kebab":
        return "-".join(words)
    if notation == "snake":
        return "_".join(words)
    if notation == "screaming":
        return "_".join(words).upper()
    if notation == "dotted":
        return ".".join(words)
    camel = "".join(word.capitalize() for word in words)
    return camel if notation == "pascal" else camel[0].lower() + camel[1:]


@st.composite
def secret_names(draw: Draw, notations: tuple[str, ...] = NOTATIONS, flag: bool = False) -> str:
    """A name that names a secret: prefix words, a secret word, words that keep it secret."""
    word = list(draw(st.sampled_from(SECRET_WORDS)))
    if flag and word == ["secret"]:
        word = ["client", "secret"]  # --tls-secret names a Secret object (a reference), not a credential
    prefix = draw(st.lists(st.sampled_from(PREFIX_WORDS), max_size=2))
    suffix = list(draw(st.sampled_from(KEEPING_SUFFIXES)))
    return render_name([*prefix, *word, *suffix], draw(st.sampled_from(notations)))


def neutral_names() -> st.SearchStrategy[str]:
    return st.sampled_from(("HELPER_INPUT", "AWS_PROFILE_ARG", "CLUSTER_REGION", "LOGIN_HINT", "DATA"))


def leaks(case: Case, texts: list[str]) -> list[str]:
    """Every forbidden string found in ``texts`` (also with line breaks taken out: a secret
    wrapped over lines survives too; a short one only as a whole token)."""
    found = []
    for text in texts:
        joined = re.sub(r"\\n|\s", "", text)
        for bad in case.forbidden:
            if len(bad) < SHORT_MIN:
                hit = re.search(rf"(?<![A-Za-z0-9_+-]){re.escape(bad)}(?![A-Za-z0-9_+-])", text) is not None
            else:
                hit = bad in text or bad in joined
            if hit:
                found.append(f"{case.family}: {bad!r} in {text[:400]!r}")
    return found
