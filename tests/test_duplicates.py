"""No two places in the production packages share six or more lines (pylint's duplicate-code).

Imports, docstrings, comments and signatures are not counted: what is left is logic or data
written twice, which should live in one place.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MIN_LINES = 6


def production_packages() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(data["tool"]["importlinter"]["root_packages"])


@pytest.mark.slow
def test_no_six_line_duplicates_in_the_production_packages() -> None:
    pylint = Path(sys.executable).with_name("pylint")
    if not pylint.exists():
        pytest.skip(f"pylint not installed beside {sys.executable} (pip install -e '.[dev]')")
    result = subprocess.run(
        [
            str(pylint),
            "--disable=all",
            "--enable=duplicate-code",
            f"--min-similarity-lines={MIN_LINES}",
            "--ignore-imports=yes",
            "--ignore-docstrings=yes",
            "--ignore-comments=yes",
            "--ignore-signatures=yes",
            "--score=no",
            *production_packages(),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert "R0801" not in result.stdout, result.stdout
    assert result.returncode == 0, result.stdout + result.stderr
