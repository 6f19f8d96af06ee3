"""Shared fixtures of the self-tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fixtures.options import DEFAULT_TOOLS_DIR
from programs import cancellation
from programs.redaction import Redactor
from programs.release_index import INDEX_ENV
from programs.runner import CommandRunner
from programs.tools import ResolvedTool, ToolResolver, ToolUnavailable
from programs.tools_cli import resolve_named
from run import timeouts
from scenarios.releases import load_pins
from tests.fakeexec import FakeTools

# The self-tests contact no address on their own: suite runs they start keep the pinned patch
# (programs/release_index.py) unless a test points the lookup at a recorded response.
os.environ.setdefault(INDEX_ENV, "off")


@pytest.fixture(autouse=True)
def _no_cancellation_between_tests() -> Iterator[None]:
    """A self-test that plays a signal handler cancels this process's run state
    (programs/cancellation.py): the next test starts with none."""
    yield
    cancellation.reset()


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    """Fake executables first on PATH; each records its calls and replays scripted output."""
    tools = FakeTools(tmp_path / "fake")
    monkeypatch.setenv("PATH", tools.path_env())
    return tools


Deadlines = Callable[[dict[str, float]], None]


@pytest.fixture
def deadlines(request: pytest.FixtureRequest) -> Deadlines:
    """Override deadlines of the timeout table for one test: ``deadlines({"install.restore": 0.5})``."""

    def override(seconds: dict[str, float]) -> None:
        for name in seconds:
            assert name in timeouts.TABLE, f"no deadline {name!r} in run/timeouts.py"
        previous = timeouts.use({**timeouts.current(), **seconds})
        request.addfinalizer(lambda: timeouts.use(previous))

    return override


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.fixture
def runner(redactor: Redactor, tmp_path: Path) -> CommandRunner:
    """A runner writing its transcript under tmp_path (the session ``runner`` belongs to real runs)."""
    return CommandRunner(redactor=redactor, transcript=tmp_path / "commands.log", default_timeout_s=30)


@pytest.fixture(scope="session")
def real_tool() -> Callable[[str], ResolvedTool]:
    """Resolve a real upstream binary the way the suite does (cache, download, Go build).

    ``real_tool("istioctl-offline")`` is the offline tier's istioctl. A test using it is
    skipped only when neither a download nor Go is available here; any other failure to get
    the tool fails the test, with every way tried listed.
    """
    pins = load_pins()
    tools_dir = Path(os.environ.get("EICP_TOOLS_DIR", DEFAULT_TOOLS_DIR))
    resolver = ToolResolver.from_pins(pins.tools, tools_dir, CommandRunner(Redactor()))
    found: dict[str, ResolvedTool] = {}

    def resolve(name: str) -> ResolvedTool:
        if name not in found:
            try:
                found[name] = resolve_named(resolver, pins, name)
            except ToolUnavailable as error:
                # The download already failed if we got here; without Go nothing else can work.
                if shutil.which("go") is None:
                    pytest.skip(f"{name}: no download reachable and no Go toolchain here:\n{error}")
                raise
        return found[name]

    return resolve
