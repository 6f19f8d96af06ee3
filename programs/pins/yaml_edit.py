"""Rewriting versions.yaml in place: ruamel.yaml's round trip keeps its comments, anchors, merge
keys, quoting and flow lists; only the values changed (and their end-of-line comments) differ."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import ScalarString
from ruamel.yaml.tokens import CommentToken

from programs.pins.model import Change

# Where a key that is not there yet goes: after this sibling.
NEW_KEY_AFTER = {"sha256": "checksum_url", "go_sum": "go_module", "past_end_of_life": "candidates"}


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    # versions.yaml writes nulls as `null`; ruamel's default is an empty value.
    yaml.representer.add_representer(
        type(None), lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


def load(text: str) -> CommentedMap:
    data = _yaml().load(text)
    if not isinstance(data, CommentedMap):
        raise ValueError("versions.yaml is not a mapping")
    return data


def dump(data: CommentedMap) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def _mapping(data: CommentedMap, path: tuple[str, ...]) -> CommentedMap:
    node: Any = data
    for key in path:
        node = node[key]
    if not isinstance(node, CommentedMap):
        raise KeyError(f"{'.'.join(path)} is not a mapping in versions.yaml")
    return node


def _set_eol_comment(node: CommentedMap, key: str, text: str) -> None:
    """Replace the end-of-line comment of ``key``, keeping the comment lines that follow it
    (ruamel attaches those to the same token). Written two spaces after the value."""
    items = node.ca.items.get(key)
    token = items[2] if items and len(items) > 2 else None
    if not isinstance(token, CommentToken):
        node.yaml_add_eol_comment(f"# {text}", key)
        token = node.ca.items[key][2]
        rest = ""
    else:
        first, _, rest = token.value.partition("\n")
        if not first.strip().startswith("#"):
            rest = token.value.removeprefix("\n")
    token.value = f" # {text}\n{rest}"  # the emitter puts one space before it
    token.start_mark = CommentMark(0)


def _styled(old: Any, new: Any) -> Any:
    """``new`` in the quoting style of ``old`` (a quoted version stays quoted)."""
    if isinstance(old, ScalarString) and isinstance(new, str):
        return type(old)(new)
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        style = type(old[0]) if old and isinstance(old[0], ScalarString) else None
        seq = CommentedSeq([style(item) if style and isinstance(item, str) else item for item in new])
        if old.fa.flow_style():
            seq.fa.set_flow_style()
        return seq
    return new


def apply(data: CommentedMap, changes: list[Change]) -> None:
    for change in changes:
        node = _mapping(data, change.path)
        if change.key not in node:
            # A new key (a tool's first go_sum or sha256, the past_end_of_life list): after the
            # key it belongs with, a list in the style of its sibling lists.
            anchor = NEW_KEY_AFTER.get(change.key, "version")
            own = [key for key in node if key in node.lc.data] or list(node)
            after = own.index(anchor) + 1 if anchor in own else len(own)
            sibling = node.get(anchor)
            value = _styled(sibling, change.value) if isinstance(sibling, CommentedSeq) else change.value
            node.insert(after, change.key, value)
            if change.comment:
                _set_eol_comment(node, change.key, change.comment)
            continue
        value = _styled(node[change.key], change.value)
        if isinstance(value, dict) and isinstance(node[change.key], CommentedMap):
            old = node[change.key]
            key_sample = next(iter(old), None)
            value_sample = next(iter(old.values()), None)
            replacement = CommentedMap(
                (_styled(key_sample, key), _styled(value_sample, item)) for key, item in value.items()
            )
            replacement.ca.items.update({k: v for k, v in old.ca.items.items() if k in replacement})
            last_old, last_new = next(reversed(old), None), next(reversed(replacement), None)
            if last_old in old.ca.items and last_new is not None and last_new != last_old:
                # What follows the map (a blank line, comments) hangs on its last key.
                replacement.ca.items[last_new] = replacement.ca.items.pop(last_old, old.ca.items[last_old])
            value = replacement
        node[change.key] = value
        if change.comment:
            _set_eol_comment(node, change.key, change.comment)


def rewrite(path: Path, changes: list[Change]) -> str:
    """The new text of ``path`` with ``changes`` applied (not written)."""
    data = load(path.read_text(encoding="utf-8"))
    apply(data, changes)
    return dump(data)
