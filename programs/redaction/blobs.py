"""Base64 runs looked into: one that decodes to text holding a secret (the base64 of a
kubeconfig with a token in it, of a Docker config, or a registered value in any alignment),
or to a private key's DER (a PEM body printed without its BEGIN/END lines), is removed whole.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable

from programs.redaction.shapes import REDACTED

# Base64 runs worth decoding (also wrapped over lines, as `base64` prints them).
# Never from the letter of an escape (the ``n`` of a JSON ``\n``): the backslash would be left
# alone before the replacement, and the JSON broken.
BLOB = re.compile(r"(?<!\\)[A-Za-z0-9+/]{16,}={0,2}(?:(?:\r?\n[ \t]*|\\n)[A-Za-z0-9+/]{4,}={0,2})*")
_SPACE = re.compile(r"\\n|\s")
_PADDED_END = re.compile(r"[A-Za-z0-9+/]+={1,2}")
_OPENSSH_KEY = b"openssh-key-v1\x00"
_PRINTABLE_RUN = re.compile(r"[\t\n\r\x20-\x7e]{8,}")


def redact_blob(blob: str, holds_secret: Callable[[str], bool]) -> str:
    """``blob`` itself, or REDACTED when it decodes to a private key or to text in which
    ``holds_secret`` finds a secret."""
    joined = _SPACE.sub("", blob)
    first_line = _SPACE.split(blob, maxsplit=1)[0]
    # Text glued to the front shifts the base64 quartets: try each alignment (the wrong
    # ones decode to binary, rejected at once; text glued to the end is cut by _decode).
    bases = [joined]
    padded = _PADDED_END.match(joined)
    if padded is not None and padded.end() < len(joined):  # text glued after the padding
        bases.append(padded.group(0))
    candidates = [(base[skip:], joined) for base in bases for skip in range(4)]
    if first_line != joined:
        candidates.append((first_line, first_line))
    for candidate, covered in candidates:
        raw = _decode(candidate)
        if raw is None:
            continue
        text = _as_text(raw)
        if is_private_key_der(raw) or (text is not None and holds_secret(text)):
            return REDACTED if covered == joined else REDACTED + blob[len(first_line) :]
    return blob


def _decode(candidate: str) -> bytes | None:
    stripped = candidate.rstrip("=")
    if len(stripped) % 4 == 1:
        stripped = stripped[:-1]  # a character glued to the end cannot be base64 on its own
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _as_text(raw: bytes) -> str | None:
    """The text ``raw`` holds, or None when it is binary (a certificate's DER, random bytes).
    Words glued before or after the base64 run decode to garbage at its ends: the text is
    judged between its first and last runs of printable characters."""
    text = raw.decode("utf-8", errors="replace")
    runs = [run.span() for run in _PRINTABLE_RUN.finditer(text)]
    if not runs:
        return None
    core = text[runs[0][0] : runs[-1][1]]
    return text if 2 * len(core) >= len(text) and core.count("\ufffd") <= len(core) // 20 + 1 else None


def is_private_key_der(raw: bytes) -> bool:
    """Whether ``raw`` starts like a private key: PKCS#1 (RSA), SEC 1 (EC) and PKCS#8 keys are a
    SEQUENCE whose first element is a small INTEGER version (0 or 1); certificates and public
    keys start with a SEQUENCE or a long INTEGER instead. OpenSSH keys name their format."""
    if raw.startswith(_OPENSSH_KEY):
        return True
    if len(raw) < 8 or raw[0] != 0x30:
        return False
    length = raw[1]
    header = 2 + (length & 0x7F if length & 0x80 else 0)
    return raw[header : header + 3] in (b"\x02\x01\x00", b"\x02\x01\x01")
