"""Which names name a secret: mapping keys, ``NAME=`` assignments, flags, env entries, headers.

A name is secret when it ends with a secret word (``token``, ``password``, ``clientSecret``,
``AWS_SECRET_ACCESS_KEY``, ``AccountKey``), in any case and notation (kebab, snake, camel),
optionally followed by words that only say how the value is held (``TOKEN_B64``). Any other
word after it makes the name a reference to a secret, which people need to read: ``secret_name``,
``tokenFile``, ``TOKEN_AUDIENCE``, ``credentialName`` keep their values, and so does
``client-key`` (kubectl's path to a key file; the key itself is ``client-key-data``).
"""

from __future__ import annotations

import functools
import re

_WORDS = (
    "token",
    "password",
    "passwd",
    "passphrase",
    "secret",
    r"client[-_.]?key[-_.]?data",
    r"client[-_.]?secret",
    r"api[-_.]?key",
    r"access[-_.]?key",
    r"secret[-_.]?(?:access[-_.]?)?key",
    r"private[-_.]?key",
    r"credentials?",
    r"account[-_.]?key",
    r"shared[-_.]?access[-_.]?(?:key|signature)",
    r"(?:master|primary|secondary|storage|signing|encryption|subscription)[-_.]?key",
)
SECRET_WORD = "(?:" + "|".join(_WORDS) + ")"
# Words after the secret word that keep the name secret: how the value is encoded or numbered.
SUFFIX = r"(?:[-_.]?(?:value|data|b64|base64|raw|plain|text|string|encoded|[0-9]+))*"
# Keys that hold a credential though no secret word is in them: Docker's registry auth, cookies.
EXACT_KEYS = r"auth|identitytoken|registrytoken|\.dockerconfigjson|\.dockercfg|(?:set[-_.]?)?cookie"
# A mapping key (quoted or not) that names a secret; the caller anchors what follows it.
SECRET_KEY = rf"(?:[A-Za-z0-9_.-]*?{SECRET_WORD}{SUFFIX}|{EXACT_KEYS})"
QUOTED = r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'"

_NAME = re.compile(rf"(?i)(?:[A-Za-z0-9_.-]*?{SECRET_WORD}{SUFFIX}|{EXACT_KEYS})")
# ``--tls-secret NAME`` and ``--external-tls-secret=NAME`` name a Secret object: a flag whose
# only secret word is a bare ``secret`` is a reference (``--client-secret`` stays a credential).
_FLAG_REFERENCE = re.compile(r"(?i)--?(?:[a-z0-9]+-)*secret")
_CREDENTIAL_SECRET = re.compile(r"(?i)(?:client|shared|app|webhook|hmac)[-_]?secret$")


_HINTS = ("token", "pass", "secret", "key", "credential", "auth", "docker", "signature", "cookie")


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether ``name`` (a key, variable or flag, without ``=`` or ``:``) names a secret."""
    name = name.strip("\"'<> ")
    lowered = name.lower()
    if not any(hint in lowered for hint in _HINTS):
        return False
    if not _NAME.fullmatch(name.lstrip("-")):
        return False
    return not (_FLAG_REFERENCE.fullmatch(name) and not _CREDENTIAL_SECRET.search(name))
