"""Small modules with one job: no Python file git tracks is over 400 lines.

A module that grows past the limit is split by topic, whole tests and helpers moved (as
tests/test_installer.py was into tests/test_installer_*.py and tests/installer_support.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400


def tracked_python_files() -> list[Path]:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not on PATH: the tracked files cannot be listed")
    listed = subprocess.run(
        [git, "ls-files", "-z", "--", "*.py"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()}")
    return [ROOT / name for name in listed.stdout.split("\0") if name]


def line_count(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for _ in lines)


def test_no_tracked_python_file_is_over_400_lines() -> None:
    # A tracked file deleted in the work tree (not yet committed) has no lines to count.
    files = [path for path in tracked_python_files() if path.is_file()]
    assert files, f"git ls-files lists no Python file under {ROOT}"
    counts = {path.relative_to(ROOT).as_posix(): line_count(path) for path in files}
    over = sorted((name, count) for name, count in counts.items() if count > MAX_LINES)
    assert over == [], f"over {MAX_LINES} lines (split by topic): " + ", ".join(
        f"{name} ({count} lines)" for name, count in over
    )
