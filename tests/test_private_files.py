"""The one private-file writer (programs/private_files.py): created 0600/0700, never chmod-ed after,
atomic, whatever mode an earlier file had and whatever the umask (layer 1)."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from programs.private_files import make_private_dir, write_private

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)  # the most permissive umask: only the mode given at creation counts
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_private_file_is_0600_even_over_a_readable_one(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "new" / "dir" / "kubeconfig"
    write_private(target, "token: one\n")
    assert mode(target) == 0o600 and target.read_text() == "token: one\n"
    assert mode(target.parent) == 0o700 and mode(target.parent.parent) == 0o700
    target.chmod(0o644)  # left readable by something else
    write_private(target, b"token: two\n")
    assert mode(target) == 0o600 and target.read_bytes() == b"token: two\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["kubeconfig"]  # no partial left


def test_an_existing_directory_keeps_its_mode(tmp_path: Path, open_umask: None) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    make_private_dir(shared / "a" / "b")
    assert (mode(shared), mode(shared / "a"), mode(shared / "a" / "b")) == (0o755, 0o700, 0o700)


def test_nothing_else_writes_private_files() -> None:
    """No O_CREAT, touch(mode=) or chmod to 0600/0700 outside programs/private_files.py."""
    found = subprocess.run(
        ["git", "grep", "-nE", r"O_CREAT|touch\(mode|chmod\(0o[67]00\)", "--", "*.py", ":!tests",
         ":!programs/private_files.py"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if found.returncode == 128:
        pytest.skip(f"not a git checkout: {found.stderr.strip()}")
    assert found.stdout == ""
