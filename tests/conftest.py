"""Shared fixtures of the self-tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.redaction import Redactor
from fixtures.runner import CommandRunner
from tests.fakeexec import FakeTools


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    """Fake executables first on PATH; each records its calls and replays scripted output."""
    tools = FakeTools(tmp_path / "fake")
    monkeypatch.setenv("PATH", tools.path_env())
    return tools


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def runner(redactor: Redactor, tmp_path: Path) -> CommandRunner:
    """A runner writing its transcript under tmp_path (the session ``runner`` belongs to real runs)."""
    return CommandRunner(redactor=redactor, transcript=tmp_path / "commands.log", default_timeout_s=30)
