"""Comments and docs cite only what is in the repository: every repository path they name exists,
and nothing cites a document or tracker the repository does not hold (layer 1)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOT_HERE = re.compile(r"DESIGN §|\bissue [0-9]+\b|helper D[0-9]")


def tracked() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "*.py", "*.md", "*.sh", "*.yaml", "*.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()}")
    return [name for name in listed.stdout.split() if not name.startswith("tests/goldens/")]


def test_every_repository_path_named_exists() -> None:
    """Outside tests/ (whose data names fake node ids and upstream sample paths)."""
    files = tracked()
    tops = sorted({name.split("/", 1)[0] for name in files if "/" in name})
    named = re.compile(
        rf"(?<![\w/.-])((?:{'|'.join(map(re.escape, tops))})/[\w./-]*\w\.(?:py|md|sh|yaml|json|toml))\b"
    )
    missing = [
        f"{name}:{number}: {path}"
        for name in files
        if not name.startswith("tests/")
        for number, line in enumerate((ROOT / name).read_text(errors="replace").splitlines(), 1)
        for path in named.findall(line)
        if not (ROOT / path).exists()
    ]
    assert missing == []


def test_nothing_cites_a_document_outside_the_repository() -> None:
    cited = [
        f"{name}:{number}: {line.strip()}"
        for name in tracked()
        if name != "tests/test_citations.py"
        for number, line in enumerate((ROOT / name).read_text(errors="replace").splitlines(), 1)
        if NOT_HERE.search(line)
    ]
    assert cited == []
