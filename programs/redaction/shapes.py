"""Secrets recognised by their shape on a line (or a few): each pattern keeps what names the
secret (the key, the header, the flag, the user name) and replaces only the secret itself.

Families: PEM private keys (whole or cut short), ``Authorization`` and bearer credentials,
JSON Web Tokens (also wrapped), URL userinfo (a password may hold a raw ``@``), credential
query parameters, credential headers (``X-Auth-Token:``, ``Cookie:``, curl ``-v``'s ``> ``
lines, ``-H`` arguments), ``curl -u user:pw``, flags followed by their value (``--password
VALUE``, ``--token=VALUE``), ``KEY=value`` assignments, INI entries (``aws_secret_access_key =
...``), connection strings (``AccountKey=``), ``.netrc`` entries, well-known token formats
(GitHub, Google, Slack, GitLab, AWS key ids, OpenShift, npm, PyPI), and mapping entries in
block YAML, flow YAML, JSON and Python repr.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from programs.redaction.words import QUOTED, is_secret_name

REDACTED = "<redacted>"

_B64 = r"[A-Za-z0-9+/=]{8,}"
_SEP = r"(?:\\n|\s)+"  # a real newline, or a literal backslash-n in a repr
_LINE_BREAK = r"(?:\r?\n[ \t]*|\\n)"  # where output wraps a long value
_B64URL = r"[A-Za-z0-9_-]"

Replacement = str | Callable[[re.Match[str]], str]

# PEM blocks go first, so that no later pattern sees half a key.
PEM_PATTERNS: tuple[tuple[re.Pattern[str], Replacement], ...] = (
    (
        re.compile(
            r"-----BEGIN (?P<kind>[A-Z ]*PRIVATE KEY)-----.*?-----END (?P=kind)-----",
            re.DOTALL,
        ),
        f"-----BEGIN PRIVATE KEY-----{REDACTED}-----END PRIVATE KEY-----",
    ),
    # A PEM key cut short (a truncated repr, a wrapped log line): whatever base64 follows a
    # BEGIN marker is key material (what precedes an END marker: cut_key_tails).
    (
        re.compile(rf"(-----BEGIN [A-Z ]*PRIVATE KEY-----)(?:\\n|\s)*{_B64}(?:{_SEP}{_B64})*"),
        rf"\1{REDACTED}",
    ),
)


# A mapping value that is a number or a boolean by JSON's, YAML's and Python's own grammar:
# not a string, so no secret (every secret family in tests/redaction_families.py is a string), and kept so that a
# number under a secret-named key (the timeout table's ``install.remote-secret: 120``) stays one.
NOT_A_STRING = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|True|False")


def _if_secret(group: int, value: int, *, strings_only: bool = False) -> Callable[[re.Match[str]], str]:
    """Replace group ``value`` when the name in group ``group`` names a secret (a quoted value
    keeps its quotes: redacted JSON stays JSON). ``strings_only``: in a mapping, an unquoted
    number or boolean is kept (``NOT_A_STRING``); INI, flags and assignments hold only strings."""

    def replace(match: re.Match[str]) -> str:
        if not is_secret_name(match.group(group)) or match.group(value).strip("\"'").startswith(REDACTED):
            return match.group(0)
        if strings_only and NOT_A_STRING.fullmatch(match.group(value)):
            return match.group(0)
        offset, (start, end) = match.start(0), match.span(value)
        return (
            match.group(0)[: start - offset]
            + quoted_like(match.group(value))
            + match.group(0)[end - offset :]
        )

    return replace


def quoted_like(value: str) -> str:
    """REDACTED, in the quotes ``value`` had."""
    quote = value[:1]
    return (
        f"{quote}{REDACTED}{quote}"
        if quote in ("'", '"') and len(value) > 1 and value.endswith(quote)
        else REDACTED
    )


_USER_FLAG = r"(-(?<![\w-]-)(?:u\s*|U\s*|-(?:proxy-)?user(?:\s+|=)))"
_HEADER_NAME = (
    r"(?:[A-Za-z0-9]+-)*(?:token|api-?key|key|secret|auth|password|passwd|session(?:-id)?|signature)"
    r"|(?:set-)?cookie"
)
# Well-known token formats: a prefix that names the issuer (and that the text must hold, in
# lower case, for the pattern to be tried), then the secret.
_TOKEN_FORMATS = (
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{30,255}"),  # GitHub
    (("github_pat_",), r"github_pat_[A-Za-z0-9_]{22,255}"),  # GitHub fine-grained
    (("aiza",), r"AIza[0-9A-Za-z_-]{35,}"),  # Google API key
    (("ya29.",), r"ya29\.[0-9A-Za-z_.-]{20,}"),  # Google OAuth access token
    (("1//0",), r"1//0[0-9A-Za-z_-]{20,}"),  # Google OAuth refresh token
    (
        ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xapp-"),
        r"(?:xox[abposr]|xapp-[0-9])-[0-9A-Za-z-]{10,}",
    ),  # Slack
    (("glpat-",), r"glpat-[0-9A-Za-z_-]{20,}"),  # GitLab
    (("akia", "asia"), r"(?:AKIA|ASIA)[0-9A-Z]{16,}"),  # AWS access key id
    (("sha256~",), r"sha256~[A-Za-z0-9_-]{20,}"),  # OpenShift
    (("npm_",), r"npm_[A-Za-z0-9]{36,}"),  # npm
    (("pypi-",), r"pypi-[A-Za-z0-9_-]{50,}"),  # PyPI
)

_KEY = r"\"[^\"\n]*\"|'[^'\n]*'|[A-Za-z0-9_.-]++"
_MAPPING_VALUE = rf"{QUOTED}|(?![{{\[\s])[^\s,}}\]]+"


@dataclass(frozen=True)
class Shape:
    """A pattern, its replacement, and the words (lower case) one of which the text must hold
    for the pattern to be worth trying: most text holds none, and a scan costs."""

    needs: tuple[str, ...]
    pattern: re.Pattern[str]
    replacement: Replacement
    # A match left unchanged (its key names no secret) is looked into from this group on: a
    # quoted value may hold a document of its own ("x": "{'token': 'y'}").
    resume_at: int | None = None


SHAPES: tuple[Shape, ...] = (
    # An Authorization header or field, whatever its scheme (Basic, Bearer, token ...).
    Shape(
        ("authorization",),
        re.compile(
            r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:(?:basic|bearer|token|digest|negotiate)\s+)?+)"
            r"(?!<redacted>)[^\s\"',}\]]+"
        ),
        rf"\1{REDACTED}",
    ),
    Shape(("bearer",), re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\1{REDACTED}"),
    # JSON Web Tokens (service-account tokens) wherever they stand, also wrapped over lines:
    # breaks are allowed inside the header and payload (the two dots must follow), and the
    # signature goes on over following lines that hold nothing but base64url characters.
    Shape(
        ("eyj",),
        re.compile(
            rf"eyJ(?:{_B64URL}|{_LINE_BREAK})*\.(?:{_B64URL}|{_LINE_BREAK})*{_B64URL}{_LINE_BREAK}?"
            rf"\.{_LINE_BREAK}?{_B64URL}+(?:{_LINE_BREAK}{_B64URL}+(?=\r?\n|\\n|$))*"
        ),
        REDACTED,
    ),
    # URL userinfo up to the last '@' of the authority: https://user:p@ss@host, https://token@host.
    Shape(
        ("://",),
        re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*+://)[^/\s@\"'<>?#]*+(?:@[^/\s@\"'<>?#]*+)*@"),
        rf"\1{REDACTED}@",
    ),
    # Query parameters carrying credentials.
    Shape(
        ("=",),
        re.compile(
            r"(?i)([?&;](?:access_token|id_token|refresh_token|token|password|passwd|api_key|apikey|"
            r"api-key|key|sig|signature|client_secret|secret|x-amz-signature|x-amz-security-token)=)"
            r"(?!<redacted>)[^&\s#\"']+"
        ),
        rf"\1{REDACTED}",
    ),
    # Credential headers: curl -v's request and response lines, -H/--header arguments, any
    # X-...-Token header, and cookies.
    Shape(
        ("> ", "< ", ">\t", "<\t"),
        re.compile(rf"(?im)^([ \t]*[<>][ \t]*(?:{_HEADER_NAME})[ \t]*:[ \t]*)\S[^\r\n]*"),
        rf"\1{REDACTED}",
    ),
    Shape(
        ("-h", "--header"),
        re.compile(rf"(?i)((?:-H|--header)(?:\s*|=)\"[ \t]*(?:{_HEADER_NAME})[ \t]*:[ \t]*)[^\"\r\n]+"),
        rf"\1{REDACTED}",
    ),
    Shape(
        ("-h", "--header"),
        re.compile(rf"(?i)((?:-H|--header)(?:\s*|=)'[ \t]*(?:{_HEADER_NAME})[ \t]*:[ \t]*)[^'\r\n]+"),
        rf"\1{REDACTED}",
    ),
    Shape(
        ("x-",),
        re.compile(
            r"(\b[Xx]-(?:[A-Za-z0-9]+-)*(?i:token|api-?key|key|secret|auth|password)[ \t]*:[ \t]*)(?!<redacted>)[^\s\"',;]+"
        ),
        rf"\1{REDACTED}",
    ),
    Shape(
        ("cookie",),
        re.compile(r"(?im)^([ \t]*(?:[<>][ \t]*)?(?:set-)?cookie[ \t]*:[ \t]*)\S[^\r\n]*"),
        rf"\1{REDACTED}",
    ),
    # curl -u user:password (and --user, --proxy-user, -U); a uid:gid pair is not a credential.
    Shape(
        ("-u", "--user", "--proxy-user"),
        re.compile(rf"{_USER_FLAG}([\"'])(?!\d+:\d+\2)([^:\"'\n]*):[^\"'\n]*(?=\2)"),
        rf"\1\2\3:{REDACTED}",
    ),
    Shape(
        ("-u", "--user", "--proxy-user"),
        re.compile(rf"{_USER_FLAG}(?![\"'])(?!\d+:\d+(?![^\s\"']))([^\s:\"'<>]*):(?!<redacted>|:)[^\s\"']+"),
        rf"\1\2:{REDACTED}",
    ),
    # A flag whose name names a secret, then its value: --password VALUE, --token "VALUE".
    Shape(
        ("-",),
        re.compile(rf"(-(?<![\w-]-)-?[A-Za-z][A-Za-z0-9-]*+)([ \t]+)(?!-)({QUOTED}|[^\s\"']+)"),
        _if_secret(1, 3),
    ),
    # Well-known token formats, wherever they stand.
    *(
        Shape(needs, re.compile(rf"(?:(?<![A-Za-z0-9_/-])|(?<=\\[nrt])){pattern}"), REDACTED)
        for needs, pattern in _TOKEN_FORMATS
    ),
    # Mapping entries whose key names a secret: JSON and Python-repr keys (quoted) wherever
    # they stand, flow-style YAML keys after "{" or ",", block YAML keys at the start of a
    # line. A value opening a nested mapping or list ({, [, |, >) is left for its own entries
    # (block scalars: programs/redaction/documents.py); prose such as "cannot read secret: not
    # found" is not a mapping and keeps its words. Only string values are redacted: an unquoted
    # number or boolean is no secret (NOT_A_STRING).
    Shape(
        (":",),
        re.compile(rf"([\"'])([A-Za-z0-9_.-]++)\1(\s*:\s*)({_MAPPING_VALUE})"),
        _if_secret(2, 4, strings_only=True),
        resume_at=4,
    ),
    Shape(
        (":",),
        re.compile(rf"([{{,]\s*)([A-Za-z0-9_.-]++)(\s*:\s*)({_MAPPING_VALUE})"),
        _if_secret(2, 4, strings_only=True),
        resume_at=4,
    ),
    Shape(
        (":",),
        re.compile(
            rf"(?m)^([ \t]*(?:-[ \t]+)?)([A-Za-z0-9_.-]++)([ \t]*:[ \t]*)({QUOTED}|(?![{{\[|>\s])[^\n]*?)(?=[ \t]*\r?$)"
        ),
        _if_secret(2, 4, strings_only=True),
    ),
    # INI and TOML entries: aws_secret_access_key = VALUE, password = "VALUE".
    Shape(
        ("=",),
        re.compile(rf"(?m)^([ \t]*)({_KEY})([ \t]*=[ \t]*)({QUOTED}|\S[^\r\n]*?)(?=[ \t]*\r?$)"),
        _if_secret(2, 4),
    ),
    # .netrc: machine HOST login USER password PW (one line or several).
    Shape(
        ("password", "passwd"),
        re.compile(
            r"(?im)(\b(?:machine[ \t]+\S+|default|login[ \t]+\S+)[ \t]+(?:password|passwd)[ \t]+)(?!<redacted>)\S+"
        ),
        rf"\1{REDACTED}",
    ),
    Shape(
        ("password", "passwd"),
        re.compile(r"(?im)^([ \t]*(?:password|passwd)[ \t]+)(?!<redacted>)\S+(?=[ \t]*\r?$)"),
        rf"\1{REDACTED}",
    ),
)

# KEY=value (environment lines, argv such as --token=x or --env FOO_TOKEN=x, connection strings
# such as AccountKey=x;): every name= is found and the name decides, so that no long word is
# searched twice (no backtracking), and a value holding another assignment
# (CARRIED=GITHUB_TOKEN=x) is looked into.
_ASSIGNED_NAME = re.compile(r"(?<![A-Za-z0-9_.-])(?:--?)?[A-Za-z0-9_.-]+=")
_ASSIGNED_VALUE = re.compile(rf"{QUOTED}|[\"']?[^\s&\"',;]+")


def redact_assignments(text: str) -> str:
    if "=" not in text:
        return text
    pieces: list[str] = []
    last = 0
    for name in _ASSIGNED_NAME.finditer(text):
        if name.start() < last or not is_secret_name(name.group(0)[:-1]):
            continue
        value = _ASSIGNED_VALUE.match(text, name.end())
        if value is not None and not value.group(0).strip("\"'").startswith(REDACTED):
            pieces.append(text[last : name.end()] + REDACTED)
            last = value.end()
    pieces.append(text[last:])
    return "".join(pieces)


# The key material before an END marker whose BEGIN was cut away, found backwards from the
# marker (reversed text, matched at its start: linear, where a forward search is quadratic).
_KEY_END = re.compile(r"-----END [A-Z ]*PRIVATE KEY-----")
_KEY_TAIL_REVERSED = re.compile(r"(?:n\\|\s)*[A-Za-z0-9+/=]{8,}(?:(?:n\\|\s)+[A-Za-z0-9+/=]{8,})*")


def cut_key_tails(text: str) -> str:
    if "PRIVATE KEY-----" not in text:
        return text
    pieces: list[str] = []
    last = 0
    for marker in _KEY_END.finditer(text):
        segment = text[last : marker.start()]
        tail = _KEY_TAIL_REVERSED.match(segment[::-1])
        pieces.append(segment[: len(segment) - tail.end()] + REDACTED if tail else segment)
        pieces.append(marker.group(0))
        last = marker.end()
    pieces.append(text[last:])
    return "".join(pieces)


def redact_pem(text: str) -> str:
    """Private keys in PEM, whole or cut short (first: no later pattern sees half a key)."""
    for pattern, replacement in PEM_PATTERNS:
        text = pattern.sub(replacement, text)
    return cut_key_tails(text)


def redact_shapes(text: str) -> str:
    """Every other shape of this module."""
    text = redact_assignments(text)
    lowered = text.lower()
    for shape in SHAPES:
        if not any(need in lowered for need in shape.needs):
            continue
        if shape.resume_at is None:
            text = shape.pattern.sub(shape.replacement, text)
        else:
            text = _sub_resuming(shape, shape.resume_at, text)
    return text


def _sub_resuming(shape: Shape, group: int, text: str) -> str:
    """``shape``'s replacements, where a match left unchanged is searched again from ``group``."""
    assert callable(shape.replacement)
    pieces: list[str] = []
    last = position = 0
    while (match := shape.pattern.search(text, position)) is not None:
        replaced = shape.replacement(match)
        if replaced == match.group(0):
            position = max(match.start(group), match.start() + 1)
            continue
        pieces += [text[last : match.start()], replaced]
        last = position = match.end()
    pieces.append(text[last:])
    return "".join(pieces)
