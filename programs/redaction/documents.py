"""Secrets that only the structure of a YAML, JSON or Python-repr document reveals.

- a block scalar under a secret key (``password: |`` and the lines below it);
- every value of a Kubernetes Secret's ``data``/``stringData``/``binaryData``, whatever the
  keys are called (a Secret is recognised by ``kind: Secret`` among the keys of the same
  mapping, before or after ``data``, as kubectl sorts them);
- every ``value`` of an exec plugin's ``env`` in a kubeconfig (``exec:`` ... ``value:``);
- the ``value`` of an environment entry whose ``name`` names a secret (``- name: VAULT_TOKEN``
  / ``value: ...``), in a pod spec, a kubeconfig or anywhere.

YAML is read line by line (indentation and ``- `` decide what belongs together), JSON and
repr by matching braces outside strings; nothing is parsed whole, so cut or mixed output works.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from programs.redaction.shapes import quoted_like
from programs.redaction.words import QUOTED, is_secret_name

_YAML_LINE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<dash>(?:-[ \t]+)*)"
    r"(?P<key>\"[^\"\n]*\"|'[^'\n]*'|[^\s#'\"{\[-][^:\n]*?|-[^\s:\n][^:\n]*?)"
    r"[ \t]*:(?:[ \t]+(?P<value>.*?))?[ \t]*\r?$"
)
_BLOCK_SCALAR = re.compile(r"^[|>][-+0-9]*(?:[ \t]+#.*)?$")
_DATA_KEYS = ("data", "stringData", "binaryData")
_BLOCK_SCALAR_KEY = re.compile(r"(?m)^[ \t]*(?:-[ \t]+)*[\"']?([A-Za-z0-9_.-]++)[\"']?[ \t]*:[ \t]*[|>]")
_ENV_NAME = re.compile(r"name:[ \t]*[\"']?([A-Za-z0-9_.-]++)")
_HAS_SECRET_KIND = re.compile(r"kind:[ \t]*[\"']?Secret\b")
_HAS_EXEC = re.compile(r"(?m)^[ \t]*(?:-[ \t]+)*exec:[ \t]*\r?$")


@dataclass(frozen=True)
class _Entry:
    column: int  # where the key starts
    indent: int  # leading white space (before any "- ")
    item: bool  # the line opens a sequence item ("- key: ...")
    key: str
    value: str


def _entry(line: str) -> _Entry | None:
    match = _YAML_LINE.match(line)
    if match is None:
        return None
    indent, dash = match.group("indent"), match.group("dash")
    key, value = match.group("key").strip("\"'"), match.group("value") or ""
    return _Entry(len(indent) + len(dash), len(indent), bool(dash), key, value)


def _indent(line: str) -> int | None:
    """Leading white space of a line, None for a blank or comment line."""
    stripped = line.lstrip(" \t")
    return None if not stripped.strip() or stripped.startswith("#") else len(line) - len(stripped)


def _deeper_end(lines: list[str], start: int, column: int) -> int:
    """The index after the lines below ``start`` indented deeper than ``column``."""
    index = start + 1
    while index < len(lines):
        indent = _indent(lines[index])
        if indent is not None and indent <= column:
            break
        index += 1
    return index


def _scalar_end(lines: list[str], start: int, parent_indent: int) -> int:
    """The index after a block scalar's lines: as indented as its first line, which is deeper
    than ``parent_indent`` (YAML's auto-detected indentation)."""
    index = start + 1
    while index < len(lines) and _indent(lines[index]) is None:
        index += 1
    first = _indent(lines[index]) if index < len(lines) else None
    if first is None or first <= parent_indent:
        return start + 1
    while index < len(lines):
        indent = _indent(lines[index])
        if indent is not None and indent < first:
            break
        index += 1
    return index


def _siblings(lines: list[str], entries: list[_Entry | None], at: int) -> list[int]:
    """Indices of the keys of the mapping that holds line ``at`` (itself included)."""
    own = entries[at]
    assert own is not None
    column, found = own.column, [at]
    index = at
    while not entries[index] or not entries[index].item:  # type: ignore[union-attr]
        index -= 1
        if index < 0:
            break
        indent, entry = _indent(lines[index]), entries[index]
        if indent is None:
            continue
        if entry is not None and entry.column == column:
            found.append(index)
        elif indent < column:
            break
    for index in range(at + 1, len(lines)):
        indent, entry = _indent(lines[index]), entries[index]
        if indent is None:
            continue
        if entry is not None and entry.column == column:
            if entry.item:
                break  # the next item of the sequence
            found.append(index)
        elif indent < column:
            break
    return found


def _value_only(line: str, entry: _Entry) -> str:
    """``line`` with its value replaced: ``  key: <redacted>`` (a quoted value keeps its quotes)."""
    colon = line.index(":", entry.column) + 1
    rest = line[colon:]
    value = rest.strip(" \t\r")
    return line[: colon + len(rest) - len(rest.lstrip(" \t"))] + quoted_like(value)


def redact_yaml(text: str) -> str:
    """Block scalars of secret keys, Secret data, exec-plugin env values and secret env entries."""
    scalars = any(is_secret_name(m.group(1)) for m in _BLOCK_SCALAR_KEY.finditer(text))
    secrets = "Secret" in text and _HAS_SECRET_KIND.search(text) is not None
    execs = "exec:" in text and _HAS_EXEC.search(text) is not None
    env = "value:" in text and any(is_secret_name(m.group(1)) for m in _ENV_NAME.finditer(text))
    if not (scalars or secrets or execs or env):
        return text
    lines = text.split("\n")
    entries = [_entry(line) for line in lines]
    drop: set[int] = set()
    for index, entry in enumerate(entries):
        if entry is None or index in drop:
            continue
        if scalars and _BLOCK_SCALAR.match(entry.value) and is_secret_name(entry.key):
            lines[index] = _value_only(lines[index], entry)
            drop.update(range(index + 1, _scalar_end(lines, index, entry.indent)))
        elif secrets and entry.key in _DATA_KEYS and _is_secret(lines, entries, index):
            _redact_data(lines, entries, index, drop)
        elif execs and entry.key == "exec" and not entry.value:
            for inner in range(index + 1, _deeper_end(lines, index, entry.column)):
                found = entries[inner]
                if found is not None and found.key == "value" and found.value:
                    lines[inner] = _value_only(lines[inner], found)
        elif env and entry.key == "name" and is_secret_name(entry.value.strip("\"'")):
            for sibling in _siblings(lines, entries, index):
                found = entries[sibling]
                if found is not None and found.key == "value" and found.value:
                    lines[sibling] = _value_only(lines[sibling], found)
    return "\n".join(line for index, line in enumerate(lines) if index not in drop)


OBJECT_KIND_KEY = "kind"  # a Kubernetes object's kind field (not the kind topology mode)


def _is_secret(lines: list[str], entries: list[_Entry | None], at: int) -> bool:
    for index in _siblings(lines, entries, at):
        entry = entries[index]
        if entry is not None and entry.key == OBJECT_KIND_KEY and entry.value.strip("\"' ") == "Secret":
            return True
    return False


def _redact_data(lines: list[str], entries: list[_Entry | None], at: int, drop: set[int]) -> None:
    """Every value under the ``data`` key at ``at`` (a flow mapping on its line, or its block)."""
    entry = entries[at]
    assert entry is not None
    if entry.value:  # data: {a: b}
        lines[at] = _value_only(lines[at], entry)
        return
    end = _deeper_end(lines, at, entry.column)
    column = next((_indent(lines[i]) for i in range(at + 1, end) if _indent(lines[i]) is not None), None)
    for index in range(at + 1, end):
        found, indent = entries[index], _indent(lines[index])
        if indent == column and found is not None:
            if found.value:
                lines[index] = _value_only(lines[index], found)
        elif indent is not None:
            drop.add(index)  # the rest of a multi-line value


# -- JSON and Python repr ------------------------------------------------------------------------

_KIND_SECRET = re.compile(r"[\"']kind[\"']\s*:\s*[\"']Secret[\"']")
_EXEC_OPEN = re.compile(r"[\"']exec[\"']\s*:\s*\{")
_COLON = re.compile(r"\s*:\s*")
_ANY_ENTRY = re.compile(rf"({QUOTED})(\s*:\s*)({QUOTED})")
_VALUE_ENTRY = re.compile(rf"([\"']value[\"']\s*:\s*)({QUOTED})")
_NAME_THEN_VALUE = re.compile(
    r"(?i)((?<![A-Za-z0-9_-])[\"']?name[\"']?\s*:\s*([\"']?)([A-Za-z0-9_.-]+)\2\s*,\s*"
    rf"[\"']?value[\"']?\s*:\s*)({QUOTED}|[^,}}\s]+)"
)
_VALUE_THEN_NAME = re.compile(
    rf"(?i)((?<![A-Za-z0-9_-])[\"']?value[\"']?\s*:\s*)({QUOTED}|[^,}}\s]+)"
    r"(\s*,\s*[\"']?name[\"']?\s*:\s*([\"']?)([A-Za-z0-9_.-]+)\4)"
)
_MAX_ENCLOSING = 8


def _string_end(text: str, start: int) -> int:
    quote, index = text[start], start + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char in (quote, "\n"):
            return index + 1
        index += 1
    return index


def _scan(text: str, start: int) -> tuple[int, dict[str, int]] | None:
    """From the ``{`` at ``start``: the end of the object and where each of its own keys'
    values starts; None when it does not close."""
    depth, index = 0, start
    keys: dict[str, int] = {}
    while index < len(text):
        char = text[index]
        if char in "\"'":
            end = _string_end(text, index)
            colon = _COLON.match(text, end)
            if depth == 1 and colon is not None and text[end : colon.end()].strip() == ":":
                keys.setdefault(text[index + 1 : end - 1], colon.end())
            index = end
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index + 1, keys
        index += 1
    return None


def _enclosing_starts(text: str, at: int) -> list[int]:
    """Candidate ``{`` positions enclosing ``at`` (braces counted, strings not known)."""
    starts: list[int] = []
    depth, index = 0, at
    while index > 0 and len(starts) < _MAX_ENCLOSING:
        index -= 1
        if text[index] == "}":
            depth += 1
        elif text[index] == "{":
            if depth == 0:
                starts.append(index)
            else:
                depth -= 1
    return starts


def _redact_values_in(
    text: str, start: int, entry: re.Pattern[str], replace: Callable[[re.Match[str]], str]
) -> tuple[str, int]:
    """The ``entry`` matches inside the object opening at ``start`` replaced; the text and
    where the object now ends."""
    scanned = _scan(text, start)
    end = scanned[0] if scanned is not None else len(text)
    inner = entry.sub(replace, text[start:end])
    return text[:start] + inner + text[end:], start + len(inner)


def _any_value(match: re.Match[str]) -> str:
    return match.group(1) + match.group(2) + quoted_like(match.group(3))


def _env_value(match: re.Match[str]) -> str:
    return match.group(1) + quoted_like(match.group(2))


def redact_json(text: str) -> str:
    """Secret data and exec-plugin env values in JSON or Python repr; secret env entries."""
    if "Secret" in text:
        text = _redact_secret_objects(text)
    if "exec" in text:
        at = 0
        while (match := _EXEC_OPEN.search(text, at)) is not None:
            text, at = _redact_values_in(text, match.end() - 1, _VALUE_ENTRY, _env_value)
    if "name" in text and "value" in text:
        text = _NAME_THEN_VALUE.sub(
            lambda m: m.group(1) + quoted_like(m.group(4)) if is_secret_name(m.group(3)) else m.group(0), text
        )
        text = _VALUE_THEN_NAME.sub(
            lambda m: (
                m.group(1) + quoted_like(m.group(2)) + m.group(3)
                if is_secret_name(m.group(5))
                else m.group(0)
            ),
            text,
        )
    return text


def _redact_secret_objects(text: str) -> str:
    at = 0
    while (match := _KIND_SECRET.search(text, at)) is not None:
        at = match.end()
        for start in _enclosing_starts(text, match.start()):
            scanned = _scan(text, start)
            if scanned is None or scanned[0] < match.end():
                continue
            kind_at = scanned[1].get("kind")
            if kind_at is None or not text.startswith("Secret", kind_at + 1):
                continue
            for key in _DATA_KEYS:
                rescanned = _scan(text, start)
                value_at = rescanned[1].get(key) if rescanned is not None else None
                if value_at is not None and text.startswith("{", value_at):
                    text, _ = _redact_values_in(text, value_at, _ANY_ENTRY, _any_value)
            rescanned = _scan(text, start)
            at = rescanned[0] if rescanned is not None else len(text)
            break
    return text


# -- documents held by a JSON string ----------------------------------------------------------

_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*+"')
_MASK = re.compile(r'"\x00(\d+)\x00"')


def mask_json_strings(text: str, redact: Callable[[str], str]) -> tuple[str, Callable[[str], str]]:
    """JSON string literals with escapes in them (a YAML or JSON document kept in a ConfigMap,
    an annotation, a log field) decoded, redacted as text of their own (``redact``: the
    document's structure is only visible decoded) and encoded again, then masked while the
    patterns for the rest of the text run (a pattern that took an escaped quote for the end of
    a value would break the JSON). Returns the masked text and what puts the literals back."""
    if "\\" not in text:
        return text, _unchanged
    literals: list[str] = []

    def one(match: re.Match[str]) -> str:
        literal = match.group(0)
        if "\\" not in literal:
            return literal
        try:
            decoded = json.loads(literal)
        except ValueError:
            return literal
        cleaned = redact(decoded)
        literals.append(
            literal if cleaned == decoded else json.dumps(cleaned, ensure_ascii=literal.isascii())
        )
        return f'"\x00{len(literals) - 1}\x00"'

    masked = _JSON_STRING.sub(one, text)
    if not literals:
        return text, _unchanged
    return masked, lambda done: _MASK.sub(lambda m: literals[int(m.group(1))], done)


def _unchanged(text: str) -> str:
    return text
