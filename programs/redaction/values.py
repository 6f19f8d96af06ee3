"""Secrets known by value: registered at run time (a kubeconfig's credentials, a service-account
token, a generated private key), found in every form a tool may print them in.

Forms: the value itself, URL-encoded (``%40`` for ``@``, ``+`` for a space, either hex case),
JSON-escaped (``\\"``, ``\\\\``, ``\\/``, ``\\u00e9``), base64 (with and without padding, of the
value and of the value with a trailing newline, as ``base64`` and Kubernetes Secrets carry
them), and each of these wrapped over lines (a line break and indentation anywhere in it, or
a literal ``\\n`` in a repr). A PEM key is also secret line by line (output may re-indent it).

Values of ``MIN_LENGTH`` (8) characters or more are removed wherever they appear. Shorter ones
(``SHORT_MIN_LENGTH`` = 4 to 7 characters, a short password) only where they stand as a whole
token (not inside a longer word, path or base64 run): removing ``admin`` from ``cluster-admin``
would wreck every log. Values under 4 characters are not registered: nothing can keep a
one-, two- or three-character secret out of text without removing every word that holds it.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
import threading
from urllib.parse import quote, quote_plus

from programs.redaction.shapes import REDACTED

MIN_LENGTH = 8
SHORT_MIN_LENGTH = 4
_PEM_LINE_MIN = 32
_TOKEN_CHAR = r"[A-Za-z0-9_+-]"
_BREAK = re.compile(r"\r?\n[ \t]*|\\n")
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def forms_of(value: str) -> set[str]:
    """Every form of ``value`` a tool may print."""
    forms = {value}
    for encoded in (quote(value, safe=""), quote(value), quote_plus(value, safe="")):
        forms.update((encoded, _PERCENT.sub(lambda m: m.group(0).lower(), encoded)))
    for escaped in (json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
        forms.update((escaped, escaped.replace("/", "\\/")))
    for raw in (value.encode(), value.encode() + b"\n"):
        encoded = base64.b64encode(raw).decode()
        forms.update((encoded, encoded.rstrip("=")))
    return {form for form in forms if len(form) >= SHORT_MIN_LENGTH}


class SecretValues:
    """The registered values of one redactor. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._long: set[str] = set()
        self._short: set[str] = set()
        self._ordered: list[str] = []  # longest first: a value inside another goes after it
        self._short_pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        value = value.strip()
        if len(value) < SHORT_MIN_LENGTH:
            return
        forms = forms_of(value)
        with self._lock:
            if len(value) < MIN_LENGTH:
                self._short.update(forms)
                alternatives = "|".join(
                    re.escape(form) for form in sorted(self._short, key=len, reverse=True)
                )
                self._short_pattern = re.compile(rf"(?<!{_TOKEN_CHAR})(?:{alternatives})(?!{_TOKEN_CHAR})")
            else:
                self._long.update(forms)
            for raw_line in value.splitlines():
                line = raw_line.strip()
                if len(line) >= _PEM_LINE_MIN and not line.startswith("-----"):
                    self._long.add(line)
            self._ordered = sorted(self._long, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._ordered or self._short_pattern)

    def redact(self, text: str) -> str:
        with self._lock:
            ordered, short = self._ordered, self._short_pattern
        for value in ordered:
            if value in text:
                text = text.replace(value, REDACTED)
        if short is not None:
            text = short.sub(REDACTED, text)
        return _redact_wrapped(text, ordered) if ordered else text


def _redact_wrapped(text: str, values: list[str]) -> str:
    """Values split over lines: found in the text with its line breaks (and the indentation
    after them) taken out, then removed from the original text, breaks included."""
    if "\n" not in text and "\\n" not in text:
        return text
    kept: list[tuple[int, int]] = []  # (start, end) in the original text of each piece kept
    last = 0
    for found in _BREAK.finditer(text):
        kept.append((last, found.start()))
        last = found.end()
    kept.append((last, len(text)))
    joined = "".join(text[start:end] for start, end in kept)
    offsets, total = [], 0  # where each kept piece starts in ``joined``
    for start, end in kept:
        offsets.append(total)
        total += end - start

    def original(position: int) -> int:
        piece = bisect.bisect_right(offsets, position) - 1
        return kept[piece][0] + position - offsets[piece]

    spans: list[tuple[int, int]] = []
    for value in values:
        at = joined.find(value)
        while at >= 0:
            spans.append((original(at), original(at + len(value) - 1) + 1))
            at = joined.find(value, at + len(value))
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + REDACTED + text[end:]
    return text
