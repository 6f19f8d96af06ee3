"""``Redactor``: removes secrets from text and documents before anything is written or shown.

The layers, in order: text quoted under pytest's ``E   `` line prefix, redacted as the text
it quotes (programs/redaction/prefixes.py), private keys in PEM (programs/redaction/shapes.py), what a document's
structure reveals (programs/redaction/documents.py), every other shape (shapes.py), registered
values in all their forms (programs/redaction/values.py), and base64 runs decoded and looked
into (programs/redaction/blobs.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from programs.redaction.blobs import BLOB, redact_blob
from programs.redaction.documents import mask_json_strings, redact_json, redact_yaml
from programs.redaction.prefixes import redact_prefixed
from programs.redaction.shapes import REDACTED, redact_pem, redact_shapes
from programs.redaction.values import SecretValues
from programs.redaction.words import is_secret_name

_MAX_DEPTH = 2  # base64 inside base64 inside text: deeper nesting is not decoded
_MAX_NESTING = 3  # a document in a JSON string in a JSON string in JSON
_DATA_KEYS = ("data", "stringData", "binaryData")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _unchanged(text: str) -> str:
    return text


class Redactor:
    """Removes secrets from text. Thread-safe: xdist workers use one each, threads share it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values = SecretValues()
        for value in secrets:
            self.register(value)

    def register(self, value: str) -> None:
        """Treat ``value`` (and every form of it: programs/redaction/values.py) as secret from now on."""
        self._values.add(value)

    def redact(self, text: str) -> str:
        return self._redact(text, 0)

    def _redact(self, text: str, depth: int, nesting: int = 0) -> str:
        """``depth``: base64 decodings above this text; ``nesting``: JSON string decodings."""
        text = redact_prefixed(text, lambda quoted: self._redact(quoted, depth, nesting))
        text = redact_pem(text)
        restore: Callable[[str], str] = _unchanged
        if nesting < _MAX_NESTING:
            text, restore = mask_json_strings(text, lambda decoded: self._redact(decoded, depth, nesting + 1))
        text = redact_json(redact_yaml(text))
        text = redact_shapes(text)
        text = self._values.redact(text)
        if depth < _MAX_DEPTH:
            text = BLOB.sub(
                lambda match: redact_blob(match.group(0), lambda decoded: self._changes(decoded, depth + 1)),
                text,
            )
        return restore(text)

    def _changes(self, text: str, depth: int) -> bool:
        return self._redact(text, depth) != text

    def redact_bytes(self, data: bytes) -> str:
        return self.redact(data.decode("utf-8", errors="replace"))

    def redact_argv(self, argv: Iterable[str]) -> list[str]:
        return [self.redact(arg) for arg in argv]

    def redact_document(self, document: Any) -> Any:
        """A copy of a JSON/YAML document fit for a report: every string redacted, and whole
        values where the structure says they are secret (a key naming a secret, a Secret's
        data, an exec plugin's env, an env entry whose name names a secret).

        Under a key naming a secret only strings are secret (every secret family in tests/redaction_families.py is
        a string), in lists below it too: numbers and booleans stay what they are, so the timeout
        table's ``install.remote-secret: 120`` stays a number. A mapping below it is judged by its
        own keys (a pod volume's ``secret: {secretName: ...}`` names a Secret, it holds none)."""
        return _document(document, self)

    def redact_manifest(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """A copy of a Kubernetes object fit for a report: Secret payloads are dropped entirely."""
        cleaned = copy.deepcopy(manifest)
        annotations = cleaned.get("metadata", {}).get("annotations")
        if isinstance(annotations, dict):
            # kubectl keeps the whole applied object, Secret payload included, in this annotation.
            annotations.pop(_LAST_APPLIED, None)
        redacted: dict[str, Any] = _document(cleaned, self)
        return redacted


def _document(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, list | tuple):
        return [_document(item, redactor) for item in value]
    if not isinstance(value, dict):
        return value
    secret = value.get("kind") == "Secret"
    name = value.get("name")
    env_secret = isinstance(name, str) and is_secret_name(name)
    cleaned: dict[Any, Any] = {}
    for key, item in value.items():
        if secret and key in _DATA_KEYS and isinstance(item, dict):
            cleaned[key] = dict.fromkeys(item, REDACTED)
        elif key == "exec" and isinstance(item, dict):
            cleaned[key] = _document(_without_env_values(item), redactor)
        elif (env_secret and key == "value") or (
            isinstance(key, str) and is_secret_name(key) and not isinstance(item, dict)
        ):
            cleaned[key] = _strings_redacted(item, redactor)
        else:
            cleaned[key] = _document(item, redactor)
    return cleaned


def _strings_redacted(value: Any, redactor: Redactor) -> Any:
    """``value`` under a secret-named key: its strings redacted, in lists too (numbers and
    booleans kept; a mapping in a list is judged by its own keys)."""
    if isinstance(value, str):
        return REDACTED
    if isinstance(value, list | tuple):
        return [_strings_redacted(item, redactor) for item in value]
    return _document(value, redactor)


def _without_env_values(exec_config: dict[str, Any]) -> dict[str, Any]:
    env = exec_config.get("env")
    if not isinstance(env, list):
        return exec_config
    entries = [
        {**entry, "value": REDACTED} if isinstance(entry, dict) and "value" in entry else entry
        for entry in env
    ]
    return {**exec_config, "env": entries}


def copy_redacted(source: Path, target: Path, redactor: Redactor, *, max_bytes: int) -> bool:
    """Write ``source`` through the redactor to ``target``; False (nothing written) when it is
    larger than ``max_bytes``. The target is replaced atomically: no half-written copy."""
    if source.stat().st_size > max_bytes:
        return False
    text = redactor.redact_bytes(source.read_bytes())
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)
    return True


def copy_tree_redacted(
    source: Path, target: Path, redactor: Redactor, *, max_bytes: int
) -> tuple[list[Path], list[str]]:
    """Copy every regular file under ``source`` (symlinks skipped) through the redactor to the
    same place under ``target``; return (files written, problems)."""
    written: list[Path] = []
    problems: list[str] = []
    for path in sorted(source.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        destination = target / path.relative_to(source)
        try:
            if copy_redacted(path, destination, redactor, max_bytes=max_bytes):
                written.append(destination)
            else:
                problems.append(f"{path.name}: larger than {max_bytes} bytes, not copied")
        except OSError as error:
            problems.append(f"{path.name}: {error}")
    return written, problems
