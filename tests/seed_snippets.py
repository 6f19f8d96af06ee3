"""Read the seeds' own shell snippets and run them, to get the manifests the guides produce.

The golden tests compare rendered manifests with what a reader of the guide ends up with:
the heredoc files with the variables substituted and, for the IP-address variant, after the
guide's own ``sed`` edits. Both run in real ``bash`` (through the suite's CommandRunner), so
no expected YAML is copied by hand into the tests.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import yaml

from programs.runner import CommandRunner
from tests.upstream import seeds_dir

_TEXT_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)\{\{< text[^>]*>\}\}\n(?P<body>.*?)^[ \t]*\{\{< /text >\}\}", re.M | re.S
)
_FENCE_BLOCK = re.compile(r"^(?P<indent>[ \t]*)```bash\n(?P<body>.*?)^[ \t]*```", re.M | re.S)


def seed_path(number: str) -> Path:
    """The guide ``number`` in ../shared/seeds beside the repository (skips where absent)."""
    seeds = seeds_dir()
    matches = sorted(seeds.glob(f"{number}_*.txt"))
    if len(matches) != 1:
        raise FileNotFoundError(
            f"seed {number}: expected one file {number}_*.txt in {seeds}, found {matches}"
        )
    return matches[0]


def seed_text(number: str, *, after: str | None = None) -> str:
    text = seed_path(number).read_text(encoding="utf-8")
    if after is not None:
        text = text[text.index(after) :]
    return text


def _blocks(text: str) -> list[str]:
    found = []
    for pattern in (_TEXT_BLOCK, _FENCE_BLOCK):
        for match in pattern.finditer(text):
            found.append(textwrap.dedent(match.group("body")))
    return found


def heredoc(text: str, marker: str) -> str:
    """The body of the one heredoc in a block containing ``marker`` (e.g. ``> external-istiod.yaml``
    or ``name: external-istiod``)."""
    candidates = []
    for block in _blocks(text):
        lines = block.splitlines()
        for index, line in enumerate(lines):
            if "<<EOF" not in line:
                continue
            end = lines.index("EOF", index + 1)
            body = "\n".join(lines[index + 1 : end]) + "\n"
            if marker in line or marker in body:
                candidates.append(body)
    if len(candidates) != 1:
        raise LookupError(f"expected one heredoc matching {marker!r}, found {len(candidates)}")
    return candidates[0]


def sed_script(text: str, file_name: str) -> str:
    """The one ``sed -i`` block of a seed that edits ``file_name`` (the IP-address variants)."""
    candidates = [
        block.replace("$ sed", "sed", 1)
        for block in _blocks(text)
        if block.startswith("$ sed")
        and re.search(rf"{re.escape(file_name)}\s*;\s*rm {re.escape(file_name)}\.bk", block)
    ]
    if len(candidates) != 1:
        raise LookupError(f"expected one sed block editing {file_name}, found {len(candidates)}")
    return candidates[0]


def expand(runner: CommandRunner, body: str, env: dict[str, str]) -> str:
    """Expand ``$VAR``/``${VAR}`` in a heredoc body the way bash does."""
    script = f"cat <<EOF\n{body}EOF\n"
    return runner.run(["bash", "-c", script], env=env, title="expand seed heredoc").stdout


def produce(
    runner: CommandRunner,
    workdir: Path,
    text: str,
    file_name: str,
    env: dict[str, str],
    *,
    ip_variant: bool = False,
) -> list[dict[str, Any]]:
    """The manifests a reader of the seed has in ``file_name``: heredoc, then (IP variant) sed."""
    path = workdir / file_name
    path.write_text(expand(runner, heredoc(text, f"> {file_name}"), env), encoding="utf-8")
    if ip_variant:
        runner.run(
            ["bash", "-c", sed_script(text, file_name)], env=env, cwd=workdir, title=f"seed sed {file_name}"
        )
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def produce_inline(
    runner: CommandRunner, text: str, marker: str, env: dict[str, str]
) -> list[dict[str, Any]]:
    """Manifests of a ``kubectl apply -f - <<EOF`` heredoc (seed 004) whose body contains ``marker``."""
    return [doc for doc in yaml.safe_load_all(expand(runner, heredoc(text, marker), env)) if doc]


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": [1]}}`` -> ``{"a.b[0]": 1}``: a field-by-field view for comparisons."""
    if isinstance(value, dict):
        if not value:
            return {prefix: {}}
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        if not value:
            return {prefix: []}
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


_MISSING = "<absent>"


def field_diff(rendered: Any, expected: Any) -> dict[str, tuple[Any, Any]]:
    """Every field where rendered and expected differ: path -> (rendered, expected)."""
    left, right = flatten(rendered), flatten(expected)
    return {
        path: (left.get(path, _MISSING), right.get(path, _MISSING))
        for path in sorted(set(left) | set(right))
        if left.get(path, _MISSING) != right.get(path, _MISSING)
    }
